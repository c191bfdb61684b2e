/**
 * Memory stays bounded: thousands of short-lived tokens issued, refreshed and revoked leave nothing
 * behind once they expire, in Redis (key count under the store's prefix) and in memory (`size()`).
 */
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { createClock, TEST_ISSUER, testKeySet } from '../helpers/kit';
import { connectTestRedis, keysWithPrefix, type TestRedis } from '../helpers/redis';
import { waitUntil } from '../helpers/redis-server';

/** Short lifetimes of `ttl` seconds: access tokens (+1 s record retention) and families (+1 s). */
function shortLifetimes(ttl: number) {
  return {
    accessTokenTtl: ttl,
    expiredRecordRetention: 1,
    maxTokenLifetime: ttl + 1,
    refreshAbsoluteTtl: ttl + 1,
    refreshIdleTtl: ttl + 1,
  } as const;
}

const SHORT = shortLifetimes(6);

/** Runs `count` tasks, `width` at a time. */
async function inBatches(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i += width) {
    await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, j) => task(i + j)));
  }
}

/**
 * 1000 opaque access tokens, 1000 refresh families each rotated once, 1000 JWTs revoked by jti:
 * 3000 short-lived tokens and every key kind they write.
 */
async function churn(kit: TokenKit, count = 1000): Promise<void> {
  await inBatches(count, 50, async (i) => {
    await kit.tokens.issueAccessToken({ subject: `user-${i}`, clientId: 'c', format: 'opaque' });
    const { refreshToken } = await kit.tokens.startRefreshFamily({ subject: `user-${i}`, clientId: 'c' });
    await kit.tokens.refresh(refreshToken);
    const jwt = await kit.tokens.issueAccessToken({ subject: `user-${i}`, clientId: 'c' });
    await kit.tokens.revokeJti(jwt.jti, jwt.expiresAt);
  });
}

describe('memory bounds', () => {
  describe('when 3000 short-lived tokens go through a Redis store', () => {
    let redis: TestRedis;

    beforeAll(async () => {
      redis = await connectTestRedis('memory-bounds');
    });

    afterAll(() => redis.cleanup());

    it('returns the key count under its prefix to the baseline once they expire', async () => {
      // Redis expires keys on its own (real) clock, so the lifetimes must outlast the churn for the
      // peak to see every key: time a tenth of the churn first (under another prefix) and give the
      // tokens three times the estimated churn, from 6 s (a quiet machine) up to 30 s (a loaded one).
      const probePrefix = `${redis.prefix.slice(0, -1)}-probe:`; // beside the prefix counted, not under it
      const probe = createTokenKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: probePrefix }),
        keys: await testKeySet(),
        issuer: TEST_ISSUER,
        ...SHORT,
      });
      const started = Date.now();
      await churn(probe, 100);
      const ttl = Math.min(30, Math.max(6, Math.ceil((3 * 10 * (Date.now() - started)) / 1000)));
      const kit = createTokenKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
        keys: await testKeySet(),
        issuer: TEST_ISSUER,
        ...shortLifetimes(ttl),
      });
      await kit.credentials.createApplication({ name: 'Baseline', organization: '1' });
      const baseline = (await keysWithPrefix(redis.client, redis.prefix)).length;
      await churn(kit);
      const peak = (await keysWithPrefix(redis.client, redis.prefix)).length;
      expect(peak).toBeGreaterThanOrEqual(baseline + 2500);
      // SCAN skips (and deletes) expired keys, so the count falls as soon as the TTLs run out.
      const drained = await waitUntil(
        async () => (await keysWithPrefix(redis.client, redis.prefix)).length === baseline,
        (ttl + 2) * 1000 + 15_000,
        250,
      );
      expect(drained).toBe(true);
    }, 120_000);
  });

  describe('when 3000 short-lived tokens go through a memory store', () => {
    it('returns its size to the baseline after the sweep', async () => {
      const clock = createClock();
      const store = new MemoryTokenStore({ now: clock.now });
      try {
        const kit = createTokenKit({
          store,
          keys: await testKeySet(),
          issuer: TEST_ISSUER,
          now: clock.now,
          ...SHORT,
        });
        await kit.credentials.createApplication({ name: 'Baseline', organization: '1' });
        const baseline = store.size();
        await churn(kit);
        // Reuse detection and a subject revocation write longer-lived markers; they expire too.
        const { refreshToken } = await kit.tokens.startRefreshFamily({ subject: 'u', clientId: 'c' });
        await kit.tokens.refresh(refreshToken);
        await expect(kit.tokens.refresh(refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
        await kit.tokens.revokeSubject('u');
        expect(store.size()).toBeGreaterThanOrEqual(baseline + 3000);
        clock.advance(8);
        expect(store.size()).toBeLessThanOrEqual(baseline + 2);
        clock.advance(3600);
        expect(store.size()).toBe(baseline);
      } finally {
        await store.close();
      }
    });
  });
});
