import express from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { LocalRevocationMemory } from '../../lib/stores/revocation-view';
import { RedisRevocationView } from '../../lib/stores/redis-revocation-view';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { countingStore, testKeySet } from '../helpers/kit';

const NOT_REVOKED = { jtiRevoked: false, familyRevoked: false, subjectCutoffMs: null, clientCutoffMs: null };

async function until(check: () => boolean | Promise<boolean>, attempts = 200): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

describe('LocalRevocationMemory', () => {
  describe('when an announcement arrives while a read is in flight', () => {
    it('refuses to remember the raced answer', () => {
      const memory = new LocalRevocationMemory();
      const generation = memory.generation;
      memory.invalidate();
      memory.remember('jti-1', NOT_REVOKED, Date.now() + 60_000, generation, Date.now());
      expect(memory.lookup('jti-1', Date.now())).toBeUndefined();
    });
  });

  describe('when answers are remembered', () => {
    it('forgets them at the token expiry or the maximum age, whichever is first', () => {
      const memory = new LocalRevocationMemory({ maxAgeMs: 1000 });
      memory.remember('a', NOT_REVOKED, 5000, memory.generation, 0);
      memory.remember('b', NOT_REVOKED, 500, memory.generation, 0);
      expect(memory.lookup('a', 999)).toEqual(NOT_REVOKED);
      expect(memory.lookup('a', 1000)).toBeUndefined();
      expect(memory.lookup('b', 500)).toBeUndefined();
    });

    it('stays within its size bound', () => {
      const memory = new LocalRevocationMemory({ maxEntries: 10 });
      for (let i = 0; i < 100; i++) memory.remember(`j${i}`, NOT_REVOKED, 10_000, memory.generation, 0);
      expect(memory.size).toBe(10);
      expect(memory.lookup('j99', 1)).toEqual(NOT_REVOKED);
      expect(memory.lookup('j0', 1)).toBeUndefined();
    });
  });
});

describe('RedisRevocationView', () => {
  let redis: TestRedis;
  const views: RedisRevocationView[] = [];

  beforeAll(async () => {
    redis = await connectTestRedis('revocation-view');
  });

  afterAll(async () => {
    await Promise.all(views.map((v) => v.close()));
    await redis.cleanup();
  });

  async function instance(
    channel: string,
    client?: Redis,
  ): Promise<{ kit: TokenKit; store: ReturnType<typeof countingStore>; view: RedisRevocationView }> {
    const conn = client ?? (await redis.connect());
    const view = await RedisRevocationView.start({ client: conn, channel, heartbeatMs: 50 });
    views.push(view);
    const store = countingStore(new RedisTokenStore({ client: conn, keyPrefix: redis.prefix }) as TokenStore);
    const kit = createTokenKit({
      store: store.store,
      keys: await testKeySet(),
      issuer: 'https://issuer.test',
      revocationView: view,
    });
    expect(await until(() => view.ready)).toBe(true);
    return { kit, store, view };
  }

  describe('when a token is verified repeatedly', () => {
    it('asks the store once and answers repeats from the view', async () => {
      const a = await instance(`${redis.prefix}ch1`);
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u1', clientId: 'c1' });
      const opaque = (
        await a.kit.tokens.issueAccessToken({ subject: 'u1', clientId: 'c1', format: 'opaque' })
      ).token;
      const before = a.store.calls.total();
      for (let i = 0; i < 5; i++) {
        await a.kit.tokens.verifyAccessToken(token);
        await a.kit.tokens.verifyAccessToken(opaque);
      }
      expect(a.store.calls.total() - before).toBe(2);
    });
  });

  describe('when a remembered identity is handed out again', () => {
    it.each(['jwt', 'opaque'] as const)(
      'hands out a frozen %s identity: a caller changing it cannot change the next check',
      async (format) => {
        const a = await instance(`${redis.prefix}ch-frozen-${format}`);
        const { token } = await a.kit.tokens.issueAccessToken({
          subject: 'u-frozen',
          clientId: 'c-frozen',
          scope: 'read',
          format,
          boundEntity: { type: 'employer', id: 'empr_1' },
        });
        const first = await a.kit.tokens.verifyAccessToken(token);
        expect(() => (first.scopes as string[]).push('admin')).toThrow(TypeError);
        expect(() => (first.audience as string[]).push('https://evil.test')).toThrow(TypeError);
        expect(() => Object.assign(first, { subject: 'admin' })).toThrow(TypeError);
        expect(() => Object.assign(first.boundEntity!, { id: 'empr_2' })).toThrow(TypeError);
        expect(() => Object.assign(first.claims, { sub: 'admin' })).toThrow(TypeError);
        const again = await a.kit.tokens.verifyAccessToken(token);
        expect(again.scopes).toEqual(['read']);
        expect(again.subject).toBe('u-frozen');
        expect(again.boundEntity).toEqual({ type: 'employer', id: 'empr_1' });
        expect(again.claims.sub).toBe('u-frozen');
      },
    );

    it('still checks a remembered opaque token against each caller’s issuers and audiences', async () => {
      const a = await instance(`${redis.prefix}ch-opaque-aud`);
      const { token } = await a.kit.tokens.issueAccessToken({
        subject: 'u4',
        clientId: 'c4',
        format: 'opaque',
      });
      await a.kit.tokens.verifyAccessToken(token);
      const before = a.store.calls.total();
      await expect(
        a.kit.tokens.verifyAccessToken(token, { audiences: ['https://other.test'] }),
      ).rejects.toMatchObject({ code: 'invalid_token' });
      await expect(
        a.kit.tokens.verifyAccessToken(token, { issuers: ['https://other.test'] }),
      ).rejects.toMatchObject({ code: 'invalid_token' });
      await expect(a.kit.tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'u4' });
      expect(a.store.calls.total() - before).toBe(0);
    });

    it('answers expired_token for a remembered opaque token once it expires', async () => {
      let nowMs = Date.now();
      const conn = await redis.connect();
      const view = await RedisRevocationView.start({
        client: conn,
        channel: `${redis.prefix}ch-exp`,
        heartbeatMs: 50,
      });
      views.push(view);
      const kit = createTokenKit({
        store: new RedisTokenStore({ client: conn, keyPrefix: redis.prefix }),
        keys: await testKeySet(),
        issuer: 'https://issuer.test',
        revocationView: view,
        accessTokenTtl: 60,
        now: () => nowMs,
      });
      expect(await until(() => view.ready)).toBe(true);
      const { token } = await kit.tokens.issueAccessToken({
        subject: 'u5',
        clientId: 'c5',
        format: 'opaque',
      });
      await kit.tokens.verifyAccessToken(token);
      nowMs += 61_000 + kit.tokens.clockTolerance * 1000;
      await expect(kit.tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'expired_token' });
    });
  });

  describe('when a token is revoked through another instance', () => {
    it.each(['jwt', 'opaque'] as const)('refuses the %s token on every instance', async (format) => {
      const channel = `${redis.prefix}ch-${format}`;
      const a = await instance(channel);
      const b = await instance(channel);
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u2', clientId: 'c2', format });
      await b.kit.tokens.verifyAccessToken(token);
      await b.kit.tokens.verifyAccessToken(token);
      expect(await a.kit.tokens.revokeToken(token)).toBe(true);
      const refused = await until(async () => {
        try {
          await b.kit.tokens.verifyAccessToken(token);
          return false;
        } catch (err) {
          return (err as { code?: string }).code === 'invalid_token';
        }
      });
      expect(refused).toBe(true);
    });

    it('refuses tokens of a subject after a cut-off through another instance', async () => {
      const channel = `${redis.prefix}ch-subject`;
      const a = await instance(channel);
      const b = await instance(channel);
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u3', clientId: 'c3' });
      await b.kit.tokens.verifyAccessToken(token);
      await a.kit.tokens.revokeSubject('u3');
      const refused = await until(async () =>
        b.kit.tokens.verifyAccessToken(token).then(
          () => false,
          () => true,
        ),
      );
      expect(refused).toBe(true);
    });
  });

  describe('when credentials are checked on the issuance path', () => {
    it('answers repeat client authentications without the store, and refuses rotated credentials on every instance', async () => {
      const channel = `${redis.prefix}ch-credentials`;
      const a = await instance(channel);
      const b = await instance(channel);
      const app = await a.kit.credentials.createApplication({ name: 'cached' });
      expect(await b.kit.credentials.authenticateClient(app.clientId, app.clientSecret)).not.toBeNull();
      const before = b.store.calls.total();
      for (let i = 0; i < 5; i++) {
        expect(await b.kit.credentials.authenticateClient(app.clientId, app.clientSecret)).not.toBeNull();
        expect(await b.kit.credentials.authenticateClient(app.clientId, 'wrong-secret')).toBeNull();
      }
      expect(b.store.calls.total() - before).toBe(0);

      const rotated = await a.kit.credentials.rotateApplication(app.id, { revokeTokens: false });
      const refused = await until(
        async () => (await b.kit.credentials.authenticateClient(app.clientId, app.clientSecret)) === null,
      );
      expect(refused).toBe(true);
      expect(
        await b.kit.credentials.authenticateClient(rotated!.clientId, rotated!.clientSecret),
      ).not.toBeNull();
    });

    it('never remembers an unknown credential, so a new one works at once', async () => {
      const channel = `${redis.prefix}ch-new-credentials`;
      const a = await instance(channel);
      const b = await instance(channel);
      const key = 'etk_ak_not-yet-created-0123456789';
      expect(await b.kit.credentials.authenticateApiKey(key)).toBeNull();
      await a.kit.credentials.createApiKey({ name: 'new', key });
      expect(await b.kit.credentials.authenticateApiKey(key)).toMatchObject({ name: 'new' });
    });

    it('refuses a deleted API key on another instance', async () => {
      const channel = `${redis.prefix}ch-deleted-credentials`;
      const a = await instance(channel);
      const b = await instance(channel);
      const created = await a.kit.credentials.createApiKey({ name: 'doomed' });
      expect(await b.kit.credentials.authenticateApiKey(created.key)).not.toBeNull();
      await a.kit.credentials.revokeApiKey(created.id);
      expect(
        await until(async () => (await b.kit.credentials.authenticateApiKey(created.key)) === null),
      ).toBe(true);
    });
  });

  describe('when requireToken takes the synchronous path (verifyRemembered)', () => {
    it.each(['jwt', 'opaque'] as const)(
      'answers a remembered %s token only while it is known, unrevoked and asked with the same options',
      async (format) => {
        const channel = `${redis.prefix}ch-sync-${format}`;
        const a = await instance(channel);
        const b = await instance(channel);
        const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u6', clientId: 'c6', format });
        const options = Object.freeze({});
        expect(b.kit.tokens.verifyRemembered(token, options)).toBeUndefined();
        // remembered from its second verification on (a JWT; an opaque record from its first)
        await b.kit.tokens.verifyAccessToken(token, options);
        const verified = await b.kit.tokens.verifyAccessToken(token, options);
        expect(b.kit.tokens.verifyRemembered(token, options)).toBe(verified);
        expect(b.kit.tokens.verifyRemembered(token, Object.freeze({}))).toBeUndefined();
        expect(b.kit.tokens.verifyRemembered(token, { ignoreExpiration: true })).toBeUndefined();
        expect(b.kit.tokens.verifyRemembered(`${token}x`, options)).toBeUndefined();
        await a.kit.tokens.revokeToken(token);
        expect(await until(() => b.kit.tokens.verifyRemembered(token, options) === undefined)).toBe(true);
        await expect(b.kit.tokens.verifyAccessToken(token, options)).rejects.toMatchObject({
          code: 'invalid_token',
        });
        expect(b.kit.tokens.verifyRemembered(token, options)).toBeUndefined();
      },
    );

    it('refuses over HTTP, at once, a token revoked on another instance after it was answered from memory', async () => {
      const channel = `${redis.prefix}ch-sync-http`;
      const a = await instance(channel);
      const b = await instance(channel);
      const app = express();
      app.get('/probe', requireToken({ kit: b.kit }), (req, res) => {
        res.json({ sub: req.auth!.subject });
      });
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u7', clientId: 'c7' });
      for (let i = 0; i < 3; i++) {
        const ok = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(ok.status).toBe(200);
        expect(ok.body).toEqual({ sub: 'u7' });
      }
      const before = b.store.calls.total();
      await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(b.store.calls.total() - before).toBe(0);
      await a.kit.tokens.revokeToken(token);
      const refused = await until(async () => {
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        return res.status === 401 && res.body.errors?.[0]?.errorType === 'invalid_token';
      });
      expect(refused).toBe(true);
    });
  });

  describe('when the subscription is lost', () => {
    it('stops trusting itself and asks the store on every check', async () => {
      const conn = await redis.connect();
      const subscriber = conn.duplicate();
      const view = await RedisRevocationView.start({
        client: conn,
        subscriber,
        channel: `${redis.prefix}ch-lost`,
        heartbeatMs: 50,
      });
      views.push(view);
      expect(await until(() => view.ready)).toBe(true);
      subscriber.disconnect();
      expect(await until(() => !view.ready)).toBe(true);
      const store = countingStore(
        new RedisTokenStore({ client: conn, keyPrefix: redis.prefix }) as TokenStore,
      );
      const kit = createTokenKit({
        store: store.store,
        keys: await testKeySet(),
        issuer: 'https://issuer.test',
        revocationView: view,
      });
      const { token } = await kit.tokens.issueAccessToken({ subject: 'u4', clientId: 'c4' });
      const before = store.calls.total();
      await kit.tokens.verifyAccessToken(token);
      await kit.tokens.verifyAccessToken(token);
      expect(store.calls.total() - before).toBe(2);
    });
  });

  describe('when the subscription comes back', () => {
    it('forgets answers remembered while it was not trusted, since announcements were missed', async () => {
      const conn = await redis.connect();
      const subscriber = conn.duplicate();
      const view = await RedisRevocationView.start({
        client: conn,
        subscriber,
        channel: `${redis.prefix}ch-back`,
        heartbeatMs: 50,
      });
      views.push(view);
      expect(await until(() => view.ready)).toBe(true);
      // The subscriber drops; ioredis reconnects and subscribes again by itself.
      subscriber.stream.destroy();
      expect(await until(() => !view.ready)).toBe(true);
      // Remembered while untrusted (as an opaque token lookup does), before an announcement is lost.
      view.remember('jti-back', NOT_REVOKED, Date.now() + 60_000, view.generation);
      expect(await until(() => view.ready)).toBe(true);
      expect(view.lookup('jti-back', Date.now())).toBeUndefined();
    });
  });
});
