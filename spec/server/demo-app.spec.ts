import { createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import path from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import { KeySet } from '../../lib/keys/key-set';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import type { BoundEntity } from '../../lib/types';
import { createDemoApp } from '../../lib/server/demo-app';
import { loadSeedFile, parseSeed } from '../../lib/server/seed';
import { applySeed, createSeedUserVerifier } from '../../lib/server/seed-kit';
import { EXPIRED_TOKEN_BODY } from '../helpers/http';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const ISSUER = 'https://issuer.demo.test';
const API_KEY = 'acme_ak_demo_spec_key_0001';
const PROVIDER_ID = '497f6eca-6276-4993-bfeb-53cbbbba6f08';
const PROVIDER_KEY = 'grant_pk_demo_spec_key_0001';
const PROVIDER_CLIENT_ID = '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a';
const OTHER_PROVIDER_ID = '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
const OTHER_PROVIDER_KEY = 'grant_pk_demo_spec_key_0002';
const OTHER_PROVIDER_CLIENT_ID = '6a5b4c3d-2e1f-4a0b-8c9d-0e1f2a3b4c5d';
const APP_ID = '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b';
const ROTATING_APP_ID = '8d1e2f3a-4b5c-4d6e-9f0a-1b2c3d4e5f60';

const SEED = parseSeed({
  apiKeys: [{ key: API_KEY, name: 'Acme Platform' }],
  employers: [
    { id: 'empr_1', employees: ['empl_1', 'empl_2'] },
    { id: 'empr_2', employees: ['empl_3'] },
    { id: 'empr_12', employees: ['empl_12'] },
    { id: 'empr_SGVsbG8gV29ybGQ', employees: [] },
  ],
  applications: [
    {
      id: APP_ID,
      name: 'TestApp',
      organization: '123',
      clientId: 'testapp-client',
      clientSecret: 'testapp-secret',
      applicationTypes: ['API'],
      grantTypes: ['client_credentials', 'password', 'refresh_token'],
    },
    {
      id: ROTATING_APP_ID,
      name: 'RotatingApp',
      organization: '456',
      clientId: 'rotating-client',
      clientSecret: 'rotating-secret',
      applicationTypes: ['API', 'WEB'],
    },
  ],
  users: [{ username: 'carmen', password: 'correct horse', sub: 'user_carmen' }],
  providers: [
    {
      id: PROVIDER_ID,
      domain: 'auth.example.test',
      apiKeys: [PROVIDER_KEY],
      clients: [{ id: PROVIDER_CLIENT_ID, audience: 'https://api.example.test' }],
    },
    {
      id: OTHER_PROVIDER_ID,
      domain: null,
      apiKeys: [OTHER_PROVIDER_KEY],
      clients: [{ id: OTHER_PROVIDER_CLIENT_ID, audience: 'https://other.example.test' }],
    },
  ],
});

function f1(errorType: string): unknown {
  return { errors: [{ errorType, message: expect.any(String) }] };
}

function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>,
  };
}

interface StoreCase {
  readonly name: string;
  open(now: () => number): Promise<{ store: TokenStore; cleanup(): Promise<void> }>;
}

const STORES: StoreCase[] = [
  {
    name: 'MemoryTokenStore',
    async open(now) {
      const store = new MemoryTokenStore({ now });
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'RedisTokenStore',
    async open() {
      const redis: TestRedis = await connectTestRedis('demo-app');
      const store = new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix });
      return { store, cleanup: () => redis.cleanup() };
    },
  },
];

describe.each(STORES)('createDemoApp on $name', (storeCase) => {
  const start = Date.now();
  let clock = start;
  const now = (): number => clock;
  let keys: KeySet;
  let store: TokenStore;
  let cleanup: () => Promise<void>;
  let kit: TokenKit;
  let app: Express;

  beforeAll(async () => {
    keys = await KeySet.generate('RS256');
    ({ store, cleanup } = await storeCase.open(now));
    kit = createTokenKit({
      store,
      keys,
      issuer: ISSUER,
      now,
      verifyUser: await createSeedUserVerifier(SEED.users),
    });
    await applySeed(kit, SEED);
    app = createDemoApp({ kit, seed: SEED });
  });

  afterAll(async () => {
    await cleanup();
  });

  afterEach(() => {
    clock = start;
  });

  async function apiKeyToken(boundEntity: BoundEntity | null): Promise<string> {
    const res = await request(app)
      .post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${API_KEY}`)
      .send({ grant_type: 'client_credentials', bound_entity: boundEntity });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  async function clientToken(clientId = 'testapp-client', clientSecret = 'testapp-secret'): Promise<string> {
    const res = await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  async function passwordTokens(): Promise<{
    access_token: string;
    refresh_token: string;
    id_token: string;
    sub: string;
  }> {
    const res = await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'password', username: 'carmen', password: 'correct horse' });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string; id_token: string; sub: string };
  }

  describe('applySeed', () => {
    it('skips everything when the store already holds the seed (restart)', async () => {
      const again = createTokenKit({ store, keys, issuer: ISSUER, now });
      await expect(applySeed(again, SEED)).resolves.toEqual({ created: 0, skipped: 7 });
    });
  });

  describe('the app itself', () => {
    it('answers unknown paths 404 in the errors format', async () => {
      const res = await request(app).get('/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ errors: [{ errorType: 'not_found', message: 'Resource not found' }] });
    });

    it('sends no X-Powered-By', async () => {
      const res = await request(app).get('/api/plans/');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('answers a malformed URL 400 without a stack trace', async () => {
      const res = await request(app).get('/v1/employers/%E0%A4%A').set('Authorization', 'Bearer x');
      expect(res.status).toBe(400);
      expect(res.body).toEqual(f1('invalid_request'));
      expect(res.text).not.toMatch(/\bat .*\.(ts|js)/);
    });
  });

  describe('createApiKeyRouter: POST /v1/auth/access-tokens', () => {
    it('issues an unbound vit_at_ token for the documented request', async () => {
      const res = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^vit_at_[0-9A-Za-z]+$/),
        token_type: 'Bearer',
        expires_in: 900,
        bound_entity: null,
      });
    });

    it('issues a bound token and echoes bound_entity', async () => {
      const res = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({
          grant_type: 'client_credentials',
          bound_entity: { id: 'empr_SGVsbG8gV29ybGQ', type: 'employer' },
        });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^vit_at_/),
        token_type: 'Bearer',
        expires_in: 900,
        bound_entity: { id: 'empr_SGVsbG8gV29ybGQ', type: 'employer' },
      });
    });

    it('responds 403 insufficient_scope for an entity the seed file does not know', async () => {
      const res = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ grant_type: 'client_credentials', bound_entity: { id: 'empr_Unknown', type: 'employer' } });
      expect(res.status).toBe(403);
      expect(res.body.errors[0].errorType).toBe('insufficient_scope');
    });

    it('responds 401 invalid_api_key for a missing or unknown key', async () => {
      const body = { grant_type: 'client_credentials' };
      const missing = await request(app).post('/v1/auth/access-tokens').send(body);
      const unknown = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', 'Bearer nope')
        .send(body);
      for (const res of [missing, unknown]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual(f1('invalid_api_key'));
      }
    });

    it.each([
      [{}, 'invalid_request'],
      [{ grant_type: 'password' }, 'unsupported_grant_type'],
      [
        { grant_type: 'client_credentials', bound_entity: { id: 'empl_1', type: 'employer' } },
        'invalid_request',
      ],
    ])('responds 400 for %j', async (body, errorType) => {
      const res = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(f1(errorType));
    });

    it('issues a token that works on GET /api/plans/', async () => {
      const token = await apiKeyToken(null);
      const res = await request(app).get('/api/plans/').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        plans: expect.arrayContaining([expect.objectContaining({ id: 'plan_basic' })]),
        sub: expect.any(String),
      });
    });
  });

  describe('createProviderRouter: POST /v1/providers/:providerId/clients/:clientId/tokens', () => {
    const url = `/v1/providers/${PROVIDER_ID}/clients/${PROVIDER_CLIENT_ID}/tokens`;

    it('answers the documented request 201 with accessToken, expiresAt and type', async () => {
      const res = await request(app)
        .post(url)
        .set('Authorization', `Bearer ${PROVIDER_KEY}`)
        .send({ expiresIn: 0, useJwtType: true, audienceAsArray: true, forceDefaultDomain: true });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        type: 'Bearer',
      });
      const body = res.body as { accessToken: string; expiresAt: string };
      const { header, payload } = decodeJwt(body.accessToken);
      expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256', kid: expect.any(String) });
      expect(payload).toMatchObject({
        iss: ISSUER,
        sub: PROVIDER_CLIENT_ID,
        aud: ['https://api.example.test'],
        client_id: PROVIDER_CLIENT_ID,
        jti: expect.any(String),
      });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(3600);
      expect(Date.parse(body.expiresAt) / 1000).toBe(payload.exp);
    });

    it('issues an at+jwt from the provider domain, verifiable with the JWKS, by default', async () => {
      const res = await request(app)
        .post(url)
        .set('Authorization', `Bearer ${PROVIDER_KEY}`)
        .send({ expiresIn: 600 });
      expect(res.status).toBe(201);
      const token = (res.body as { accessToken: string }).accessToken;
      const { header, payload } = decodeJwt(token);
      expect(header.typ).toBe('at+jwt');
      expect(payload).toMatchObject({ iss: 'https://auth.example.test', aud: 'https://api.example.test' });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(600);
      const jwks = await request(app).get('/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const jwk = (jwks.body as { keys: { kid: string }[] }).keys.find((k) => k.kid === header.kid);
      expect(jwk).toBeDefined();
      const [h, p, s] = token.split('.');
      const ok = verifySignature(
        'sha256',
        Buffer.from(`${h!}.${p!}`),
        createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' }),
        Buffer.from(s!, 'base64url'),
      );
      expect(ok).toBe(true);
    });

    it('responds 401 unauthorized without a valid key', async () => {
      const res = await request(app).post(url).set('Authorization', 'Bearer not-a-key').send({});
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ code: 'unauthorized', message: expect.any(String) });
    });

    it('responds 400 invalid_request for a non-UUID id or a lifetime over 48 h', async () => {
      const bad = await request(app)
        .post(`/v1/providers/not-a-uuid/clients/${PROVIDER_CLIENT_ID}/tokens`)
        .set('Authorization', `Bearer ${PROVIDER_KEY}`);
      const long = await request(app)
        .post(url)
        .set('Authorization', `Bearer ${PROVIDER_KEY}`)
        .send({ expiresIn: 172_801 });
      for (const res of [bad, long]) {
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ code: 'invalid_request', message: expect.any(String) });
      }
    });

    it("responds 404 not_found for another provider's key or client", async () => {
      const otherKey = await request(app).post(url).set('Authorization', `Bearer ${OTHER_PROVIDER_KEY}`);
      const otherClient = await request(app)
        .post(`/v1/providers/${PROVIDER_ID}/clients/${OTHER_PROVIDER_CLIENT_ID}/tokens`)
        .set('Authorization', `Bearer ${PROVIDER_KEY}`);
      for (const res of [otherKey, otherClient]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ code: 'not_found', message: 'Resource not found' });
      }
    });
  });

  describe('createAuthRouter', () => {
    it('answers client_credentials with access_token, token_type and expires_in 3600', async () => {
      const res = await request(app).post('/api/auth/tokens/').set('Content-Type', 'application/json').send({
        grant_type: 'client_credentials',
        client_id: 'testapp-client',
        client_secret: 'testapp-secret',
      });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    });

    it('responds 401 invalid_client for a wrong secret', async () => {
      const res = await request(app)
        .post('/api/auth/tokens/')
        .send({ grant_type: 'client_credentials', client_id: 'testapp-client', client_secret: 'wrong' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(f1('invalid_client'));
    });

    it('answers the password grant with id_token, access_token, refresh_token and sub', async () => {
      const body = await passwordTokens();
      expect(body).toMatchObject({
        id_token: expect.any(String),
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        sub: 'user_carmen',
      });
      expect(decodeJwt(body.access_token).payload).toMatchObject({
        sub: 'user_carmen',
        client_id: 'testapp-client',
      });
    });

    it.each([
      ['a wrong password', 'carmen', 'wrong'],
      ['an unknown user', 'nobody', 'correct horse'],
    ])('responds 401 invalid_grant for %s', async (_name, username, password) => {
      const res = await request(app)
        .post('/api/auth/tokens/')
        .send({ grant_type: 'password', username, password });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(f1('invalid_grant'));
    });

    it('serves GET /api/plans/ to the access token', async () => {
      const { access_token } = await passwordTokens();
      const res = await request(app).get('/api/plans/').set('Authorization', `Bearer ${access_token}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ plans: expect.any(Array), sub: 'user_carmen' });
    });

    it('refreshes with the documented request, rotating the refresh token; replay revokes the family', async () => {
      const first = await passwordTokens();
      const res = await request(app)
        .post('/api/auth/tokens/refresh/')
        .set('Authorization', `Bearer ${first.access_token}`)
        .send({ refresh_token: first.refresh_token });
      expect(res.status).toBe(200);
      const second = res.body as { access_token: string; refresh_token: string };
      expect(second).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) });
      expect(second.refresh_token).not.toBe(first.refresh_token);

      const replay = await request(app)
        .post('/api/auth/tokens/refresh/')
        .send({ refresh_token: first.refresh_token });
      expect(replay.status).toBe(401);
      expect(replay.body).toEqual(f1('invalid_grant'));
      const newest = await request(app)
        .post('/api/auth/tokens/refresh/')
        .send({ refresh_token: second.refresh_token });
      expect(newest.status).toBe(401);
      const plans = await request(app)
        .get('/api/plans/')
        .set('Authorization', `Bearer ${second.access_token}`);
      expect(plans.status).toBe(401);
    });

    it('validates a live token', async () => {
      const token = await clientToken();
      const res = await request(app)
        .get('/api/auth/tokens/validate/')
        .set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ valid: true, sub: 'testapp-client', expires_in: 3600 });
    });

    it('responds 401 invalid_token to validate for garbage', async () => {
      const res = await request(app).get('/api/auth/tokens/validate/').set('Authorization', 'Bearer garbage');
      expect(res.status).toBe(401);
      expect(res.body).toEqual(f1('invalid_token'));
    });

    it('rotates credentials: new ones work, old ones fail at once', async () => {
      const token = await clientToken('rotating-client', 'rotating-secret');
      const res = await request(app)
        .post('/api/applications/rotate_credentials/')
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: ROTATING_APP_ID });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: ROTATING_APP_ID,
        name: 'RotatingApp',
        organization: '456',
        client_id: expect.any(String),
        client_secret: expect.any(String),
        application_types: ['API', 'WEB'],
      });
      const rotated = res.body as { client_id: string; client_secret: string };
      expect(rotated.client_id).not.toBe('rotating-client');
      const old = await request(app).post('/api/auth/tokens/').send({
        grant_type: 'client_credentials',
        client_id: 'rotating-client',
        client_secret: 'rotating-secret',
      });
      expect(old.status).toBe(401);
      expect(old.body).toEqual(f1('invalid_client'));
      await clientToken(rotated.client_id, rotated.client_secret);
    });

    it("responds 403 to rotation with a user's password-grant token of the same application", async () => {
      const { access_token } = await passwordTokens();
      const res = await request(app)
        .post('/api/applications/rotate_credentials/')
        .set('Authorization', `Bearer ${access_token}`)
        .send({ application_id: APP_ID });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(f1('insufficient_scope'));
      await clientToken();
    });

    it("responds 403 to rotation with another application's token and 404 for an unknown id", async () => {
      const token = await clientToken();
      const other = await request(app)
        .post('/api/applications/rotate_credentials/')
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: ROTATING_APP_ID });
      expect(other.status).toBe(403);
      expect(other.body).toEqual(f1('insufficient_scope'));
      const unknown = await request(app)
        .post('/api/applications/rotate_credentials/')
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: '00000000-0000-4000-8000-000000000000' });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual(f1('not_found'));
    });
  });

  describe('router D (standards surface) at /', () => {
    it('serves the authorization-server metadata and the token endpoint', async () => {
      const meta = await request(app).get('/.well-known/oauth-authorization-server');
      expect(meta.status).toBe(200);
      expect(meta.body).toMatchObject({ issuer: ISSUER });
      const res = await request(app)
        .post('/oauth/token')
        .auth('testapp-client', 'testapp-secret')
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
    });
  });

  describe('expired tokens', () => {
    it('answers exactly the expired_token body for an expired router A token', async () => {
      const token = await apiKeyToken(null);
      clock += 901_000;
      const res = await request(app).get('/api/plans/').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(EXPIRED_TOKEN_BODY);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="invalid_token", error_description="Access token expired"',
      );
    });

    it('answers exactly the expired_token body for an expired router C token, on a resource and on validate', async () => {
      const token = await clientToken();
      clock += 3601_000;
      const plans = await request(app).get('/api/plans/').set('Authorization', `Bearer ${token}`);
      const validate = await request(app)
        .get('/api/auth/tokens/validate/')
        .set('Authorization', `Bearer ${token}`);
      for (const res of [plans, validate]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual(EXPIRED_TOKEN_BODY);
      }
    });

    it('still serves the token a second before expiry', async () => {
      const token = await apiKeyToken({ id: 'empr_1', type: 'employer' });
      clock += 899_000;
      const res = await request(app).get('/v1/employers/empr_1').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
    });
  });

  describe('guarded resources', () => {
    let employer: string;
    let employee: string;
    let unbound: string;

    beforeAll(async () => {
      employer = await apiKeyToken({ id: 'empr_1', type: 'employer' });
      employee = await apiKeyToken({ id: 'empl_1', type: 'employee' });
      unbound = await apiKeyToken(null);
    });

    const cases: [string, () => string, string, number][] = [
      ['an employer token on its own id', () => employer, '/v1/employers/empr_1', 200],
      ['an employer token on another employer', () => employer, '/v1/employers/empr_2', 403],
      [
        'an employer token on a longer id with its id as prefix',
        () => employer,
        '/v1/employers/empr_12',
        403,
      ],
      ['an employer token on its employee', () => employer, '/v1/employees/empl_1', 200],
      ['an employer token on its other employee', () => employer, '/v1/employees/empl_2', 200],
      ["an employer token on another employer's employee", () => employer, '/v1/employees/empl_3', 403],
      ['an employer token on an unknown employee', () => employer, '/v1/employees/empl_99', 403],
      [
        'an employer token on an encoded ../ to another employer',
        () => employer,
        '/v1/employers/empr_1%2F..%2Fempr_2',
        403,
      ],
      [
        'an employer token on an encoded ../ to an employee',
        () => employer,
        '/v1/employees/empl_1%2F..%2Fempl_3',
        403,
      ],
      ['an employee token on itself', () => employee, '/v1/employees/empl_1', 200],
      ['an employee token on another employee', () => employee, '/v1/employees/empl_2', 403],
      [
        'an employee token on a longer id with its id as prefix',
        () => employee,
        '/v1/employees/empl_12',
        403,
      ],
      ['an employee token on its employer', () => employee, '/v1/employers/empr_1', 403],
      ['an employee token on an encoded ../', () => employee, '/v1/employees/empl_1%2F..%2Fempl_2', 403],
      ['an employee token on an encoded NUL suffix', () => employee, '/v1/employees/empl_1%00', 403],
      ['an employee token on a trailing-space id', () => employee, '/v1/employees/empl_1%20', 403],
      ['an unbound token on any employer', () => unbound, '/v1/employers/empr_2', 200],
      ['an unbound token on any employee', () => unbound, '/v1/employees/empl_3', 200],
      ['an unbound token on a malformed id', () => unbound, '/v1/employees/empl_1%2F..%2Fempl_2', 403],
      ['an unbound token on an id of the wrong type', () => unbound, '/v1/employees/empr_1', 403],
    ];

    it.each(cases)('answers %s with %#', async (_name, token, url, status) => {
      const res = await request(app).get(url).set('Authorization', `Bearer ${token()}`);
      expect(res.status).toBe(status);
      if (status === 403) {
        expect(res.body).toEqual(f1('insufficient_scope'));
        expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="insufficient_scope"');
      }
    });

    it('answers with the id the guard checked', async () => {
      const res = await request(app).get('/v1/employees/empl_2').set('Authorization', `Bearer ${employer}`);
      expect(res.body).toEqual({ id: 'empl_2', type: 'employee', employerId: 'empr_1' });
      const own = await request(app).get('/v1/employers/empr_1').set('Authorization', `Bearer ${employer}`);
      expect(own.body).toEqual({ id: 'empr_1', type: 'employer', employees: ['empl_1', 'empl_2'] });
    });

    it('never lets an unencoded ../ reach another resource', async () => {
      const res = await request(app)
        .get('/v1/employees/empl_1/../empl_2')
        .set('Authorization', `Bearer ${employee}`);
      expect([403, 404]).toContain(res.status);
    });

    it('responds 401 missing_token without a token', async () => {
      const res = await request(app).get('/v1/employers/empr_1');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errors: [{ errorType: 'missing_token', message: 'Access token missing' }] });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
    });

    it('never accepts the token from the query string', async () => {
      const res = await request(app).get(`/v1/employers/empr_1?access_token=${employer}`);
      expect(res.status).toBe(401);
    });
  });
});

describe('createDemoApp with docs/seed.example.json', () => {
  it('serves every seeded credential', async () => {
    const seed = await loadSeedFile(path.join(__dirname, '..', '..', 'docs', 'seed.example.json'));
    const store = new MemoryTokenStore();
    const kit = createTokenKit({
      store,
      keys: await KeySet.generate('RS256'),
      issuer: ISSUER,
      verifyUser: await createSeedUserVerifier(seed.users),
    });
    await expect(applySeed(kit, seed)).resolves.toMatchObject({ skipped: 0 });
    const app = createDemoApp({ kit, seed });
    const employer = seed.employers[0]!;
    const a = await request(app)
      .post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${seed.apiKeys[0]!.key}`)
      .send({ grant_type: 'client_credentials', bound_entity: { id: employer.id, type: 'employer' } });
    expect(a.status).toBe(200);
    const token = (a.body as { access_token: string }).access_token;
    const emp = await request(app)
      .get(`/v1/employees/${employer.employees[0]!}`)
      .set('Authorization', `Bearer ${token}`);
    expect(emp.status).toBe(200);
    for (const application of seed.applications) {
      const c = await request(app).post('/api/auth/tokens/').send({
        grant_type: 'client_credentials',
        client_id: application.clientId,
        client_secret: application.clientSecret,
      });
      expect(c.status).toBe(200);
    }
    const user = seed.users[0]!;
    const pw = await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'password', username: user.username, password: user.password });
    expect(pw.status).toBe(200);
    expect(pw.body).toMatchObject({ sub: user.sub });
    for (const provider of seed.providers) {
      const b = await request(app)
        .post(`/v1/providers/${provider.id}/clients/${provider.clients[0]!.id}/tokens`)
        .set('Authorization', `Bearer ${provider.apiKeys[0]!}`)
        .send({});
      expect(b.status).toBe(201);
    }
    await store.close();
  });
});
