/**
 * Remote keys over time and under hostile input, against a jose-signed ES256 stand-in issuer on a
 * real socket that counts its requests: key rotation, the refetch cooldown under a flood of
 * unknown kids, Cache-Control bounds, an issuer outage (stale keys, unknown kids, introspection),
 * and malformed, oversized, hanging and HTML answers. Time moves by an injected clock; only the
 * fetch timeout is real time, and it is short.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import type { RemoteRequireTokenOptions } from '../../lib/middleware/token-pipeline';
import { createRemoteVerifier } from '../../lib/resource/remote-issuer';
import type { TokenError } from '../../lib/errors';
import { createClock, type TestClock } from '../helpers/kit';
import { expectErrorsBody } from '../helpers/http';
import { API_AUDIENCE, getMe, jose, startJoseIssuer, type JoseIssuer } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

describe('remote keys (JwksCache through requireToken)', () => {
  let clock: TestClock;
  let es: JoseIssuer;

  beforeEach(async () => {
    clock = createClock();
    es = await startJoseIssuer(clock);
  });
  afterEach(() => es.close());

  function app(options: Partial<RemoteRequireTokenOptions> = {}): Express {
    const a = express();
    a.get(
      '/api/me',
      requireToken({
        issuer: es.url,
        audience: API_AUDIENCE,
        now: clock.now,
        fetchTimeoutMs: 500,
        ...options,
      }),
      (req, res) => res.json({ sub: req.auth!.subject }),
    );
    return a;
  }

  describe('when the issuer rotates its key', () => {
    it('accepts the new kid after the cooldown, with one more JWKS fetch and no restart', async () => {
      const guarded = app();
      expect((await getMe(guarded, await es.sign())).status).toBe(200);
      expect(es.jwksRequests).toBe(1);
      await es.rotate();
      const fresh = await es.sign();
      // within the cooldown of the last fetch the new kid is unknown…
      expectErrorsBody(await getMe(guarded, fresh), 401, 'invalid_token');
      expect(es.jwksRequests).toBe(1);
      // …and once it has passed, one refetch finds it
      clock.advance(30);
      expect((await getMe(guarded, fresh)).status).toBe(200);
      expect((await getMe(guarded, fresh)).status).toBe(200);
      expect(es.jwksRequests).toBe(2);
    });
  });

  describe('when 1000 tokens carry random kids', () => {
    it('fetches the JWKS at most once per cooldown, and refuses them all', async () => {
      const verifier = createRemoteVerifier({
        issuers: [{ issuer: es.url, audience: API_AUDIENCE }],
        now: clock.now,
      });
      const flood = async (): Promise<void> => {
        const tokens = await Promise.all(
          Array.from({ length: 1000 }, () =>
            es.sign({}, { kid: `random-${Math.random().toString(36).slice(2)}` }),
          ),
        );
        const results = await Promise.allSettled(tokens.map((t) => verifier.verify(t)));
        expect(
          results.every((r) => r.status === 'rejected' && (r.reason as TokenError).code === 'invalid_token'),
        ).toBe(true);
      };
      await flood();
      expect(es.jwksRequests).toBe(1);
      clock.advance(10);
      await flood();
      expect(es.jwksRequests).toBe(1);
      clock.advance(20);
      await flood();
      expect(es.jwksRequests).toBe(2);
      expect(verifier.jwksFetches(es.url)).toBe(2);
      // the real key still verifies throughout
      await expect(verifier.verify(await es.sign())).resolves.toMatchObject({ subject: 'user-es' });
    });
  });

  describe('Cache-Control of the JWKS', () => {
    it('keeps a JWKS at least jwksMinCacheAge, however short its max-age', async () => {
      es.cacheControl = 'max-age=1';
      const guarded = app();
      const token = await es.sign({ exp: clock.seconds() + 3600 });
      expect((await getMe(guarded, token)).status).toBe(200);
      clock.advance(29);
      expect((await getMe(guarded, token)).status).toBe(200);
      expect(es.jwksRequests).toBe(1);
      clock.advance(1);
      expect((await getMe(guarded, token)).status).toBe(200);
      expect(es.jwksRequests).toBe(2);
    });

    it('keeps a JWKS at most jwksMaxCacheAge, however long its max-age', async () => {
      es.cacheControl = 'max-age=86400';
      const guarded = app({ jwksMaxCacheAge: 120 });
      const token = await es.sign({ exp: clock.seconds() + 3600 });
      expect((await getMe(guarded, token)).status).toBe(200);
      clock.advance(119);
      expect((await getMe(guarded, token)).status).toBe(200);
      expect(es.jwksRequests).toBe(1);
      clock.advance(1);
      expect((await getMe(guarded, token)).status).toBe(200);
      expect(es.jwksRequests).toBe(2);
    });
  });

  describe('when the issuer goes down', () => {
    it('keeps verifying with cached keys up to jwksStaleFor past their age, refuses unknown kids with 401, then answers 503', async () => {
      es.cacheControl = 'max-age=60';
      const guarded = app({ jwksStaleFor: 600 });
      const token = await es.sign({ exp: clock.seconds() + 7200 });
      expect((await getMe(guarded, token)).status).toBe(200);
      es.mode = 'down';
      clock.advance(61);
      expect((await getMe(guarded, token)).status).toBe(200);
      expect(es.jwksRequests).toBe(2);
      const unknown = await es.sign({ exp: clock.seconds() + 7200 }, { kid: 'never-published' });
      clock.advance(30);
      expectErrorsBody(await getMe(guarded, unknown), 401, 'invalid_token');
      clock.advance(60 + 600 - 91);
      const res = await getMe(guarded, token);
      expectErrorsBody(res, 503, 'service_unavailable');
      expect(res.headers['retry-after']).toBe('5');
      // back up: verifying again on the next fetch after the cooldown
      es.mode = 'ok';
      clock.advance(30);
      expect((await getMe(guarded, token)).status).toBe(200);
    });

    it('answers 503 for introspection-dependent checks, while keys are cached', async () => {
      const guarded = app({
        introspection: {
          endpoint: `${es.url}/introspect`,
          clientId: 'rs',
          clientSecret: 'rs-secret',
          cacheMaxAge: 0,
        },
      });
      const token = await es.sign();
      expect((await getMe(guarded, token)).status).toBe(200);
      es.introspectMode = 'down';
      expectErrorsBody(await getMe(guarded, token), 503, 'service_unavailable');
    });
  });

  describe('hostile answers', () => {
    const cases: [string, JoseIssuer['mode'], number][] = [
      ['a malformed JWKS', 'malformed', 503],
      ['an HTML page instead of a JWKS', 'html', 503],
      ['a JWKS of 10 MB', 'huge', 503],
      ['a JWKS of only an oct key and an alg none key', 'oct-and-none', 401],
      ['an issuer that never answers', 'hang', 503],
    ];
    it.each(cases)('answers %s (mode %s) with a clear %i in bounded time', async (_name, mode, status) => {
      es.mode = mode;
      const guarded = app();
      const started = Date.now();
      const res = await getMe(guarded, await es.sign());
      expect(Date.now() - started).toBeLessThan(5000);
      expectErrorsBody(res, status, status === 503 ? 'service_unavailable' : 'invalid_token');
    });

    it('refuses an HS256 token signed with an oct key the JWKS published', async () => {
      es.mode = 'oct-and-none';
      const j = jose();
      const now = clock.seconds();
      const hs = await new j.SignJWT({ iss: es.url, aud: API_AUDIENCE, sub: 's', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: es.kid, typ: 'at+jwt' })
        .sign(Buffer.alloc(32, 7));
      expectErrorsBody(
        await request(app())
          .get('/api/me')
          .set(...bearer(hs)),
        401,
        'invalid_token',
      );
    });

    it.each([
      ['down', 503],
      ['html', 503],
      ['hang', 503],
    ] as const)('answers 503 when the introspection endpoint is %s', async (mode, status) => {
      es.introspectMode = mode;
      const guarded = app({
        introspection: { endpoint: `${es.url}/introspect`, clientId: 'rs', clientSecret: 'rs-secret' },
      });
      const started = Date.now();
      expectErrorsBody(await getMe(guarded, await es.sign()), status, 'service_unavailable');
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('refuses a metadata document whose issuer differs from the configured one (RFC 8414 §3.3)', async () => {
      const guarded = app({ issuer: `${es.url}/`, audience: API_AUDIENCE });
      const res = await getMe(guarded, await es.sign({ iss: `${es.url}/` }));
      expectErrorsBody(res, 503, 'service_unavailable');
      expect(es.jwksRequests).toBe(0);
    });
  });
});
