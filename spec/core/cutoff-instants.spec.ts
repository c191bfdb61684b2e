/**
 * Subject and client cut-offs are instants in milliseconds: a token (JWT or opaque) or refresh
 * family issued after a cut-off works at once, even in the same second; one issued before never
 * does. Clocks are injected and set at second boundaries; nothing sleeps.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import request from 'supertest';
import type { UserVerifier } from '../../lib/core/grants';
import { signJwt } from '../../lib/core/jwt';
import { issuedAtMsOf, uuidV7, uuidV7Ms } from '../../lib/core/issuance';
import type { TokenKit } from '../../lib/core/token-kit';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import {
  createClock,
  makeKit,
  describeOnStore,
  storeFactories,
  TEST_ISSUER,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === 'correct horse' ? { sub: 'user-alice' } : null;

async function works(kit: TokenKit, token: string): Promise<boolean> {
  return kit.tokens.verifyAccessToken(token).then(
    () => true,
    (err: { code?: string }) => {
      if (err.code !== 'invalid_token') throw err;
      return false;
    },
  );
}

async function refreshes(kit: TokenKit, refreshToken: string): Promise<boolean> {
  return kit.tokens.refresh(refreshToken).then(
    () => true,
    (err: { code?: string }) => {
      if (err.code !== 'invalid_grant') throw err;
      return false;
    },
  );
}

describeOnStore('memory')('issuance instants', () => {
  it('puts the issuance millisecond into a UUIDv7 jti (RFC 9562 §5.7)', () => {
    const ms = Date.UTC(2026, 11, 1, 10, 0, 0, 950);
    const id = uuidV7(ms);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV7Ms(id)).toBe(ms);
    expect(issuedAtMsOf(id, Math.floor(ms / 1000))).toBe(ms);
  });

  it('falls back to the start of the iat second for a jti without a timestamp or from another second', () => {
    const ms = Date.UTC(2026, 11, 1, 10, 0, 0, 950);
    const iat = Math.floor(ms / 1000);
    expect(issuedAtMsOf(randomUUID(), iat)).toBe(iat * 1000);
    expect(issuedAtMsOf(uuidV7(ms + 1000), iat)).toBe(iat * 1000);
    expect(issuedAtMsOf(42, iat)).toBe(iat * 1000);
  });
});

describe.each(storeFactories)('cut-offs to the millisecond on the %s store', (name, factory) => {
  let harness: StoreHarness;
  let clock: TestClock;
  let kit: TokenKit;
  /** The start of the test's second, ms. */
  let s0: number;

  beforeAll(async () => {
    harness = await factory(`cutoff-instants-${name}`);
  });

  afterAll(async () => {
    await harness.cleanup();
  });

  beforeEach(async () => {
    clock = createClock();
    s0 = clock.now();
    const { store } = await harness.create(clock.now);
    ({ kit } = await makeKit({ store, now: clock, verifyUser }));
  });

  async function issueAll(subject: string, clientId: string) {
    const jwt = await kit.tokens.issueAccessToken({ subject, clientId });
    const opaque = await kit.tokens.issueAccessToken({ subject, clientId, format: 'opaque' });
    const { refreshToken } = await kit.tokens.startRefreshFamily({ subject, clientId });
    return { jwt: jwt.token, opaque: opaque.token, refreshToken };
  }

  describe.each(['subject', 'client'] as const)('when a %s cut-off is set at …000.900', (kind) => {
    async function cut(): Promise<void> {
      if (kind === 'subject') await kit.tokens.revokeSubject('user-1');
      else await kit.tokens.revokeClient('client-1');
    }

    it('refuses what was issued at …000.100 and accepts what was issued at …000.950 and …001.100', async () => {
      clock.set(s0 + 100);
      const before = await issueAll('user-1', 'client-1');
      clock.set(s0 + 900);
      await cut();
      clock.set(s0 + 950);
      const sameSecond = await issueAll('user-1', 'client-1');
      clock.set(s0 + 1100);
      const nextSecond = await issueAll('user-1', 'client-1');

      expect(await works(kit, before.jwt)).toBe(false);
      expect(await works(kit, before.opaque)).toBe(false);
      expect(await refreshes(kit, before.refreshToken)).toBe(false);
      for (const after of [sameSecond, nextSecond]) {
        expect(await works(kit, after.jwt)).toBe(true);
        expect(await works(kit, after.opaque)).toBe(true);
        expect(await refreshes(kit, after.refreshToken)).toBe(true);
      }
      const inspected = await kit.tokens.inspect(sameSecond.refreshToken);
      expect(inspected).toMatchObject({ kind: 'refresh', active: false }); // rotated out just above
    });

    it('accepts a token issued right after the cut-off with the clock standing still, and refuses one issued just before', async () => {
      clock.set(s0 + 500);
      const before = await issueAll('user-1', 'client-1');
      await cut();
      const after = await issueAll('user-1', 'client-1');
      expect(await works(kit, before.jwt)).toBe(false);
      expect(await works(kit, before.opaque)).toBe(false);
      expect(await refreshes(kit, before.refreshToken)).toBe(false);
      expect(await works(kit, after.jwt)).toBe(true);
      expect(await works(kit, after.opaque)).toBe(true);
      expect(await refreshes(kit, after.refreshToken)).toBe(true);
      // a second cut-off, still on the frozen clock, covers what was issued after the first
      await cut();
      expect(await works(kit, after.jwt)).toBe(false);
      expect(await works(kit, after.opaque)).toBe(false);
    });
  });

  describe('when a token carries no timestamp in its jti', () => {
    it('is covered by any cut-off in its iat second (the whole-second rule)', async () => {
      const iat = Math.floor(s0 / 1000);
      const legacy = signJwt(
        kit.tokens.keys,
        {
          iss: TEST_ISSUER,
          sub: 'user-1',
          aud: TEST_ISSUER,
          iat,
          exp: iat + 600,
          jti: randomUUID(),
          client_id: 'client-1',
        },
        { typ: 'at+jwt' },
      );
      clock.set(s0 + 100);
      expect(await works(kit, legacy)).toBe(true);
      await kit.tokens.revokeSubject('user-1');
      expect(await works(kit, legacy)).toBe(false);
    });
  });

  describe('when an API key is rotated and the new key is exchanged in the same second', () => {
    it('issues a token that works at once, while the old one is refused', async () => {
      clock.set(s0 + 100);
      const created = await kit.credentials.createApiKey({ name: 'k' });
      const exchange = (apiKey: string) =>
        kit.grants.exchangeApiKey({ apiKey, boundEntity: null, ttl: 900, prefix: 'vit_at_' });
      const old = await exchange(created.key);
      clock.set(s0 + 900);
      const rotated = await kit.credentials.rotateApiKey(created.id);
      const fresh = await exchange(rotated!.key);
      expect(await works(kit, old.token)).toBe(false);
      expect(await works(kit, fresh.token)).toBe(true);
    });
  });

  describe('when a user logs out everywhere and logs in again in the same second', () => {
    it('gives the new session working tokens', async () => {
      clock.set(s0 + 900);
      const client = { clientId: 'password-grant' };
      const first = await kit.grants.password({ username: 'alice', password: 'correct horse', client });
      await kit.tokens.revokeSubject('user-alice');
      const second = await kit.grants.password({ username: 'alice', password: 'correct horse', client });
      expect(await works(kit, first.accessToken.token)).toBe(false);
      expect(await works(kit, second.accessToken.token)).toBe(true);
      expect(await refreshes(kit, first.refreshToken!)).toBe(false);
      expect(await refreshes(kit, second.refreshToken!)).toBe(true);
    });
  });

  describe('over HTTP, when an application is rotated and a user logs in at once', () => {
    function buildApp(): Express {
      const app = express();
      app.set('trust proxy', true);
      app.use('/api', createAuthRouter({ kit }));
      return app;
    }

    it('answers 200 to the fresh token, with the same second on the clock', async () => {
      clock.set(s0 + 200);
      const created = await kit.credentials.createApplication({
        name: 'App',
        grantTypes: ['client_credentials', 'password', 'refresh_token'],
      });
      const app = buildApp();
      const own = await request(app).post('/api/auth/tokens/').send({
        grant_type: 'client_credentials',
        client_id: created.clientId,
        client_secret: created.clientSecret,
      });
      expect(own.status).toBe(200);
      clock.set(s0 + 900);
      const rotated = await request(app)
        .post('/api/applications/rotate_credentials/')
        .set('Authorization', `Bearer ${own.body.access_token as string}`)
        .send({ application_id: created.id });
      expect(rotated.status).toBe(200);
      const body = rotated.body as { client_id: string; client_secret: string };
      for (const credentials of [{ client_id: body.client_id, client_secret: body.client_secret }, {}]) {
        const login = await request(app)
          .post('/api/auth/tokens/')
          .send({ grant_type: 'password', username: 'alice', password: 'correct horse', ...credentials });
        expect(login.status).toBe(200);
        const validated = await request(app)
          .get('/api/auth/tokens/validate/')
          .set('Authorization', `Bearer ${login.body.access_token as string}`);
        expect(validated.status).toBe(200);
      }
      const old = await request(app)
        .get('/api/auth/tokens/validate/')
        .set('Authorization', `Bearer ${own.body.access_token as string}`);
      expect(old.status).toBe(401);
    });
  });
});

describeOnStore('redis')('cut-offs to the millisecond across two instances on one Redis', () => {
  let redis: TestRedis;
  let a: TokenKit;
  let b: TokenKit;
  let clockA: TestClock;
  let clockB: TestClock;
  let s0: number;

  beforeAll(async () => {
    redis = await connectTestRedis('cutoff-instants-two');
  });

  afterAll(async () => {
    await redis.cleanup();
  });

  beforeEach(async () => {
    clockA = createClock();
    s0 = clockA.now();
    clockB = createClock(s0);
    const keyPrefix = `${redis.prefix}${randomUUID()}:`;
    ({ kit: a } = await makeKit({
      store: new RedisTokenStore({ client: await redis.connect(), keyPrefix }),
      now: clockA,
    }));
    ({ kit: b } = await makeKit({
      store: new RedisTokenStore({ client: await redis.connect(), keyPrefix }),
      now: clockB,
    }));
  });

  it('accepts on both a token minted on B in the second of a cut-off set through A, after it', async () => {
    clockB.set(s0 + 100);
    const before = await b.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
    const beforeFamily = await b.tokens.startRefreshFamily({ subject: 'user-1', clientId: 'client-1' });
    clockA.set(s0 + 900);
    await a.tokens.revokeSubject('user-1');
    await a.tokens.revokeClient('client-1');
    clockB.set(s0 + 950);
    const jwt = await b.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
    const opaque = await b.tokens.issueAccessToken({
      subject: 'user-1',
      clientId: 'client-1',
      format: 'opaque',
    });
    const family = await b.tokens.startRefreshFamily({ subject: 'user-1', clientId: 'client-1' });
    for (const kit of [a, b]) {
      expect(await works(kit, jwt.token)).toBe(true);
      expect(await works(kit, opaque.token)).toBe(true);
      expect(await works(kit, before.token)).toBe(false);
    }
    expect(await refreshes(a, beforeFamily.refreshToken)).toBe(false);
    const next = await a.tokens.refresh(family.refreshToken);
    expect(await refreshes(b, next.refreshToken)).toBe(true);
  });
});
