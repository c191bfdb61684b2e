/**
 * The failure budget per credential from every address, and one budget per credential across
 * routers: on the memory store, on one Redis, and on two app instances sharing a Redis.
 */
import type { Express } from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { randomBase62 } from '../../lib/core/opaque-token';
import { createRateLimits, type RateLimitOptions } from '../../lib/middleware/rate-limit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import {
  basic,
  buildRoutersApp,
  seedCredentials,
  USERS,
  verifyUser,
  type Credentials,
} from '../helpers/apps';
import { makeKit } from '../helpers/kit';
import { connectTestRedis, keysWithPrefix, type TestRedis } from '../helpers/redis';
import { expectNoStore } from '../helpers/http';

jest.setTimeout(60_000);

/** Routers A–D at the demo's mounts, sharing `limits`; one hop of `X-Forwarded-For` trusted. */
function buildApp(kit: TokenKit, limits: RateLimitOptions): Express {
  return buildRoutersApp(kit, createRateLimits(limits));
}

const CLIENT_IP = '198.51.100.20';
const NEW_IP = '198.51.100.99';
const ATTACKER = '203.0.113.7';
/** The n-th of many attacking addresses. */
const attacker = (n: number): string => `203.0.113.${(n % 250) + 1}`;

type Attempt = (app: Express, ip: string) => request.Test;

const cc = {
  c:
    (clientId: string, secret: string): Attempt =>
    (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  d:
    (clientId: string, secret: string): Attempt =>
    (app, ip) =>
      request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(clientId, secret))
        .type('form')
        .send('grant_type=client_credentials'),
};

const password = {
  c:
    (username: string, secret: string): Attempt =>
    (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'password', username, password: secret }),
  d:
    (c: Credentials, username: string, secret: string, clientSecret = c.clientSecret): Attempt =>
    (app, ip) =>
      request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, clientSecret))
        .type('form')
        .send({ grant_type: 'password', username, password: secret }),
};

/** One credential-checking endpoint: a wrong attempt on a credential, and the right one. */
interface Surface {
  readonly name: string;
  readonly wrong: (c: Credentials) => Attempt;
  readonly right: (c: Credentials) => Attempt;
  readonly rightStatus: number;
}

const surfaces: readonly Surface[] = [
  {
    name: 'router A POST /access-tokens (one wrong API key)',
    wrong: () => (app, ip) =>
      request(app)
        .post('/v1/auth/access-tokens')
        .set('X-Forwarded-For', ip)
        .set('Authorization', 'Bearer etk_ak_wrongwrongwrong')
        .send({ grant_type: 'client_credentials' }),
    right: (c) => (app, ip) =>
      request(app)
        .post('/v1/auth/access-tokens')
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${c.apiKey}`)
        .send({ grant_type: 'client_credentials' }),
    rightStatus: 200,
  },
  {
    name: 'router B POST /providers/…/tokens (one wrong provider key)',
    wrong: (c) => (app, ip) =>
      request(app)
        .post(`/v1/providers/${c.providerId}/clients/${c.providerClientId}/tokens`)
        .set('X-Forwarded-For', ip)
        .set('Authorization', 'Bearer etk_ak_notthekey')
        .send({}),
    right: (c) => (app, ip) =>
      request(app)
        .post(`/v1/providers/${c.providerId}/clients/${c.providerClientId}/tokens`)
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${c.providerKey}`)
        .send({}),
    rightStatus: 201,
  },
  {
    name: 'router C POST /auth/tokens client_credentials (one client_id)',
    wrong: (c) => (app, ip) => cc.c(c.clientId, randomBase62(20))(app, ip),
    right: (c) => cc.c(c.clientId, c.clientSecret),
    rightStatus: 200,
  },
  {
    name: 'router C POST /auth/tokens password (one username)',
    wrong: () => (app, ip) => password.c('alice', randomBase62(12))(app, ip),
    right: () => password.c('alice', USERS.alice!),
    rightStatus: 200,
  },
  {
    name: 'router D POST /oauth/token client_credentials (one client)',
    wrong: (c) => (app, ip) => cc.d(c.clientId, randomBase62(20))(app, ip),
    right: (c) => cc.d(c.clientId, c.clientSecret),
    rightStatus: 200,
  },
  {
    name: 'router D POST /oauth/token password (one username, its client authenticated)',
    wrong: (c) => (app, ip) => password.d(c, 'alice', randomBase62(12))(app, ip),
    right: (c) => password.d(c, 'alice', USERS.alice!),
    rightStatus: 200,
  },
  {
    name: 'router D POST /oauth/revoke (one client)',
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/oauth/revoke')
        .set('X-Forwarded-For', ip)
        .type('form')
        .send({ client_id: c.clientId, client_secret: randomBase62(20), token: 'x' }),
    right: (c) => (app, ip) =>
      request(app)
        .post('/oauth/revoke')
        .set('X-Forwarded-For', ip)
        .type('form')
        .send({ client_id: c.clientId, client_secret: c.clientSecret, token: 'x' }),
    rightStatus: 200,
  },
  {
    name: 'router D POST /oauth/introspect (one client)',
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/oauth/introspect')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, randomBase62(20)))
        .type('form')
        .send('token=x'),
    right: (c) => (app, ip) =>
      request(app)
        .post('/oauth/introspect')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, c.clientSecret))
        .type('form')
        .send('token=x'),
    rightStatus: 200,
  },
];

/** A 429 in any of the surfaces' formats, with a `Retry-After` within the failure window. */
function expectTooMany(res: request.Response, windowSeconds = 900): void {
  expect(res.status).toBe(429);
  expect(JSON.stringify(res.body)).toContain('too_many_requests');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expectNoStore(res);
}

/** The kit and two apps: the same app twice, or two instances with their own Redis connections. */
interface Setup {
  readonly kit: TokenKit;
  readonly creds: Credentials;
  readonly apps: readonly [Express, Express];
  /** The counters' Redis key prefix (Redis modes only). */
  readonly limitPrefix?: string;
}

type Mode = 'the memory store' | 'one Redis' | 'two app instances sharing a Redis';
const MODES: readonly Mode[] = ['the memory store', 'one Redis', 'two app instances sharing a Redis'];

describe.each(MODES)('per-credential failure budgets on %s', (mode) => {
  let redis: TestRedis | undefined;
  let counter = 0;

  beforeAll(async () => {
    if (mode !== 'the memory store') redis = await connectTestRedis('rl-credential');
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  async function setup(limits: RateLimitOptions): Promise<Setup> {
    if (redis === undefined) {
      const { kit } = await makeKit({ store: new MemoryTokenStore(), verifyUser });
      const app = buildApp(kit, limits);
      return { kit, creds: await seedCredentials(kit), apps: [app, app] };
    }
    const base = `${redis.prefix}${++counter}:`;
    const storePrefix = `${base}store:`;
    const limitPrefix = `${base}rl:`;
    const one = await makeKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: storePrefix }),
      verifyUser,
    });
    const creds = await seedCredentials(one.kit);
    const appOne = buildApp(one.kit, { ...limits, store: redis.client, keyPrefix: limitPrefix });
    if (mode === 'one Redis') return { kit: one.kit, creds, apps: [appOne, appOne], limitPrefix };
    const second = await redis.connect();
    const two = await makeKit({
      store: new RedisTokenStore({ client: second, keyPrefix: storePrefix }),
      verifyUser,
    });
    const appTwo = buildApp(two.kit, { ...limits, store: second, keyPrefix: limitPrefix });
    return { kit: one.kit, creds, apps: [appOne, appTwo], limitPrefix };
  }

  describe('across many addresses (defaults)', () => {
    it('answers 60 wrong secrets for one client_id from 30 addresses with 429 after 50, while the client is still served from its usual address', async () => {
      const { creds, apps } = await setup({});
      const right = cc.c(creds.clientId, creds.clientSecret);
      // the real client authenticated from its usual address before the attack
      expect((await right(apps[0], CLIENT_IP)).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await cc.c(creds.clientId, randomBase62(20))(apps[i % 2]!, attacker(i % 30));
        statuses.push(res.status);
        if (i >= 50) expectTooMany(res);
      }
      expect(statuses.slice(0, 50)).toEqual(Array(50).fill(401));
      expect(statuses.slice(50)).toEqual(Array(10).fill(429));
      // the attacker's addresses are refused even with the right secret…
      expectTooMany(await right(apps[1], attacker(3)));
      // …while the real client keeps being served from its usual address, on every instance
      for (let i = 0; i < 4; i++) expect((await right(apps[i % 2]!, CLIENT_IP)).status).toBe(200);
      // and on router D too: one budget for the client
      expect((await cc.d(creds.clientId, creds.clientSecret)(apps[1], CLIENT_IP)).status).toBe(200);
      expectTooMany(await cc.d(creds.clientId, creds.clientSecret)(apps[0], attacker(4)));
    });

    it('answers 100 wrong passwords for one user from 25 addresses with 429 after 50, while the user is still served from its usual address', async () => {
      const { apps } = await setup({});
      const right = password.c('alice', USERS.alice!);
      expect((await right(apps[1], CLIENT_IP)).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await password.c('alice', randomBase62(12))(apps[i % 2]!, attacker(i % 25));
        statuses.push(res.status);
        if (i >= 50) expectTooMany(res);
      }
      expect(statuses.slice(0, 50)).toEqual(Array(50).fill(401));
      expect(statuses.slice(50)).toEqual(Array(50).fill(429));
      for (let i = 0; i < 3; i++) expect((await right(apps[i % 2]!, CLIENT_IP)).status).toBe(200);
      // the cost of the budget: an address that never authenticated alice waits out the window
      expectTooMany(await right(apps[0], NEW_IP));
    });
  });

  describe.each(surfaces)('$name', (surface) => {
    it('answers 429 with Retry-After once the credential’s failures from many addresses reach the budget, while the right credential from its usual address is served', async () => {
      const { creds, apps } = await setup({
        failuresPerCredentialAndIp: 3,
        failuresPerCredential: 5,
        failuresPerIp: 50,
      });
      const right = surface.right(creds);
      expect((await right(apps[0], CLIENT_IP)).status).toBe(surface.rightStatus);
      const wrong = surface.wrong(creds);
      for (let i = 0; i < 5; i++) {
        expect([400, 401]).toContain((await wrong(apps[i % 2]!, attacker(i))).status);
      }
      for (let i = 5; i < 8; i++) expectTooMany(await wrong(apps[i % 2]!, attacker(i)));
      expect((await right(apps[1], CLIENT_IP)).status).toBe(surface.rightStatus);
      expect((await right(apps[0], CLIENT_IP)).status).toBe(surface.rightStatus);
    });
  });

  it('still holds an address that authenticated the credential to its own (credential, IP) budget', async () => {
    const { creds, apps } = await setup({ failuresPerCredentialAndIp: 3, failuresPerCredential: 100 });
    const right = cc.c(creds.clientId, creds.clientSecret);
    expect((await right(apps[0], CLIENT_IP)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await cc.c(creds.clientId, randomBase62(20))(apps[i % 2]!, CLIENT_IP)).status).toBe(401);
    }
    expectTooMany(await cc.c(creds.clientId, randomBase62(20))(apps[1], CLIENT_IP));
    expectTooMany(await right(apps[0], CLIENT_IP));
    expect((await right(apps[1], NEW_IP)).status).toBe(200);
  });

  it('trusts an address only for the credential it authenticated, and only after a success', async () => {
    const { creds, apps } = await setup({ failuresPerCredentialAndIp: 10, failuresPerCredential: 4 });
    // CLIENT_IP authenticated alice, not the client; ATTACKER only ever failed
    expect((await password.c('alice', USERS.alice!)(apps[0], CLIENT_IP)).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      const ip = i % 2 === 0 ? ATTACKER : attacker(100 + i);
      expect((await cc.c(creds.clientId, randomBase62(20))(apps[i % 2]!, ip)).status).toBe(401);
    }
    const right = cc.c(creds.clientId, creds.clientSecret);
    expectTooMany(await right(apps[1], CLIENT_IP));
    expectTooMany(await right(apps[0], ATTACKER));
    expect((await password.c('alice', USERS.alice!)(apps[1], CLIENT_IP)).status).toBe(200);
  });

  it('counts a password grant’s wrong client secrets against the client, whatever the username', async () => {
    const { creds, apps } = await setup({ failuresPerCredentialAndIp: 3, failuresPerCredential: 100 });
    for (let i = 0; i < 3; i++) {
      const res = await password.d(creds, `user${i}`, 'pw', randomBase62(20))(apps[i % 2]!, ATTACKER);
      expect(res.status).toBe(401);
    }
    expectTooMany(await password.d(creds, 'user9', 'pw', randomBase62(20))(apps[1], ATTACKER));
    expectTooMany(await cc.d(creds.clientId, creds.clientSecret)(apps[0], ATTACKER));
    expect((await cc.d(creds.clientId, creds.clientSecret)(apps[1], CLIENT_IP)).status).toBe(200);
  });

  it('answers a long or hostile username with a clear 4xx, and keys it by its hash', async () => {
    const { apps, limitPrefix } = await setup({});
    const hostile = `${'é'.repeat(3000)}:\r\n*{}etk:rl:alice`;
    const wrongPassword = 'hunter2-wrong-secret';
    const res = await password.c(hostile, wrongPassword)(apps[0], ATTACKER);
    expect(res.status).toBe(401);
    expect((await password.c('alice', USERS.alice!)(apps[1], CLIENT_IP)).status).toBe(200);
    if (redis === undefined || limitPrefix === undefined) return;
    const keys = await keysWithPrefix(redis.client, limitPrefix);
    expect(keys.some((k) => k.includes(':failures-credential:'))).toBe(true);
    expect(keys.some((k) => k.includes(':trusted-credential-ip:'))).toBe(true);
    for (const key of keys) {
      expect(key.slice(limitPrefix.length)).toMatch(
        /^(requests-ip:[0-9.]+|failures-ip:[0-9.]+|(failures-credential-ip|trusted-credential-ip):[0-9a-f]{32}:[0-9.]+|failures-credential:[0-9a-f]{32})$/,
      );
      expect(key).not.toContain(wrongPassword);
      expect(key).not.toContain(USERS.alice);
    }
  });

  describe('one budget per credential across routers C and D', () => {
    it('refuses a client after the configured total of failures from one address, alternated between C and D', async () => {
      const { creds, apps } = await setup({ failuresPerCredentialAndIp: 4, failuresPerCredential: 100 });
      for (let i = 0; i < 4; i++) {
        const attempt = i % 2 === 0 ? cc.c : cc.d;
        expect((await attempt(creds.clientId, randomBase62(20))(apps[i % 2]!, ATTACKER)).status).toBe(401);
      }
      expectTooMany(await cc.d(creds.clientId, randomBase62(20))(apps[0], ATTACKER));
      expectTooMany(await cc.c(creds.clientId, randomBase62(20))(apps[1], ATTACKER));
      expectTooMany(await cc.c(creds.clientId, creds.clientSecret)(apps[0], ATTACKER));
      expect((await cc.d(creds.clientId, creds.clientSecret)(apps[1], CLIENT_IP)).status).toBe(200);
    });

    it('refuses a client after the configured total of failures from many addresses, alternated between C and D', async () => {
      const { creds, apps } = await setup({ failuresPerCredentialAndIp: 10, failuresPerCredential: 6 });
      for (let i = 0; i < 6; i++) {
        const attempt = i % 2 === 0 ? cc.c : cc.d;
        expect((await attempt(creds.clientId, randomBase62(20))(apps[i % 2]!, attacker(i))).status).toBe(401);
      }
      expectTooMany(await cc.d(creds.clientId, randomBase62(20))(apps[1], attacker(20)));
      expectTooMany(await cc.c(creds.clientId, randomBase62(20))(apps[0], attacker(21)));
    });

    it('refuses a user after the configured total of wrong passwords, alternated between the password grants of C and D, and leaves the client alone', async () => {
      const { creds, apps } = await setup({ failuresPerCredentialAndIp: 4, failuresPerCredential: 100 });
      for (let i = 0; i < 4; i++) {
        const attempt =
          i % 2 === 0 ? password.c('alice', randomBase62(12)) : password.d(creds, 'alice', randomBase62(12));
        expect((await attempt(apps[i % 2]!, ATTACKER)).status).toBe(i % 2 === 0 ? 401 : 400);
      }
      expectTooMany(await password.d(creds, 'alice', USERS.alice!)(apps[0], ATTACKER));
      expectTooMany(await password.c('alice', USERS.alice!)(apps[1], ATTACKER));
      // wrong passwords are the user's failures, not its client's
      expect((await cc.d(creds.clientId, creds.clientSecret)(apps[0], ATTACKER)).status).toBe(200);
      expect((await password.c('alice', USERS.alice!)(apps[1], CLIENT_IP)).status).toBe(200);
    });
  });
});
