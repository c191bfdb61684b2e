/**
 * An application's introspection permission at createOAuthRouter's `/oauth/introspect` (RFC 7662
 * §2.1, §4): `'own'` (the default) sees only its own tokens; `'any'` — a resource server — sees
 * every application's active access tokens, never another application's refresh tokens, and obtains
 * no tokens itself, on router D or createAuthRouter. Memory and Redis stores.
 */
import express, { type Express } from 'express';
import request, { type Test } from 'supertest';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createAuthRouter } from '../../lib/routers/auth-router';
import type { TokenKit } from '../../lib/core/token-kit';
import {
  createClock,
  makeKit,
  storeFactories,
  TEST_ISSUER,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { expectErrorsBody, expectNoStore, expectOAuthErrorBody } from '../helpers/http';
import {
  basic,
  basicOf,
  decodeJwt,
  form,
  seedClients,
  USER,
  verifyUser,
  type TestClient,
  type TestClients,
} from '../helpers/oauth';

jest.setTimeout(30_000);

describe.each(storeFactories)('introspection access on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let clock: TestClock;
  let kit: TokenKit;
  let clients: TestClients;
  let resourceServer: TestClient;
  let app: Express;

  beforeAll(async () => {
    stores = await factory('introspection-access');
  });
  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    clock = createClock();
    ({ kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock, verifyUser }));
    clients = await seedClients(kit);
    const rs = await kit.credentials.createApplication({ name: 'Orders API', introspection: 'any' });
    resourceServer = { id: rs.id, clientId: rs.clientId, clientSecret: rs.clientSecret, grantTypes: [] };
    app = express();
    app.use(createOAuthRouter({ kit }));
    app.use('/api', createAuthRouter({ kit }));
  });

  const post = (path: string, body: Record<string, string>, authorization?: string): Test => {
    const req = request(app).post(path).type('form');
    return (authorization === undefined ? req : req.set('Authorization', authorization)).send(form(body));
  };
  const introspect = (token: string, client: TestClient): Test =>
    post('/oauth/introspect', { token }, basicOf(client));
  const revoke = (token: string, client: TestClient): Test =>
    post('/oauth/revoke', { token }, basicOf(client));
  async function clientToken(client: TestClient): Promise<string> {
    const res = await post(
      '/oauth/token',
      { grant_type: 'client_credentials', scope: 'read' },
      basicOf(client),
    );
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }
  async function userTokens(client: TestClient): Promise<{ access_token: string; refresh_token: string }> {
    const res = await post(
      '/oauth/token',
      { grant_type: 'password', username: USER.username, password: USER.password, scope: 'write' },
      basicOf(client),
    );
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  }

  describe('an application with the default permission', () => {
    it('sees its own access token active and another application’s as exactly {active:false}', async () => {
      const token = await clientToken(clients.full);
      expect((await introspect(token, clients.full)).body).toMatchObject({ active: true });
      const res = await introspect(token, clients.other);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 200,
        body: { active: false },
      });
      expectNoStore(res);
    });

    it('has no introspection member in its record', async () => {
      expect(await kit.credentials.getApplication(clients.full.id)).not.toHaveProperty('introspection');
    });
  });

  describe("an application with introspection 'any'", () => {
    it('gets the full RFC 7662 §2.2 answer for another application’s JWT access token', async () => {
      const token = await clientToken(clients.full);
      const res = await introspect(token, resourceServer);
      expect(res.status).toBe(200);
      expectNoStore(res);
      expect(res.body).toEqual({
        active: true,
        scope: 'read',
        client_id: clients.full.clientId,
        sub: clients.full.clientId,
        exp: clock.seconds() + 3600,
        iat: clock.seconds(),
        iss: TEST_ISSUER,
        aud: TEST_ISSUER,
        jti: decodeJwt(token).payload.jti,
        token_type: 'Bearer',
      });
    });

    it('sees a user’s access token of another application, and an opaque one', async () => {
      const { access_token: at } = await userTokens(clients.other);
      expect((await introspect(at, resourceServer)).body).toMatchObject({
        active: true,
        sub: USER.sub,
        client_id: clients.other.clientId,
        scope: 'write',
      });
      const { token: opaque } = await kit.tokens.issueAccessToken({
        subject: 'user-opaque',
        clientId: clients.full.clientId,
        scope: 'read',
        format: 'opaque',
      });
      expect((await introspect(opaque, resourceServer)).body).toMatchObject({
        active: true,
        sub: 'user-opaque',
        client_id: clients.full.clientId,
      });
    });

    it('sees the token inactive once its owner revoked it at /oauth/revoke', async () => {
      const token = await clientToken(clients.full);
      expect((await introspect(token, resourceServer)).body).toMatchObject({ active: true });
      expect((await revoke(token, clients.full)).status).toBe(200);
      expect((await introspect(token, resourceServer)).body).toEqual({ active: false });
    });

    it('sees expired and unknown tokens as exactly {active:false}, at the second of exp', async () => {
      const token = await clientToken(clients.full);
      clock.advance(3599);
      expect((await introspect(token, resourceServer)).body).toMatchObject({ active: true });
      clock.advance(1);
      for (const value of [token, 'garbage', `etk_rt_${'A'.repeat(60)}`, `${token.slice(0, -2)}xx`]) {
        const res = await introspect(value, resourceServer);
        expect({ value, status: res.status, body: res.body as unknown }).toEqual({
          value,
          status: 200,
          body: { active: false },
        });
      }
    });

    it('never sees another application’s refresh token, which its owner sees active', async () => {
      const { refresh_token: rt } = await userTokens(clients.full);
      expect((await introspect(rt, clients.full)).body).toMatchObject({
        active: true,
        token_type: 'refresh_token',
      });
      for (const hint of [undefined, 'refresh_token', 'access_token']) {
        const res = await post(
          '/oauth/introspect',
          { token: rt, ...(hint === undefined ? {} : { token_type_hint: hint }) },
          basicOf(resourceServer),
        );
        expect({ hint, body: res.body as unknown }).toEqual({ hint, body: { active: false } });
      }
    });

    it('cannot revoke another application’s token (RFC 7009 §2.1: only the owner can)', async () => {
      const token = await clientToken(clients.full);
      expect((await revoke(token, resourceServer)).status).toBe(200);
      expect((await introspect(token, clients.full)).body).toMatchObject({ active: true });
    });

    it('answers 401 invalid_client to a wrong secret, and tells nothing of the token', async () => {
      const token = await clientToken(clients.full);
      const wrong = basic(resourceServer.clientId, `${resourceServer.clientSecret}x`);
      const res = await post('/oauth/introspect', { token }, wrong);
      expectOAuthErrorBody(res, 401, 'invalid_client');
      expect(res.text).not.toContain(clients.full.clientId);
      expectOAuthErrorBody(await post('/oauth/introspect', { token }), 401, 'invalid_client');
    });

    it('keeps the permission across a credential rotation, and the old secret fails', async () => {
      const token = await clientToken(clients.full);
      const rotated = await kit.credentials.rotateApplication(resourceServer.id);
      expect(rotated).toMatchObject({ introspection: 'any', grantTypes: [] });
      const fresh = { ...resourceServer, clientId: rotated!.clientId, clientSecret: rotated!.clientSecret };
      expect((await introspect(token, fresh)).body).toMatchObject({ active: true });
      expectOAuthErrorBody(await introspect(token, resourceServer), 401, 'invalid_client');
    });

    describe('when it asks for tokens', () => {
      it.each([
        ['client_credentials', { grant_type: 'client_credentials' }],
        ['password', { grant_type: 'password', username: USER.username, password: USER.password }],
        ['refresh_token', { grant_type: 'refresh_token', refresh_token: `etk_rt_${'A'.repeat(60)}` }],
      ])('answers 400 unauthorized_client on router D (%s)', async (_grant, body) => {
        expectOAuthErrorBody(
          await post('/oauth/token', body, basicOf(resourceServer)),
          400,
          'unauthorized_client',
        );
      });

      it('answers 400 unauthorized_client on createAuthRouter, whose grants ignore grantTypes', async () => {
        for (const body of [
          { grant_type: 'client_credentials' },
          { grant_type: 'password', username: USER.username, password: USER.password },
        ]) {
          const res = await request(app)
            .post('/api/auth/tokens')
            .send({
              ...body,
              client_id: resourceServer.clientId,
              client_secret: resourceServer.clientSecret,
            });
          expectErrorsBody(res, 400, 'unauthorized_client');
        }
      });
    });
  });
});
