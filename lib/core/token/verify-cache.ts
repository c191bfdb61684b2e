/**
 * The caches of verification: verified JWTs (to skip the signature on repeats) and, while a
 * revocation view lives, opaque tokens' records (which never change). Both are keyed by the exact
 * token string and bounded; lookups are synchronous and allocate nothing.
 */
import type { AccessTokenRecord, RevocationQuery } from '../../stores/token-store';
import type { AuthInfo } from '../../types';
import { BoundedCache } from '../../util/bounded-cache';
import type { TokenContext } from './context';

/** A verified JWT, remembered until `exp`. */
export interface VerifiedEntry {
  readonly auth: AuthInfo;
  readonly query: RevocationQuery;
  /** The options object it was verified with: a different one verifies again. */
  readonly options: object;
  /** The key-set version it was verified with. */
  readonly keys: number;
}

/** An opaque token's record, remembered while the revocation view lives; `auth` for the last options seen. */
export interface OpaqueEntry {
  readonly record: AccessTokenRecord;
  readonly query: RevocationQuery;
  options: object | undefined;
  auth: AuthInfo | undefined;
}

/** The caches of one token core (none when `verifiedCacheSize` is 0; no record cache without a view). */
export interface VerifyCaches {
  readonly verified: BoundedCache<string, VerifiedEntry> | undefined;
  readonly records: BoundedCache<string, OpaqueEntry> | undefined;
}

/** Creates the caches for a context, sized by its `verifiedCacheSize`. */
export function createVerifyCaches(ctx: TokenContext): VerifyCaches {
  const size = ctx.options.verifiedCacheSize;
  return Object.freeze({
    verified: size > 0 ? new BoundedCache<string, VerifiedEntry>(size) : undefined,
    records: size > 0 && ctx.view ? new BoundedCache<string, OpaqueEntry>(size) : undefined,
  });
}

/** The remembered verification of `token` for these options and this key set, unless it expired. */
export function rememberedJwt(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: { readonly ignoreExpiration?: boolean },
  nowMs: number,
): VerifiedEntry | undefined {
  if (options.ignoreExpiration) return undefined;
  const hit = caches.verified?.get(token, nowMs);
  return hit !== undefined && hit.options === options && hit.keys === ctx.keys.version ? hit : undefined;
}

/** True once an opaque token's record is past `exp` and the clock tolerance. */
export function opaqueExpired(ctx: TokenContext, record: AccessTokenRecord, nowSeconds: number): boolean {
  return nowSeconds >= record.exp + ctx.options.clockTolerance;
}
