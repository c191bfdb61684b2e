/**
 * A token kit on a test Redis with its own revocation view (one per instance, as a deployment
 * runs them), ready before it is returned; the view is closed through `closers`.
 */
import type { Redis } from 'ioredis';
import { createTokenKit, type TokenKit, type TokenKitOptions } from '../../lib/core/token-kit';
import { RedisRevocationView } from '../../lib/stores/redis-revocation-view';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { TEST_ISSUER, testKeySet, type TestClock } from './kit';
import type { TestRedis } from './redis';

/** Options of {@link viewedKit}: the view's `replica` setting, and kit options. */
export type ViewedKitOptions = { readonly replica?: boolean } & Partial<
  Pick<TokenKitOptions, 'verifiedCacheSize' | 'verifiedDigestCacheSize'>
>;

export async function viewedKit(
  redis: TestRedis,
  closers: (() => Promise<unknown>)[],
  clock: TestClock,
  { replica, ...options }: ViewedKitOptions = {},
): Promise<TokenKit> {
  const client: Redis = await redis.connect();
  const view = await RedisRevocationView.start({
    client,
    channel: `${redis.prefix}revocations`,
    heartbeatMs: 50,
    ...(replica === undefined ? {} : { replica }),
  });
  closers.push(() => view.close());
  for (let i = 0; i < 500 && !view.ready; i++) await new Promise((r) => setTimeout(r, 10));
  expect(view.ready).toBe(true);
  return createTokenKit({
    store: new RedisTokenStore({ client, keyPrefix: redis.prefix }),
    keys: await testKeySet(),
    issuer: TEST_ISSUER,
    revocationView: view,
    now: clock.now,
    ...options,
  });
}
