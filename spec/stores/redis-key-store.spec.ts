/**
 * RedisKeyStore on a real redis-server (and a 3-primary Cluster): the key store contract, private
 * keys at rest, two key managers sharing keys — one scheduled step done once, changes announced
 * within a second, polling when pub/sub is down — and a store outage in the middle of a rotation.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../../lib/errors';
import { KeyEncryptionKeyError } from '../../lib/keys/kek';
import { createKeyManager, type KeyManager, type KeyManagerOptions } from '../../lib/keys/key-manager';
import { createTokenKit } from '../../lib/core/token-kit';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import { createRedisConnectionFromEnv, type RedisConnection } from '../../lib/stores/redis-connection';
import { RedisKeyStore } from '../../lib/stores/redis-key-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { describeKeyStoreContract } from '../../lib/testing';
import { connectTestRedis, testRedisUrl, type TestRedis } from '../helpers/redis';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const ISSUER = 'https://issuer.test';
const DAY = 86_400;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

function headerKid(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

describeKeyStoreContract('RedisKeyStore (standalone)', async () => {
  const redis = await connectTestRedis('key-store-contract');
  const twin = await redis.connect();
  return {
    store: new RedisKeyStore({ client: redis.client, keyPrefix: redis.prefix }),
    twin: new RedisKeyStore({ client: twin, keyPrefix: redis.prefix }),
    cleanup: () => redis.cleanup(),
  };
});

describe('RedisKeyStore on a 3-primary Cluster', () => {
  let cluster: RedisCluster;
  const connections: RedisConnection[] = [];
  let count = 0;

  function connect(): RedisConnection {
    const c = createRedisConnectionFromEnv(
      { REDIS_CLUSTER_NODES: cluster.nodesEnv },
      { commandTimeoutMs: 2000, redisOptions: { disconnectTimeout: 50 } },
    );
    if (c === null || c.kind !== 'cluster') throw new Error('expected a cluster connection');
    connections.push(c);
    return c;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    for (const c of [connect(), connect()]) await waitForReady(c.client, 10_000);
  }, 60_000);

  afterAll(async () => {
    for (const c of connections) await c.close();
    await cluster?.stop();
  });

  describeKeyStoreContract('the contract', () => {
    const keyPrefix = `etk-keys-cluster:${++count}:`;
    const [a, b] = connections as [RedisConnection, RedisConnection];
    return Promise.resolve({
      store: new RedisKeyStore({ client: a.client, keyPrefix }),
      twin: new RedisKeyStore({ client: b.client, keyPrefix }),
      async cleanup() {
        for (const suffix of ['set', 'version', 'lock']) await a.client.del(`${keyPrefix}{keys}:${suffix}`);
      },
    });
  });

  it('shares keys between two managers, rotating without a CROSSSLOT error', async () => {
    const keyPrefix = `etk-keys-cluster:${++count}:`;
    const [a, b] = connections as [RedisConnection, RedisConnection];
    const kek = randomBytes(32);
    const one = await createKeyManager({
      store: new RedisKeyStore({ client: a.client, keyPrefix }),
      kek,
      issuer: ISSUER,
      algorithm: 'ES256',
      pollEveryMs: 200,
    });
    const two = await createKeyManager({
      store: new RedisKeyStore({ client: b.client, keyPrefix }),
      kek,
      issuer: ISSUER,
      algorithm: 'ES256',
      pollEveryMs: 200,
    });
    try {
      const fresh = await one.rotate({ now: true });
      await until(() => two.keys.kids().includes(fresh.kid), 2000);
      const kit = createTokenKit({ store: new MemoryTokenStore(), keys: two.keys, issuer: ISSUER });
      const token = (await kit.tokens.issueAccessToken({ subject: 's', clientId: 'c' })).token;
      expect(headerKid(token)).toBe(fresh.kid);
    } finally {
      await one.close();
      await two.close();
    }
  }, 30_000);
});

describe('RedisKeyStore with key managers', () => {
  const kek = randomBytes(32);
  let redis: TestRedis;
  let twin: Redis;
  const managers: KeyManager[] = [];

  beforeEach(async () => {
    redis = await connectTestRedis('key-manager');
    twin = await redis.connect();
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
    await redis.cleanup();
  });

  async function manager(
    client: Redis | Cluster,
    extra: Partial<KeyManagerOptions> = {},
    subscriber?: Redis,
  ): Promise<KeyManager> {
    const m = await createKeyManager({
      store: new RedisKeyStore({ client, keyPrefix: redis.prefix, ...(subscriber ? { subscriber } : {}) }),
      kek,
      issuer: ISSUER,
      algorithm: 'ES256',
      pollEveryMs: 0,
      ...extra,
    });
    managers.push(m);
    return m;
  }

  function kitOf(m: KeyManager, now?: () => number) {
    return createTokenKit({
      store: new MemoryTokenStore(now ? { now } : {}),
      keys: m.keys,
      issuer: ISSUER,
      ...(now ? { now } : {}),
    });
  }

  describe('private keys at rest', () => {
    it('are ciphertext in Redis: no PEM, no JWK d; a wrong KEK fails with KeyEncryptionKeyError', async () => {
      const m = await manager(redis.client);
      await m.rotate();
      const raw = await redis.client.hgetall(`${redis.prefix}{keys}:set`);
      const values = Object.values(raw);
      expect(values).toHaveLength(2);
      for (const value of values) {
        expect(value).not.toMatch(/-----BEGIN|PRIVATE KEY|"d"\s*:/);
        expect((JSON.parse(value) as { sealedPrivateKey: string }).sealedPrivateKey).toMatch(/^etk-kek-v1\./);
      }
      const error = await manager(twin, { kek: randomBytes(32) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyEncryptionKeyError);
      expect((error as Error).message).toMatch(/key-encryption key/);
    });

    it('refuses a corrupt record with StoreUnavailableError rather than skipping it', async () => {
      await manager(redis.client);
      await redis.client.hset(`${redis.prefix}{keys}:set`, 'evil', '{"kid":"evil"}');
      await expect(
        new RedisKeyStore({ client: twin, keyPrefix: redis.prefix }).load(),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      await redis.client.hset(`${redis.prefix}{keys}:set`, 'evil', 'not json');
      await expect(manager(twin)).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  describe('when two managers race on one scheduled step at the same injected instant', () => {
    it('do it once: exactly one new key', async () => {
      let now = Date.UTC(2026, 0, 1);
      const clock = (): number => now;
      const a = await manager(redis.client, { clock, rotateEvery: 30 * DAY });
      const b = await manager(twin, { clock, rotateEvery: 30 * DAY });
      expect(await a.list()).toHaveLength(1);
      now += 30 * DAY * 1000 - 600_000;
      await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
      const keys = await b.list();
      expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next']);
      now += 600_000;
      await Promise.all([a.tick(), b.tick()]);
      expect((await a.list()).map((k) => k.state).sort()).toEqual(['active', 'retiring']);
    });

    it('bootstrap one key when two start on an empty store at once', async () => {
      const [a, b] = await Promise.all([manager(redis.client), manager(twin)]);
      expect(await a.list()).toHaveLength(1);
      expect(a.keys.kids()).toEqual(b.keys.kids());
    });
  });

  describe('change notification', () => {
    it('reaches the other manager within 1 s through pub/sub (no polling)', async () => {
      const a = await manager(redis.client);
      const b = await manager(twin);
      const old = (await a.list())[0]!;
      const kitB = kitOf(b);
      const oldToken = (await kitB.tokens.issueAccessToken({ subject: 's', clientId: 'c' })).token;
      const fresh = await a.rotate({ now: true });
      const took = await until(
        async () =>
          headerKid((await kitB.tokens.issueAccessToken({ subject: 's', clientId: 'c' })).token) ===
          fresh.kid,
        1000,
      );
      expect(took).toBeLessThan(1000);
      await expect(kitB.tokens.verifyAccessToken(oldToken)).resolves.toMatchObject({ subject: 's' });
      await a.retire(old.kid, { now: true });
      await until(
        async () =>
          await kitB.tokens.verifyAccessToken(oldToken).then(
            () => false,
            () => true,
          ),
        1000,
      );
      expect(b.keys.jwks().keys.map((k) => k.kid)).toEqual([fresh.kid]);
    });

    it('converges by polling within 1 s when the subscriber connection is cut', async () => {
      const url = new URL(testRedisUrl());
      const proxy: TcpProxy = await startTcpProxy(Number(url.port || 6379), url.hostname);
      const subscriber = createRedisClient({
        url: `redis://127.0.0.1:${proxy.port}`,
        commandTimeoutMs: 1000,
      });
      try {
        await waitForReady(subscriber, 5000);
        const a = await manager(redis.client);
        const b = await manager(twin, { pollEveryMs: 200 }, subscriber);
        await proxy.cut();
        const fresh = await a.rotate({ now: true });
        const took = await until(() => b.keys.kids().includes(fresh.kid), 1000);
        expect(took).toBeLessThan(1000);
        const kitB = kitOf(b);
        expect(headerKid((await kitB.tokens.issueAccessToken({ subject: 's', clientId: 'c' })).token)).toBe(
          fresh.kid,
        );
      } finally {
        await Promise.all(managers.splice(0).map((m) => m.close()));
        subscriber.disconnect();
        await proxy.close();
      }
    });
  });

  describe('when the store goes down in the middle of a rotation', () => {
    async function proxied(): Promise<{ proxy: TcpProxy; client: Redis }> {
      const url = new URL(testRedisUrl());
      const proxy = await startTcpProxy(Number(url.port || 6379), url.hostname);
      const client = createRedisClient({ url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 500 });
      await waitForReady(client, 5000);
      return { proxy, client };
    }

    it('rejects with StoreUnavailableError and leaves the old state everywhere (cut between read and commit)', async () => {
      const { proxy, client } = await proxied();
      try {
        let armed = false;
        const clock = (): number => {
          // Called by the step after it read the store, before it commits: cut the network there.
          if (armed) {
            armed = false;
            void proxy.cut();
          }
          return Date.now();
        };
        const a = await manager(client, { clock, pollEveryMs: 100 });
        const b = await manager(twin, { pollEveryMs: 100 });
        const before = await b.list();
        armed = true;
        await expect(a.rotate({ now: true })).rejects.toBeInstanceOf(StoreUnavailableError);
        await proxy.restore();
        expect(await b.list()).toEqual(before);
        expect(a.keys.kids()).toEqual(before.map((k) => k.kid));
        expect(b.keys.kids()).toEqual(before.map((k) => k.kid));
        // And the next attempt goes through on both.
        await until(() => client.status === 'ready', 5000);
        const fresh = await a.rotate({ now: true });
        await until(() => b.keys.kids().includes(fresh.kid), 2000);
      } finally {
        await Promise.all(managers.splice(0).map((m) => m.close()));
        client.disconnect();
        await proxy.close();
      }
    });

    it('lands every instance on one state when the commit reply is lost (blackhole)', async () => {
      const { proxy, client } = await proxied();
      try {
        let armed = false;
        const clock = (): number => {
          if (armed) {
            armed = false;
            void proxy.blackhole();
          }
          return Date.now();
        };
        const a = await manager(client, { clock, pollEveryMs: 100 });
        const b = await manager(twin, { pollEveryMs: 100 });
        armed = true;
        await expect(a.rotate({ now: true })).rejects.toBeInstanceOf(StoreUnavailableError);
        await proxy.restore();
        const store = new RedisKeyStore({ client: redis.client, keyPrefix: redis.prefix });
        const truth = await store.load();
        const live = truth.keys
          .filter((k) => k.state !== 'retired')
          .map((k) => k.kid)
          .sort();
        await until(() => JSON.stringify([...a.keys.kids()].sort()) === JSON.stringify(live), 5000);
        await until(() => JSON.stringify([...b.keys.kids()].sort()) === JSON.stringify(live), 5000);
        expect(truth.keys.filter((k) => k.state === 'active')).toHaveLength(1);
      } finally {
        await Promise.all(managers.splice(0).map((m) => m.close()));
        client.disconnect();
        await proxy.close();
      }
    });
  });
});
