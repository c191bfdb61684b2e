/**
 * Two app instances (two kits, two Express apps, two ioredis connections) on one Redis: what one
 * revokes, the other refuses at once, and a refresh race split across both has exactly one winner.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { TEST_ISSUER, testKeySet } from '../helpers/kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const TOKENS = '/api/auth/tokens/';
const REFRESH = '/api/auth/tokens/refresh/';
const ROTATE = '/api/applications/rotate_credentials/';
const PLANS = '/api/plans/';

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === 'correct horse' ? { sub: 'user-alice' } : null;

interface Instance {
  readonly kit: TokenKit;
  readonly app: Express;
}

let redis: TestRedis;
let a: Instance;
let b: Instance;

async function instance(): Promise<Instance> {
  const store = new RedisTokenStore({ client: await redis.connect(), keyPrefix: redis.prefix });
  const kit = createTokenKit({ store, keys: await testKeySet(), issuer: TEST_ISSUER, verifyUser });
  const app = express();
  // Each test request comes from its own client address, as in production, so per-client
  // failure limits never turn the expected 401s into 429s.
  app.set('trust proxy', true);
  app.use('/api', createAuthRouter({ kit }));
  app.get(PLANS, requireToken({ kit }), (req, res) => {
    res.json({ sub: req.auth?.subject });
  });
  return { kit, app };
}

async function login(on: Instance): Promise<{ access: string; refresh: string }> {
  const res = await request(on.app)
    .post(TOKENS)
    .set('X-Forwarded-For', client())
    .send({ grant_type: 'password', username: 'alice', password: 'correct horse' });
  expect(res.status).toBe(200);
  return { access: res.body.access_token as string, refresh: res.body.refresh_token as string };
}

function plans(on: Instance, token: string): Promise<request.Response> {
  return request(on.app).get(PLANS).set('X-Forwarded-For', client()).set('Authorization', `Bearer ${token}`);
}

function refresh(on: Instance, token: string): Promise<request.Response> {
  return request(on.app).post(REFRESH).set('X-Forwarded-For', client()).send({ refresh_token: token });
}

let clientCount = 0;

/** A fresh client address for each request (X-Forwarded-For). */
function client(): string {
  clientCount++;
  return `10.${(clientCount >> 16) & 255}.${(clientCount >> 8) & 255}.${clientCount & 255}`;
}

function errorType(res: request.Response): unknown {
  return (res.body as { errors?: { errorType?: string }[] }).errors?.[0]?.errorType;
}

beforeAll(async () => {
  redis = await connectTestRedis('many-instances');
  a = await instance();
  b = await instance();
});

afterAll(() => redis.cleanup());

describe('two app instances on one Redis', () => {
  describe('when an access token is revoked through one instance', () => {
    it('is refused by the other on its next use', async () => {
      const { access } = await login(a);
      expect((await plans(b, access)).status).toBe(200);
      await expect(a.kit.tokens.revokeToken(access)).resolves.toBe(true);
      const res = await plans(b, access);
      expect(res.status).toBe(401);
      expect(errorType(res)).toBe('invalid_token');
    });
  });

  describe('when a refresh family is killed through one instance', () => {
    it('refuses its refresh and access tokens on the other', async () => {
      const first = await login(a);
      const rotated = await refresh(a, first.refresh);
      expect(rotated.status).toBe(200);
      const successor = rotated.body.refresh_token as string;
      const familyAccess = rotated.body.access_token as string;
      expect((await plans(b, familyAccess)).status).toBe(200);

      // Reuse of the rotated-out token through A revokes the family.
      const reuse = await refresh(a, first.refresh);
      expect(reuse.status).toBe(401);
      expect(errorType(reuse)).toBe('invalid_grant');

      const onB = await refresh(b, successor);
      expect(onB.status).toBe(401);
      expect(errorType(onB)).toBe('invalid_grant');
      expect((await plans(b, familyAccess)).status).toBe(401);
      expect((await plans(b, first.access)).status).toBe(401);
    });
  });

  describe('when client credentials are rotated through one instance', () => {
    it('refuses the old credentials and their tokens on the other, and accepts the new ones', async () => {
      const created = await a.kit.credentials.createApplication({ name: 'Scale', organization: '1' });
      const issue = (on: Instance, clientId: string, clientSecret: string) =>
        request(on.app)
          .post(TOKENS)
          .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
      const before = await issue(b, created.clientId, created.clientSecret);
      expect(before.status).toBe(200);
      const oldToken = before.body.access_token as string;

      const rotated = await request(a.app)
        .post(ROTATE)
        .set('X-Forwarded-For', client())
        .set('Authorization', `Bearer ${oldToken}`)
        .send({ application_id: created.id });
      expect(rotated.status).toBe(200);

      const stale = await issue(b, created.clientId, created.clientSecret);
      expect(stale.status).toBe(401);
      expect(errorType(stale)).toBe('invalid_client');
      expect((await plans(b, oldToken)).status).toBe(401);
      const fresh = await issue(b, rotated.body.client_id as string, rotated.body.client_secret as string);
      expect(fresh.status).toBe(200);
      expect((await plans(a, fresh.body.access_token as string)).status).toBe(200);
    });
  });

  describe('when 20 refreshes of one token race across both instances', () => {
    it('lets exactly one win and revokes the family for the reuse the others are', async () => {
      const { refresh: token } = await login(a);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refresh(i % 2 === 0 ? a : b, token)),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 401)).toHaveLength(19);
      for (const r of results.filter((x) => x.status === 401)) expect(errorType(r)).toBe('invalid_grant');

      const winner = results.find((r) => r.status === 200)!;
      expect((await refresh(b, winner.body.refresh_token as string)).status).toBe(401);
      expect((await plans(a, winner.body.access_token as string)).status).toBe(401);
    });
  });
});
