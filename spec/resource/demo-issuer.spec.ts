/**
 * The demo server as the issuer of a separate service, end to end on real sockets: createDemoApp
 * listens on a free port with its own base URL as the kit's issuer (so RFC 8414 §3.3 discovery
 * matches), and an Express app with only this package's requireToken — no kit, no store — verifies
 * the demo's `/oauth/token` JWTs through its metadata or its `jwksUri`, refuses tampered and expired
 * ones with the bodies the demo's own guarded routes give, and refuses a token revoked at the demo's
 * `/oauth/revoke` through RFC 7662 introspection: at once with `cacheMaxAge: 0`, once the cached
 * answer is `cacheMaxAge` old otherwise. The demo runs on the memory store and on Redis.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { requireToken, type RemoteRequireTokenOptions } from '../../lib/index';
import { createDemoApp } from '../../lib/server/demo-app';
import { parseSeed } from '../../lib/server/seed';
import { applySeed } from '../../lib/server/seed-kit';
import type { TokenStore } from '../../lib/stores/token-store';
import type { CredentialStore } from '../../lib/stores/credential-store';
import { EXPIRED_TOKEN_BODY, expectErrorsBody } from '../helpers/http';
import { createClock, makeKit, storeFactories, type StoreHarness, type TestClock } from '../helpers/kit';
import { basic, decodeJwt, tamperJwt } from '../helpers/oauth';
import { listen, type Started } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

/** The application whose client_credentials tokens the resource server is shown. */
const REPORTS = { clientId: 'reports-client', clientSecret: 'reports-client-secret' } as const;
/** The resource server's own credentials: an application with `introspection: 'any'`, no grants. */
const ORDERS_API = { clientId: 'orders-api', clientSecret: 'orders-api-secret' } as const;

const SEED = parseSeed({
  applications: [
    {
      id: '3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f',
      name: 'Reports',
      organization: 'acme',
      ...REPORTS,
      applicationTypes: ['API'],
      grantTypes: ['client_credentials'],
    },
    {
      id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
      name: 'Orders API',
      organization: 'acme',
      ...ORDERS_API,
      applicationTypes: ['API'],
      introspection: 'any',
    },
  ],
});

const METADATA_PATH = '/.well-known/oauth-authorization-server';
const JWKS_PATH = '/.well-known/jwks.json';
const INTROSPECT_PATH = '/oauth/introspect';

/** The demo server, started on a real socket; `url` is its issuer and (the kit's default) audience. */
interface Demo extends Started {
  readonly app: Express;
  /** Requests seen per path. */
  readonly hits: Map<string, number>;
}

/** Listens first, then builds the kit with the socket's base URL as issuer, then the demo app on it. */
async function startDemo(clock: TestClock, store: TokenStore & CredentialStore): Promise<Demo> {
  const mounted: { app?: Express } = {};
  const hits = new Map<string, number>();
  const started = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    mounted.app!(req, res);
  });
  const { kit } = await makeKit({ store, issuer: started.url, now: clock });
  await applySeed(kit, SEED);
  mounted.app = createDemoApp({ kit, seed: SEED });
  return { ...started, app: mounted.app, hits };
}

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

describe.each(storeFactories)(
  'the demo server as the issuer of a resource server (%s store)',
  (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let demo: Demo;

    beforeAll(async () => {
      stores = await factory('demo-issuer');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      clock = createClock();
      demo = await startDemo(clock, (await stores.create(clock.now)).store);
    });
    afterEach(() => demo.close());

    /** A form POST to the demo over its socket, authenticated with Basic (RFC 6749 §2.3.1). */
    async function post(
      path: string,
      client: { clientId: string; clientSecret: string },
      body: Record<string, string>,
    ): Promise<Response> {
      return fetch(`${demo.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: basic(client.clientId, client.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(body).toString(),
      });
    }
    /** A client_credentials JWT of the Reports application from the demo's `POST /oauth/token`. */
    async function demoToken(): Promise<string> {
      const res = await post('/oauth/token', REPORTS, { grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    }
    /** Revokes at the demo's `POST /oauth/revoke` (RFC 7009) as the token's owner. */
    async function revokeAtDemo(token: string): Promise<void> {
      expect((await post('/oauth/revoke', REPORTS, { token })).status).toBe(200);
    }

    /** The separate service: plain Express and requireToken, nothing else of the package. */
    function resourceApp(extra: Partial<RemoteRequireTokenOptions> = {}): Express {
      const app = express();
      app.get(
        '/orders',
        requireToken({ issuer: demo.url, audience: demo.url, now: clock.now, ...extra }),
        (req, res) => {
          const auth = req.auth!;
          res.json({ sub: auth.subject, client_id: auth.clientId, iss: auth.issuer, aud: auth.audience });
        },
      );
      return app;
    }
    const introspecting = (cacheMaxAge: number): Partial<RemoteRequireTokenOptions> => ({
      introspection: { endpoint: `${demo.url}${INTROSPECT_PATH}`, ...ORDERS_API, cacheMaxAge },
    });
    const get = (app: Express, token: string): request.Test =>
      request(app)
        .get('/orders')
        .set(...bearer(token));
    /** The same token on the demo's own guarded route, which verifies it with the kit. */
    const demoGet = (token: string): request.Test =>
      request(demo.app)
        .get('/api/plans/')
        .set(...bearer(token));
    const identity = (): unknown => ({
      sub: REPORTS.clientId,
      client_id: REPORTS.clientId,
      iss: demo.url,
      aud: [demo.url],
    });

    describe('when the keys come from the demo’s RFC 8414 metadata', () => {
      it('accepts a demo client_credentials JWT and hands its subject to the route', async () => {
        const token = await demoToken();
        const { iss, aud } = decodeJwt(token).payload;
        expect({ iss, aud: [aud].flat() }).toEqual({ iss: demo.url, aud: [demo.url] });
        const res = await get(resourceApp(), token);
        expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: identity() });
        expect(demo.hits.get(METADATA_PATH)).toBe(1);
        expect(demo.hits.get(JWKS_PATH)).toBe(1);
      });
    });

    describe('when the keys come from an explicit jwksUri', () => {
      it('accepts the JWT without reading the metadata', async () => {
        const app = resourceApp({ jwksUri: `${demo.url}${JWKS_PATH}` });
        const res = await get(app, await demoToken());
        expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: identity() });
        expect(demo.hits.get(METADATA_PATH)).toBeUndefined();
        expect(demo.hits.get(JWKS_PATH)).toBe(1);
      });
    });

    describe('when the token is tampered with (payload changed, signature kept)', () => {
      const tamperings: [string, (payload: Record<string, unknown>) => Record<string, unknown>][] = [
        ['another subject', () => ({ sub: ORDERS_API.clientId, client_id: ORDERS_API.clientId })],
        ['a later exp', (p) => ({ exp: (p.exp as number) + 86_400 })],
        ['an added scope', () => ({ scope: 'admin' })],
        ['another audience', () => ({ aud: 'https://elsewhere.example.test' })],
      ];

      it.each(tamperings)(
        'responds 401 invalid_token to %s, with the body and challenge the demo gives',
        async (_name, change) => {
          const token = await demoToken();
          const app = resourceApp();
          expect((await get(app, token)).status).toBe(200);
          const tampered = tamperJwt(token, change(decodeJwt(token).payload));
          const res = await get(app, tampered);
          expectErrorsBody(res, 401, 'invalid_token', 'Access token invalid');
          expect(res.headers['www-authenticate']).toBe(
            'Bearer realm="api", error="invalid_token", error_description="Access token invalid"',
          );
          const own = await demoGet(tampered);
          expect({ status: own.status, body: own.body as unknown }).toEqual({
            status: res.status,
            body: res.body as unknown,
          });
          expect(own.headers['www-authenticate']).toBe(res.headers['www-authenticate']);
        },
      );
    });

    describe('when the token expires (both clocks moved, at the second boundary)', () => {
      it('accepts it until the last millisecond before exp and responds 401 expired_token at exp', async () => {
        const token = await demoToken();
        const { exp } = decodeJwt(token).payload as { exp: number };
        const app = resourceApp();
        expect((await get(app, token)).status).toBe(200);
        clock.set(exp * 1000 - 1);
        expect((await get(app, token)).status).toBe(200);
        expect((await demoGet(token)).status).toBe(200);
        clock.set(exp * 1000);
        const res = await get(app, token);
        expect({ status: res.status, body: res.body as unknown }).toEqual({
          status: 401,
          body: EXPIRED_TOKEN_BODY,
        });
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="api", error="invalid_token", error_description="Access token expired"',
        );
        const own = await demoGet(token);
        expect({ status: own.status, body: own.body as unknown }).toEqual({
          status: 401,
          body: EXPIRED_TOKEN_BODY,
        });
        expect(own.headers['www-authenticate']).toBe(res.headers['www-authenticate']);
      });
    });

    describe('when the owner revokes the token at the demo’s /oauth/revoke', () => {
      it('refuses it at once with cacheMaxAge 0, asking the demo on every request', async () => {
        const app = resourceApp(introspecting(0));
        const token = await demoToken();
        const ok = await get(app, token);
        expect({ status: ok.status, body: ok.body as unknown }).toEqual({ status: 200, body: identity() });
        await revokeAtDemo(token);
        expectErrorsBody(await get(app, token), 401, 'invalid_token', 'Access token revoked');
        expect(demo.hits.get(INTROSPECT_PATH)).toBe(2);
        expect((await demoGet(token)).status).toBe(401);
      });

      it('keeps accepting it from its cache for 30 s with cacheMaxAge 30, and refuses it once 30 s have passed', async () => {
        const app = resourceApp(introspecting(30));
        const token = await demoToken();
        expect((await get(app, token)).status).toBe(200);
        await revokeAtDemo(token);
        expect((await get(app, token)).status).toBe(200);
        clock.advance(29.999);
        expect((await get(app, token)).status).toBe(200);
        expect(demo.hits.get(INTROSPECT_PATH)).toBe(1);
        clock.advance(0.001);
        expectErrorsBody(await get(app, token), 401, 'invalid_token', 'Access token revoked');
        expect(demo.hits.get(INTROSPECT_PATH)).toBe(2);
      });
    });
  },
);
