import { StoreUnavailableError, TokenError } from '../../lib/errors';
import type { TokenEvent } from '../../lib/core/events';
import { createTokenContext } from '../../lib/core/token/context';
import { resolveTokenOptions } from '../../lib/core/token-options';
import { wholeSeconds } from '../../lib/util/options';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { testKeySet } from '../helpers/kit';

async function options(extra: Record<string, unknown> = {}) {
  return {
    store: new MemoryTokenStore(),
    keys: await testKeySet(),
    issuer: 'https://auth.example.com',
    ...extra,
  };
}

describe('resolveTokenOptions', () => {
  it('resolves the defaults once into a frozen object', async () => {
    const resolved = resolveTokenOptions(await options());
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolved).toMatchObject({
      audiences: ['https://auth.example.com'],
      issuers: ['https://auth.example.com'],
      accessTokenTtl: 3600,
      clockTolerance: 0,
      refreshGraceSeconds: 0,
      verifiedCacheSize: 10_000,
    });
    expect(resolved.cutoffTtl).toBe(Math.max(resolved.maxTokenLifetime, resolved.refreshAbsoluteTtl) + 60);
  });

  describe('when an option is wrong', () => {
    it.each([
      [{ store: {} }, TypeError, /^store must implement TokenStore$/],
      [{ keys: {} }, TypeError, /^keys must be a KeySet$/],
      [{ issuer: '' }, TypeError, /^issuer must be a non-empty string$/],
      [
        { accessTokenTtl: 0 },
        RangeError,
        /^accessTokenTtl must be a whole number of seconds from 1 to \d+, got 0$/,
      ],
      [{ clockTolerance: 61 }, RangeError, /^clockTolerance must be a whole number of seconds from 0 to 60/],
      [
        { refreshGraceSeconds: -1 },
        RangeError,
        /^refreshGraceSeconds must be a whole number of seconds from 0 to/,
      ],
      [{ verifiedCacheSize: 1.5 }, RangeError, /^verifiedCacheSize must be a whole number$/],
      [{ verifiedDigestCacheSize: -1 }, RangeError, /^verifiedDigestCacheSize must be a whole number$/],
      [{ pepper: 'short' }, RangeError, /^pepper must be a secret of at least 32 bytes$/],
    ])('throws for %j, naming the option', async (bad, type, message) => {
      const opts = await options(bad);
      expect(() => resolveTokenOptions(opts)).toThrow(type);
      expect(() => resolveTokenOptions(opts)).toThrow(message);
    });

    it('reports the first mistake in a fixed order', async () => {
      expect(() => resolveTokenOptions(Object.assign(Object.create(null), { issuer: '' }))).toThrow(
        /^store must implement TokenStore$/,
      );
    });
  });

  it('checks seconds with one helper', () => {
    expect(wholeSeconds(undefined, 5, 'x')).toBe(5);
    expect(wholeSeconds(0, 5, 'x', 0, 10)).toBe(0);
    expect(() => wholeSeconds(11, 5, 'x', 0, 10)).toThrow(
      'x must be a whole number of seconds from 0 to 10, got 11',
    );
  });
});

describe('createTokenContext', () => {
  it('is frozen', async () => {
    const ctx = createTokenContext(resolveTokenOptions(await options()));
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(Object.isFrozen(ctx.options)).toBe(true);
  });

  describe('guard', () => {
    it('turns any store failure into one 503 service_unavailable with Retry-After, and audits it', async () => {
      const events: TokenEvent[] = [];
      const ctx = createTokenContext(
        resolveTokenOptions(await options({ onEvent: (e: TokenEvent) => events.push(e), now: () => 5_000 })),
      );
      for (const failure of [new StoreUnavailableError('down'), new Error('boom')]) {
        const err = await ctx.guard(() => Promise.reject(failure)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TokenError);
        expect(err).toMatchObject({
          code: 'service_unavailable',
          status: 503,
          headers: { 'Retry-After': '5' },
        });
        expect((err as TokenError).cause).toBe(failure);
      }
      expect(events).toEqual([
        { at: 5, type: 'store_unavailable', reason: 'store' },
        { at: 5, type: 'store_unavailable', reason: 'error' },
      ]);
    });

    it('lets a TokenError through unchanged', async () => {
      const ctx = createTokenContext(resolveTokenOptions(await options()));
      const refusal = new TokenError('invalid_grant');
      await expect(ctx.guard(() => Promise.reject(refusal))).rejects.toBe(refusal);
    });
  });
});
