/**
 * RFC 8707 resource indicators on createOAuthRouter's token endpoint: `resource` sets the access
 * token's `aud`, checked against the client's allow-list; refresh keeps or narrows, never widens;
 * hostile values are `invalid_target`. On the memory store and a real Redis.
 */
import express, { type Express } from 'express';
import request, { type Response as TestResponse } from 'supertest';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { TokenStore } from '../../lib/stores/token-store';
import { createClock, makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { expectOAuthErrorBody } from '../helpers/http';
import { basic, decodeJwt, USER, verifyUser } from '../helpers/oauth';

const API = 'https://api.example.test/';
const BILLING = 'https://billing.example.test/v1';

interface Client {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface TokenBody {
  access_token: string;
  refresh_token?: string;
}

/** A form body; an array value becomes one field per member (RFC 8707 §2's repeated `resource`). */
function formOf(params: Record<string, string | readonly string[]>): string {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of typeof value === 'string' ? [value] : value) out.append(name, v);
  }
  return out.toString();
}

describe.each(storeFactories)('RFC 8707 resource indicators on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let store: TokenStore;
  let kit: TokenKit;
  let app: Express;
  let allowed: Client;
  let plain: Client;

  beforeAll(async () => {
    stores = await factory('oauth-resource');
  });
  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    const clock = createClock();
    store = (await stores.create(clock.now)).store;
    ({ kit } = await makeKit({ store, now: clock, verifyUser }));
    const grantTypes = ['client_credentials', 'password', 'refresh_token'];
    allowed = await kit.credentials.createApplication({
      name: 'Allowed',
      grantTypes,
      scopes: ['read'],
      resources: [API, BILLING],
    });
    plain = await kit.credentials.createApplication({ name: 'Plain', grantTypes, scopes: ['read'] });
    app = express();
    app.use(createOAuthRouter({ kit }));
    app.use('/api', createAuthRouter({ kit }));
    app.get('/billing', requireToken({ kit, audiences: [BILLING] }), (req, res) => {
      res.json({ aud: req.auth!.audience });
    });
  });

  const token = (client: Client, params: Record<string, string | readonly string[]>): Promise<TestResponse> =>
    request(app)
      .post('/oauth/token')
      .set('Authorization', basic(client.clientId, client.clientSecret))
      .type('form')
      .send(formOf(params));

  const tokenJson = (client: Client, body: Record<string, unknown>): Promise<TestResponse> =>
    request(app)
      .post('/oauth/token')
      .set('Authorization', basic(client.clientId, client.clientSecret))
      .send(body);

  const audOf = (res: TestResponse): unknown => decodeJwt((res.body as TokenBody).access_token).payload.aud;

  const passwordGrant = (resource?: string | readonly string[]): Promise<TestResponse> =>
    token(allowed, {
      grant_type: 'password',
      username: USER.username,
      password: USER.password,
      ...(resource === undefined ? {} : { resource }),
    });

  describe('with grant_type=client_credentials', () => {
    it('keeps the kit’s audience without a resource', async () => {
      const res = await token(allowed, { grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(audOf(res)).toBe(kit.tokens.audiences[0]);
    });

    it('sets aud to the one requested resource', async () => {
      const res = await token(allowed, { grant_type: 'client_credentials', resource: BILLING });
      expect(res.status).toBe(200);
      expect(audOf(res)).toBe(BILLING);
      const probe = await request(app)
        .get('/billing')
        .set('Authorization', `Bearer ${(res.body as TokenBody).access_token}`);
      expect(probe.body).toEqual({ aud: [BILLING] });
    });

    it('sets aud to several resources from repeated form fields, de-duplicated', async () => {
      const res = await token(allowed, { grant_type: 'client_credentials', resource: [API, BILLING, API] });
      expect(res.status).toBe(200);
      expect(audOf(res)).toEqual([API, BILLING]);
    });

    it('takes a JSON string or array of strings', async () => {
      const one = await tokenJson(allowed, { grant_type: 'client_credentials', resource: API });
      expect(audOf(one)).toBe(API);
      const two = await tokenJson(allowed, { grant_type: 'client_credentials', resource: [BILLING, API] });
      expect(audOf(two)).toEqual([BILLING, API]);
    });

    it.each([
      ['a resource outside the allow-list', ['https://evil.test/']],
      ['one allowed and one not', [API, 'https://evil.test/']],
      ['a trailing-slash variant of an allowed one', ['https://billing.example.test/v1/']],
      ['a fragment', ['https://api.example.test/#admin']],
      ['a relative URI', ['/v1']],
      ['a bare host', ['api.example.test']],
      ['a javascript-like value', ['<script>alert(1)</script>']],
      ['an empty value', ['']],
      ['a CRLF', ['https://api.example.test/\r\nX-Evil: 1']],
      ['11 values', Array.from({ length: 11 }, (_, i) => `${API}${i}`)],
      ['60 copies of one value', Array.from({ length: 60 }, () => API)],
    ])('answers 400 invalid_target for %s', async (_case, resource) => {
      const res = await token(allowed, { grant_type: 'client_credentials', resource });
      expectOAuthErrorBody(res, 400, 'invalid_target');
      expect(res.text).not.toContain('evil');
      expect(res.text).not.toContain('<script');
    });

    it('answers 400 invalid_request for 100 resource fields (over the parameter limit)', async () => {
      const res = await token(allowed, {
        grant_type: 'client_credentials',
        resource: Array.from({ length: 100 }, (_, i) => `${API}${i}`),
      });
      expectOAuthErrorBody(res, 400, 'invalid_request');
    });

    it.each([
      ['a number', 7],
      ['null', null],
      ['an object', { href: API }],
      ['an array with a number', [API, 1]],
      ['an empty array', []],
    ])('answers 400 invalid_target for a JSON resource that is %s', async (_case, resource) => {
      const res = await tokenJson(allowed, { grant_type: 'client_credentials', resource });
      expectOAuthErrorBody(res, 400, 'invalid_target');
    });

    it('answers 400 invalid_target, never a 500, when the resources would make the token too long', async () => {
      const long = Array.from(
        { length: 10 },
        (_, i) => `https://api.example.test/${String(i).padEnd(480, 'x')}`,
      );
      const big = await kit.credentials.createApplication({ name: 'Long', resources: long });
      const res = await token(big, { grant_type: 'client_credentials', resource: long });
      expectOAuthErrorBody(res, 400, 'invalid_target');
      const fits = await token(big, { grant_type: 'client_credentials', resource: long.slice(0, 2) });
      expect(fits.status).toBe(200);
    });

    it('answers invalid_target to a client without an allow-list (fail closed)', async () => {
      const res = await token(plain, { grant_type: 'client_credentials', resource: API });
      expectOAuthErrorBody(res, 400, 'invalid_target');
    });

    it('still refuses other repeated parameters', async () => {
      const res = await token(allowed, { grant_type: 'client_credentials', scope: ['read', 'read'] });
      expectOAuthErrorBody(res, 400, 'invalid_request');
    });

    it('lets the kit introspect and revoke a token issued for a resource', async () => {
      const issued = await token(allowed, { grant_type: 'client_credentials', resource: BILLING });
      const at = (issued.body as TokenBody).access_token;
      const introspect = (): Promise<TestResponse> =>
        request(app)
          .post('/oauth/introspect')
          .set('Authorization', basic(allowed.clientId, allowed.clientSecret))
          .type('form')
          .send(formOf({ token: at }));
      expect((await introspect()).body).toMatchObject({ active: true, aud: BILLING });
      const revoked = await request(app)
        .post('/oauth/revoke')
        .set('Authorization', basic(allowed.clientId, allowed.clientSecret))
        .type('form')
        .send(formOf({ token: at }));
      expect(revoked.status).toBe(200);
      expect((await introspect()).body).toEqual({ active: false });
      const probe = await request(app).get('/billing').set('Authorization', `Bearer ${at}`);
      expect(probe.status).toBe(401);
    });
  });

  describe('with grant_type=password and refresh_token', () => {
    it('gives the access token the resources and keeps them on refresh', async () => {
      const first = await passwordGrant([API, BILLING]);
      expect(first.status).toBe(200);
      expect(audOf(first)).toEqual([API, BILLING]);
      const next = await token(allowed, {
        grant_type: 'refresh_token',
        refresh_token: (first.body as TokenBody).refresh_token!,
      });
      expect(next.status).toBe(200);
      expect(audOf(next)).toEqual([API, BILLING]);
    });

    it('narrows on refresh, and the family keeps its resources for the next refresh', async () => {
      const first = await passwordGrant([API, BILLING]);
      const narrowed = await token(allowed, {
        grant_type: 'refresh_token',
        refresh_token: (first.body as TokenBody).refresh_token!,
        resource: BILLING,
      });
      expect(narrowed.status).toBe(200);
      expect(audOf(narrowed)).toBe(BILLING);
      const again = await token(allowed, {
        grant_type: 'refresh_token',
        refresh_token: (narrowed.body as TokenBody).refresh_token!,
        resource: [API, BILLING],
      });
      expect(audOf(again)).toEqual([API, BILLING]);
    });

    it.each([
      ['a resource the grant did not have', [API], [API, BILLING]],
      ['any resource when the grant had none', undefined, [API]],
      ['a malformed resource', [API], ['relative']],
    ])(
      'answers 400 invalid_target on refresh for %s, and the refresh token still works',
      async (_case, granted, asked) => {
        const first = await passwordGrant(granted);
        expect(first.status).toBe(200);
        const rotations = jest.spyOn(store, 'rotateRefreshToken');
        const refreshToken = (first.body as TokenBody).refresh_token!;
        const widened = await token(allowed, {
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          resource: asked,
        });
        expectOAuthErrorBody(widened, 400, 'invalid_target');
        expect(rotations).not.toHaveBeenCalled();
        rotations.mockRestore();
        const next = await token(allowed, { grant_type: 'refresh_token', refresh_token: refreshToken });
        expect(next.status).toBe(200);
        expect(audOf(next)).toEqual(
          granted === undefined ? kit.tokens.audiences[0] : granted.length === 1 ? granted[0] : granted,
        );
      },
    );

    it('starts no refresh family when the resources would make the token too long', async () => {
      const long = Array.from(
        { length: 10 },
        (_, i) => `https://api.example.test/${String(i).padEnd(480, 'x')}`,
      );
      const big = await kit.credentials.createApplication({
        name: 'Long',
        grantTypes: ['password', 'refresh_token'],
        resources: long,
      });
      const created = jest.spyOn(store, 'createRefreshFamily');
      const res = await token(big, {
        grant_type: 'password',
        username: USER.username,
        password: USER.password,
        resource: long,
      });
      expectOAuthErrorBody(res, 400, 'invalid_target');
      expect(created).not.toHaveBeenCalled();
      created.mockRestore();
    });

    it('answers invalid_target to a password grant for a resource outside the allow-list, before the user is checked', async () => {
      const res = await passwordGrant(['https://evil.test/']);
      expectOAuthErrorBody(res, 400, 'invalid_target');
    });
  });

  describe('on createAuthRouter', () => {
    it('ignores a resource parameter: the token keeps the kit’s audience', async () => {
      const res = await request(app).post('/api/auth/tokens/').send({
        grant_type: 'client_credentials',
        client_id: allowed.clientId,
        client_secret: allowed.clientSecret,
        resource: 'https://evil.test/',
      });
      expect(res.status).toBe(200);
      expect(decodeJwt((res.body as TokenBody).access_token).payload.aud).toBe(kit.tokens.audiences[0]);
    });
  });
});
