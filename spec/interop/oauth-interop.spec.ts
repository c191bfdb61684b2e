/**
 * Router D against independent implementations over a real socket: panva's oauth4webapi (discovery,
 * token, refresh, introspection, revocation, RFC 9068 validation), panva's jose (remote JWKS +
 * jwtVerify) and Auth0's express-oauth2-jwt-bearer (a resource server on a second app).
 *
 * Loading ESM-only packages here: jest runs these specs as CommonJS inside a `vm` context with its
 * own module loader. `require('jose')` / `require('oauth4webapi')` (ESM-only since jose v6 and
 * oauth4webapi v3) fail with "Must use import to load ES Module" even on Node 20.20, because jest's
 * loader does not implement require(esm) before Node 24.9 — and `createRequire()` is routed through
 * the same loader. A dynamic `import()` needs `--experimental-vm-modules`. So {@link loadEsm} has
 * esbuild (already a devDependency) bundle the package into one CommonJS string, unchanged apart
 * from the module format, and evaluates it in this test's context. Types come from the packages
 * themselves through `import type`. express-oauth2-jwt-bearer ships CommonJS (with jose v4
 * nested) and is required normally.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { createRequire } from 'node:module';
import { buildSync } from 'esbuild';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import request from 'supertest';
import type * as Jose from 'jose';
import type * as OAuth from 'oauth4webapi';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import { makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { decodeJwt, seedClients, tamperJwt, USER, verifyUser, type TestClients } from '../helpers/oauth';

/** Bundles an ESM-only package to CommonJS with esbuild and evaluates it here (see the file comment). */
function loadEsm<T>(name: string): T {
  const { outputFiles } = buildSync({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: __dirname },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', outputFiles[0]!.text)(mod, mod.exports, require);
  return mod.exports as T;
}

/** The options of express-oauth2-jwt-bearer's `auth()` used here. */
interface AuthOptions {
  readonly issuerBaseURL?: string;
  readonly issuer?: string;
  readonly jwksUri?: string;
  readonly audience: string;
  readonly tokenSigningAlg: string;
  readonly strict: boolean;
}

/**
 * express-oauth2-jwt-bearer is CommonJS, but it is loaded without its types: they declare a global
 * `Express.Request.auth` of their own, which would clash with the one requireToken declares.
 */
const { auth } = createRequire(__filename)('express-oauth2-jwt-bearer') as {
  auth: (options: AuthOptions) => RequestHandler;
};

const jose = loadEsm<typeof Jose>('jose');
const oauth = loadEsm<typeof OAuth>('oauth4webapi');
/** Plain http on 127.0.0.1 is fine for a test; oauth4webapi insists on https otherwise. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

function listen(app: Express): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(app);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function close(server: http.Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An app guarded by express-oauth2-jwt-bearer, answering 401 as JSON. */
function resourceServer(options: AuthOptions): Express {
  const app = express();
  app.get('/resource', auth(options), (req, res) => {
    const { payload } = (req as unknown as { auth: { payload: Record<string, unknown> } }).auth;
    res.json({ sub: payload.sub, client_id: payload.client_id });
  });
  const onError: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
    void _next;
    res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
  };
  app.use(onError);
  return app;
}

describe('router D interop over a real socket', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let server: http.Server | undefined;
    let issuer: string;
    let kit: TokenKit;
    let clients: TestClients;
    let as: OAuth.AuthorizationServer;

    beforeAll(async () => {
      stores = await factory('oauth-interop');
      const app = express();
      // The issuer holds the port, known only after listen(): mount the router once the kit exists.
      const mounted: { router?: Router; guard?: RequestHandler } = {};
      app.use((req, res, next) => (mounted.router === undefined ? next() : mounted.router(req, res, next)));
      app.get(
        '/api/me',
        (req, res, next) => mounted.guard!(req, res, next),
        (req, res) => {
          res.json({ sub: req.auth!.subject });
        },
      );
      server = await listen(app);
      issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      ({ kit } = await makeKit({ store: (await stores.create()).store, issuer, now: Date.now, verifyUser }));
      clients = await seedClients(kit);
      mounted.router = createOAuthRouter({ kit });
      mounted.guard = requireToken({ kit });
      as = await discover();
    });
    afterAll(async () => {
      await close(server);
      await stores.cleanup();
    });

    async function discover(): Promise<OAuth.AuthorizationServer> {
      const res = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure });
      return oauth.processDiscoveryResponse(new URL(issuer), res);
    }

    const client = (): OAuth.Client => ({ client_id: clients.full.clientId });
    const basicAuth = (): OAuth.ClientAuth => oauth.ClientSecretBasic(clients.full.clientSecret);
    const postAuth = (): OAuth.ClientAuth => oauth.ClientSecretPost(clients.full.clientSecret);

    async function clientCredentials(clientAuth = basicAuth()): Promise<OAuth.TokenEndpointResponse> {
      const res = await oauth.clientCredentialsGrantRequest(
        as,
        client(),
        clientAuth,
        { scope: 'read' },
        insecure,
      );
      return oauth.processClientCredentialsResponse(as, client(), res);
    }

    async function passwordGrant(): Promise<OAuth.TokenEndpointResponse> {
      const res = await oauth.genericTokenEndpointRequest(
        as,
        client(),
        basicAuth(),
        'password',
        { username: USER.username, password: USER.password, scope: 'read write' },
        insecure,
      );
      return oauth.processGenericTokenEndpointResponse(as, client(), res);
    }

    async function refresh(refreshToken: string): Promise<OAuth.TokenEndpointResponse> {
      const res = await oauth.refreshTokenGrantRequest(as, client(), basicAuth(), refreshToken, insecure);
      return oauth.processRefreshTokenResponse(as, client(), res);
    }

    async function introspect(token: string): Promise<OAuth.IntrospectionResponse> {
      const res = await oauth.introspectionRequest(as, client(), basicAuth(), token, insecure);
      return oauth.processIntrospectionResponse(as, client(), res);
    }

    const me = (token: string) =>
      fetch(`${issuer}/api/me`, { headers: { authorization: `Bearer ${token}` } });

    describe('oauth4webapi', () => {
      it('discovers the server from its issuer identifier (RFC 8414)', async () => {
        expect(await discover()).toMatchObject({
          issuer,
          token_endpoint: `${issuer}/oauth/token`,
          revocation_endpoint: `${issuer}/oauth/revoke`,
          introspection_endpoint: `${issuer}/oauth/introspect`,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
        });
      });

      it.each([
        ['client_secret_basic', () => basicAuth()],
        ['client_secret_post', () => postAuth()],
      ])('runs the client_credentials grant with %s', async (_method, clientAuth) => {
        const result = await clientCredentials(clientAuth());
        expect(result.token_type).toBe('bearer');
        expect(result.expires_in).toBe(3600);
        expect(result.scope).toBe('read');
        expect(result.refresh_token).toBeUndefined();
        expect((await me(result.access_token)).status).toBe(200);
      });

      it('form-encodes Basic credentials the way the router decodes them', async () => {
        const odd = { client_id: clients.odd.clientId };
        const res = await oauth.clientCredentialsGrantRequest(
          as,
          odd,
          oauth.ClientSecretBasic(clients.odd.clientSecret),
          {},
          insecure,
        );
        const result = await oauth.processClientCredentialsResponse(as, odd, res);
        expect(decodeJwt(result.access_token).payload.client_id).toBe(clients.odd.clientId);
      });

      it('surfaces a wrong Basic secret as the Basic challenge of a 401', async () => {
        const res = await oauth.clientCredentialsGrantRequest(
          as,
          client(),
          oauth.ClientSecretBasic('wrong'),
          {},
          insecure,
        );
        const err: unknown = await oauth
          .processClientCredentialsResponse(as, client(), res)
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
        expect(err).toMatchObject({
          status: 401,
          cause: [{ scheme: 'basic', parameters: { realm: 'api' } }],
        });
        expect(await (err as OAuth.WWWAuthenticateChallengeError).response.json()).toMatchObject({
          error: 'invalid_client',
        });
      });

      it('surfaces a wrong client_secret_post secret as invalid_client', async () => {
        const res = await oauth.clientCredentialsGrantRequest(
          as,
          client(),
          oauth.ClientSecretPost('wrong'),
          {},
          insecure,
        );
        await expect(oauth.processClientCredentialsResponse(as, client(), res)).rejects.toMatchObject({
          error: 'invalid_client',
          status: 401,
        });
      });

      it('runs password → refresh → replay, and the replay revokes the family', async () => {
        const first = await passwordGrant();
        expect(first).toMatchObject({
          token_type: 'bearer',
          scope: 'read write',
          refresh_token: expect.any(String),
        });
        const second = await refresh(first.refresh_token!);
        expect(second.refresh_token).not.toBe(first.refresh_token);
        expect((await me(second.access_token)).status).toBe(200);

        await expect(refresh(first.refresh_token!)).rejects.toMatchObject({
          error: 'invalid_grant',
          status: 400,
        });
        await expect(refresh(second.refresh_token!)).rejects.toMatchObject({
          error: 'invalid_grant',
          status: 400,
        });
        expect((await me(second.access_token)).status).toBe(401);
        expect(await introspect(second.refresh_token!)).toEqual({ active: false });
      });

      it('introspects, revokes, and then introspects as inactive', async () => {
        const { access_token: at } = await clientCredentials();
        const active = await introspect(at);
        expect(active).toMatchObject({
          active: true,
          client_id: clients.full.clientId,
          sub: clients.full.clientId,
          iss: issuer,
          aud: issuer,
          scope: 'read',
          token_type: 'Bearer',
        });
        const res = await oauth.revocationRequest(as, client(), basicAuth(), at, insecure);
        await expect(oauth.processRevocationResponse(res)).resolves.toBeUndefined();
        expect(await introspect(at)).toEqual({ active: false });
        expect((await me(at)).status).toBe(401);
      });

      it('validates our access tokens as RFC 9068 JWTs', async () => {
        const { access_token: at } = await clientCredentials();
        const req = new Request(`${issuer}/api/me`, { headers: { authorization: `Bearer ${at}` } });
        const claims = await oauth.validateJwtAccessToken(as, req, issuer, insecure);
        expect(claims).toMatchObject({ iss: issuer, aud: issuer, client_id: clients.full.clientId });
        const forged = new Request(`${issuer}/api/me`, {
          headers: { authorization: `Bearer ${tamperJwt(at, { client_id: 'someone-else' })}` },
        });
        await expect(oauth.validateJwtAccessToken(as, forged, issuer, insecure)).rejects.toThrow();
      });
    });

    describe('jose', () => {
      it('verifies our access tokens against the remote JWKS and rejects tampered ones', async () => {
        const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri!));
        const { access_token: at } = await clientCredentials();
        const { payload, protectedHeader } = await jose.jwtVerify(at, jwks, {
          issuer,
          audience: issuer,
          typ: 'at+jwt',
          algorithms: ['RS256'],
          requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'],
        });
        expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
        expect(payload).toMatchObject({ client_id: clients.full.clientId, scope: 'read' });

        await expect(
          jose.jwtVerify(tamperJwt(at, { scope: 'read write admin' }), jwks, { issuer, audience: issuer }),
        ).rejects.toMatchObject({
          code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
        });
        const { privateKey } = await jose.generateKeyPair('RS256');
        const foreign = await new jose.SignJWT({ ...payload })
          .setProtectedHeader({ ...protectedHeader })
          .sign(privateKey);
        await expect(jose.jwtVerify(foreign, jwks, { issuer, audience: issuer })).rejects.toMatchObject({
          code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
        });
      });
    });

    describe('express-oauth2-jwt-bearer', () => {
      it.each([
        ['issuerBaseURL (discovery)', (): Partial<AuthOptions> => ({ issuerBaseURL: issuer })],
        [
          'issuer and jwksUri',
          (): Partial<AuthOptions> => ({ issuer, jwksUri: `${issuer}/.well-known/jwks.json` }),
        ],
      ])('accepts our token and rejects a tampered one, configured with %s', async (_case, configure) => {
        const rs = resourceServer({
          ...configure(),
          audience: issuer,
          tokenSigningAlg: 'RS256',
          strict: true,
        });
        const { access_token: at } = await clientCredentials();
        const ok = await request(rs).get('/resource').set('Authorization', `Bearer ${at}`);
        expect({ status: ok.status, body: ok.body as unknown }).toEqual({
          status: 200,
          body: { sub: clients.full.clientId, client_id: clients.full.clientId },
        });
        const tampered = await request(rs)
          .get('/resource')
          .set('Authorization', `Bearer ${tamperJwt(at, { sub: 'admin' })}`);
        expect(tampered.status).toBe(401);
        expect(tampered.body).toEqual({ error: 'invalid_token' });
        expect((await request(rs).get('/resource')).status).toBe(401);
      });
    });
  });
});
