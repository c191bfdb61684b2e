import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type { Store } from 'express-rate-limit';
import type { TokenEvent } from '../../lib/core/events';
import type { TokenKit } from '../../lib/core/token-kit';
import { formatOpaqueToken, randomBase62 } from '../../lib/core/opaque-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createRateLimits, type RateLimitOptions } from '../../lib/middleware/rate-limit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { waitForReady } from '../../lib/stores/redis-client';
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

/** Routers A–D at the demo's mounts; one hop of `X-Forwarded-For` trusted (spec only). */
const buildApp = buildRoutersApp;

type Attempt = (app: Express, ip: string) => request.Test;

/** One credential-checking endpoint: a wrong and a right attempt for the same credential. */
interface Surface {
  readonly name: string;
  /** The body's error code field for a 429. */
  readonly tooMany: (body: unknown) => void;
  readonly wrong: (c: Credentials, kit: TokenKit) => Attempt;
  readonly right: (c: Credentials, kit: TokenKit) => Promise<Attempt>;
  readonly rightStatus: number;
  /**
   * True when the wrong and the right attempt name the same credential (a client id, a username);
   * false where the credential is the secret itself (API keys), so the right key is another one.
   */
  readonly sameCredential: boolean;
}

const f1 = (body: unknown): void =>
  expect(body).toEqual({ errors: [{ errorType: 'too_many_requests', message: 'Too many requests' }] });
const f2 = (body: unknown): void =>
  expect(body).toEqual({ code: 'too_many_requests', message: 'Too many requests' });
const f3 = (body: unknown): void =>
  expect(body).toEqual({ error: 'too_many_requests', error_description: 'Too many requests' });

async function passwordRefreshToken(app: Express): Promise<string> {
  const res = await request(app)
    .post('/api/auth/tokens/')
    .set('X-Forwarded-For', '198.51.100.200')
    .send({ grant_type: 'password', username: 'alice', password: USERS.alice });
  expect(res.status).toBe(200);
  return (res.body as { refresh_token: string }).refresh_token;
}

const surfaces: readonly Surface[] = [
  {
    name: 'router A POST /access-tokens (the same wrong API key)',
    tooMany: f1,
    wrong: () => (app, ip) =>
      request(app)
        .post('/v1/auth/access-tokens')
        .set('X-Forwarded-For', ip)
        .set('Authorization', 'Bearer etk_ak_wrongwrongwrong')
        .send({ grant_type: 'client_credentials' }),
    right: async (c) => (app, ip) =>
      request(app)
        .post('/v1/auth/access-tokens')
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${c.apiKey}`)
        .send({ grant_type: 'client_credentials' }),
    rightStatus: 200,
    sameCredential: false,
  },
  {
    name: 'router B POST /providers/…/tokens (the same wrong provider key)',
    tooMany: f2,
    wrong: (c) => (app, ip) =>
      request(app)
        .post(`/v1/providers/${c.providerId}/clients/${c.providerClientId}/tokens`)
        .set('X-Forwarded-For', ip)
        .set('Authorization', 'Bearer etk_ak_notthekey')
        .send({}),
    right: async (c) => (app, ip) =>
      request(app)
        .post(`/v1/providers/${c.providerId}/clients/${c.providerClientId}/tokens`)
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${c.providerKey}`)
        .send({}),
    rightStatus: 201,
    sameCredential: false,
  },
  {
    name: 'router C POST /auth/tokens client_credentials (wrong secrets for one client_id)',
    tooMany: f1,
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: randomBase62(20) }),
    right: async (c) => (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret }),
    rightStatus: 200,
    sameCredential: true,
  },
  {
    name: 'router C POST /auth/tokens password (wrong passwords for one username)',
    tooMany: f1,
    wrong: () => (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'password', username: 'alice', password: randomBase62(12) }),
    right: async () => (app, ip) =>
      request(app)
        .post('/api/auth/tokens/')
        .set('X-Forwarded-For', ip)
        .send({ grant_type: 'password', username: 'alice', password: USERS.alice }),
    rightStatus: 200,
    sameCredential: true,
  },
  {
    name: 'router D POST /oauth/token (wrong Basic secrets for one client)',
    tooMany: f3,
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, randomBase62(20)))
        .type('form')
        .send('grant_type=client_credentials'),
    right: async (c) => (app, ip) =>
      request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, c.clientSecret))
        .type('form')
        .send('grant_type=client_credentials'),
    rightStatus: 200,
    sameCredential: true,
  },
  {
    name: 'router D POST /oauth/revoke (wrong secrets for one client)',
    tooMany: f3,
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/oauth/revoke')
        .set('X-Forwarded-For', ip)
        .type('form')
        .send({ client_id: c.clientId, client_secret: randomBase62(20), token: 'x' }),
    right: async (c) => (app, ip) =>
      request(app)
        .post('/oauth/revoke')
        .set('X-Forwarded-For', ip)
        .type('form')
        .send({ client_id: c.clientId, client_secret: c.clientSecret, token: 'x' }),
    rightStatus: 200,
    sameCredential: true,
  },
  {
    name: 'router D POST /oauth/introspect (wrong secrets for one client)',
    tooMany: f3,
    wrong: (c) => (app, ip) =>
      request(app)
        .post('/oauth/introspect')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, randomBase62(20)))
        .type('form')
        .send('token=x'),
    right: async (c) => (app, ip) =>
      request(app)
        .post('/oauth/introspect')
        .set('X-Forwarded-For', ip)
        .set('Authorization', basic(c.clientId, c.clientSecret))
        .type('form')
        .send('token=x'),
    rightStatus: 200,
    sameCredential: true,
  },
];

const ATTACKER = '203.0.113.7';
const CLIENT_IP = '198.51.100.20';
const LIMITS: RateLimitOptions = { failuresPerCredentialAndIp: 3, failuresPerIp: 50, requestsPerIp: 1000 };

function expectTooMany(res: request.Response, check: (body: unknown) => void, windowSeconds: number): void {
  expect(res.status).toBe(429);
  check(res.body);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expectNoStore(res);
}

describe('createRateLimits', () => {
  describe('when given bad options', () => {
    const bad: [string, unknown, ErrorConstructor][] = [
      ['failuresPerCredentialAndIp 0', { failuresPerCredentialAndIp: 0 }, RangeError],
      ['failuresPerIp -1', { failuresPerIp: -1 }, RangeError],
      ['requestsPerIp 1.5', { requestsPerIp: 1.5 }, RangeError],
      ['failureWindowMs "900000"', { failureWindowMs: '900000' }, RangeError],
      ['requestWindowMs NaN', { requestWindowMs: Number.NaN }, RangeError],
      ['enabled "yes"', { enabled: 'yes' }, TypeError],
      ['store {}', { store: {} }, TypeError],
      ['store "redis"', { store: 'redis' }, TypeError],
      ['keyPrefix 1', { keyPrefix: 1 }, TypeError],
      ['failuresPerCredential 0', { failuresPerCredential: 0 }, RangeError],
      ['failuresPerCredential 2.5', { failuresPerCredential: 2.5 }, RangeError],
      ['trustedAddressMs -1', { trustedAddressMs: -1 }, RangeError],
      ['trustedAddressMs over 2147483647', { trustedAddressMs: 2_147_483_648 }, RangeError],
    ];
    it.each(bad)('throws for %s', (_name, options, type) => {
      expect(() => createRateLimits(options as RateLimitOptions)).toThrow(type);
    });

    it.each(['failuresPerCredential', 'trustedAddressMs'])(
      'names the option %s in its RangeError',
      (option) => {
        expect(() => createRateLimits({ [option]: 0 })).toThrow(new RegExp(`rateLimit\\.${option} must be`));
      },
    );

    it('resolves the documented defaults', () => {
      expect(createRateLimits().options).toEqual({
        enabled: true,
        failuresPerCredentialAndIp: 10,
        failuresPerCredential: 50,
        trustedAddressMs: 604_800_000,
        failuresPerIp: 100,
        failureWindowMs: 900_000,
        requestsPerIp: 300,
        requestWindowMs: 60_000,
        keyPrefix: 'etk:rl:',
      });
    });
  });

  describe('on the memory store', () => {
    let kit: TokenKit;
    let creds: Credentials;
    let events: TokenEvent[];

    beforeEach(async () => {
      events = [];
      ({ kit } = await makeKit({
        store: new MemoryTokenStore(),
        verifyUser,
        onEvent: (e) => events.push(e),
      }));
      creds = await seedCredentials(kit);
    });

    describe.each(surfaces)('$name', (surface) => {
      it('answers 429 after the threshold of failures from one IP, while the right credential from another IP still works', async () => {
        const app = buildApp(kit, createRateLimits(LIMITS));
        const wrong = surface.wrong(creds, kit);
        for (let i = 0; i < 3; i++) {
          const res = await wrong(app, ATTACKER);
          expect([400, 401]).toContain(res.status);
        }
        for (let i = 0; i < 3; i++) expectTooMany(await wrong(app, ATTACKER), surface.tooMany, 900);
        const right = await surface.right(creds, kit);
        if (surface.sameCredential) {
          // the same credential, right this time, is still refused from the flooding IP…
          expectTooMany(await right(app, ATTACKER), surface.tooMany, 900);
        } else {
          expect((await right(app, ATTACKER)).status).toBe(surface.rightStatus);
        }
        // …and accepted from the real client's address
        expect((await right(app, CLIENT_IP)).status).toBe(surface.rightStatus);
        expect((await right(app, CLIENT_IP)).status).toBe(surface.rightStatus);
      });

      it('does not count successful requests', async () => {
        const app = buildApp(kit, createRateLimits(LIMITS));
        const right = await surface.right(creds, kit);
        for (let i = 0; i < 8; i++) expect((await right(app, CLIENT_IP)).status).toBe(surface.rightStatus);
        const wrong = surface.wrong(creds, kit);
        for (let i = 0; i < 3; i++) expect([400, 401]).toContain((await wrong(app, CLIENT_IP)).status);
        expect((await wrong(app, CLIENT_IP)).status).toBe(429);
      });
    });

    it('limits failed refreshes by the IP’s failure budget, while the real refresh token still works elsewhere', async () => {
      const app = buildApp(kit, createRateLimits({ ...LIMITS, failuresPerIp: 3 }));
      const rt = await passwordRefreshToken(app);
      const prefix = kit.tokens.refreshTokenPrefix;
      const guess = (): string =>
        formatOpaqueToken(prefix, rt.slice(prefix.length, prefix.length + 22) + randomBase62(43));
      const refresh = (token: string, ip: string): request.Test =>
        request(app)
          .post('/api/auth/tokens/refresh/')
          .set('X-Forwarded-For', ip)
          .send({ refresh_token: token });
      for (let i = 0; i < 3; i++) expect((await refresh(guess(), ATTACKER)).status).toBe(401);
      expectTooMany(await refresh(guess(), ATTACKER), f1, 900);
      expectTooMany(await refresh(rt, ATTACKER), f1, 900);
      expect((await refresh(rt, CLIENT_IP)).status).toBe(200);
    });

    it('does not count a refresh grant’s invalid_grant against its client on router D', async () => {
      const app = buildApp(kit, createRateLimits(LIMITS));
      const auth = { Authorization: basic(creds.clientId, creds.clientSecret) };
      for (let i = 0; i < 5; i++) {
        const res = await request(app)
          .post('/oauth/token')
          .set('X-Forwarded-For', ATTACKER)
          .set(auth)
          .type('form')
          .send(
            `grant_type=refresh_token&refresh_token=${formatOpaqueToken(kit.tokens.refreshTokenPrefix, randomBase62(65))}`,
          );
        expect(res.status).toBe(400);
      }
      const ok = await request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ATTACKER)
        .set(auth)
        .type('form')
        .send('grant_type=client_credentials');
      expect(ok.status).toBe(200);
    });

    it('answers a burst of parallel good requests without a 429', async () => {
      const app = buildApp(kit, createRateLimits(LIMITS));
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          request(app).post('/api/auth/tokens/').set('X-Forwarded-For', CLIENT_IP).send({
            grant_type: 'client_credentials',
            client_id: creds.clientId,
            client_secret: creds.clientSecret,
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    });

    it('answers 429 once one IP exceeds its failure budget over many credentials', async () => {
      const app = buildApp(kit, createRateLimits({ ...LIMITS, failuresPerIp: 5 }));
      const attempt = (i: number): request.Test =>
        request(app)
          .post('/v1/auth/access-tokens')
          .set('X-Forwarded-For', ATTACKER)
          .set('Authorization', `Bearer etk_ak_guess${i}`)
          .send({ grant_type: 'client_credentials' });
      for (let i = 0; i < 5; i++) expect((await attempt(i)).status).toBe(401);
      expectTooMany(await attempt(99), f1, 900);
      // every router given the same limits shares the IP's budget; other IPs are unaffected
      const good = (ip: string): request.Test =>
        request(app).post('/api/auth/tokens/').set('X-Forwarded-For', ip).send({
          grant_type: 'client_credentials',
          client_id: creds.clientId,
          client_secret: creds.clientSecret,
        });
      expectTooMany(await good(ATTACKER), f1, 900);
      expect((await good(CLIENT_IP)).status).toBe(200);
    });

    it('answers 429 over the request budget per IP, also for a body that does not parse', async () => {
      const app = buildApp(kit, createRateLimits({ requestsPerIp: 4 }));
      const good = (ip: string): request.Test =>
        request(app).post('/api/auth/tokens/').set('X-Forwarded-For', ip).send({
          grant_type: 'client_credentials',
          client_id: creds.clientId,
          client_secret: creds.clientSecret,
        });
      for (let i = 0; i < 4; i++) expect((await good(ATTACKER)).status).toBe(200);
      expectTooMany(await good(ATTACKER), f1, 60);
      const malformed = await request(app)
        .post('/oauth/token')
        .set('X-Forwarded-For', ATTACKER)
        .set('Content-Type', 'application/json')
        .send('{not json');
      expectTooMany(malformed, f3, 60);
      expect((await good(CLIENT_IP)).status).toBe(200);
    });

    it('leaves the discovery endpoints and the rest of the app unlimited', async () => {
      const app = buildApp(kit, createRateLimits({ requestsPerIp: 1 }));
      app.get('/health', (_req, res) => res.json({ ok: true }));
      for (let i = 0; i < 3; i++) {
        expect((await request(app).get('/.well-known/jwks.json')).status).toBe(200);
        expect((await request(app).get('/health')).status).toBe(200);
      }
    });

    it('ignores X-Forwarded-For unless trust proxy is set: rotating it does not reset the budget', async () => {
      const app = buildApp(kit, createRateLimits(LIMITS), false);
      const wrong = surfaces[2]!.wrong(creds, kit);
      for (let i = 0; i < 3; i++) expect((await wrong(app, `192.0.2.${i}`)).status).toBe(401);
      expect((await wrong(app, '192.0.2.99')).status).toBe(429);
    });

    it('keeps each router’s own limits when given options instead of a shared object', async () => {
      const app = express();
      app.set('trust proxy', 1);
      app.use('/api', createAuthRouter({ kit, rateLimit: { failuresPerCredentialAndIp: 1 } }));
      const wrong = surfaces[2]!.wrong(creds, kit);
      expect((await wrong(app, ATTACKER)).status).toBe(401);
      expect((await wrong(app, ATTACKER)).status).toBe(429);
    });

    it('turns every limit off with enabled: false', async () => {
      const app = buildApp(kit, { enabled: false, failuresPerCredentialAndIp: 1, requestsPerIp: 1 });
      const wrong = surfaces[2]!.wrong(creds, kit);
      for (let i = 0; i < 5; i++) expect((await wrong(app, ATTACKER)).status).toBe(401);
    });

    it('is on by default: 11 wrong secrets from one IP get a 429', async () => {
      const app = express();
      app.use('/api', createAuthRouter({ kit }));
      const wrong = (): request.Test =>
        request(app)
          .post('/api/auth/tokens/')
          .send({ grant_type: 'client_credentials', client_id: creds.clientId, client_secret: 'nope' });
      for (let i = 0; i < 10; i++) expect((await wrong()).status).toBe(401);
      expect((await wrong()).status).toBe(429);
    });

    it('fails closed with 503 when the counter store fails, and reports store_unavailable', async () => {
      const failing = (): Store => ({
        get: () => Promise.reject(new Error('counter store down')),
        increment: () => Promise.reject(new Error('counter store down')),
        decrement: () => undefined,
        resetKey: () => undefined,
      });
      const app = buildApp(kit, createRateLimits({ store: failing }));
      const surface = surfaces[2]!;
      const res = await (await surface.right(creds, kit))(app, CLIENT_IP);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        errors: [{ errorType: 'service_unavailable', message: 'Service temporarily unavailable' }],
      });
      expect(res.headers['retry-after']).toBe('5');
      expectNoStore(res);
      expect(events.filter((e) => e.type === 'issued')).toEqual([]);
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'store_unavailable', reason: 'rate_limit_store', ip: CLIENT_IP }),
      );
      expect(JSON.stringify(res.body)).not.toContain('counter store down');
    });
  });

  describe('on Redis shared by two app instances', () => {
    let redis: TestRedis;
    let second: Redis;

    beforeAll(async () => {
      redis = await connectTestRedis('rate-limit');
      second = await redis.connect();
    });
    afterAll(async () => {
      await redis.cleanup();
    });

    async function twoInstances(keyPrefix: string, options: RateLimitOptions = LIMITS) {
      const storePrefix = `${redis.prefix}${keyPrefix}store:`;
      const one = await makeKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: storePrefix }),
        verifyUser,
      });
      const two = await makeKit({
        store: new RedisTokenStore({ client: second, keyPrefix: storePrefix }),
        verifyUser,
      });
      const creds = await seedCredentials(one.kit);
      const limitPrefix = `${redis.prefix}${keyPrefix}rl:`;
      const appOne = buildApp(
        one.kit,
        createRateLimits({ ...options, store: redis.client, keyPrefix: limitPrefix }),
      );
      const appTwo = buildApp(
        two.kit,
        createRateLimits({ ...options, store: second, keyPrefix: limitPrefix }),
      );
      return { creds, kit: one.kit, appOne, appTwo, limitPrefix };
    }

    it('answers a flood of wrong secrets for one client with 429s after the threshold, while that client’s right secret from another IP still works', async () => {
      const { creds, kit, appOne, appTwo } = await twoInstances('flood:');
      const surface = surfaces[2]!;
      const wrong = surface.wrong(creds, kit);
      // failures spread over both instances count against one budget
      expect((await wrong(appOne, ATTACKER)).status).toBe(401);
      expect((await wrong(appTwo, ATTACKER)).status).toBe(401);
      expect((await wrong(appOne, ATTACKER)).status).toBe(401);
      for (let i = 0; i < 10; i++) {
        expectTooMany(await wrong(i % 2 === 0 ? appTwo : appOne, ATTACKER), f1, 900);
      }
      const right = await surface.right(creds, kit);
      expect((await right(appTwo, ATTACKER)).status).toBe(429);
      expect((await right(appOne, CLIENT_IP)).status).toBe(200);
      expect((await right(appTwo, CLIENT_IP)).status).toBe(200);
    });

    it('does the same for router D’s token endpoint', async () => {
      const { creds, kit, appOne, appTwo } = await twoInstances('flood-d:');
      const surface = surfaces.find((s) => s.name.startsWith('router D POST /oauth/token'))!;
      const wrong = surface.wrong(creds, kit);
      for (let i = 0; i < 3; i++) expect((await wrong(i % 2 ? appOne : appTwo, ATTACKER)).status).toBe(401);
      expectTooMany(await wrong(appOne, ATTACKER), f3, 900);
      expect((await (await surface.right(creds, kit))(appTwo, CLIENT_IP)).status).toBe(200);
    });

    it('asks Redis for a request’s counters in one pipeline, one round trip', async () => {
      const client = await redis.connect();
      const { kit } = await makeKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: `${redis.prefix}pipe:store:` }),
        verifyUser,
      });
      const creds = await seedCredentials(kit);
      const app = buildApp(
        kit,
        createRateLimits({ ...LIMITS, store: client, keyPrefix: `${redis.prefix}pipe:rl:` }),
      );
      const right = await surfaces[2]!.right(creds, kit);
      expect((await right(app, CLIENT_IP)).status).toBe(200); // loads the scripts
      // …and, after its answer, remembers the address: wait for that write before counting
      const trustMarked = async (): Promise<boolean> =>
        (await keysWithPrefix(redis.client, `${redis.prefix}pipe:rl:`)).some((k) =>
          k.includes('trusted-credential-ip:'),
        );
      for (let i = 0; i < 100 && !(await trustMarked()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await trustMarked()).toBe(true);
      const pipelines: string[][] = [];
      const calls: string[] = [];
      const realPipeline = client.pipeline.bind(client);
      const realCall = client.call.bind(client) as (...args: unknown[]) => Promise<unknown>;
      jest.spyOn(client, 'pipeline').mockImplementation(() => {
        const pipeline = realPipeline();
        const commands: string[] = [];
        pipelines.push(commands);
        const call = pipeline.call.bind(pipeline) as (...args: unknown[]) => unknown;
        jest.spyOn(pipeline, 'call').mockImplementation((...args: unknown[]) => {
          commands.push(String(args[0]));
          return call(...args) as never;
        });
        return pipeline;
      });
      jest.spyOn(client, 'call').mockImplementation(((...args: unknown[]) => {
        calls.push(String(args[0]));
        return realCall(...args);
      }) as never);
      try {
        expect((await right(app, CLIENT_IP)).status).toBe(200);
      } finally {
        jest.restoreAllMocks();
        client.disconnect();
      }
      // requests per IP, failures per IP, per (client, IP) and per client, the (client, IP) trust mark
      expect(pipelines).toEqual([['EVALSHA', 'EVALSHA', 'EVALSHA', 'EVALSHA', 'EVALSHA']]);
      expect(calls).toEqual([]);
    });

    it('counts a refused request once, and a request whose body does not parse once', async () => {
      const { creds, kit, appOne, limitPrefix } = await twoInstances('count-once:', {
        ...LIMITS,
        requestsPerIp: 2,
      });
      const right = await surfaces[2]!.right(creds, kit);
      const counter = async (): Promise<number> => {
        const keys = (await keysWithPrefix(redis.client, limitPrefix)).filter((k) =>
          k.includes('requests-ip:'),
        );
        expect(keys).toHaveLength(1);
        return Number(await redis.client.get(keys[0]!));
      };
      const malformed = (): request.Test =>
        request(appOne)
          .post('/api/auth/tokens')
          .set('X-Forwarded-For', ATTACKER)
          .set('Content-Type', 'application/json')
          .send('{not json');
      const unparsed = await malformed();
      expect(unparsed.status).toBe(400);
      expect(unparsed.body.errors[0].errorType).toBe('invalid_request');
      expect(await counter()).toBe(1);
      expect((await right(appOne, ATTACKER)).status).toBe(200);
      expect(await counter()).toBe(2);
      expectTooMany(await right(appOne, ATTACKER), f1, 60);
      expect(await counter()).toBe(3);
      expectTooMany(await malformed(), f1, 60);
      expect(await counter()).toBe(4);
    });

    it('keys its counters on hashes, never on client ids, usernames or secrets', async () => {
      const { creds, kit, appOne, limitPrefix } = await twoInstances('keys:');
      await surfaces[2]!.wrong(creds, kit)(appOne, ATTACKER);
      await surfaces[3]!.wrong(creds, kit)(appOne, ATTACKER);
      await surfaces[0]!.wrong(creds, kit)(appOne, ATTACKER);
      const keys = await keysWithPrefix(redis.client, limitPrefix);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key).toMatch(
          /:(requests-ip:[0-9.]+|failures-ip:[0-9.]+|failures-credential-ip:[0-9a-f]{32}:[0-9.]+|failures-credential:[0-9a-f]{32})$/,
        );
        for (const secret of [creds.clientId, creds.clientSecret, 'alice', 'etk_ak_wrongwrongwrong']) {
          expect(key).not.toContain(secret);
        }
      }
    });

    it('fails closed with 503 while its Redis is down and recovers when it is back', async () => {
      const client = await redis.connect();
      const storePrefix = `${redis.prefix}outage:store:`;
      const { kit } = await makeKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: storePrefix }),
        verifyUser,
      });
      const creds = await seedCredentials(kit);
      const app = buildApp(kit, createRateLimits({ store: client, keyPrefix: `${redis.prefix}outage:rl:` }));
      const right = await surfaces[2]!.right(creds, kit);
      expect((await right(app, CLIENT_IP)).status).toBe(200);
      client.disconnect();
      const down = await right(app, CLIENT_IP);
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      if (client.status === 'end') await client.connect();
      await waitForReady(client, 5000);
      // No restart: the same app serves again once its Redis answers (on a loaded machine the
      // reconnected client may need a moment before the counters' scripts run again; in a full,
      // parallel suite run each attempt, a client-credentials grant, can take seconds).
      let status = 0;
      const deadline = Date.now() + 30_000;
      while (status !== 200 && Date.now() < deadline) {
        status = (await right(app, CLIENT_IP)).status;
        if (status !== 200) {
          expect(status).toBe(503);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // On a miss, say whether the limiter's own client was back (a stuck limiter) or not (Redis).
      const clientState = status === 200 ? 'ready' : `${client.status} ${await client.ping().catch(String)}`;
      expect({ status, clientState }).toEqual({ status: 200, clientState: 'ready' });
    }, 60_000);
  });
});
