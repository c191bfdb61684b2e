/**
 * Resource-server mode end to end: a separate Express app with only this package's requireToken (no
 * kit, no store) verifies the JWTs of a kit-based issuer (createOAuthRouter on its own port), of a
 * jose-signed ES256 issuer and of oidc-provider, each on a real socket, and keeps them apart.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import type * as OAuth from 'oauth4webapi';
import { requireToken } from '../../lib/middleware/require-token';
import type { RemoteRequireTokenOptions } from '../../lib/middleware/token-pipeline';
import { signJwt } from '../../lib/core/jwt';
import { KeySet } from '../../lib/keys/key-set';
import { createClock, type TestClock } from '../helpers/kit';
import { EXPIRED_TOKEN_BODY, expectErrorsBody, expectOAuthErrorBody } from '../helpers/http';
import { loadEsm } from '../helpers/load-esm';
import { decodeJwt, tamperJwt } from '../helpers/oauth';
import {
  API_AUDIENCE,
  listen,
  startJoseIssuer,
  startKitIssuer,
  startOidcProvider,
  type JoseIssuer,
  type KitIssuer,
  type OidcIssuer,
  type Started,
  getMe,
} from '../helpers/remote-issuers';

jest.setTimeout(60_000);

const oauth = loadEsm<typeof OAuth>('oauth4webapi');

/** An app with one guarded route that echoes the identity. */
function resourceApp(options: Readonly<RemoteRequireTokenOptions>): Express {
  const app = express();
  app.get('/api/me', requireToken(options), (req, res) => {
    const auth = req.auth!;
    res.json({ sub: auth.subject, client_id: auth.clientId, iss: auth.issuer, scopes: auth.scopes });
  });
  return app;
}

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

describe('requireToken without a kit (resource-server mode)', () => {
  let clock: TestClock;
  let kitIssuer: KitIssuer;
  let es: JoseIssuer;
  let oidc: OidcIssuer;

  beforeAll(async () => {
    clock = createClock();
    kitIssuer = await startKitIssuer(clock);
    es = await startJoseIssuer(clock);
    oidc = await startOidcProvider();
  });
  afterAll(async () => {
    await kitIssuer?.close();
    await es?.close();
    await oidc?.close();
  });

  describe('when the kit-based issuer is found through its RFC 8414 metadata', () => {
    it('accepts its JWT and hands the identity to the route', async () => {
      const app = resourceApp({ issuer: kitIssuer.url, audience: API_AUDIENCE, now: clock.now });
      const token = await kitIssuer.token();
      const res = await getMe(app, token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        sub: kitIssuer.clients.full.clientId,
        client_id: kitIssuer.clients.full.clientId,
        iss: kitIssuer.url,
        scopes: ['read'],
      });
      expect(kitIssuer.hits.get('/.well-known/oauth-authorization-server')).toBeGreaterThanOrEqual(1);
    });
  });

  describe('when the issuer is given with jwksUri', () => {
    const app = (): Express =>
      resourceApp({
        issuer: kitIssuer.url,
        audience: API_AUDIENCE,
        jwksUri: `${kitIssuer.url}/.well-known/jwks.json`,
        now: clock.now,
      });

    it('accepts the JWT without asking for metadata', async () => {
      const before = kitIssuer.hits.get('/.well-known/oauth-authorization-server') ?? 0;
      const res = await request(app())
        .get('/api/me')
        .set(...bearer(await kitIssuer.token()));
      expect(res.status).toBe(200);
      expect(kitIssuer.hits.get('/.well-known/oauth-authorization-server') ?? 0).toBe(before);
    });

    it('responds 401 invalid_token to a tampered JWT, with the usual body and challenge', async () => {
      const token = tamperJwt(await kitIssuer.token(), { scope: 'read write admin' });
      const res = await request(app())
        .get('/api/me')
        .set(...bearer(token));
      expectErrorsBody(res, 401, 'invalid_token', 'Access token invalid');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="invalid_token", error_description="Access token invalid"',
      );
    });

    it('responds 401 expired_token at exp, and accepts it one second before', async () => {
      const token = await kitIssuer.token();
      const { exp } = decodeJwt(token).payload as { exp: number };
      const guarded = app();
      const start = clock.now();
      try {
        clock.set((exp - 1) * 1000);
        expect((await getMe(guarded, token)).status).toBe(200);
        clock.set(exp * 1000);
        const res = await getMe(guarded, token);
        expect(res.status).toBe(401);
        expect(res.body).toEqual(EXPIRED_TOKEN_BODY);
      } finally {
        clock.set(start);
      }
    });

    it('answers in the configured body format', async () => {
      const guarded = resourceApp({
        issuer: kitIssuer.url,
        audience: API_AUDIENCE,
        jwksUri: `${kitIssuer.url}/.well-known/jwks.json`,
        now: clock.now,
        errorFormat: 'oauth',
      });
      const res = await request(guarded).get('/api/me').set('Authorization', 'Bearer abc.def.ghi');
      expectOAuthErrorBody(res, 401, 'invalid_token');
    });

    it('responds 401 to a token for another audience', async () => {
      const guarded = resourceApp({
        issuer: kitIssuer.url,
        audience: 'https://other-api.test',
        jwksUri: `${kitIssuer.url}/.well-known/jwks.json`,
        now: clock.now,
      });
      const res = await getMe(guarded, await kitIssuer.token());
      expectErrorsBody(res, 401, 'invalid_token');
    });
  });

  describe('when revocation is checked by RFC 7662 introspection', () => {
    const introspecting = (cacheMaxAge: number): Express =>
      resourceApp({
        issuer: kitIssuer.url,
        audience: API_AUDIENCE,
        now: clock.now,
        introspection: {
          endpoint: `${kitIssuer.url}/oauth/introspect`,
          clientId: kitIssuer.clients.full.clientId,
          clientSecret: kitIssuer.clients.full.clientSecret,
          cacheMaxAge,
        },
      });

    it('refuses a token revoked at /oauth/revoke once the cached answer is older than cacheMaxAge', async () => {
      const app = introspecting(30);
      const token = await kitIssuer.token();
      expect((await getMe(app, token)).status).toBe(200);
      await kitIssuer.revoke(token);
      // within the cache age the remembered "active" answer stands
      clock.advance(29);
      expect((await getMe(app, token)).status).toBe(200);
      clock.advance(1);
      const res = await getMe(app, token);
      expectErrorsBody(res, 401, 'invalid_token', 'Access token revoked');
    });

    it('refuses a revoked token at once with cacheMaxAge 0', async () => {
      const app = introspecting(0);
      const token = await kitIssuer.token();
      const before = kitIssuer.hits.get('/oauth/introspect') ?? 0;
      expect((await getMe(app, token)).status).toBe(200);
      expect((await getMe(app, token)).status).toBe(200);
      expect(kitIssuer.hits.get('/oauth/introspect')).toBe(before + 2);
      await kitIssuer.revoke(token);
      expectErrorsBody(await getMe(app, token), 401, 'invalid_token', 'Access token revoked');
    });

    it('asks the endpoint once for concurrent requests with the same token', async () => {
      const app = introspecting(60);
      const token = await kitIssuer.token();
      const before = kitIssuer.hits.get('/oauth/introspect') ?? 0;
      const server = await listen(app);
      try {
        const statuses = await Promise.all(
          Array.from({ length: 20 }, () =>
            fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } }).then(
              (r) => r.status,
            ),
          ),
        );
        expect(statuses).toEqual(Array(20).fill(200));
      } finally {
        await server.close();
      }
      expect(kitIssuer.hits.get('/oauth/introspect')).toBe(before + 1);
    });

    it('verifies an opaque token of the issuer by introspection alone', async () => {
      const { token } = await kitIssuer.kit.tokens.issueAccessToken({
        subject: 'user-opaque',
        clientId: kitIssuer.clients.full.clientId,
        scope: 'read',
        format: 'opaque',
      });
      const app = introspecting(0);
      const res = await getMe(app, token);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ sub: 'user-opaque', iss: kitIssuer.url, scopes: ['read'] });
      await kitIssuer.kit.tokens.revokeToken(token);
      expectErrorsBody(await getMe(app, token), 401, 'invalid_token');
    });

    it('responds 401 to an opaque token when no issuer introspects', async () => {
      const app = resourceApp({ issuer: kitIssuer.url, audience: API_AUDIENCE, now: clock.now });
      expectErrorsBody(
        await request(app).get('/api/me').set('Authorization', 'Bearer kit_at_opaque'),
        401,
        'invalid_token',
      );
    });
  });

  describe('when several issuers are trusted at once', () => {
    let app: Express;
    beforeAll(() => {
      app = resourceApp({
        issuers: [
          { issuer: kitIssuer.url, audience: API_AUDIENCE },
          { issuer: es.url, audience: API_AUDIENCE, algorithms: ['ES256'] },
          { issuer: oidc.url, audience: API_AUDIENCE },
        ],
        now: clock.now,
      });
    });

    it('accepts the kit issuer, the jose ES256 issuer and oidc-provider side by side', async () => {
      const kitRes = await getMe(app, await kitIssuer.token());
      expect(kitRes.status).toBe(200);
      expect(kitRes.body.iss).toBe(kitIssuer.url);
      const esRes = await getMe(app, await es.sign());
      expect(esRes.status).toBe(200);
      expect(esRes.body).toEqual({ sub: 'user-es', client_id: 'client-es', iss: es.url, scopes: ['read'] });
      const oidcToken = await oidc.token();
      expect(decodeJwt(oidcToken).header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const oidcRes = await getMe(app, oidcToken);
      expect(oidcRes.status).toBe(200);
      expect(oidcRes.body).toMatchObject({ iss: oidc.url, client_id: 'oidc-service', scopes: ['read'] });
    });

    it("refuses a token that claims the kit issuer but is signed with the ES256 issuer's key", async () => {
      const forged = await es.sign({ iss: kitIssuer.url });
      expectErrorsBody(await getMe(app, forged), 401, 'invalid_token');
    });

    it("refuses a token that claims the ES256 issuer but is signed with another key under that issuer's kid", async () => {
      const stranger = await KeySet.generate('ES256', es.kid);
      const now = clock.seconds();
      const forged = signJwt(stranger, {
        iss: es.url,
        aud: API_AUDIENCE,
        sub: 'x',
        client_id: 'x',
        jti: 'x',
        iat: now,
        exp: now + 60,
      });
      expectErrorsBody(await getMe(app, forged), 401, 'invalid_token');
    });

    it('refuses a token of an issuer that is not listed', async () => {
      const forged = await es.sign({ iss: 'https://evil.test' });
      expectErrorsBody(await getMe(app, forged), 401, 'invalid_token');
    });

    it('refuses an ID-token-typed JWT and, in strict mode, a token without at+jwt', async () => {
      expectErrorsBody(await getMe(app, await es.sign({}, { typ: 'id_token+jwt' })), 401, 'invalid_token');
      const strict = resourceApp({ issuer: es.url, audience: API_AUDIENCE, strict: true, now: clock.now });
      expect((await getMe(strict, await es.sign())).status).toBe(200);
      for (const token of [await es.sign({}, { typ: 'JWT' }), await es.sign({ client_id: undefined })]) {
        expectErrorsBody(await getMe(strict, token), 401, 'invalid_token');
      }
    });
  });

  describe("when the service shares the issuer's token store", () => {
    it('refuses a token revoked at the issuer at once, through the shared revocation check', async () => {
      const app = resourceApp({
        issuer: kitIssuer.url,
        audience: API_AUDIENCE,
        now: clock.now,
        revocation: { store: kitIssuer.kit.tokens.store },
      });
      const token = await kitIssuer.token();
      expect((await getMe(app, token)).status).toBe(200);
      await kitIssuer.revoke(token);
      expectErrorsBody(await getMe(app, token), 401, 'invalid_token', 'Access token revoked');
    });

    it('refuses every token of a client cut off at the issuer', async () => {
      const app = resourceApp({
        issuer: kitIssuer.url,
        audience: API_AUDIENCE,
        now: clock.now,
        revocation: { store: kitIssuer.kit.tokens.store },
      });
      const token = await kitIssuer.token();
      expect((await getMe(app, token)).status).toBe(200);
      clock.advance(1);
      await kitIssuer.kit.tokens.revokeClient(kitIssuer.clients.full.clientId);
      expectErrorsBody(await getMe(app, token), 401, 'invalid_token');
      clock.advance(1);
      expect((await getMe(app, await kitIssuer.token())).status).toBe(200);
    });
  });

  describe('checks and hooks in resource-server mode', () => {
    const checked = (extra: Partial<RemoteRequireTokenOptions>): Express =>
      resourceApp({ issuer: es.url, audience: API_AUDIENCE, now: clock.now, ...extra });

    it('applies requiredScopes, scopeIncludesAny, claimEquals, claimIncludes and claimCheck to remote claims', async () => {
      const token = await es.sign({ scope: 'read write', tenant: 'acme', roles: ['a', 'b'] });
      const get = async (extra: Partial<RemoteRequireTokenOptions>) =>
        (
          await request(checked(extra))
            .get('/api/me')
            .set(...bearer(token))
        ).status;
      expect(await get({ requiredScopes: 'read write' })).toBe(200);
      expect(await get({ requiredScopes: 'admin' })).toBe(403);
      expect(await get({ scopeIncludesAny: ['admin', 'write'] })).toBe(200);
      expect(await get({ claimEquals: { tenant: 'acme' } })).toBe(200);
      expect(await get({ claimEquals: { tenant: 'other' } })).toBe(401);
      expect(await get({ claimIncludes: { roles: ['b'] } })).toBe(200);
      expect(await get({ claimIncludes: { roles: ['c'] } })).toBe(401);
      expect(await get({ claimCheck: (c) => c.tenant === 'acme' })).toBe(200);
      expect(await get({ claimCheck: () => false })).toBe(401);
    });

    it('applies maxTokenAge with clockTolerance, at second boundaries', async () => {
      const token = await es.sign({ iat: clock.seconds() - 65, exp: clock.seconds() + 600 });
      const status = async (extra: Partial<RemoteRequireTokenOptions>) =>
        (
          await request(checked(extra))
            .get('/api/me')
            .set(...bearer(token))
        ).status;
      expect(await status({ maxTokenAge: 60 })).toBe(401);
      expect(await status({ maxTokenAge: 60, clockTolerance: 6 })).toBe(200);
      expect(await status({ maxTokenAge: 60, clockTolerance: 5 })).toBe(401);
      expect(await status({ maxTokenAge: 66 })).toBe(200);
      expect(await status({ maxTokenAge: 65 })).toBe(401);
    });

    it('calls isRevoked with the remote AuthInfo and reads the token through getToken', async () => {
      const token = await es.sign({ jti: 'revoked-jti' });
      const app = checked({
        getToken: (req) => req.get('x-token'),
        isRevoked: (auth) => auth.jti === 'revoked-jti',
      });
      expectErrorsBody(
        await request(app).get('/api/me').set('X-Token', token),
        401,
        'invalid_token',
        'Access token revoked',
      );
      expect(
        (
          await request(app)
            .get('/api/me')
            .set('X-Token', await es.sign())
        ).status,
      ).toBe(200);
      expectErrorsBody(await getMe(app, await es.sign()), 401, 'missing_token');
    });
  });

  describe('with resourceMetadata', () => {
    let server: Started;
    const metadataUrl = 'https://api.resource.test/.well-known/oauth-protected-resource';
    beforeAll(async () => {
      server = await listen(
        resourceApp({
          issuer: kitIssuer.url,
          audience: API_AUDIENCE,
          resourceMetadata: metadataUrl,
          now: clock.now,
        }),
      );
    });
    afterAll(() => server.close());

    it('adds resource_metadata to the 401 challenge, which oauth4webapi parses', async () => {
      const res = await fetch(`${server.url}/api/me`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer realm="api", resource_metadata="${metadataUrl}"`,
      );
      let challenge: OAuth.WWWAuthenticateChallenge | undefined;
      try {
        await oauth.protectedResourceRequest(
          'abc.def.ghi',
          'GET',
          new URL(`${server.url}/api/me`),
          undefined,
          undefined,
          {
            [oauth.allowInsecureRequests]: true,
          },
        );
      } catch (err) {
        challenge = (err as OAuth.WWWAuthenticateChallengeError).cause[0];
      }
      expect(challenge).toMatchObject({
        scheme: 'bearer',
        parameters: { realm: 'api', error: 'invalid_token', resource_metadata: metadataUrl },
      });
    });

    it('accepts a kit token that oauth4webapi validateJwtAccessToken also accepts', async () => {
      const token = await kitIssuer.token();
      const as = await oauth.processDiscoveryResponse(
        new URL(kitIssuer.url),
        await oauth.discoveryRequest(new URL(kitIssuer.url), {
          algorithm: 'oauth2',
          [oauth.allowInsecureRequests]: true,
        }),
      );
      const claims = await oauth.validateJwtAccessToken(
        as,
        new Request(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } }),
        API_AUDIENCE,
        { [oauth.allowInsecureRequests]: true },
      );
      expect(claims.iss).toBe(kitIssuer.url);
      const res = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    });
  });
});
