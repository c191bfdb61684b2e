/**
 * The caches of verification: verified JWTs (to skip the signature on repeats), keyed by the exact
 * token string, and, while a revocation view lives, opaque tokens' records (which never change),
 * keyed by the token's hash (no raw secret is held). Lookups are synchronous and allocate nothing.
 *
 * Bounds (docs/require-token.md, "Caches and memory"): each cache holds at most
 * `verifiedCacheSize` entries (default 10 000) and about `verifiedCacheBytes` (default 32 MiB).
 * An entry is sized, approximately, as {@link jwtEntryBytes} / {@link RECORD_ENTRY_BYTES}: the key
 * string, the parsed claims (about three times their JSON) and the frozen identity around them.
 * Both admit on second sighting once full (see `BoundedCache`): a stream of one-off tokens does not
 * evict the ones that repeat. No entry outlives its token's `exp` (plus the clock tolerance).
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

/** Fixed part of an entry's approximate size: the entry, the identity, its arrays and the Map slot. */
const ENTRY_OVERHEAD_BYTES = 640;

/** Approximate bytes a verified JWT costs in its cache: the key, the claims and the identity. */
export function jwtEntryBytes(token: string): number {
  const payloadChars = token.indexOf('.', token.indexOf('.') + 1) - token.indexOf('.');
  return token.length + 3 * payloadChars + ENTRY_OVERHEAD_BYTES;
}

/** Approximate bytes an opaque token's record costs in its cache (hash key, record, identity). */
export const RECORD_ENTRY_BYTES = 64 + 1024 + ENTRY_OVERHEAD_BYTES;

/** Creates the caches for a context, sized by its `verifiedCacheSize` and `verifiedCacheBytes`. */
export function createVerifyCaches(ctx: TokenContext): VerifyCaches {
  const { verifiedCacheSize: size, verifiedCacheBytes: maxBytes } = ctx.options;
  const options = { maxBytes, policy: 'admit-on-second-sighting' } as const;
  return Object.freeze({
    verified: size > 0 ? new BoundedCache<string, VerifiedEntry>(size, options) : undefined,
    records: size > 0 && ctx.view ? new BoundedCache<string, OpaqueEntry>(size, options) : undefined,
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
