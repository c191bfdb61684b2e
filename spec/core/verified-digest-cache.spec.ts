/**
 * The digest memo behind the verified-token cache (lib/core/token/verify-cache.ts): a JWT verified
 * once and not held whole any more is still answered on the synchronous path by its SHA-256 digest
 * (signature and claims not checked again), never for an altered token, never past `exp`, and
 * within its bound. A real Redis revocation view answers revocation (verifyRemembered needs a
 * live view).
 */
import type { TokenKit } from '../../lib/core/token-kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { createClock, type TestClock } from '../helpers/kit';
import { viewedKit } from '../helpers/viewed-kit';

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

  const kitWith = (
    sizes: { verifiedCacheSize: number; verifiedDigestCacheSize?: number },
    clock: TestClock = createClock(),
  ): Promise<TokenKit> => viewedKit(redis, closers, clock, sizes);

  /**
   * Two tokens through a one-entry identity cache, verified A, A, B, B (each cache admits a token
   * on its second sighting): B ends in the identity cache, having evicted A, and A (verified in
   * full twice, so past the memo's doorkeeper) stays in the digest memo only. Returns [A, B].
   */
  async function firstTokenPastTheCache(kit: TokenKit, ttl?: number): Promise<string[]> {
    const tokens: string[] = [];
    for (const subject of ['past', 'held']) {
      const { token } = await kit.tokens.issueAccessToken({
        subject,
        clientId: 'client-1',
        scope: 'read write',
        ...(ttl === undefined ? {} : { ttl }),
      });
      tokens.push(token);
    }
    for (const i of [0, 0, 1, 1]) await kit.tokens.verifyAccessToken(tokens[i]!, options);
    return tokens;
  }

  it('answers a token past the identity cache with the identity its full verification gave', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [past, held] = await firstTokenPastTheCache(kit);
    // the same claims, fully verified by a kit without caches
    const plain = await kitWith({ verifiedCacheSize: 0 });
    const full = await plain.tokens.verifyAccessToken(past!, options);
    expect(kit.tokens.verifyRemembered(held!, options)?.subject).toBe('held');
    const remembered = kit.tokens.verifyRemembered(past!, options);
    expect(remembered).toEqual(full);
    expect(remembered?.subject).toBe('past');
    expect(Object.isFrozen(remembered)).toBe(true);
    expect(Object.isFrozen(remembered?.claims)).toBe(true);
    expect(Object.isFrozen(remembered?.scopes)).toBe(true);
    expect(Object.getPrototypeOf(remembered?.claims)).toBeNull();
  });

  it('never takes an altered token for a remembered one', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [past] = await firstTokenPastTheCache(kit);
    const [header, payload, signature] = past!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${signature}`;
    expect(kit.tokens.verifyRemembered(forged, options)).toBeUndefined();
    await expect(kit.tokens.verifyAccessToken(forged, options)).rejects.toMatchObject({
      code: 'invalid_token',
    });
    expect(kit.tokens.verifyRemembered(`${past}x`, options)).toBeUndefined();
  });

  it('only answers for the options object and key set the token was verified with', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const [past] = await firstTokenPastTheCache(kit);
    expect(kit.tokens.verifyRemembered(past!, Object.freeze({}))).toBeUndefined();
    expect(kit.tokens.verifyRemembered(past!, options)?.subject).toBe('past');
  });

  it('forgets a token at exp plus the clock tolerance', async () => {
    const clock = createClock();
    const kit = await kitWith({ verifiedCacheSize: 1 }, clock);
    const [past] = await firstTokenPastTheCache(kit, 60);
    clock.advance(60 + kit.tokens.clockTolerance - 1);
    expect(kit.tokens.verifyRemembered(past!, options)?.subject).toBe('past');
    clock.advance(1);
    expect(kit.tokens.verifyRemembered(past!, options)).toBeUndefined();
    await expect(kit.tokens.verifyAccessToken(past!, options)).rejects.toMatchObject({
      code: 'expired_token',
    });
  });

  it('is off with verifiedDigestCacheSize 0 (and with verifiedCacheSize 0)', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1, verifiedDigestCacheSize: 0 });
    const [past] = await firstTokenPastTheCache(kit);
    expect(kit.tokens.verifyRemembered(past!, options)).toBeUndefined();
    const off = await kitWith({ verifiedCacheSize: 0 });
    const [first] = await firstTokenPastTheCache(off);
    expect(off.tokens.verifyRemembered(first!, options)).toBeUndefined();
  });

  it('does not remember a token verified in full only once (one-off tokens fill no entry)', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1 });
    const tokens: string[] = [];
    for (const subject of ['x', 'y']) {
      const { token } = await kit.tokens.issueAccessToken({ subject, clientId: 'client-1' });
      tokens.push(token);
    }
    const [x, y] = tokens;
    await kit.tokens.verifyAccessToken(x!, options); // refused by both (first sighting)
    await kit.tokens.verifyAccessToken(y!, options); // refused by both (first sighting)
    expect(kit.tokens.verifyRemembered(y!, options)).toBeUndefined();
    await kit.tokens.verifyAccessToken(y!, options); // second sighting: admitted
    expect(kit.tokens.verifyRemembered(y!, options)?.subject).toBe('y');
    // x was verified in full once: neither cache took it
    expect(kit.tokens.verifyRemembered(x!, options)).toBeUndefined();
  });

  it('holds at most verifiedDigestCacheSize tokens', async () => {
    const kit = await kitWith({ verifiedCacheSize: 1, verifiedDigestCacheSize: 2 });
    const [past] = await firstTokenPastTheCache(kit);
    expect(kit.tokens.verifyRemembered(past!, options)?.subject).toBe('past');
    // with one place, the other token verified twice in full takes it
    const small = await kitWith({ verifiedCacheSize: 1, verifiedDigestCacheSize: 1 });
    const [gone] = await firstTokenPastTheCache(small);
    expect(small.tokens.verifyRemembered(gone!, options)).toBeUndefined();
  });
});
