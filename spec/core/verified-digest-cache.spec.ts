/**
 * The digest memo behind the verified-token cache (lib/core/token/verify-cache.ts): a JWT verified
 * once and not held whole any more is still answered on the synchronous path by its SHA-256 digest
 * (signature and claims not checked again), never for an altered token, never past `exp`, and
 * within its bound. A real Redis revocation view answers revocation (verifyRemembered needs a
 * live view).
 */
import type { Redis } from 'ioredis';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { RedisRevocationView } from '../../lib/stores/redis-revocation-view';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { createClock, TEST_ISSUER, testKeySet, type TestClock } from '../helpers/kit';

describe('the verified-digest memo', () => {
  let redis: TestRedis;
  const closers: (() => Promise<unknown>)[] = [];
  const options = Object.freeze({});

  beforeAll(async () => {
    redis = await connectTestRedis('verified-digest');
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await redis.cleanup();
  });

  async function kitWith(
    sizes: { verifiedCacheSize: number; verifiedDigestCacheSize?: number },
    clock: TestClock = createClock(),
  ): Promise<TokenKit> {
    const client: Redis = await redis.connect();
    const view = await RedisRevocationView.start({
      client,
      channel: `${redis.prefix}revocations`,
      heartbeatMs: 50,
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
      ...sizes,
    });
  }

  /** Two verified tokens with a one-entry identity cache: the second one is held by digest only. */
  async function secondTokenPastTheCache(kit: TokenKit, ttl?: number): Promise<string[]> {
    const tokens: string[] = [];
    for (const subject of ['first', 'second']) {
      const { token } = await kit.tokens.issueAccessToken({
        subject,
        clientId: 'client-1',
        scope: 'read write',
        ...(ttl === undefined ? {} : { ttl }),
      });
      await kit.tokens.verifyAccessToken(token, options);
      tokens.push(token);
    }
    return tokens;
  }

  it('answers a token past the identity cache with the identity its full verification gave', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [first, second] = await secondTokenPastTheCache(kit);
    // the same claims, fully verified by a kit without caches
    const plain = await kitWith({ verifiedCacheSize: 0 });
    const full = await plain.tokens.verifyAccessToken(second!, options);
    expect(kit.tokens.verifyRemembered(first!, options)?.subject).toBe('first');
    const remembered = kit.tokens.verifyRemembered(second!, options);
    expect(remembered).toEqual(full);
    expect(remembered?.subject).toBe('second');
    expect(Object.isFrozen(remembered)).toBe(true);
    expect(Object.isFrozen(remembered?.claims)).toBe(true);
    expect(Object.isFrozen(remembered?.scopes)).toBe(true);
    expect(Object.getPrototypeOf(remembered?.claims)).toBeNull();
  });

  it('never takes an altered token for a remembered one', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [, second] = await secondTokenPastTheCache(kit);
    const [header, payload, signature] = second!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${signature}`;
    expect(kit.tokens.verifyRemembered(forged, options)).toBeUndefined();
    await expect(kit.tokens.verifyAccessToken(forged, options)).rejects.toMatchObject({
      code: 'invalid_token',
    });
    expect(kit.tokens.verifyRemembered(`${second}x`, options)).toBeUndefined();
  });

  it('only answers for the options object and key set the token was verified with', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [, second] = await secondTokenPastTheCache(kit);
    expect(kit.tokens.verifyRemembered(second!, Object.freeze({}))).toBeUndefined();
    expect(kit.tokens.verifyRemembered(second!, options)?.subject).toBe('second');
  });

  it('forgets a token at exp plus the clock tolerance', async () => {
    const clock = createClock();
    const kit = await kitWith({ verifiedCacheSize: 1 }, clock);
    const [, second] = await secondTokenPastTheCache(kit, 60);
    clock.advance(60 + kit.tokens.clockTolerance - 1);
    expect(kit.tokens.verifyRemembered(second!, options)?.subject).toBe('second');
    clock.advance(1);
    expect(kit.tokens.verifyRemembered(second!, options)).toBeUndefined();
    await expect(kit.tokens.verifyAccessToken(second!, options)).rejects.toMatchObject({
      code: 'expired_token',
    });
  });

  it('is off with verifiedDigestCacheSize 0 (and with verifiedCacheSize 0)', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1, verifiedDigestCacheSize: 0 });
    const [, second] = await secondTokenPastTheCache(kit);
    expect(kit.tokens.verifyRemembered(second!, options)).toBeUndefined();
    const off = await kitWith({ verifiedCacheSize: 0 });
    const [first] = await secondTokenPastTheCache(off);
    expect(off.tokens.verifyRemembered(first!, options)).toBeUndefined();
  });

  it('holds at most verifiedDigestCacheSize tokens, admitting a newcomer once full only on its second sighting', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1, verifiedDigestCacheSize: 2 });
    const tokens: string[] = [];
    for (const subject of ['a', 'b', 'c']) {
      const { token } = await kit.tokens.issueAccessToken({ subject, clientId: 'client-1' });
      await kit.tokens.verifyAccessToken(token, options);
      tokens.push(token);
    }
    const [a, b, c] = tokens;
    // a: the identity cache's one entry and the memo's first; b: the memo's second; c: refused by both
    expect(kit.tokens.verifyRemembered(b!, options)?.subject).toBe('b');
    expect(kit.tokens.verifyRemembered(c!, options)).toBeUndefined();
    await kit.tokens.verifyAccessToken(c!, options);
    // seen twice: admitted to both, in place of the least recently used (a, not b that was just read)
    expect(kit.tokens.verifyRemembered(c!, options)?.subject).toBe('c');
    expect(kit.tokens.verifyRemembered(b!, options)?.subject).toBe('b');
    expect(kit.tokens.verifyRemembered(a!, options)).toBeUndefined();
    expect((await kit.tokens.verifyAccessToken(a!, options)).subject).toBe('a');
  });
});
