/**
 * RedisTokenStore on a real 3-primary Redis Cluster on loopback: the whole store contract (20-way
 * refresh race across two connections included) must pass without a CROSSSLOT error.
 */
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../../lib/errors';
import { checkEvictionPolicy, waitForReady } from '../../lib/stores/redis-client';
import { createRedisConnectionFromEnv } from '../../lib/stores/redis-connection';
import type { RedisConnection } from '../../lib/stores/redis-connection';
import { RedisRevocationView } from '../../lib/stores/redis-revocation-view';
import type { CredentialStore } from '../../lib/stores/credential-store';
import { RedisCredentialStore } from '../../lib/stores/redis-credential-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { startRedisCluster, waitUntil } from '../helpers/redis-server';
import type { RedisCluster } from '../helpers/redis-server';
import {
  describeCredentialStoreContract,
  describeTokenStoreContract,
  type CredentialStoreHarnessFactory,
  type StoreHarnessFactory,
} from '../../lib/testing';

const CONFIG_KEY = /^(cred|cidx|cset):/;

let cluster: RedisCluster;
let connection: RedisConnection;
let twinConnection: RedisConnection;
let client: Cluster;
let storeCount = 0;

function connect(): RedisConnection {
  const c = createRedisConnectionFromEnv(
    { REDIS_CLUSTER_NODES: cluster.nodesEnv },
    { commandTimeoutMs: 2000, redisOptions: { disconnectTimeout: 50 } },
  );
  if (c === null || c.kind !== 'cluster') throw new Error('expected a cluster connection');
  return c;
}

/** Keys under `prefix` on every primary, with the node each lives on. */
async function keysByNode(prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of client.nodes('master')) {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    out.set(`${node.options.host ?? ''}:${node.options.port ?? ''}`, keys);
  }
  return out;
}

async function nodeOf(key: string): Promise<Redis> {
  const slot = (await client.cluster('KEYSLOT', key)) as number;
  for (const node of client.nodes('master')) {
    const ranges = (await node.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const port = node.options.port;
    if (ranges.some(([from, to, [, p]]) => slot >= from && slot <= to && p === port)) return node;
  }
  throw new Error(`no node for ${key}`);
}

async function deleteKeys(prefix: string): Promise<void> {
  for (const keys of (await keysByNode(prefix)).values()) {
    for (const key of keys) await client.del(key);
  }
}

async function keysWithoutTtl(prefix: string): Promise<string[]> {
  const missing: string[] = [];
  for (const keys of (await keysByNode(prefix)).values()) {
    for (const key of keys) {
      if (CONFIG_KEY.test(key.slice(prefix.length))) continue;
      if ((await client.pttl(key)) < 0) missing.push(key);
    }
  }
  return missing;
}

/** The cluster client, with `method` wrapped once: `between` runs after its reply, before the caller sees it. */
function interceptOnce(method: 'get' | 'mget' | 'hmget', between: () => Promise<unknown>): Cluster {
  let done = false;
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      if (prop === method && !done) {
        return async (...args: unknown[]) => {
          done = true;
          const reply = await fn.apply(target, args);
          await between();
          return reply;
        };
      }
      return fn.bind(target);
    },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  connection = connect();
  twinConnection = connect();
  client = connection.client as Cluster;
  await waitForReady(client, 10_000);
  await waitForReady(twinConnection.client, 10_000);
}, 60_000);

afterAll(async () => {
  await connection?.close();
  await twinConnection?.close();
  await cluster?.stop();
});

const harness: StoreHarnessFactory = async () => {
  const keyPrefix = `etk-cluster:${++storeCount}:`;
  const store = new RedisTokenStore({ client, keyPrefix });
  return {
    store,
    twin: new RedisTokenStore({ client: twinConnection.client, keyPrefix }),
    now: () => Date.now() / 1000,
    advance: (seconds) => sleep(seconds * 1000 + 100),
    keysWithoutTtl: () => keysWithoutTtl(keyPrefix),
    async cleanup() {
      await store.close();
      await deleteKeys(keyPrefix);
    },
  };
};

describeTokenStoreContract('RedisTokenStore on a Redis Cluster', harness);

/** A credential store on the cluster, under a fresh prefix, with a twin on a second connection. */
function credentialHarness(
  make: (client: Cluster, keyPrefix: string) => CredentialStore,
): CredentialStoreHarnessFactory {
  return async () => {
    const keyPrefix = `etk-cluster:${++storeCount}:`;
    const store = make(client, keyPrefix);
    return {
      store,
      twin: make(twinConnection.client as Cluster, keyPrefix),
      async cleanup() {
        await store.close();
        await deleteKeys(keyPrefix);
      },
    };
  };
}

describeCredentialStoreContract(
  'RedisCredentialStore on a Redis Cluster',
  credentialHarness((c, keyPrefix) => new RedisCredentialStore({ client: c, keyPrefix })),
);
describeCredentialStoreContract(
  'RedisTokenStore as a CredentialStore on a Redis Cluster',
  credentialHarness((c, keyPrefix) => new RedisTokenStore({ client: c, keyPrefix })),
);

describe('RedisTokenStore on a Redis Cluster', () => {
  let keyPrefix: string;
  let store: RedisTokenStore;

  beforeEach(() => {
    keyPrefix = `etk-cluster:x${++storeCount}:`;
    store = new RedisTokenStore({ client, keyPrefix });
  });

  afterEach(() => deleteKeys(keyPrefix));

  describe('when it writes many independent keys', () => {
    it('spreads them over every primary, and keeps each family in one slot', async () => {
      const now = Date.now() / 1000;
      for (let i = 0; i < 30; i++) {
        await store.revokeJti(`jti-${i}`, 60);
        await store.createRefreshFamily(
          {
            familyId: `fam-${i}`,
            sub: `user-${i}`,
            clientId: 'c',
            scope: '',
            boundEntity: null,
            createdAt: now,
            expiresAt: now + 60,
            lastUsedAt: now,
          },
          'rt-1',
        );
        await store.revokeFamily(`fam-${i}`, 60);
      }
      const byNode = await keysByNode(keyPrefix);
      expect([...byNode.values()].filter((keys) => keys.length > 0)).toHaveLength(3);
      for (let i = 0; i < 30; i++) {
        const familyNode = await nodeOf(`${keyPrefix}fam:{fam-${i}}`);
        const markerNode = await nodeOf(`${keyPrefix}rf:{fam-${i}}`);
        expect(markerNode.options.port).toBe(familyNode.options.port);
      }
    });
  });

  describe('when a subject cut-off lands on another node than the family', () => {
    it('refuses the rotation and the opaque token lookup sees it', async () => {
      const now = Math.floor(Date.now() / 1000);
      await store.createRefreshFamily(
        {
          familyId: 'fam-c',
          sub: 'user-c',
          clientId: 'client-c',
          scope: '',
          boundEntity: null,
          createdAt: now,
          expiresAt: now + 60,
          lastUsedAt: now,
        },
        'rt-1',
      );
      const record = {
        jti: 'jti-c',
        sub: 'user-c',
        clientId: 'client-c',
        iss: 'i',
        aud: ['a'],
        scope: '',
        boundEntity: null,
        iat: now,
        exp: now + 60,
        familyId: 'fam-c',
      };
      await store.saveAccessToken('at-c', record, 60);
      await store.setCutoff('subject', 'user-c', now * 1000, 60);
      await expect(
        store.rotateRefreshToken({
          familyId: 'fam-c',
          presentedHash: 'rt-1',
          nextHash: 'rt-2',
          now,
          idleSeconds: 60,
        }),
      ).resolves.toEqual({ status: 'revoked' });
      await expect(store.lookupAccessToken('at-c')).resolves.toMatchObject({
        record,
        state: { subjectCutoffMs: now * 1000 },
      });
      await expect(store.inspectRefreshToken('fam-c', 'rt-1', now)).resolves.toMatchObject({ active: false });
    });
  });

  describe('when the data a script depends on changes between the store reading it and the script', () => {
    it("checks the cut-offs of the family's owner, not of the one it read", async () => {
      const now = Math.floor(Date.now() / 1000);
      const fam = {
        familyId: 'fam-o',
        sub: 'user-1',
        clientId: 'client-o',
        scope: '',
        boundEntity: null,
        createdAt: now,
        createdAtMs: now * 1000,
        expiresAt: now + 60,
        lastUsedAt: now,
      };
      await store.createRefreshFamily(fam, 'rt-1');
      await store.setCutoff('subject', 'user-2', now * 1000 + 500, 60);
      const racing = new RedisTokenStore({
        client: interceptOnce('hmget', () => store.createRefreshFamily({ ...fam, sub: 'user-2' }, 'rt-1')),
        keyPrefix,
      });
      await expect(
        racing.rotateRefreshToken({
          familyId: 'fam-o',
          presentedHash: 'rt-1',
          nextHash: 'rt-2',
          now,
          idleSeconds: 60,
        }),
      ).resolves.toEqual({ status: 'revoked' });
    });

    it('sees a credential index key taken in between', async () => {
      const racing = new RedisTokenStore({
        client: interceptOnce('mget', () => store.createCredential('api_key', 'b', { n: 2 }, ['h'])),
        keyPrefix,
      });
      await expect(racing.createCredential('api_key', 'a', { n: 1 }, ['h'])).resolves.toBe(false);
      await expect(store.findCredential('api_key', 'h')).resolves.toMatchObject({ id: 'b' });
    });
  });

  describe('when a family hash is missing its subject and client', () => {
    it('fails closed on rotation, as on a single Redis', async () => {
      await client.hset(`${keyPrefix}fam:{fam-x}`, 'cur', 'rt-1');
      await expect(
        store.rotateRefreshToken({
          familyId: 'fam-x',
          presentedHash: 'rt-1',
          nextHash: 'rt-2',
          now: 1,
          idleSeconds: 60,
        }),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  describe('when waitForReplicas asks for a replica the cluster does not have', () => {
    it('runs WAIT on the node of the written key and fails closed', async () => {
      const waiting = new RedisTokenStore({
        client,
        keyPrefix,
        waitForReplicas: { replicas: 1, timeoutMs: 20 },
      });
      for (const write of [
        () => waiting.revokeJti('jti-w', 60),
        () => waiting.revokeFamily('fam-w', 60),
        () => waiting.setCutoff('subject', 'user-w', 1_700_000_000_000, 60),
      ]) {
        const err = await write().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect((err as Error).message).toMatch(/acknowledged by 0 of 1 replicas/);
      }
    });
  });

  describe('checkEvictionPolicy', () => {
    it('asks every primary', async () => {
      await expect(checkEvictionPolicy(client)).resolves.toBe('noeviction');
      const victim = client.nodes('master')[1]!;
      await victim.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        await expect(checkEvictionPolicy(client)).resolves.toBe('allkeys-lru');
      } finally {
        await victim.config('SET', 'maxmemory-policy', 'noeviction');
      }
    });
  });

  describe('RedisRevocationView', () => {
    const NOT_REVOKED = {
      jtiRevoked: false,
      familyRevoked: false,
      subjectCutoffMs: null,
      clientCutoffMs: null,
    };
    let views: RedisRevocationView[];

    beforeEach(() => {
      views = [];
    });

    afterEach(async () => {
      await Promise.all(views.map((v) => v.close()));
    });

    async function start(on: Cluster, replica = false): Promise<RedisRevocationView> {
      const view = await RedisRevocationView.start({
        client: on,
        channel: `${keyPrefix}revocations`,
        heartbeatMs: 1000,
        replica,
      });
      views.push(view);
      expect(await waitUntil(() => view.ready, 5000, 10)).toBe(true);
      return view;
    }

    it('carries announcements between instances on different connections', async () => {
      const first = await start(client);
      const second = await start(twinConnection.client as Cluster);
      second.remember('jti-1', NOT_REVOKED, Date.now() + 60_000, second.generation);
      expect(second.lookup('jti-1', Date.now())).toEqual(NOT_REVOKED);
      const before = second.generation;
      await first.announce({ kind: 'jti', id: 'jti-1' });
      expect(await waitUntil(() => second.generation > before, 2000, 10)).toBe(true);
      expect(second.lookup('jti-1', Date.now())).toBeUndefined();
    });

    it('forgets what it knows when the cluster moves its subscription to another connection', async () => {
      const view = await start(twinConnection.client as Cluster);
      view.remember('jti-2', NOT_REVOKED, Date.now() + 60_000, view.generation);
      // Every subscriber connection is cut: ioredis subscribes again on a new one, with no event, and
      // whatever was published in between is lost. Well within 3 heartbeats (3 s) it must notice.
      for (const node of client.nodes('master')) await node.client('KILL', 'TYPE', 'pubsub');
      expect(await waitUntil(() => !view.ready, 1500, 5)).toBe(true);
      expect(view.lookup('jti-2', Date.now())).toBeUndefined();
      // Trusted again once its own heartbeat comes back on the new connection.
      expect(await waitUntil(() => view.ready, 5000, 10)).toBe(true);
    });

    describe('as a replica', () => {
      const query = (jti: string) => ({ jti, subject: 'cluster-s', clientId: 'cluster-c' });

      it('answers for a jti revoked through the store on another connection, never seen before', async () => {
        const replica = await start(twinConnection.client as Cluster, true);
        expect(replica.check(query('jti-r1'))).toEqual(NOT_REVOKED);
        await store.revokeJti('jti-r1', 60);
        expect(await waitUntil(() => replica.check(query('jti-r1'))?.jtiRevoked === true, 5000, 10)).toBe(
          true,
        );
      });

      it('resyncs after the cluster moves its subscription, with what was revoked meanwhile', async () => {
        const replica = await start(twinConnection.client as Cluster, true);
        for (const node of client.nodes('master')) await node.client('KILL', 'TYPE', 'pubsub');
        await store.revokeJti('jti-r2', 60);
        expect(await waitUntil(() => replica.check(query('jti-r2'))?.jtiRevoked === true, 8000, 10)).toBe(
          true,
        );
        expect(replica.ready).toBe(true);
      });
    });
  });
});
