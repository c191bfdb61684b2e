/**
 * A separate resource server introspecting a kit-based issuer with its own credentials, end to end
 * on real sockets: the issuer (createOAuthRouter) grants a dedicated application
 * `introspection: 'any'`, and an Express app with only `requireToken({ issuer, audience,
 * introspection })` accepts the tokens of other applications until their owner revokes them at
 * `/oauth/revoke` — at once with `cacheMaxAge: 0`, once the cached answer is older than
 * `cacheMaxAge` otherwise (RFC 7662 §4). The issuer runs on the memory store and on Redis.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import { createClock, storeFactories, type StoreHarness, type TestClock } from '../helpers/kit';
import { expectErrorsBody } from '../helpers/http';
import { basicOf, type TestClient } from '../helpers/oauth';
import { API_AUDIENCE, startKitIssuer, type KitIssuer } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

describe.each(storeFactories)(
  'a resource server introspecting the issuer on the %s store',
  (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let issuer: KitIssuer;
    let resourceServer: { clientId: string; clientSecret: string };

    beforeAll(async () => {
      stores = await factory('resource-server-introspection');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      clock = createClock();
      issuer = await startKitIssuer(clock, (await stores.create(clock.now)).store);
      resourceServer = await issuer.kit.credentials.createApplication({
        name: 'Orders API',
        introspection: 'any',
      });
    });
    afterEach(() => issuer.close());

    /** A form POST to the issuer, authenticated as `client`. */
    async function post(path: string, client: TestClient, body: Record<string, string>): Promise<Response> {
      return fetch(`${issuer.url}${path}`, {
        method: 'POST',
        headers: { authorization: basicOf(client), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
    }
    async function tokenOf(client: TestClient): Promise<string> {
      const res = await post('/oauth/token', client, { grant_type: 'client_credentials', scope: 'read' });
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    }
    async function revokeAs(client: TestClient, token: string): Promise<void> {
      expect((await post('/oauth/revoke', client, { token })).status).toBe(200);
    }

    /** The separate service: no kit, no store, only requireToken. */
    function resourceApp(cacheMaxAge: number, credentials = resourceServer): Express {
      const app = express();
      app.get(
        '/orders',
        requireToken({
          issuer: issuer.url,
          audience: API_AUDIENCE,
          now: clock.now,
          introspection: {
            endpoint: `${issuer.url}/oauth/introspect`,
            clientId: credentials.clientId,
            clientSecret: credentials.clientSecret,
            cacheMaxAge,
          },
        }),
        (req, res) => {
          res.json({ sub: req.auth!.subject, client_id: req.auth!.clientId, scopes: req.auth!.scopes });
        },
      );
      return app;
    }
    const get = (app: Express, token: string): request.Test =>
      request(app)
        .get('/orders')
        .set(...bearer(token));

    it('accepts another application’s token, and refuses it at once after its owner revokes it (cacheMaxAge 0)', async () => {
      const app = resourceApp(0);
      const token = await tokenOf(issuer.clients.other);
      const before = issuer.hits.get('/oauth/introspect') ?? 0;
      const ok = await get(app, token);
      expect({ status: ok.status, body: ok.body as unknown }).toEqual({
        status: 200,
        body: {
          sub: issuer.clients.other.clientId,
          client_id: issuer.clients.other.clientId,
          scopes: ['read'],
        },
      });
      await revokeAs(issuer.clients.other, token);
      expectErrorsBody(await get(app, token), 401, 'invalid_token', 'Access token revoked');
      expect(issuer.hits.get('/oauth/introspect')).toBe(before + 2);
    });

    it('accepts the tokens of several applications with one set of credentials', async () => {
      const app = resourceApp(0);
      for (const client of [issuer.clients.full, issuer.clients.other, issuer.clients.ccOnly]) {
        expect((await get(app, await tokenOf(client))).status).toBe(200);
      }
    });

    it('refuses a revoked token once the cached answer is older than cacheMaxAge (30 s), not before', async () => {
      const app = resourceApp(30);
      const token = await tokenOf(issuer.clients.full);
      expect((await get(app, token)).status).toBe(200);
      await revokeAs(issuer.clients.full, token);
      clock.advance(29);
      expect((await get(app, token)).status).toBe(200);
      clock.advance(1);
      expectErrorsBody(await get(app, token), 401, 'invalid_token', 'Access token revoked');
    });

    it('verifies another application’s opaque token by introspection alone', async () => {
      const { token } = await issuer.kit.tokens.issueAccessToken({
        subject: 'user-opaque',
        clientId: issuer.clients.other.clientId,
        scope: 'read',
        format: 'opaque',
      });
      const app = resourceApp(0);
      expect((await get(app, token)).body).toMatchObject({
        sub: 'user-opaque',
        client_id: issuer.clients.other.clientId,
      });
      await revokeAs(issuer.clients.other, token);
      expectErrorsBody(await get(app, token), 401, 'invalid_token');
    });

    it('refuses every other application’s valid token when it introspects as an ordinary application', async () => {
      const app = resourceApp(0, issuer.clients.full);
      expect((await get(app, await tokenOf(issuer.clients.full))).status).toBe(200);
      expectErrorsBody(await get(app, await tokenOf(issuer.clients.other)), 401, 'invalid_token');
    });

    it('answers 503 when its introspection credentials are refused (invalid_client), never 200', async () => {
      const app = resourceApp(0, { clientId: resourceServer.clientId, clientSecret: 'wrong' });
      expectErrorsBody(await get(app, await tokenOf(issuer.clients.full)), 503, 'service_unavailable');
    });
  },
);
