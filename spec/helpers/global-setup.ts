/**
 * Jest global setup: provides one Redis for the whole run through `ETK_TEST_REDIS_URL`.
 * Uses `REDIS_URL` when set (tests only touch keys under their own prefixes), else starts a private
 * redis-server, which `global-teardown.ts` stops.
 */
import { startRedisServer } from './redis-server';
import type { RedisServer } from './redis-server';

/** Where setup leaves the server it started, for teardown (same process). */
export const SERVER_SLOT = '__etkTestRedisServer';

export default async function globalSetup(): Promise<void> {
  const external = process.env.REDIS_URL;
  if (external !== undefined && external !== '') {
    process.env.ETK_TEST_REDIS_URL = external;
    return;
  }
  const server: RedisServer = await startRedisServer();
  (globalThis as Record<string, unknown>)[SERVER_SLOT] = server;
  process.env.ETK_TEST_REDIS_URL = server.url;
}
