/**
 * Test access to the run's Redis (`ETK_TEST_REDIS_URL`, see global-setup.ts), under a key prefix of
 * the test file's own.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';

/** A connection to the test Redis and a key prefix nobody else uses. */
export interface TestRedis {
  readonly client: Redis;
  /** Unique per call, e.g. `etk-test:contract:1a2b3c4d:`. */
  readonly prefix: string;
  /** Opens another connection (closed by `cleanup`). */
  connect(): Promise<Redis>;
  /** Deletes the keys under `prefix` (never anything else) and closes the connections. */
  cleanup(): Promise<void>;
}

/** The URL of the run's Redis; throws when the tests were not started through jest. */
export function testRedisUrl(): string {
  const url = process.env.ETK_TEST_REDIS_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'ETK_TEST_REDIS_URL is not set: run the tests through jest (spec/helpers/global-setup.ts)',
    );
  }
  return url;
}

/** Keys matching `prefix*` (the prefix must not contain glob characters). */
export async function keysWithPrefix(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under `prefix`. */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
}

/** Connects to the test Redis with a fresh key prefix built from `prefixHint`. */
export async function connectTestRedis(prefixHint: string): Promise<TestRedis> {
  const url = testRedisUrl();
  const hint = prefixHint.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const prefix = `etk-test:${hint}:${randomBytes(4).toString('hex')}:`;
  const clients: Redis[] = [];
  const connect = async (): Promise<Redis> => {
    const client = createRedisClient({ url, commandTimeoutMs: 2000 });
    clients.push(client);
    await waitForReady(client, 5000);
    return client;
  };
  const client = await connect();
  return {
    client,
    prefix,
    connect,
    async cleanup() {
      try {
        await deleteKeysWithPrefix(client, prefix);
      } finally {
        for (const c of clients) c.disconnect();
      }
    },
  };
}
