/**
 * DPoP (RFC 9449) against independent implementations over real sockets: panva's oauth4webapi as
 * the client (DPoP-bound tokens from createOAuthRouter, with and without server nonces, its DPoP
 * helper on a requireToken route, refresh with another key), and Auth0's express-oauth2-jwt-bearer
 * in DPoP mode as a resource server accepting our tokens and proofs. A replayed proof is refused
 * by a second instance on the same Redis. ESM loading: see spec/helpers/load-esm.ts.
 */
import { createRequire } from 'node:module';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type * as OAuth from 'oauth4webapi';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { TokenKitOptions } from '../../lib/core/token-kit';
import { makeKit, storeFactories, type StoreHarness, type TestStore } from '../helpers/kit';
import { decodeJwt, seedClients, USER, verifyUser, type TestClients } from '../helpers/oauth';
import { loadEsm } from '../helpers/load-esm';
import { thumbprint } from '../helpers/dpop';
import { listen, type Started } from '../helpers/remote-issuers';

const oauth = loadEsm<typeof OAuth>('oauth4webapi');
/** Plain http on 127.0.0.1 is fine for a test; oauth4webapi insists on https otherwise. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** express-oauth2-jwt-bearer, loaded without its types (their global `req.auth` clashes with ours). */
const { auth } = createRequire(__filename)('express-oauth2-jwt-bearer') as {
  auth: (options: Record<string, unknown>) => RequestHandler;
};

/** The RFC 7638 thumbprint of a WebCrypto key pair's public key. */
async function jktOf(keyPair: Awaited<ReturnType<typeof oauth.generateKeyPair>>): Promise<string> {
  return thumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as Record<string, unknown>);
}

/** One instance of the app: router D and a requireToken route, on a kit mounted after listen(). */
interface Instance extends Started {
  kit?: TokenKit;
  /** The DPoP headers the instance's `/api/me` received, in order. */
  readonly proofs: string[];
}

async function instance(): Promise<Instance> {
  const mounted: { router?: RequestHandler; guard?: RequestHandler } = {};
  const proofs: string[] = [];
  const app = express();
  app.use((req, res, next) => (mounted.router === undefined ? next() : mounted.router(req, res, next)));
  app.get(
    '/api/me',
    (req, _res, next) => {
      if (typeof req.headers.dpop === 'string') proofs.push(req.headers.dpop);
      next();
    },
    (req, res, next) => mounted.guard!(req, res, next),
    (req, res) => {
      res.json({ sub: req.auth!.subject });
    },
  );
  const made: Instance = { ...(await listen(app)), proofs };
  Object.defineProperty(made, 'mount', {
    value: (kit: TokenKit, baseUrl: string) => {
      made.kit = kit;
      mounted.router = createOAuthRouter({ kit }) as unknown as RequestHandler;
      // Both instances serve one public URL (the first one's), as behind a load balancer.
      mounted.guard = requireToken({ kit, dpop: { baseUrl } });
    },
  });
  return made;
}

function mount(target: Instance, kit: TokenKit, baseUrl: string): void {
  (target as unknown as { mount: (k: TokenKit, b: string) => void }).mount(kit, baseUrl);
}

describe('DPoP interop over real sockets', () => {
  describe.each(storeFactories)('on the %s store', (_storeName, factory) => {
    let stores: StoreHarness;
    beforeAll(async () => {
      stores = await factory('dpop-interop');
    });
    afterAll(() => stores.cleanup());

    describe.each([
      ['without server nonces', {}],
      ['with server nonces', { dpop: { requireNonce: true, nonceSecret: 's'.repeat(32) } }],
    ] as const)('%s', (_case, kitOptions: Partial<TokenKitOptions>) => {
      let first: Instance;
      let second: Instance;
      let shared: TestStore;
      let clients: TestClients;
      let as: OAuth.AuthorizationServer;

      beforeAll(async () => {
        first = await instance();
        second = await instance();
        shared = await stores.create();
        const issuer = first.url;
        const { kit } = await makeKit({
          ...kitOptions,
          store: shared.store,
          issuer,
          now: Date.now,
          verifyUser,
        });
        mount(first, kit, issuer);
        // A second instance: its own store object and connection over the same data (Redis).
        const { kit: twin } = await makeKit({
          ...kitOptions,
          store: await shared.twin(),
          issuer,
          now: Date.now,
          verifyUser,
        });
        mount(second, twin, issuer);
        clients = await seedClients(kit);
        const res = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure });
        as = await oauth.processDiscoveryResponse(new URL(issuer), res);
      });
      afterAll(async () => {
        await first?.close();
        await second?.close();
      });

      const client = (): OAuth.Client => ({ client_id: clients.full.clientId });
      const basicAuth = (): OAuth.ClientAuth => oauth.ClientSecretBasic(clients.full.clientSecret);

      /** Runs `call` once more when the server asks for a nonce, as RFC 9449 §8 clients do. */
      async function withNonceRetry<T>(call: () => Promise<T>): Promise<T> {
        try {
          return await call();
        } catch (err) {
          if (!oauth.isDPoPNonceError(err)) throw err;
          return call();
        }
      }

      async function clientCredentials(dpop: OAuth.DPoPHandle): Promise<OAuth.TokenEndpointResponse> {
        return withNonceRetry(async () => {
          const res = await oauth.clientCredentialsGrantRequest(
            as,
            client(),
            basicAuth(),
            { scope: 'read' },
            {
              ...insecure,
              DPoP: dpop,
            },
          );
          return oauth.processClientCredentialsResponse(as, client(), res);
        });
      }

      /** GET /api/me with oauth4webapi's DPoP helper, for `url`, sent to the instance at `target`. */
      const me = (at: string, dpop: OAuth.DPoPHandle, url = `${first.url}/api/me`, target?: string) =>
        withNonceRetry(() =>
          oauth.protectedResourceRequest(at, 'GET', new URL(url), undefined, undefined, {
            ...insecure,
            DPoP: dpop,
            ...(target === undefined
              ? {}
              : { [oauth.customFetch]: (_u: string, init: RequestInit) => fetch(`${target}/api/me`, init) }),
          }),
        );

      async function statusOf(promise: Promise<Response>): Promise<number> {
        try {
          return (await promise).status;
        } catch (err) {
          if (err instanceof oauth.WWWAuthenticateChallengeError) return err.status;
          throw err;
        }
      }

      it('obtains a DPoP-bound token and calls a requireToken route with the DPoP helper', async () => {
        const keyPair = await oauth.generateKeyPair('ES256');
        const dpop = oauth.DPoP(client(), keyPair);
        const result = await clientCredentials(dpop);
        expect(result.token_type).toBe('dpop');
        expect(decodeJwt(result.access_token).payload.cnf).toEqual({
          jkt: await jktOf(keyPair),
        });
        const res = await me(result.access_token, dpop);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ sub: clients.full.clientId });
      });

      it('refuses the same token as Bearer with 401', async () => {
        const dpop = oauth.DPoP(client(), await oauth.generateKeyPair('ES256'));
        const { access_token: at } = await clientCredentials(dpop);
        const res = await fetch(`${first.url}/api/me`, { headers: { authorization: `Bearer ${at}` } });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ errors: [{ errorType: 'invalid_token' }] });
      });

      it('refuses a proof replayed on another instance with 401', async () => {
        const dpop = oauth.DPoP(client(), await oauth.generateKeyPair('ES256'));
        const { access_token: at } = await clientCredentials(dpop);
        expect((await me(at, dpop)).status).toBe(200);
        const proof = first.proofs.at(-1)!;
        const replay = await fetch(`${second.url}/api/me`, {
          headers: { authorization: `DPoP ${at}`, dpop: proof },
        });
        expect(replay.status).toBe(401);
        expect(await replay.json()).toMatchObject({ errors: [{ errorType: 'invalid_dpop_proof' }] });
        // The second instance accepts a fresh proof of the same key for the same public URL: the
        // refusal was the replay, seen through the shared store (one Redis; in memory, one store).
        const fresh = await me(at, dpop, `${first.url}/api/me`, second.url);
        expect(fresh.status).toBe(200);
      });

      it('refuses a proof for another URL or method with 401', async () => {
        const dpop = oauth.DPoP(client(), await oauth.generateKeyPair('ES256'));
        const { access_token: at } = await clientCredentials(dpop);
        expect((await me(at, dpop)).status).toBe(200);
        // oauth4webapi signs a proof for the URL and method it is given; send them elsewhere.
        const forOther = oauth.protectedResourceRequest(
          at,
          'GET',
          new URL(`${first.url}/api/other`),
          undefined,
          undefined,
          {
            ...insecure,
            DPoP: dpop,
            [oauth.customFetch]: (_url: string, init: RequestInit) => fetch(`${first.url}/api/me`, init),
          },
        );
        expect(await statusOf(forOther)).toBe(401);
        const forPost = oauth.protectedResourceRequest(
          at,
          'POST',
          new URL(`${first.url}/api/me`),
          undefined,
          undefined,
          {
            ...insecure,
            DPoP: dpop,
            [oauth.customFetch]: (url: string, init: RequestInit) => fetch(url, { ...init, method: 'GET' }),
          },
        );
        expect(await statusOf(forPost)).toBe(401);
      });

      it('refuses a refresh with another key: invalid_grant', async () => {
        const keyPair = await oauth.generateKeyPair('ES256');
        const dpop = oauth.DPoP(client(), keyPair);
        const granted = await withNonceRetry(async () => {
          const res = await oauth.genericTokenEndpointRequest(
            as,
            client(),
            basicAuth(),
            'password',
            { username: USER.username, password: USER.password, scope: 'read' },
            { ...insecure, DPoP: dpop },
          );
          return oauth.processGenericTokenEndpointResponse(as, client(), res);
        });
        expect(granted.token_type).toBe('dpop');
        const refreshWith = (handle: OAuth.DPoPHandle) =>
          withNonceRetry(async () => {
            const res = await oauth.refreshTokenGrantRequest(
              as,
              client(),
              basicAuth(),
              granted.refresh_token!,
              {
                ...insecure,
                DPoP: handle,
              },
            );
            return oauth.processRefreshTokenResponse(as, client(), res);
          });
        const other = oauth.DPoP(client(), await oauth.generateKeyPair('ES256'));
        await expect(refreshWith(other)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
        const next = await refreshWith(dpop);
        expect(next.token_type).toBe('dpop');
        expect((await me(next.access_token, dpop)).status).toBe(200);
      });
    });
  });

  describe('express-oauth2-jwt-bearer in DPoP mode', () => {
    let stores: StoreHarness;
    let as: Instance;
    let rs: Started;
    let clients: TestClients;

    beforeAll(async () => {
      stores = await storeFactories[0]![1]('dpop-interop-rs');
      as = await instance();
      const { kit } = await makeKit({ store: (await stores.create()).store, issuer: as.url, now: Date.now });
      mount(as, kit, as.url);
      clients = await seedClients(kit);
      const app = express();
      app.get(
        '/resource',
        auth({
          issuerBaseURL: as.url,
          audience: as.url,
          tokenSigningAlg: 'RS256',
          dpop: { enabled: true, required: true },
        }),
        (req, res) => {
          const { payload } = (req as unknown as { auth: { payload: Record<string, unknown> } }).auth;
          res.json({ sub: payload.sub, cnf: payload.cnf });
        },
      );
      const onError: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
        void _next;
        res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
      };
      app.use(onError);
      rs = await listen(app);
    });
    afterAll(async () => {
      await as?.close();
      await rs?.close();
      await stores.cleanup();
    });

    it('accepts our DPoP token and oauth4webapi proof, and refuses it as Bearer', async () => {
      const res = await oauth.discoveryRequest(new URL(as.url), { algorithm: 'oauth2', ...insecure });
      const server = await oauth.processDiscoveryResponse(new URL(as.url), res);
      const client: OAuth.Client = { client_id: clients.full.clientId };
      const keyPair = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, keyPair);
      const token = await oauth.processClientCredentialsResponse(
        server,
        client,
        await oauth.clientCredentialsGrantRequest(
          server,
          client,
          oauth.ClientSecretBasic(clients.full.clientSecret),
          {},
          {
            ...insecure,
            DPoP: dpop,
          },
        ),
      );
      const ok = await oauth.protectedResourceRequest(
        token.access_token,
        'GET',
        new URL(`${rs.url}/resource`),
        undefined,
        undefined,
        {
          ...insecure,
          DPoP: dpop,
        },
      );
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({
        sub: clients.full.clientId,
        cnf: { jkt: await jktOf(keyPair) },
      });
      const bearer = await fetch(`${rs.url}/resource`, {
        headers: { authorization: `Bearer ${token.access_token}` },
      });
      // A route that requires DPoP refuses a Bearer request (express-oauth2-jwt-bearer: 400 invalid_request).
      expect(bearer.status).toBe(400);
    });
  });
});
