import net from 'node:net';
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../lib/errors';
import {
  checkEvictionPolicy,
  createRedisClient,
  reconnectDelay,
  waitForReady,
} from '../../lib/stores/redis-client';
import type { CredentialStore } from '../../lib/stores/credential-store';
import { RedisCredentialStore } from '../../lib/stores/redis-credential-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { connectTestRedis, deleteKeysWithPrefix, keysWithPrefix } from '../helpers/redis';
import type { TestRedis } from '../helpers/redis';
import { startRedisServer } from '../helpers/redis-server';
import type { RedisServer } from '../helpers/redis-server';
import {
  describeCredentialStoreContract,
  describeTokenStoreContract,
  type CredentialStoreHarnessFactory,
  type StoreHarnessFactory,
} from '../../lib/testing';

/** Credential keys are configuration and carry no TTL; everything else must. */
const CONFIG_KEY = /^(cred|cidx|cset):/;

async function keysWithoutTtl(client: Redis, prefix: string): Promise<string[]> {
  const missing: string[] = [];
  for (const key of await keysWithPrefix(client, prefix)) {
    if (CONFIG_KEY.test(key.slice(prefix.length))) continue;
    if ((await client.pttl(key)) < 0) missing.push(key);
  }
  return missing;
}

/** ioredis keeps a 2 s timer after disconnecting a dead stream; tests close their clients quickly. */
const quickClose = { disconnectTimeout: 50 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A local port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

const record = {
  jti: 'jti-1',
  sub: 'user-1',
  clientId: 'client-1',
  iss: 'https://issuer.test',
  aud: ['api'],
  scope: 'read',
  boundEntity: null,
  iat: 1,
  exp: 2,
  familyId: 'fam-1',
};

function family(now: number) {
  return {
    familyId: 'fam-1',
    sub: 'user-1',
    clientId: 'client-1',
    scope: 'read',
    boundEntity: null,
    createdAt: now,
    expiresAt: now + 3600,
    lastUsedAt: now,
  };
}

/**
 * The client, with `method` wrapped once: after the real command answered, `between` runs before the
 * caller sees the answer (what another instance could do between a store's read and its script).
 */
function interceptOnce(
  client: Redis,
  method: 'get' | 'mget' | 'hmget' | 'smembers',
  between: () => Promise<unknown>,
): Redis {
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

let redis: TestRedis;
let twinClient: Redis;
let storeCount = 0;

beforeAll(async () => {
  redis = await connectTestRedis('redis-token-store');
  twinClient = await redis.connect();
});

afterAll(() => redis.cleanup());

const harness: StoreHarnessFactory = async () => {
  const keyPrefix = `${redis.prefix}${++storeCount}:`;
  const store = new RedisTokenStore({ client: redis.client, keyPrefix });
  return {
    store,
    twin: new RedisTokenStore({ client: twinClient, keyPrefix }),
    now: () => Date.now() / 1000,
    advance: (seconds) => sleep(seconds * 1000 + 100),
    keysWithoutTtl: () => keysWithoutTtl(redis.client, keyPrefix),
    async cleanup() {
      await store.close();
      await deleteKeysWithPrefix(redis.client, keyPrefix);
    },
  };
};

describeTokenStoreContract('RedisTokenStore', harness);

/** A credential store over the test Redis, under a fresh prefix, with a twin on a second connection. */
function credentialHarness(
  make: (client: Redis, keyPrefix: string) => CredentialStore,
): CredentialStoreHarnessFactory {
  return async () => {
    const keyPrefix = `${redis.prefix}${++storeCount}:`;
    const store = make(redis.client, keyPrefix);
    return {
      store,
      twin: make(twinClient, keyPrefix),
      async cleanup() {
        await store.close();
        await deleteKeysWithPrefix(redis.client, keyPrefix);
      },
    };
  };
}

describeCredentialStoreContract(
  'RedisCredentialStore',
  credentialHarness((client, keyPrefix) => new RedisCredentialStore({ client, keyPrefix })),
);
describeCredentialStoreContract(
  'RedisTokenStore as a CredentialStore',
  credentialHarness((client, keyPrefix) => new RedisTokenStore({ client, keyPrefix })),
);

describe('RedisTokenStore', () => {
  let keyPrefix: string;
  let store: RedisTokenStore;

  beforeEach(() => {
    keyPrefix = `${redis.prefix}${++storeCount}:`;
    store = new RedisTokenStore({ client: redis.client, keyPrefix });
  });

  afterEach(() => deleteKeysWithPrefix(redis.client, keyPrefix));

  describe('when it has written one of every token key', () => {
    it('has a TTL on each of them, and stores no credential key without need', async () => {
      const now = Date.now() / 1000;
      await store.saveAccessToken('at-hash', record, 60);
      await store.revokeJti('jti-1', 60);
      await store.revokeFamily('fam-2', 60);
      await store.setCutoff('subject', 'user-2', Math.floor(now * 1000), 60);
      await store.setCutoff('client', 'client-2', Math.floor(now * 1000), 60);
      await store.createRefreshFamily(family(now), 'rt-1');
      await store.rotateRefreshToken({
        familyId: 'fam-1',
        presentedHash: 'rt-1',
        nextHash: 'rt-2',
        now,
        idleSeconds: 60,
      });
      await store.rotateRefreshToken({
        familyId: 'fam-1',
        presentedHash: 'rt-1',
        nextHash: 'rt-3',
        now,
        idleSeconds: 60,
      });
      const keys = (await keysWithPrefix(redis.client, keyPrefix))
        .map((k) => k.slice(keyPrefix.length))
        .sort();
      expect(keys).toEqual([
        'at:at-hash',
        'cc:client-2',
        'cs:user-2',
        'fam:{fam-1}',
        'rf:{fam-1}',
        'rf:{fam-2}',
        'rj:jti-1',
      ]);
      await expect(keysWithoutTtl(redis.client, keyPrefix)).resolves.toEqual([]);
    });
  });

  describe('when a rotation sets an idle deadline', () => {
    it('expires the family key at the idle deadline, never after the absolute expiry', async () => {
      const now = Date.now() / 1000;
      await store.createRefreshFamily({ ...family(now), expiresAt: now + 100 }, 'rt-1');
      await store.rotateRefreshToken({
        familyId: 'fam-1',
        presentedHash: 'rt-1',
        nextHash: 'rt-2',
        now,
        idleSeconds: 30,
      });
      const idleTtl = await redis.client.pttl(`${keyPrefix}fam:{fam-1}`);
      expect(idleTtl).toBeGreaterThan(20_000);
      expect(idleTtl).toBeLessThanOrEqual(30_000);
      await store.rotateRefreshToken({
        familyId: 'fam-1',
        presentedHash: 'rt-2',
        nextHash: 'rt-3',
        now,
        idleSeconds: 1000,
      });
      expect(await redis.client.pttl(`${keyPrefix}fam:{fam-1}`)).toBeLessThanOrEqual(100_000);
    });
  });

  describe('when the script cache is flushed', () => {
    it('keeps answering through EVAL', async () => {
      await store.saveAccessToken('at-hash', record, 60);
      await expect(store.lookupAccessToken('at-hash')).resolves.toMatchObject({ record });
      await redis.client.script('FLUSH');
      await expect(store.lookupAccessToken('at-hash')).resolves.toMatchObject({ record });
      await redis.client.script('FLUSH');
      await expect(store.checkRevocation({ jti: 'j', subject: 's', clientId: 'c' })).resolves.toMatchObject({
        jtiRevoked: false,
      });
    });
  });

  describe('when the data a script depends on changes between the store reading it and the script', () => {
    const other = () => new RedisTokenStore({ client: redis.client, keyPrefix });
    const on = (method: 'get' | 'mget' | 'hmget' | 'smembers', between: () => Promise<unknown>) =>
      new RedisTokenStore({ client: interceptOnce(redis.client, method, between), keyPrefix });

    it('createCredential sees an index key taken in between', async () => {
      const racing = on('mget', () => other().createCredential('api_key', 'b', { n: 2 }, ['h']));
      await expect(racing.createCredential('api_key', 'a', { n: 1 }, ['h'])).resolves.toBe(false);
      await expect(store.getCredential('api_key', 'a')).resolves.toBeNull();
      await expect(store.findCredential('api_key', 'h')).resolves.toMatchObject({ id: 'b' });
    });

    it('replaceCredential sees an added index key taken in between', async () => {
      await store.createCredential('api_key', 'a', { n: 1 }, ['ha']);
      const racing = on('mget', () => other().createCredential('api_key', 'b', { n: 2 }, ['hb']));
      await expect(racing.replaceCredential('api_key', 'a', 1, { n: 3 }, ['ha'], ['hb'])).resolves.toBeNull();
      await expect(store.getCredential('api_key', 'a')).resolves.toMatchObject({
        version: 1,
        data: { n: 1 },
      });
      await expect(store.findCredential('api_key', 'hb')).resolves.toMatchObject({ id: 'b' });
      await expect(store.findCredential('api_key', 'ha')).resolves.toMatchObject({ id: 'a' });
    });

    it('findCredential answers the credential the index key points at after the change', async () => {
      await store.createCredential('api_key', 'a', { n: 1 }, ['h']);
      const racing = on('get', async () => {
        await other().deleteCredential('api_key', 'a', ['h']);
        await other().createCredential('api_key', 'b', { n: 2 }, ['h']);
      });
      await expect(racing.findCredential('api_key', 'h')).resolves.toEqual({
        id: 'b',
        version: 1,
        data: { n: 2 },
      });
    });

    it('listCredentials lists a credential created in between', async () => {
      await store.createCredential('user', 'a', { n: 1 }, []);
      const racing = on('smembers', () => other().createCredential('user', 'b', { n: 2 }, []));
      const ids = (await racing.listCredentials('user')).map((r) => r.id).sort();
      expect(ids).toEqual(['a', 'b']);
    });

    it("rotateRefreshToken checks the cut-offs of the family's owner, not of the one it read", async () => {
      const now = Math.floor(Date.now() / 1000);
      await store.createRefreshFamily(family(now), 'rt-1');
      await store.setCutoff('subject', 'user-2', now * 1000 + 500, 60);
      // The family is replaced by one of another subject, covered by that subject's cut-off.
      const racing = on('hmget', () =>
        other().createRefreshFamily({ ...family(now), sub: 'user-2', createdAtMs: now * 1000 }, 'rt-1'),
      );
      await expect(
        racing.rotateRefreshToken({
          familyId: 'fam-1',
          presentedHash: 'rt-1',
          nextHash: 'rt-2',
          now,
          idleSeconds: 60,
        }),
      ).resolves.toEqual({ status: 'revoked' });
    });
  });

  describe('when a key holds a value of the wrong type or a corrupt value', () => {
    const query = { jti: 'jti-1', subject: 'user-1', clientId: 'client-1', familyId: 'fam-1' };
    const cases: [string, (p: string) => Promise<unknown>, (s: RedisTokenStore) => Promise<unknown>][] = [
      ['a list as access token', (p) => redis.client.rpush(`${p}at:h`, 'x'), (s) => s.lookupAccessToken('h')],
      [
        'unparsable access token JSON',
        (p) => redis.client.set(`${p}at:h`, '{nope', 'EX', 60),
        (s) => s.lookupAccessToken('h'),
      ],
      [
        'an access token record of the wrong shape',
        (p) => redis.client.set(`${p}at:h`, JSON.stringify({ ...record, aud: 'api' }), 'EX', 60),
        (s) => s.lookupAccessToken('h'),
      ],
      [
        'a hash as jti denylist entry',
        (p) => redis.client.hset(`${p}rj:jti-1`, 'a', '1'),
        (s) => s.checkRevocation(query),
      ],
      [
        'a set as family marker',
        (p) => redis.client.sadd(`${p}rf:{fam-1}`, 'a'),
        (s) => s.checkRevocation(query),
      ],
      [
        'a non-numeric subject cut-off',
        (p) => redis.client.set(`${p}cs:user-1`, 'soon', 'EX', 60),
        (s) => s.checkRevocation(query),
      ],
      [
        'a non-numeric cut-off during a lookup',
        async (p) => {
          await redis.client.set(`${p}at:h`, JSON.stringify(record), 'EX', 60);
          await redis.client.set(`${p}cc:client-1`, 'x', 'EX', 60);
        },
        (s) => s.lookupAccessToken('h'),
      ],
      [
        'a non-numeric cut-off being raised',
        (p) => redis.client.set(`${p}cs:u`, 'x', 'EX', 60),
        (s) => s.setCutoff('subject', 'u', 1_700_000_000_000, 60),
      ],
      [
        'a family hash missing fields',
        (p) => redis.client.hset(`${p}fam:{fam-1}`, 'cur', 'rt-1'),
        (s) =>
          s.rotateRefreshToken({
            familyId: 'fam-1',
            presentedHash: 'rt-1',
            nextHash: 'rt-2',
            now: 1,
            idleSeconds: 60,
          }),
      ],
      [
        'a string as family',
        (p) => redis.client.set(`${p}fam:{fam-1}`, 'x', 'EX', 60),
        (s) => s.inspectRefreshToken('fam-1', 'rt-1', 1),
      ],
      [
        'unparsable credential data',
        (p) => redis.client.hset(`${p}cred:{api_key}:k`, 'v', '1', 'd', '{'),
        (s) => s.getCredential('api_key', 'k'),
      ],
      [
        'a string as credential set',
        (p) => redis.client.set(`${p}cset:{user}`, 'x'),
        (s) => s.listCredentials('user'),
      ],
    ];

    it.each(cases)('rejects with StoreUnavailableError for %s', async (_, corrupt, call) => {
      await corrupt(keyPrefix);
      await expect(call(store)).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  describe('when a cut-off was written in whole seconds by an older version', () => {
    it('covers that whole second, and a later cut-off in milliseconds replaces it', async () => {
      const second = Math.floor(Date.now() / 1000);
      await redis.client.set(`${keyPrefix}cs:user-1`, String(second), 'EX', 60);
      const query = { jti: 'jti-1', subject: 'user-1', clientId: 'client-1' };
      await expect(store.checkRevocation(query)).resolves.toMatchObject({
        subjectCutoffMs: second * 1000 + 999,
      });
      await store.createRefreshFamily({ ...family(second), createdAtMs: second * 1000 + 998 }, 'rt-1');
      await expect(store.inspectRefreshToken('fam-1', 'rt-1', second)).resolves.toMatchObject({
        active: false,
      });
      await store.setCutoff('subject', 'user-1', second * 1000 + 500, 60);
      await expect(store.checkRevocation(query)).resolves.toMatchObject({
        subjectCutoffMs: second * 1000 + 999,
      });
      await store.setCutoff('subject', 'user-1', second * 1000 + 1500, 60);
      await expect(store.checkRevocation(query)).resolves.toMatchObject({
        subjectCutoffMs: second * 1000 + 1500,
      });
      await expect(redis.client.get(`${keyPrefix}cs:user-1`)).resolves.toBe(String(second * 1000 + 1500));
    });
  });

  describe('when two stores use different key prefixes', () => {
    it('keeps their revocations and records apart', async () => {
      const other = new RedisTokenStore({ client: redis.client, keyPrefix: `${keyPrefix}other:` });
      const query = { jti: 'jti-1', subject: 'user-1', clientId: 'client-1', familyId: 'fam-1' };
      await other.revokeJti('jti-1', 60);
      await other.revokeFamily('fam-1', 60);
      await other.setCutoff('subject', 'user-1', 1_700_000_000_000, 60);
      await other.saveAccessToken('at-hash', record, 60);
      await expect(store.checkRevocation(query)).resolves.toEqual({
        jtiRevoked: false,
        familyRevoked: false,
        subjectCutoffMs: null,
        clientCutoffMs: null,
      });
      await expect(store.lookupAccessToken('at-hash')).resolves.toMatchObject({ record: null });
      await expect(other.checkRevocation(query)).resolves.toMatchObject({
        jtiRevoked: true,
        familyRevoked: true,
      });
    });
  });

  describe('when closed', () => {
    it('leaves the injected client open', async () => {
      await store.close();
      expect(redis.client.status).toBe('ready');
      await expect(redis.client.ping()).resolves.toBe('PONG');
    });
  });

  describe('when waitForReplicas asks for a replica the server does not have', () => {
    it('fails closed on revocation and rotation writes, and still answers reads', async () => {
      const waiting = new RedisTokenStore({
        client: redis.client,
        keyPrefix,
        waitForReplicas: { replicas: 1, timeoutMs: 20 },
      });
      const now = Date.now() / 1000;
      await waiting.createRefreshFamily(family(now), 'rt-1');
      const writes: [string, () => Promise<unknown>][] = [
        ['revokeJti', () => waiting.revokeJti('jti-1', 60)],
        ['revokeFamily', () => waiting.revokeFamily('fam-2', 60)],
        ['setCutoff', () => waiting.setCutoff('client', 'c', Math.floor(now * 1000), 60)],
        ['createCredential', () => waiting.createCredential('api_key', 'k', {}, ['h'])],
        [
          'rotateRefreshToken',
          () =>
            waiting.rotateRefreshToken({
              familyId: 'fam-1',
              presentedHash: 'rt-1',
              nextHash: 'rt-2',
              now,
              idleSeconds: 60,
            }),
        ],
      ];
      const outcomes: [string, string][] = [];
      for (const [name, write] of writes) {
        const outcome = await write().then(
          () => 'ok',
          (e: unknown) => (e instanceof StoreUnavailableError ? 'unavailable' : String(e)),
        );
        outcomes.push([name, outcome]);
      }
      expect(outcomes).toEqual(writes.map(([name]) => [name, 'unavailable']));
      // The write did land on the primary: revocations are idempotent, and the unacknowledged
      // rotation left rt-2 current (a client retrying rt-1 is what the grace window is for).
      await expect(
        waiting.checkRevocation({ jti: 'jti-1', subject: 's', clientId: 'c' }),
      ).resolves.toMatchObject({
        jtiRevoked: true,
        clientCutoffMs: Math.floor(now * 1000),
      });
      // Outcomes that write nothing do not wait.
      await expect(
        waiting.rotateRefreshToken({
          familyId: 'nope',
          presentedHash: 'a',
          nextHash: 'b',
          now,
          idleSeconds: 60,
        }),
      ).resolves.toEqual({ status: 'not_found' });
      await expect(waiting.createCredential('api_key', 'k', {}, ['h'])).resolves.toBe(false);
    });
  });

  describe('when given a bad option', () => {
    it.each([
      ['a keyPrefix with a brace', { keyPrefix: 'etk:{x}:' }, TypeError],
      ['zero replicas', { waitForReplicas: { replicas: 0, timeoutMs: 100 } }, RangeError],
      ['a zero WAIT timeout', { waitForReplicas: { replicas: 1, timeoutMs: 0 } }, RangeError],
      ['a fractional WAIT timeout', { waitForReplicas: { replicas: 1, timeoutMs: 1.5 } }, RangeError],
    ] as const)('throws for %s', (_, options, type) => {
      expect(() => new RedisTokenStore({ client: redis.client, ...options })).toThrow(type);
    });
  });

  describe('when constructed without an ioredis client', () => {
    it('throws a TypeError', () => {
      expect(() => new RedisTokenStore({ client: {} as Redis })).toThrow(TypeError);
    });
  });
});

describe('RedisTokenStore', () => {
  describe('when Redis refuses connections', () => {
    let client: Redis;
    let store: RedisTokenStore;

    beforeAll(async () => {
      client = createRedisClient({
        url: `redis://127.0.0.1:${await closedPort()}`,
        commandTimeoutMs: 200,
        redisOptions: quickClose,
      });
      store = new RedisTokenStore({ client });
    });

    afterAll(() => client.disconnect());

    const calls: [string, (s: RedisTokenStore) => Promise<unknown>][] = [
      ['lookupAccessToken', (s) => s.lookupAccessToken('h')],
      ['checkRevocation', (s) => s.checkRevocation({ jti: 'j', subject: 's', clientId: 'c', familyId: 'f' })],
      ['saveAccessToken', (s) => s.saveAccessToken('h', record, 60)],
      ['revokeJti', (s) => s.revokeJti('j', 60)],
      ['revokeFamily', (s) => s.revokeFamily('f', 60)],
      ['setCutoff', (s) => s.setCutoff('client', 'c', 1_700_000_000_000, 60)],
      ['createRefreshFamily', (s) => s.createRefreshFamily(family(1), 'rt')],
      [
        'rotateRefreshToken',
        (s) =>
          s.rotateRefreshToken({ familyId: 'f', presentedHash: 'a', nextHash: 'b', now: 1, idleSeconds: 1 }),
      ],
      ['inspectRefreshToken', (s) => s.inspectRefreshToken('f', 'a', 1)],
      ['createCredential', (s) => s.createCredential('api_key', 'k', {}, ['h'])],
      ['getCredential', (s) => s.getCredential('api_key', 'k')],
      ['findCredential', (s) => s.findCredential('api_key', 'h')],
      ['listCredentials', (s) => s.listCredentials('api_key')],
      ['replaceCredential', (s) => s.replaceCredential('api_key', 'k', 1, {}, [], [])],
      ['deleteCredential', (s) => s.deleteCredential('api_key', 'k', [])],
    ];

    it.each(calls)(
      'rejects %s with StoreUnavailableError at once',
      async (_, call) => {
        await expect(call(store)).rejects.toBeInstanceOf(StoreUnavailableError);
      },
      1000,
    );
  });

  describe('when its private Redis crashes, stalls and comes back', () => {
    let server: RedisServer;
    let client: Redis;
    let store: RedisTokenStore;

    beforeAll(async () => {
      server = await startRedisServer();
      client = createRedisClient({
        url: server.url,
        commandTimeoutMs: 200,
        maxReconnectDelayMs: 100,
        redisOptions: quickClose,
      });
      await waitForReady(client, 5000);
      store = new RedisTokenStore({ client });
    });

    afterAll(async () => {
      client.disconnect();
      await server.stop();
    });

    it('fails closed while down and answers again after the restart', async () => {
      await store.revokeJti('jti-1', 60);
      await server.kill();
      await expect(
        store.checkRevocation({ jti: 'jti-1', subject: 's', clientId: 'c' }),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      await server.restart();
      await waitForReady(client, 5000);
      // A restart loses the script cache; defineCommand falls back to EVAL.
      await store.revokeJti('jti-2', 60);
      await expect(
        store.checkRevocation({ jti: 'jti-2', subject: 's', clientId: 'c' }),
      ).resolves.toMatchObject({
        jtiRevoked: true,
      });
    });

    it('rejects with StoreUnavailableError at the command timeout while Redis is paused', async () => {
      const admin = createRedisClient({ url: server.url, redisOptions: quickClose });
      try {
        await waitForReady(admin, 5000);
        await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
        await expect(store.lookupAccessToken('h')).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        admin.disconnect();
      }
    });
  });
});

describe('createRedisClient', () => {
  describe('when built with defaults', () => {
    it('configures a fail-fast client', () => {
      const client = createRedisClient({
        url: 'redis://127.0.0.1:1',
        redisOptions: { ...quickClose, enableOfflineQueue: true },
      });
      try {
        expect(client.options).toMatchObject({
          commandTimeout: 500,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          lazyConnect: false,
        });
        expect(client.listenerCount('error')).toBe(1);
      } finally {
        client.disconnect();
      }
    });
  });

  describe('when the connection keeps failing', () => {
    it('reports errors through onError at most once per interval', async () => {
      const onError = jest.fn();
      const client = createRedisClient({
        url: `redis://127.0.0.1:${await closedPort()}`,
        maxReconnectDelayMs: 20,
        onError,
        redisOptions: quickClose,
      });
      try {
        let errors = 0;
        await new Promise<void>((resolve) =>
          client.on('error', () => {
            if (++errors === 3) resolve();
          }),
        );
        expect(onError).toHaveBeenCalledTimes(1);
      } finally {
        client.disconnect();
      }
    });
  });

  describe('when given a bad option', () => {
    it.each([0, -5, Number.NaN])('throws a RangeError for commandTimeoutMs %p', (ms) => {
      expect(() => createRedisClient({ commandTimeoutMs: ms })).toThrow(RangeError);
    });
  });
});

describe('reconnectDelay', () => {
  describe('when attempts grow', () => {
    it('doubles from 50 ms and stays capped', () => {
      expect([1, 2, 3, 4, 5, 6, 7, 100, 5000].map((n) => reconnectDelay(n))).toEqual([
        50, 100, 200, 400, 800, 1600, 2000, 2000, 2000,
      ]);
    });
  });
});

describe('waitForReady', () => {
  describe('when Redis never becomes ready', () => {
    it('rejects with StoreUnavailableError after the timeout', async () => {
      const client = createRedisClient({
        url: `redis://127.0.0.1:${await closedPort()}`,
        redisOptions: quickClose,
      });
      try {
        await expect(waitForReady(client, 100)).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        client.disconnect();
      }
    });
  });
});

describe('checkEvictionPolicy', () => {
  describe('when CONFIG is allowed', () => {
    it('returns the maxmemory policy', async () => {
      await expect(checkEvictionPolicy(redis.client)).resolves.toEqual(expect.any(String));
    });
  });

  describe('when CONFIG is disabled', () => {
    it('returns null', async () => {
      const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', ''] });
      const client = createRedisClient({ url: server.url, redisOptions: quickClose });
      try {
        await waitForReady(client, 5000);
        await expect(checkEvictionPolicy(client)).resolves.toBeNull();
      } finally {
        client.disconnect();
        await server.stop();
      }
    });
  });

  describe('when Redis cannot answer', () => {
    it('rejects with StoreUnavailableError', async () => {
      const client = createRedisClient({
        url: `redis://127.0.0.1:${await closedPort()}`,
        redisOptions: quickClose,
      });
      try {
        await expect(checkEvictionPolicy(client)).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        client.disconnect();
      }
    });
  });
});
