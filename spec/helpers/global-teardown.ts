/**
 * Jest global teardown: stops the redis-server that global setup started, if any.
 */
import { SERVER_SLOT } from './global-setup';
import type { RedisServer } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const slot = globalThis as Record<string, unknown>;
  const server = slot[SERVER_SLOT] as RedisServer | undefined;
  if (server === undefined) return;
  slot[SERVER_SLOT] = undefined;
  await server.stop();
}
