/**
 * The demo app gives routers A–D one set of limits: a client id or a username has one failure
 * budget on router C and router D, in one process and across instances sharing a Redis.
 */
import request from 'supertest';
import type { Express } from 'express';
import { KeySet } from '../../lib/keys/key-set';
import { createTokenKit } from '../../lib/core/token-kit';
import { createRateLimits, type RateLimitOptions } from '../../lib/middleware/rate-limit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { createDemoApp } from '../../lib/server/demo-app';
import { parseSeed } from '../../lib/server/seed';
import { applySeed, createSeedUserVerifier } from '../../lib/server/seed-kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(60_000);

const CLIENT_ID = 'limits-client';
const CLIENT_SECRET = 'limits-secret';
const SEED = parseSeed({
  apiKeys: [],
  employers: [],
  applications: [
    {
      id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4c',
      name: 'LimitsApp',
      organization: '1',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      applicationTypes: ['API'],
      grantTypes: ['client_credentials', 'password', 'refresh_token'],
    },
  ],
  users: [{ username: 'carmen', password: 'correct horse', sub: 'user_carmen' }],
  providers: [],
});
const ISSUER = 'https://issuer.limits.test';
const ATTACKER = '203.0.113.9';
const CLIENT_IP = '198.51.100.30';
const LIMITS: RateLimitOptions = { failuresPerCredentialAndIp: 4, failuresPerCredential: 100 };

async function demoApp(store: TokenStore, rateLimit: Parameters<typeof createDemoApp>[0]['rateLimit']) {
  const kit = createTokenKit({
    store,
    keys: await KeySet.generate('ES256'),
    issuer: ISSUER,
    verifyUser: await createSeedUserVerifier(SEED.users),
  });
  await applySeed(kit, SEED);
  return createDemoApp({ kit, seed: SEED, rateLimit, trustProxyHops: 1 });
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

const onC = (app: Express, ip: string, secret: string): request.Test =>
  request(app)
    .post('/api/auth/tokens/')
    .set('X-Forwarded-For', ip)
    .send({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: secret });
const onD = (app: Express, ip: string, secret: string): request.Test =>
  request(app)
    .post('/oauth/token')
    .set('X-Forwarded-For', ip)
    .set('Authorization', basic(CLIENT_ID, secret))
    .type('form')
    .send('grant_type=client_credentials');
const passwordOnC = (app: Express, ip: string, password: string): request.Test =>
  request(app)
    .post('/api/auth/tokens/')
    .set('X-Forwarded-For', ip)
    .send({ grant_type: 'password', username: 'carmen', password });
const passwordOnD = (app: Express, ip: string, password: string): request.Test =>
  request(app)
    .post('/oauth/token')
    .set('X-Forwarded-For', ip)
    .set('Authorization', basic(CLIENT_ID, CLIENT_SECRET))
    .type('form')
    .send({ grant_type: 'password', username: 'carmen', password });

function expectTooMany(res: request.Response): void {
  expect(res.status).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(900);
}

async function expectOneClientBudget(apps: readonly [Express, Express]): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const attempt = i % 2 === 0 ? onC : onD;
    expect((await attempt(apps[i % 2]!, ATTACKER, `wrong-${i}`)).status).toBe(401);
  }
  expectTooMany(await onC(apps[0], ATTACKER, 'wrong-c'));
  expectTooMany(await onD(apps[1], ATTACKER, 'wrong-d'));
  expect((await onD(apps[0], CLIENT_IP, CLIENT_SECRET)).status).toBe(200);
  expect((await onC(apps[1], CLIENT_IP, CLIENT_SECRET)).status).toBe(200);
}

async function expectOneUserBudget(apps: readonly [Express, Express]): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const res = await (i % 2 === 0 ? passwordOnC : passwordOnD)(apps[i % 2]!, ATTACKER, `wrong-${i}`);
    expect(res.status).toBe(i % 2 === 0 ? 401 : 400);
  }
  expectTooMany(await passwordOnC(apps[1], ATTACKER, 'correct horse'));
  expectTooMany(await passwordOnD(apps[0], ATTACKER, 'correct horse'));
  expect((await passwordOnD(apps[1], CLIENT_IP, 'correct horse')).status).toBe(200);
}

describe('createDemoApp rate limits', () => {
  describe('in one process (limits given as options)', () => {
    it('gives a client one failure budget across routers C and D', async () => {
      const app = await demoApp(new MemoryTokenStore(), LIMITS);
      await expectOneClientBudget([app, app]);
    });

    it('gives a user one failure budget across the password grants of routers C and D', async () => {
      const app = await demoApp(new MemoryTokenStore(), LIMITS);
      await expectOneUserBudget([app, app]);
    });
  });

  describe('on two instances sharing a Redis', () => {
    let redis: TestRedis;
    let n = 0;
    beforeAll(async () => {
      redis = await connectTestRedis('demo-limits');
    });
    afterAll(async () => {
      await redis.cleanup();
    });

    async function twoInstances(): Promise<readonly [Express, Express]> {
      const base = `${redis.prefix}${++n}:`;
      const second = await redis.connect();
      const one = await demoApp(
        new RedisTokenStore({ client: redis.client, keyPrefix: `${base}store:` }),
        createRateLimits({ ...LIMITS, store: redis.client, keyPrefix: `${base}rl:` }),
      );
      const two = await demoApp(
        new RedisTokenStore({ client: second, keyPrefix: `${base}store:` }),
        createRateLimits({ ...LIMITS, store: second, keyPrefix: `${base}rl:` }),
      );
      return [one, two];
    }

    it('gives a client one failure budget across routers C and D and both instances', async () => {
      await expectOneClientBudget(await twoInstances());
    });

    it('gives a user one failure budget across both password grants and both instances', async () => {
      await expectOneUserBudget(await twoInstances());
    });
  });
});
