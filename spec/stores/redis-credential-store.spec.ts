/**
 * RedisCredentialStore on the run's Redis: the key layout RedisTokenStore has always used for
 * credentials (existing data keeps working both ways), its options, failing closed, and a kit that
 * keeps its tokens in Redis and its credentials elsewhere writing no credential key to Redis. The
 * CredentialStore contract itself runs in redis-token-store.spec.ts and redis-cluster.spec.ts.
 */
import net from 'node:net';
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../lib/errors';
import { createRedisClient } from '../../lib/stores/redis-client';
import { MemoryCredentialStore } from '../../lib/stores/memory-credential-store';
import { RedisCredentialStore } from '../../lib/stores/redis-credential-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { createClock, makeKit } from '../helpers/kit';
import { connectTestRedis, deleteKeysWithPrefix, keysWithPrefix } from '../helpers/redis';
import type { TestRedis } from '../helpers/redis';

/** The credential keys of the layout: `cred:`, `cidx:` and `cset:` under the store's prefix. */
const CREDENTIAL_KEY = /^(cred|cidx|cset):/;

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

let redis: TestRedis;
let count = 0;

beforeAll(async () => {
  redis = await connectTestRedis('redis-credential-store');
});

afterAll(() => redis.cleanup());

describe('RedisCredentialStore', () => {
  let keyPrefix: string;

  beforeEach(() => {
    keyPrefix = `${redis.prefix}${++count}:`;
  });

  afterEach(() => deleteKeysWithPrefix(redis.client, keyPrefix));

  describe('when a RedisTokenStore wrote credentials under the same prefix', () => {
    it('finds them, and the token store finds what it writes', async () => {
      const tokens = new RedisTokenStore({ client: redis.client, keyPrefix });
      const credentials = new RedisCredentialStore({ client: redis.client, keyPrefix });
      await tokens.createCredential('api_key', 'k1', { name: 'a' }, ['h1']);
      await expect(credentials.findCredential('api_key', 'h1')).resolves.toEqual({
        id: 'k1',
        version: 1,
        data: { name: 'a' },
      });
      await expect(
        credentials.replaceCredential('api_key', 'k1', 1, { name: 'b' }, ['h1'], ['h2']),
      ).resolves.toEqual({ id: 'k1', version: 2, data: { name: 'b' } });
      await expect(tokens.findCredential('api_key', 'h2')).resolves.toMatchObject({ version: 2 });
      await expect(tokens.listCredentials('api_key')).resolves.toHaveLength(1);
      const keys = (await keysWithPrefix(redis.client, keyPrefix))
        .map((k) => k.slice(keyPrefix.length))
        .sort();
      expect(keys).toEqual(['cidx:{api_key}:h2', 'cred:{api_key}:k1', 'cset:{api_key}']);
    });
  });

  describe('when a kit built on a RedisTokenStore alone created an application', () => {
    it('authenticates it through a kit given a RedisCredentialStore over the same prefix', async () => {
      const store = new RedisTokenStore({ client: redis.client, keyPrefix });
      const before = (await makeKit({ store })).kit;
      const app = await before.credentials.createApplication({ name: 'a' });
      const credentialStore = new RedisCredentialStore({ client: redis.client, keyPrefix });
      const after = (await makeKit({ store, credentialStore })).kit;
      await expect(
        after.credentials.authenticateClient(app.clientId, app.clientSecret),
      ).resolves.toMatchObject({
        id: app.id,
      });
    });
  });

  describe('when a kit keeps tokens in Redis and credentials in memory', () => {
    it('writes token keys to Redis and no credential key', async () => {
      const clock = createClock();
      const store = new RedisTokenStore({ client: redis.client, keyPrefix });
      const credentialStore = new MemoryCredentialStore();
      const { kit } = await makeKit({ store, credentialStore, now: clock });
      const key = await kit.credentials.createApiKey({ name: 'k' });
      const app = await kit.credentials.createApplication({ name: 'a' });
      await kit.credentials.createProvider({ apiKeys: ['provider-key-0123456789'] });
      await kit.credentials.rotateApplication(app.id);
      const issued = await kit.grants.exchangeApiKey({
        apiKey: key.key,
        boundEntity: null,
        ttl: 60,
        prefix: 'etk_at_',
      });
      await kit.tokens.revokeSubject('user-1');
      await expect(kit.tokens.verifyAccessToken(issued.token)).resolves.toMatchObject({ clientId: key.id });
      await expect(credentialStore.listCredentials('application')).resolves.toHaveLength(1);
      const keys = (await keysWithPrefix(redis.client, keyPrefix)).map((k) => k.slice(keyPrefix.length));
      expect(keys.some((k) => k.startsWith('at:'))).toBe(true);
      expect(keys.some((k) => k.startsWith('cs:'))).toBe(true);
      expect(keys.filter((k) => CREDENTIAL_KEY.test(k))).toEqual([]);
    });
  });

  describe('when given a bad option', () => {
    it.each([
      ['a keyPrefix with a brace', { keyPrefix: 'etk:{x}:' }, TypeError],
      ['a keyPrefix that is not a string', { keyPrefix: 7 as unknown as string }, TypeError],
      ['zero replicas', { waitForReplicas: { replicas: 0, timeoutMs: 100 } }, RangeError],
      ['a zero WAIT timeout', { waitForReplicas: { replicas: 1, timeoutMs: 0 } }, RangeError],
    ] as const)('throws for %s, naming RedisCredentialStore', (_, options, type) => {
      expect(() => new RedisCredentialStore({ client: redis.client, ...options })).toThrow(type);
      expect(() => new RedisCredentialStore({ client: redis.client, ...options })).toThrow(
        /^RedisCredentialStore: /,
      );
    });

    it('throws a TypeError without an ioredis client', () => {
      expect(() => new RedisCredentialStore({ client: {} as Redis })).toThrow(
        new TypeError('RedisCredentialStore: options.client must be an ioredis Redis or Cluster client'),
      );
    });
  });

  describe('when waitForReplicas asks for a replica the server does not have', () => {
    it('fails closed on credential writes that write, and answers reads', async () => {
      const waiting = new RedisCredentialStore({
        client: redis.client,
        keyPrefix,
        waitForReplicas: { replicas: 1, timeoutMs: 20 },
      });
      await expect(waiting.createCredential('api_key', 'k', {}, ['h'])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      // The write landed on the primary; a second create writes nothing and does not wait.
      await expect(waiting.createCredential('api_key', 'k', {}, ['h'])).resolves.toBe(false);
      await expect(waiting.findCredential('api_key', 'h')).resolves.toMatchObject({ id: 'k' });
      await expect(waiting.replaceCredential('api_key', 'k', 1, {}, [], [])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(waiting.deleteCredential('api_key', 'k', ['h'])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    });
  });

  describe('when closed', () => {
    it('leaves the injected client open', async () => {
      await new RedisCredentialStore({ client: redis.client, keyPrefix }).close();
      await expect(redis.client.ping()).resolves.toBe('PONG');
    });
  });
});

describe('RedisCredentialStore', () => {
  describe('when Redis refuses connections', () => {
    let client: Redis;
    let store: RedisCredentialStore;

    beforeAll(async () => {
      client = createRedisClient({
        url: `redis://127.0.0.1:${await closedPort()}`,
        commandTimeoutMs: 200,
        redisOptions: { disconnectTimeout: 50 },
      });
      store = new RedisCredentialStore({ client });
    });

    afterAll(() => client.disconnect());

    it.each<[string, (s: RedisCredentialStore) => Promise<unknown>]>([
      ['createCredential', (s) => s.createCredential('api_key', 'k', {}, ['h'])],
      ['getCredential', (s) => s.getCredential('api_key', 'k')],
      ['findCredential', (s) => s.findCredential('api_key', 'h')],
      ['listCredentials', (s) => s.listCredentials('api_key')],
      ['replaceCredential', (s) => s.replaceCredential('api_key', 'k', 1, {}, [], [])],
      ['deleteCredential', (s) => s.deleteCredential('api_key', 'k', [])],
    ])(
      'rejects %s with StoreUnavailableError at once',
      async (_, call) => {
        await expect(call(store)).rejects.toBeInstanceOf(StoreUnavailableError);
      },
      1000,
    );
  });
});
