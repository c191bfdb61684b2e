/**
 * DPoP (RFC 9449) end to end on both stores: issuance on createOAuthRouter and createAuthRouter
 * (token_type DPoP, cnf.jkt), refresh families bound to the key, requireToken with the DPoP
 * scheme, server nonces, and a table of malformed proofs — each a 4xx in the surface's format.
 */
import type { Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import type { TokenKit } from '../../lib/core/token-kit';
import { developmentApp, mountProbe } from '../helpers/apps';
import { makeProof, proofKey, thumbprint, type ProofKeyPair } from '../helpers/dpop';
import {
  createClock,
  describeOnStore,
  makeKit,
  storeFactories,
  TEST_ISSUER,
  type MakeKitOptions,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { API_AUDIENCE, startKitIssuer } from '../helpers/remote-issuers';
import { basicOf, decodeJwt, form, seedClients, USER, verifyUser, type TestClients } from '../helpers/oauth';

const TOKEN_URL = `${TEST_ISSUER}/oauth/token`;
const RS = 'https://api.example.test';
const PROBE_URL = `${RS}/probe`;
const ALGS = 'ES256 ES384 ES512 RS256 PS256 EdDSA';

describe.each(storeFactories)('DPoP on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  beforeAll(async () => {
    stores = await factory('dpop');
  });
  afterAll(() => stores.cleanup());

  interface Fixture {
    readonly kit: TokenKit;
    readonly clock: TestClock;
    readonly clients: TestClients;
    readonly app: Express;
  }

  async function fixture(options: Partial<MakeKitOptions> = {}): Promise<Fixture> {
    const { kit, clock } = await makeKit({ store: (await stores.create()).store, verifyUser, ...options });
    const clients = await seedClients(kit);
    const app = developmentApp();
    app.use(createOAuthRouter({ kit }));
    app.use('/api', createAuthRouter({ kit }));
    mountProbe(app, requireToken({ kit, dpop: { baseUrl: RS } }));
    mountProbe(app, requireToken({ kit, dpop: { baseUrl: RS, required: true } }), undefined, '/strict');
    mountProbe(app, requireToken({ kit, dpop: false }), undefined, '/no-dpop');
    mountProbe(app, requireToken({ kit }), undefined, '/host');
    mountProbe(app, requireToken({ kit, dpop: { baseUrl: RS }, scopes: ['read'] }), undefined, '/piped');
    return { kit, clock, clients, app };
  }

  /** A token request on router D with a proof of `key` (none when undefined). */
  function tokenRequest(fx: Fixture, params: Record<string, string>, proof?: string) {
    const req = request(fx.app)
      .post('/oauth/token')
      .set('Authorization', basicOf(fx.clients.full))
      .type('form');
    if (proof !== undefined) req.set('DPoP', proof as string);
    return req.send(form(params));
  }

  const tokenProof = (fx: Fixture, key: ProofKeyPair, extra: Parameters<typeof makeProof>[1] = {}) =>
    makeProof(key, { htm: 'POST', htu: TOKEN_URL, iat: fx.clock.seconds(), ...extra });

  const probeProof = (
    fx: Fixture,
    key: ProofKeyPair,
    token: string,
    extra: Parameters<typeof makeProof>[1] = {},
  ) => makeProof(key, { htm: 'GET', htu: PROBE_URL, iat: fx.clock.seconds(), accessToken: token, ...extra });

  async function boundToken(fx: Fixture, key: ProofKeyPair, scope = 'read'): Promise<string> {
    const res = await tokenRequest(fx, { grant_type: 'client_credentials', scope }, tokenProof(fx, key));
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  }

  function probe(fx: Fixture, token: string, proof?: string | string[], path = '/probe') {
    const req = request(fx.app).get(path).set('Authorization', `DPoP ${token}`);
    // An array sends one header line per proof (two DPoP headers)
    if (proof !== undefined) req.set('DPoP', proof as string);
    return req;
  }

  describe('createOAuthRouter', () => {
    let fx: Fixture;
    beforeAll(async () => {
      fx = await fixture();
    });

    it('issues a DPoP token bound to the proof key on client_credentials (RFC 9449 §5, §6)', async () => {
      const key = proofKey();
      const res = await tokenRequest(fx, { grant_type: 'client_credentials' }, tokenProof(fx, key));
      expect(res.status).toBe(200);
      expect(res.body.token_type).toBe('DPoP');
      expect(decodeJwt(res.body.access_token as string).payload.cnf).toEqual({ jkt: key.jkt });
    });

    it('issues a Bearer token without a proof', async () => {
      const res = await tokenRequest(fx, { grant_type: 'client_credentials' });
      expect(res.body.token_type).toBe('Bearer');
      expect(decodeJwt(res.body.access_token as string).payload.cnf).toBeUndefined();
    });

    it.each([['ES256'], ['ES384'], ['RS256'], ['PS256'], ['EdDSA']] as const)(
      'accepts a proof signed with %s',
      async (alg) => {
        const key = proofKey(alg);
        const res = await tokenRequest(fx, { grant_type: 'client_credentials' }, tokenProof(fx, key));
        expect(res.status).toBe(200);
        expect(decodeJwt(res.body.access_token as string).payload.cnf).toEqual({ jkt: key.jkt });
      },
    );

    it('binds the password grant and its refresh family; a refresh with another key is invalid_grant', async () => {
      const key = proofKey();
      const first = await tokenRequest(
        fx,
        { grant_type: 'password', username: USER.username, password: USER.password },
        tokenProof(fx, key),
      );
      expect(first.status).toBe(200);
      expect(first.body.token_type).toBe('DPoP');
      const refreshToken = first.body.refresh_token as string;

      const other = await tokenRequest(
        fx,
        { grant_type: 'refresh_token', refresh_token: refreshToken },
        tokenProof(fx, proofKey()),
      );
      expect(other.status).toBe(400);
      expect(other.body.error).toBe('invalid_grant');
      const none = await tokenRequest(fx, { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(none.body.error).toBe('invalid_grant');

      // The refused refreshes consumed nothing: the same key still refreshes.
      const same = await tokenRequest(
        fx,
        { grant_type: 'refresh_token', refresh_token: refreshToken },
        tokenProof(fx, key),
      );
      expect(same.status).toBe(200);
      expect(same.body.token_type).toBe('DPoP');
      expect(decodeJwt(same.body.access_token as string).payload.cnf).toEqual({ jkt: key.jkt });
    });

    it('binds the access token of an unbound family to the refresh proof key, never leaving it unbound', async () => {
      const first = await tokenRequest(fx, {
        grant_type: 'password',
        username: USER.username,
        password: USER.password,
      });
      expect(first.body.token_type).toBe('Bearer');
      const key = proofKey();
      const next = await tokenRequest(
        fx,
        { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string },
        tokenProof(fx, key),
      );
      expect(next.body.token_type).toBe('DPoP');
      expect(decodeJwt(next.body.access_token as string).payload.cnf).toEqual({ jkt: key.jkt });
    });

    it('shows cnf.jkt and token_type DPoP on introspection (RFC 9449 §6.2)', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      const res = await request(fx.app)
        .post('/oauth/introspect')
        .set('Authorization', basicOf(fx.clients.full))
        .type('form')
        .send(form({ token }));
      expect(res.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    });

    it('publishes dpop_signing_alg_values_supported (RFC 9449 §5.1)', async () => {
      const res = await request(fx.app).get('/.well-known/oauth-authorization-server');
      expect(res.body.dpop_signing_alg_values_supported).toEqual(ALGS.split(' '));
    });

    it('answers a proof for another URL or method 400 invalid_dpop_proof and issues nothing', async () => {
      const key = proofKey();
      for (const proof of [
        tokenProof(fx, key, { htu: `${TEST_ISSUER}/oauth/revoke` }),
        tokenProof(fx, key, { htm: 'GET' }),
      ]) {
        const res = await tokenRequest(fx, { grant_type: 'client_credentials' }, proof);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: 'invalid_dpop_proof',
          error_description: 'The DPoP proof is invalid',
        });
      }
    });

    it('refuses a replayed proof at the token endpoint', async () => {
      const proof = tokenProof(fx, proofKey());
      expect((await tokenRequest(fx, { grant_type: 'client_credentials' }, proof)).status).toBe(200);
      const again = await tokenRequest(fx, { grant_type: 'client_credentials' }, proof);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_dpop_proof');
    });
  });

  describe('createAuthRouter', () => {
    let fx: Fixture;
    beforeAll(async () => {
      fx = await fixture();
    });
    // supertest addresses the app at 127.0.0.1:<port>; the Host header names what the client used.
    const url = (path: string) => `http://auth.example.test${path}`;

    it('issues DPoP tokens on client_credentials, password and refresh; a public client refreshes with its key only', async () => {
      const key = proofKey();
      const cc = await request(fx.app)
        .post('/api/auth/tokens')
        .set('Host', 'auth.example.test')
        .set('DPoP', makeProof(key, { htm: 'POST', htu: url('/api/auth/tokens'), iat: fx.clock.seconds() }))
        .send({
          grant_type: 'client_credentials',
          client_id: fx.clients.full.clientId,
          client_secret: fx.clients.full.clientSecret,
        });
      expect(cc.status).toBe(200);
      expect(cc.body.token_type).toBe('DPoP');
      expect(decodeJwt(cc.body.access_token as string).payload.cnf).toEqual({ jkt: key.jkt });

      const pw = await request(fx.app)
        .post('/api/auth/tokens')
        .set('Host', 'auth.example.test')
        .set('DPoP', makeProof(key, { htm: 'POST', htu: url('/api/auth/tokens'), iat: fx.clock.seconds() }))
        .send({ grant_type: 'password', username: 'alice', password: USER.password });
      expect(pw.status).toBe(200);
      expect(pw.body.token_type).toBe('DPoP');

      const refresh = (proofOf: ProofKeyPair) =>
        request(fx.app)
          .post('/api/auth/tokens/refresh')
          .set('Host', 'auth.example.test')
          .set(
            'DPoP',
            makeProof(proofOf, {
              htm: 'POST',
              htu: url('/api/auth/tokens/refresh'),
              iat: fx.clock.seconds(),
            }),
          )
          .send({ refresh_token: pw.body.refresh_token as string });
      const refused = await refresh(proofKey());
      expect(refused.status).toBe(401);
      expect(refused.body.errors[0].errorType).toBe('invalid_grant');
      const ok = await refresh(key);
      expect(ok.status).toBe(200);
      expect(ok.body.token_type).toBe('DPoP');
    });

    it('refuses a DPoP-bound token sent as Bearer on /auth/tokens/validate/', async () => {
      const token = await boundToken(fx, proofKey());
      const res = await request(fx.app)
        .get('/api/auth/tokens/validate')
        .set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
    });

    it('answers a bad proof 400 invalid_dpop_proof in its own error format', async () => {
      const res = await request(fx.app).post('/api/auth/tokens').set('DPoP', 'not-a-proof').send({
        grant_type: 'client_credentials',
        client_id: fx.clients.full.clientId,
        client_secret: fx.clients.full.clientSecret,
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        errors: [{ errorType: 'invalid_dpop_proof', message: 'The DPoP proof is invalid' }],
      });
    });
  });

  describe('requireToken', () => {
    let fx: Fixture;
    beforeAll(async () => {
      fx = await fixture();
    });

    it('accepts a DPoP token with its proof, on the fast path and the pipeline', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      expect((await probe(fx, token, probeProof(fx, key, token))).status).toBe(200);
      const piped = await probe(fx, token, probeProof(fx, key, token, { htu: `${RS}/piped` }), '/piped');
      expect(piped.status).toBe(200);
      const strict = await probe(fx, token, probeProof(fx, key, token, { htu: `${RS}/strict` }), '/strict');
      expect(strict.status).toBe(200);
    });

    it('builds htu from the request host when no baseUrl is given', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      const res = await probe(
        fx,
        token,
        probeProof(fx, key, token, { htu: 'http://rs.example.test/host' }),
        '/host',
      ).set('Host', 'rs.example.test');
      expect(res.status).toBe(200);
    });

    it('normalises htu (RFC 9449 §4.3): case of scheme and host, default port, percent-encoding, query', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      for (const htu of [
        'HTTPS://API.Example.TEST:443/probe',
        'https://api.example.test/%70robe?x=1#f',
        'https://api.example.test/a/../probe',
      ]) {
        const res = await probe(fx, token, probeProof(fx, key, token, { htu }));
        expect([htu, res.status]).toEqual([htu, 200]);
      }
    });

    it('refuses a DPoP-bound token sent as Bearer: 401 invalid_token, on the fast path and the pipeline', async () => {
      const token = await boundToken(fx, proofKey());
      for (const path of ['/probe', '/piped']) {
        const res = await request(fx.app).get(path).set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body.errors[0].errorType).toBe('invalid_token');
      }
    });

    it('keeps unbound Bearer tokens working, except where DPoP is required', async () => {
      const res = await tokenRequest(fx, { grant_type: 'client_credentials', scope: 'read' });
      const token = res.body.access_token as string;
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      const strict = await request(fx.app).get('/strict').set('Authorization', `Bearer ${token}`);
      expect(strict.status).toBe(401);
      expect(strict.headers['www-authenticate']).toMatch(
        /^DPoP realm="api", error="invalid_token", .*algs="/,
      );
      const none = await request(fx.app).get('/strict');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe(`DPoP realm="api", algs="${ALGS}"`);
    });

    it('refuses an unbound token sent with the DPoP scheme', async () => {
      const res = await tokenRequest(fx, { grant_type: 'client_credentials' });
      const key = proofKey();
      const token = res.body.access_token as string;
      const answer = await probe(fx, token, probeProof(fx, key, token));
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].errorType).toBe('invalid_token');
    });

    it('answers the DPoP scheme without a proof 401 invalid_dpop_proof with the DPoP challenge (RFC 9449 §7.1)', async () => {
      const res = await request(fx.app).get('/probe').set('Authorization', 'DPoP abc');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="invalid_token"/);
      const token = await boundToken(fx, proofKey());
      const noProof = await probe(fx, token);
      expect(noProof.status).toBe(401);
      expect(noProof.body.errors[0].errorType).toBe('invalid_dpop_proof');
      expect(noProof.headers['www-authenticate']).toBe(
        `DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof is invalid", algs="${ALGS}"`,
      );
    });

    it('treats the DPoP scheme as any other with dpop: false', async () => {
      const res = await request(fx.app).get('/no-dpop').set('Authorization', 'DPoP abc');
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('missing_token');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
    });

    it('refuses a replayed proof, a proof for another URL or method, another key, a wrong ath', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      const proof = probeProof(fx, key, token);
      expect((await probe(fx, token, proof)).status).toBe(200);
      const other = await boundToken(fx, key);
      const cases: [string, string][] = [
        ['replayed', proof],
        ['other URL', probeProof(fx, key, token, { htu: `${RS}/other` })],
        ['other host', probeProof(fx, key, token, { htu: 'https://evil.example.test/probe' })],
        ['other scheme', probeProof(fx, key, token, { htu: 'http://api.example.test/probe' })],
        ['other method', probeProof(fx, key, token, { htm: 'POST' })],
        ['lower-case method', probeProof(fx, key, token, { htm: 'get' })],
        ['other key', probeProof(fx, proofKey(), token)],
        ['ath of another token', probeProof(fx, key, other)],
        ['no ath', probeProof(fx, key, token, { claims: { ath: undefined } })],
      ];
      for (const [what, p] of cases) {
        const res = await probe(fx, token, p);
        expect([what, res.status, res.body.errors?.[0]?.errorType]).toEqual([
          what,
          401,
          'invalid_dpop_proof',
        ]);
        expect(res.headers['www-authenticate']).toContain('error="invalid_dpop_proof"');
      }
    });

    it('marks nothing for a refused proof: the same jti passes once the proof is right', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      const jti = 'one-jti';
      expect((await probe(fx, token, probeProof(fx, key, token, { jti, htm: 'POST' }))).status).toBe(401);
      expect((await probe(fx, token, probeProof(fx, key, token, { jti }))).status).toBe(200);
    });

    it('refuses two DPoP headers', async () => {
      const key = proofKey();
      const token = await boundToken(fx, key);
      const res = await probe(fx, token, [probeProof(fx, key, token), probeProof(fx, key, token)]);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_dpop_proof');
    });

    describe('when the proof is malformed', () => {
      const b64 = (v: unknown) =>
        Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
      const table: [string, (key: ProofKeyPair, token: string) => string][] = [
        ['typ JWT', (k, t) => probeProof(fx, k, t, { header: { typ: 'JWT' } })],
        ['no typ', (k, t) => probeProof(fx, k, t, { header: { typ: undefined } })],
        ['alg HS256', (k, t) => probeProof(fx, k, t, { header: { alg: 'HS256' } })],
        ['alg none', (k, t) => probeProof(fx, k, t, { header: { alg: 'none' } })],
        ['alg of another key type', (k, t) => probeProof(fx, k, t, { header: { alg: 'RS256' } })],
        ['private key in jwk', (k, t) => probeProof(fx, k, t, { header: { jwk: { ...k.jwk, d: 'AAAA' } } })],
        ['oct jwk', (k, t) => probeProof(fx, k, t, { header: { jwk: { kty: 'oct', k: 'AAAA' } } })],
        ['no jwk', (k, t) => probeProof(fx, k, t, { header: { jwk: undefined } })],
        ['jwk a string', (k, t) => probeProof(fx, k, t, { header: { jwk: 'key' } })],
        ['jwk of another key', (k, t) => probeProof(fx, k, t, { header: { jwk: proofKey().jwk } })],
        ['crit', (k, t) => probeProof(fx, k, t, { header: { crit: ['exp'], exp: 1 } })],
        ['huge header', (k, t) => probeProof(fx, k, t, { header: { pad: 'x'.repeat(9000) } })],
        ['bad base64', (k, t) => probeProof(fx, k, t).replace(/^./, '*')],
        ['non-canonical base64url', (k, t) => `${probeProof(fx, k, t)}A`],
        [
          'non-JSON header',
          (k, t) => `${b64('{not json')}.${probeProof(fx, k, t).split('.').slice(1).join('.')}`,
        ],
        [
          'array payload',
          (k, t) => {
            const [h, , s] = probeProof(fx, k, t).split('.');
            return `${h}.${b64([1])}.${s}`;
          },
        ],
        ['two parts', (k, t) => probeProof(fx, k, t).split('.').slice(0, 2).join('.')],
        [
          'tampered claims',
          (k, t) => {
            const [h, , s] = probeProof(fx, k, t).split('.');
            return `${h}.${b64({ htm: 'GET', htu: PROBE_URL, iat: fx.clock.seconds(), jti: 'x' })}.${s}`;
          },
        ],
        ['no jti', (k, t) => probeProof(fx, k, t, { claims: { jti: undefined } })],
        ['jti a number', (k, t) => probeProof(fx, k, t, { jti: 7 })],
        ['no htm', (k, t) => probeProof(fx, k, t, { claims: { htm: undefined } })],
        ['no htu', (k, t) => probeProof(fx, k, t, { claims: { htu: undefined } })],
        ['htu not a URL', (k, t) => probeProof(fx, k, t, { htu: '/probe' })],
        ['no iat', (k, t) => probeProof(fx, k, t, { claims: { iat: undefined } })],
        ['iat a string', (k, t) => probeProof(fx, k, t, { iat: String(fx.clock.seconds()) })],
      ];
      it.each(table)('answers %s with 401 invalid_dpop_proof, never a 5xx', async (_what, make) => {
        const key = proofKey();
        const token = await boundToken(fx, key);
        const res = await probe(fx, token, make(key, token));
        expect(res.status).toBe(401);
        expect(res.body).toEqual({
          errors: [{ errorType: 'invalid_dpop_proof', message: 'The DPoP proof is invalid' }],
        });
      });

      it('refuses an RSA key of fewer than 2048 bits', async () => {
        const weak = proofKey('RS256', 1024);
        const res = await tokenRequest(fx, { grant_type: 'client_credentials' }, tokenProof(fx, weak));
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_dpop_proof');
      });
    });

    describe('iat at the second boundaries (proofMaxAge 60, proofLeeway 5)', () => {
      it.each([
        [-60, 200],
        [-61, 401],
        [5, 200],
        [6, 401],
      ])('answers a proof with iat = now %+d with %d', async (offset, status) => {
        const key = proofKey();
        const token = await boundToken(fx, key);
        // In the middle of a second too: iat is compared in whole seconds.
        fx.clock.advance(0.999);
        const res = await probe(fx, token, probeProof(fx, key, token, { iat: fx.clock.seconds() + offset }));
        expect(res.status).toBe(status);
      });
    });

    it('thumbprints keys per RFC 7638 (its §3.1 example)', () => {
      expect(
        thumbprint({
          kty: 'RSA',
          n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
          e: 'AQAB',
        }),
      ).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    });
  });

  describe('with server nonces', () => {
    let fx: Fixture;
    beforeAll(async () => {
      fx = await fixture({ dpop: { requireNonce: true, nonceSecret: 'n'.repeat(32), nonceWindow: 60 } });
    });

    async function nonceOf(): Promise<string> {
      const res = await tokenRequest(fx, { grant_type: 'client_credentials' }, tokenProof(fx, proofKey()));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('use_dpop_nonce');
      return res.headers['dpop-nonce'] as string;
    }

    /** A nonce, and a token bound to a new key obtained with it. */
    async function nonceBoundToken(): Promise<{ nonce: string; key: ProofKeyPair; token: string }> {
      const nonce = await nonceOf();
      const key = proofKey();
      const got = await tokenRequest(
        fx,
        { grant_type: 'client_credentials' },
        tokenProof(fx, key, { nonce }),
      );
      expect(got.status).toBe(200);
      return { nonce, key, token: got.body.access_token as string };
    }

    it('answers a proof without the nonce 400 use_dpop_nonce with DPoP-Nonce at the token endpoint (RFC 9449 §8)', async () => {
      const nonce = await nonceOf();
      expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
      const key = proofKey();
      const res = await tokenRequest(
        fx,
        { grant_type: 'client_credentials', scope: 'read' },
        tokenProof(fx, key, { nonce }),
      );
      expect(res.status).toBe(200);
      expect(res.body.token_type).toBe('DPoP');
      expect(res.headers['dpop-nonce']).toBe(nonce);
    });

    it('answers 401 use_dpop_nonce with the DPoP challenge at a resource (RFC 9449 §9)', async () => {
      const { nonce, key, token } = await nonceBoundToken();
      const res = await probe(fx, token, probeProof(fx, key, token));
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('use_dpop_nonce');
      expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="use_dpop_nonce"/);
      expect(res.headers['dpop-nonce']).toBe(nonce);
      expect((await probe(fx, token, probeProof(fx, key, token, { nonce }))).status).toBe(200);
    });

    it('rotates: a nonce works for its window and the next, then is refused', async () => {
      const { nonce, key, token } = await nonceBoundToken();
      fx.clock.advance(60);
      expect((await probe(fx, token, probeProof(fx, key, token, { nonce }))).status).toBe(200);
      fx.clock.advance(60);
      const stale = await probe(fx, token, probeProof(fx, key, token, { nonce }));
      expect(stale.status).toBe(401);
      expect(stale.body.errors[0].errorType).toBe('use_dpop_nonce');
      expect(stale.headers['dpop-nonce']).not.toBe(nonce);
    });

    it('refuses a forged nonce', async () => {
      const key = proofKey();
      const forged = Buffer.alloc(40).toString('base64url');
      const res = await tokenRequest(
        fx,
        { grant_type: 'client_credentials' },
        tokenProof(fx, key, { nonce: forged }),
      );
      expect(res.body.error).toBe('use_dpop_nonce');
    });
  });

  describe('opaque access tokens', () => {
    it('binds them through their record and checks the proof', async () => {
      const fx = await fixture({ accessTokenFormat: 'opaque' });
      const key = proofKey();
      const token = await boundToken(fx, key);
      expect(token).not.toContain('.');
      expect((await probe(fx, token, probeProof(fx, key, token))).status).toBe(200);
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    });
  });
});

// a remote issuer on a port of its own: the integration project only
describeOnStore('redis')('requireToken in resource-server mode', () => {
  it('refuses a DPoP-bound token of a remote issuer (no proofs checked there) and keeps Bearer tokens', async () => {
    const clock = createClock();
    const issuer = await startKitIssuer(clock);
    try {
      const app = developmentApp();
      mountProbe(app, requireToken({ issuer: issuer.url, audience: API_AUDIENCE, now: clock.now }));
      const { token: bound } = await issuer.kit.tokens.issueAccessToken({
        subject: 'client-1',
        clientId: 'client-1',
        audience: API_AUDIENCE,
        jkt: proofKey().jkt,
      });
      const res = await request(app).get('/probe').set('Authorization', `Bearer ${bound}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
      const plain = await request(app)
        .get('/probe')
        .set('Authorization', `Bearer ${await issuer.token()}`);
      expect(plain.status).toBe(200);
    } finally {
      await issuer.close();
    }
  });
});
