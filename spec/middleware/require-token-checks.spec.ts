/**
 * The checks and hooks requireToken shares between kit mode and resource-server mode, here with a
 * kit on the memory store: express-oauth2-jwt-bearer's requiredScopes, scopeIncludesAny,
 * claimEquals, claimIncludes, claimCheck, maxTokenAge and strict; express-jwt's isRevoked and
 * getToken; and resourceMetadata in every challenge (RFC 9728 §5.1).
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { requireToken, type RequireTokenOptions } from '../../lib/middleware/require-token';
import type { TokenEvent } from '../../lib/core/events';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { createClock, makeKit, type TestClock } from '../helpers/kit';
import { expectCodeBody, expectErrorsBody } from '../helpers/http';

type Extra = Omit<RequireTokenOptions, 'kit'>;

describe('requireToken checks with a kit', () => {
  let kit: TokenKit;
  let clock: TestClock;

  beforeAll(async () => {
    clock = createClock();
    ({ kit } = await makeKit({ store: new MemoryTokenStore(), now: clock }));
  });

  function app(extra: Extra): Express {
    const a = express();
    a.get('/r', requireToken({ kit, ...extra }), (req, res) => res.json({ sub: req.auth!.subject }));
    return a;
  }

  const issue = async (scope = 'read write', claims: Record<string, unknown> = {}): Promise<string> =>
    (await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1', scope, claims })).token;

  const get = async (extra: Extra, token: string) =>
    request(app(extra)).get('/r').set('Authorization', `Bearer ${token}`);

  describe('requiredScopes', () => {
    it('passes when every scope is granted, as a string or a list', async () => {
      const token = await issue('read write');
      expect((await get({ requiredScopes: 'read write' }, token)).status).toBe(200);
      expect((await get({ requiredScopes: ['write'] }, token)).status).toBe(200);
    });

    it('responds 403 insufficient_scope naming the scopes when one is missing', async () => {
      const res = await get({ requiredScopes: ['read', 'admin'] }, await issue('read'));
      expectErrorsBody(res, 403, 'insufficient_scope');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="insufficient_scope", scope="read admin"',
      );
    });
  });

  describe('scopeIncludesAny', () => {
    it('passes with one of the scopes and answers 403 with none', async () => {
      expect((await get({ scopeIncludesAny: 'admin write' }, await issue('read write'))).status).toBe(200);
      expectErrorsBody(
        await get({ scopeIncludesAny: ['admin', 'root'] }, await issue('read')),
        403,
        'insufficient_scope',
      );
    });
  });

  describe('claimEquals', () => {
    it('passes on an equal claim, 401 Unexpected on another value, 401 Missing when absent', async () => {
      const opts = { claimEquals: { tenant: 'acme' } };
      expect((await get(opts, await issue('read', { tenant: 'acme' }))).status).toBe(200);
      expectErrorsBody(
        await get(opts, await issue('read', { tenant: 'evil' })),
        401,
        'invalid_token',
        "Unexpected 'tenant' value",
      );
      expectErrorsBody(await get(opts, await issue('read')), 401, 'invalid_token', "Missing 'tenant' claim");
    });

    it('compares by type: the number 1 is not the string "1"', async () => {
      expectErrorsBody(
        await get({ claimEquals: { level: 1 } }, await issue('read', { level: '1' })),
        401,
        'invalid_token',
      );
    });
  });

  describe('claimIncludes', () => {
    it('needs every value in an array claim or a space-separated string claim', async () => {
      const opts = { claimIncludes: { roles: ['editor', 'viewer'] } };
      expect((await get(opts, await issue('read', { roles: ['viewer', 'editor', 'x'] }))).status).toBe(200);
      expect((await get(opts, await issue('read', { roles: 'viewer editor' }))).status).toBe(200);
      expectErrorsBody(
        await get(opts, await issue('read', { roles: ['viewer'] })),
        401,
        'invalid_token',
        "Unexpected 'roles' value",
      );
      expectErrorsBody(await get(opts, await issue('read')), 401, 'invalid_token', "Missing 'roles' claim");
    });
  });

  describe('claimCheck', () => {
    it('passes when the predicate returns true, 401 when false or when it throws', async () => {
      const token = await issue('read', { tenant: 'acme' });
      expect((await get({ claimCheck: (c) => c.tenant === 'acme' }, token)).status).toBe(200);
      expectErrorsBody(
        await get({ claimCheck: (c) => c.tenant === 'other' }, token),
        401,
        'invalid_token',
        'Unexpected claim value',
      );
      const throwing = (): boolean => {
        throw new Error('boom');
      };
      const res = await get({ claimCheck: throwing }, token);
      expectErrorsBody(res, 401, 'invalid_token', 'Unexpected claim value');
      expect(JSON.stringify(res.body)).not.toContain('boom');
    });

    it('sees the AuthInfo beside the claims', async () => {
      expect((await get({ claimCheck: (_c, auth) => auth.subject === 'user-1' }, await issue())).status).toBe(
        200,
      );
    });
  });

  describe('maxTokenAge', () => {
    it('accepts a token maxTokenAge − 1 seconds old and refuses it at maxTokenAge, as express-oauth2-jwt-bearer does', async () => {
      const token = await issue();
      const start = clock.now();
      try {
        clock.advance(59);
        expect((await get({ maxTokenAge: 60 }, token)).status).toBe(200);
        clock.advance(1);
        expectErrorsBody(await get({ maxTokenAge: 60 }, token), 401, 'invalid_token');
      } finally {
        clock.set(start);
      }
    });
  });

  describe('strict', () => {
    it('accepts the kit’s RFC 9068 tokens and refuses to combine with acceptJwtType', async () => {
      expect((await get({ strict: true }, await issue())).status).toBe(200);
      expect(() => requireToken({ kit, strict: true, acceptJwtType: true })).toThrow(TypeError);
    });
  });

  describe('getToken', () => {
    const fromHeader: Extra = { getToken: (req) => req.get('x-api-token') };

    it('reads the token from another location', async () => {
      const token = await issue();
      expect((await request(app(fromHeader)).get('/r').set('X-Api-Token', token)).status).toBe(200);
    });

    it('answers 401 missing_token when it returns nothing, and 401 invalid_token for a bad token', async () => {
      expectErrorsBody(await request(app(fromHeader)).get('/r'), 401, 'missing_token');
      expectErrorsBody(
        await request(app(fromHeader)).get('/r').set('X-Api-Token', 'nope'),
        401,
        'invalid_token',
      );
    });

    it('may be async, and may opt in to the query string', async () => {
      const token = await issue();
      const fromQuery: Extra = {
        getToken: async (req) =>
          typeof req.query.access_token === 'string' ? req.query.access_token : undefined,
      };
      expect((await request(app(fromQuery)).get(`/r?access_token=${token}`)).status).toBe(200);
    });

    it('leaves the query string off by default', async () => {
      const token = await issue();
      // any option set routes the request through the same pipeline as resource-server mode
      expectErrorsBody(
        await request(app({ requiredScopes: 'read' })).get(`/r?access_token=${token}`),
        401,
        'missing_token',
      );
    });

    it('answers 400 when it throws, without the error in the body', async () => {
      const res = await request(
        app({
          getToken: () => {
            throw new Error('secret detail');
          },
        }),
      ).get('/r');
      expectErrorsBody(res, 400, 'invalid_request');
      expect(JSON.stringify(res.body)).not.toContain('secret detail');
    });
  });

  describe('isRevoked', () => {
    it('refuses with 401 when it answers true, passes on false, after the other checks', async () => {
      const seen: string[] = [];
      const isRevoked = async (auth: { jti: string }, req: { path: string }): Promise<boolean> => {
        seen.push(`${req.path}:${auth.jti.length > 0}`);
        return auth.jti === revokedJti;
      };
      const token = await issue();
      const other = await issue();
      const revokedJti = (
        JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }
      ).jti;
      expectErrorsBody(await get({ isRevoked }, token), 401, 'invalid_token', 'Access token revoked');
      expect((await get({ isRevoked }, other)).status).toBe(200);
      expect(seen).toEqual(['/r:true', '/r:true']);
      // a failing scope check answers first: the hook is not called
      expectErrorsBody(await get({ isRevoked, requiredScopes: 'admin' }, other), 403, 'insufficient_scope');
      expect(seen).toHaveLength(2);
    });

    it('fails closed with 503 when it throws or rejects', async () => {
      const res = await get({ isRevoked: () => Promise.reject(new Error('db down')) }, await issue());
      expectErrorsBody(res, 503, 'service_unavailable');
      expect(res.headers['retry-after']).toBeDefined();
    });
  });

  describe('credentialsRequired: false', () => {
    const optional = (): Express => {
      const a = express();
      a.get('/r', requireToken({ kit, credentialsRequired: false }), (req, res) =>
        res.json({ sub: req.auth?.subject ?? null }),
      );
      return a;
    };

    it('passes a request without a token on, with no req.auth', async () => {
      const res = await request(optional()).get('/r');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: null });
    });

    it('still verifies a token that is present, and refuses a bad one', async () => {
      const ok = await request(optional())
        .get('/r')
        .set('Authorization', `Bearer ${await issue()}`);
      expect(ok.body).toEqual({ sub: 'user-1' });
      expectErrorsBody(
        await request(optional()).get('/r').set('Authorization', 'Bearer a.b.c'),
        401,
        'invalid_token',
      );
    });
  });

  describe('resourceMetadata', () => {
    const url = 'https://api.example.test/.well-known/oauth-protected-resource';

    it('adds resource_metadata to every challenge: missing, invalid and insufficient_scope', async () => {
      const a = app({ resourceMetadata: url, requiredScopes: 'admin' });
      const missing = await request(a).get('/r');
      expect(missing.headers['www-authenticate']).toBe(`Bearer realm="api", resource_metadata="${url}"`);
      const invalid = await request(a).get('/r').set('Authorization', 'Bearer a.b.c');
      expect(invalid.headers['www-authenticate']).toBe(
        `Bearer realm="api", error="invalid_token", error_description="Access token invalid", resource_metadata="${url}"`,
      );
      const scope = await request(a)
        .get('/r')
        .set('Authorization', `Bearer ${await issue('read')}`);
      expect(scope.headers['www-authenticate']).toBe(
        `Bearer realm="api", error="insufficient_scope", scope="admin", resource_metadata="${url}"`,
      );
    });

    it('keeps the configured body format', async () => {
      expectCodeBody(
        await request(app({ resourceMetadata: url, errorFormat: 'code' })).get('/r'),
        401,
        'missing_token',
      );
    });
  });

  describe('when the options are wrong', () => {
    const bad: [string, Extra][] = [
      ['requiredScopes empty', { requiredScopes: [] }],
      ['requiredScopes with a quote', { requiredScopes: ['a"b'] }],
      ['scopeIncludesAny not a list', { scopeIncludesAny: 42 as never }],
      ['claimEquals with an object value', { claimEquals: { a: {} as never } }],
      ['claimIncludes with an empty list', { claimIncludes: { roles: [] } }],
      ['claimCheck not a function', { claimCheck: 'yes' as never }],
      ['getToken not a function', { getToken: 'header' as never }],
      ['isRevoked not a function', { isRevoked: true as never }],
      ['resourceMetadata not a URL', { resourceMetadata: 'not a url' }],
      ['resourceMetadata with a quote', { resourceMetadata: 'https://a.test/"x' }],
      ['maxTokenAge negative', { maxTokenAge: -1 }],
      ['maxTokenAge null', { maxTokenAge: null as never }],
      ['strict not a boolean', { strict: 'yes' as never }],
      ['credentialsRequired not a boolean', { credentialsRequired: 0 as never }],
    ];
    it.each(bad)('throws at factory time: %s', (_name, extra) => {
      let thrown: unknown;
      try {
        requireToken({ kit, ...extra });
      } catch (err) {
        thrown = err;
      }
      expect(thrown instanceof TypeError || thrown instanceof RangeError).toBe(true);
    });
  });
});

describe('requireToken checks with a kit, audited', () => {
  it('reports a token that fails verification on the checks path as auth_failed, with the reason and the client address', async () => {
    const events: TokenEvent[] = [];
    const { kit } = await makeKit({
      store: new MemoryTokenStore(),
      now: createClock(),
      onEvent: (e) => events.push(e),
    });
    const a = express();
    a.get('/r', requireToken({ kit, claimEquals: { tenant: 'acme' } }), (_req, res) => res.json({}));
    const { token } = await kit.tokens.issueAccessToken({
      subject: 'user-1',
      clientId: 'client-1',
      claims: { tenant: 'acme' },
    });
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.alloc(64).toString('base64url')}`;
    expectErrorsBody(
      await request(a).get('/r').set('Authorization', `Bearer ${forged}`),
      401,
      'invalid_token',
    );
    expect(events.filter((e) => e.type === 'auth_failed')).toEqual([
      expect.objectContaining({ type: 'auth_failed', reason: 'invalid_token', ip: expect.any(String) }),
    ]);
    expect((await request(a).get('/r').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(events.filter((e) => e.type === 'auth_failed')).toHaveLength(1);
  });
});
