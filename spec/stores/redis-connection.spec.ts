import type { Cluster, Redis } from 'ioredis';
import { waitForReady } from '../../lib/stores/redis-client';
import {
  createRedisConnectionFromEnv,
  parseEndpoints,
  parseRedisEnv,
  type RedisConnection,
} from '../../lib/stores/redis-connection';
import { testRedisUrl } from '../helpers/redis';

/** Nothing listens on port 1; connections fail at once and the tests close them. */
const quick = { redisOptions: { disconnectTimeout: 50 } };

describe('parseRedisEnv', () => {
  describe('when no variable is set', () => {
    it.each([{}, { REDIS_URL: '' }, { REDIS_URL: '  ', REDIS_CLUSTER_NODES: '' }])(
      'returns null for %p',
      (env) => {
        expect(parseRedisEnv(env)).toBeNull();
      },
    );
  });

  describe('when the values are well formed', () => {
    it.each([
      [{ REDIS_URL: 'redis://127.0.0.1:6380/2' }, { kind: 'standalone', url: 'redis://127.0.0.1:6380/2' }],
      [
        { REDIS_URL: 'rediss://u:p@cache.example:6380' },
        { kind: 'standalone', url: 'rediss://u:p@cache.example:6380' },
      ],
      [
        { REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,redis-3.internal:7002' },
        {
          kind: 'cluster',
          nodes: [
            { host: '10.0.0.1', port: 7000 },
            { host: '10.0.0.2', port: 7001 },
            { host: 'redis-3.internal', port: 7002 },
          ],
        },
      ],
      [{ REDIS_CLUSTER_NODES: '[::1]:7000' }, { kind: 'cluster', nodes: [{ host: '::1', port: 7000 }] }],
      [
        { REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster' },
        {
          kind: 'sentinel',
          name: 'mymaster',
          sentinels: [
            { host: 's1', port: 26379 },
            { host: 's2', port: 26379 },
          ],
        },
      ],
    ])('parses %p', (env, expected) => {
      expect(parseRedisEnv(env)).toEqual(expected);
    });

    it('keeps REDIS_URL beside Cluster or Sentinel for its credentials', () => {
      const parsed = parseRedisEnv({ REDIS_URL: 'rediss://:secret@x/3', REDIS_CLUSTER_NODES: 'a:1' });
      expect(parsed).toMatchObject({ kind: 'cluster' });
      expect(parsed?.kind === 'cluster' && parsed.url?.password).toBe('secret');
    });
  });

  describe('when a value is malformed', () => {
    it.each([
      [{ REDIS_URL: 'not a url' }, /REDIS_URL/],
      [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL.*http:/],
      [{ REDIS_URL: 'redis://' }, /REDIS_URL/],
      [{ REDIS_CLUSTER_NODES: 'a:1,,b:2' }, /REDIS_CLUSTER_NODES.*entry 2/],
      [{ REDIS_CLUSTER_NODES: 'a' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: 'a:0' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: 'a:65536' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: 'a:12x' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: 'redis://a:1' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_CLUSTER_NODES: '::1:7000' }, /REDIS_CLUSTER_NODES/],
      [{ REDIS_SENTINELS: 's1:26379' }, /REDIS_SENTINEL_NAME/],
      [{ REDIS_SENTINEL_NAME: 'mymaster' }, /REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 's1:1', REDIS_SENTINEL_NAME: 'my master' }, /REDIS_SENTINEL_NAME/],
      [
        { REDIS_SENTINELS: 's1:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'a:1' },
        /REDIS_CLUSTER_NODES and REDIS_SENTINELS/,
      ],
    ])('throws a TypeError naming the variable for %p', (env, message) => {
      expect(() => parseRedisEnv(env)).toThrow(TypeError);
      expect(() => parseRedisEnv(env)).toThrow(message);
    });
  });
});

describe('parseEndpoints', () => {
  it('names the variable it was given', () => {
    expect(() => parseEndpoints('MY_NODES', 'x')).toThrow(/MY_NODES/);
  });
});

describe('createRedisConnectionFromEnv', () => {
  const opened: RedisConnection[] = [];
  const open = (env: NodeJS.ProcessEnv, options = {}): RedisConnection => {
    const connection = createRedisConnectionFromEnv(env, { ...quick, ...options });
    if (connection === null) throw new Error('expected a connection');
    opened.push(connection);
    return connection;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
  });

  describe('when no variable is set', () => {
    it('returns null', () => {
      expect(createRedisConnectionFromEnv({})).toBeNull();
    });
  });

  describe('when REDIS_URL is set', () => {
    it('connects a fail-fast standalone client', async () => {
      const connection = open({ REDIS_URL: testRedisUrl() }, { commandTimeoutMs: 300 });
      expect(connection.kind).toBe('standalone');
      const client = connection.client as Redis;
      expect(client.options).toMatchObject({
        commandTimeout: 300,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      });
      expect(client.listenerCount('error')).toBe(1);
      await waitForReady(client, 5000);
      await expect(client.ping()).resolves.toBe('PONG');
      await connection.close();
      await connection.close();
      expect(client.status).toBe('end');
    });
  });

  describe('when REDIS_CLUSTER_NODES is set', () => {
    it('builds a Cluster with the fail-fast settings on every node', () => {
      const connection = open(
        { REDIS_CLUSTER_NODES: '127.0.0.1:1,127.0.0.1:2', REDIS_URL: 'redis://user:pa%40ss@ignored:9' },
        { commandTimeoutMs: 250, maxReconnectDelayMs: 300 },
      );
      expect(connection.kind).toBe('cluster');
      const cluster = connection.client as Cluster;
      expect(cluster.isCluster).toBe(true);
      expect(cluster.options).toMatchObject({
        enableOfflineQueue: false,
        redisOptions: {
          commandTimeout: 250,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          username: 'user',
          password: 'pa@ss',
        },
      });
      expect(cluster.options.clusterRetryStrategy?.(100)).toBe(300);
      expect(cluster.listenerCount('error')).toBe(1);
      expect(cluster.listenerCount('node error')).toBe(1);
    });
  });

  describe('when REDIS_SENTINELS is set', () => {
    it('builds a Redis that asks the sentinels for the primary', () => {
      const connection = open({
        REDIS_SENTINELS: '127.0.0.1:1',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_URL: 'redis://:pw@ignored/4',
      });
      expect(connection.kind).toBe('sentinel');
      expect((connection.client as Redis).options).toMatchObject({
        sentinels: [{ host: '127.0.0.1', port: 1 }],
        name: 'mymaster',
        role: 'master',
        password: 'pw',
        db: 4,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
      });
    });
  });

  describe('when given a bad option', () => {
    it('throws a RangeError naming it', () => {
      expect(() => createRedisConnectionFromEnv({ REDIS_URL: 'redis://x' }, { commandTimeoutMs: 0 })).toThrow(
        /createRedisConnectionFromEnv: commandTimeoutMs/,
      );
    });

    it('throws a TypeError for a missing env', () => {
      expect(() => createRedisConnectionFromEnv(undefined as unknown as NodeJS.ProcessEnv)).toThrow(
        TypeError,
      );
    });
  });
});
