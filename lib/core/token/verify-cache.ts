/**
 * The caches of verification: verified JWTs (to skip the signature on repeats), found by a
 * fingerprint of the token's tail (its signature) and matched against the exact token string;
 * behind them a larger, compact memo of verified JWTs keyed by their SHA-256 digest
 * (no claims held: a repeat parses its payload again but skips the signature and claim checks);
 * and, while a revocation view lives, opaque tokens' records (which never change), keyed by the
 * token's hash (no raw secret is held).
 *
 * Bounds (docs/require-token.md, "Caches and memory"): the verified-JWT and record caches each hold
 * at most `verifiedCacheSize` entries (default 10 000) and about `verifiedCacheBytes` (default
 * 32 MiB); an entry is sized, approximately, as {@link jwtEntryBytes} / {@link RECORD_ENTRY_BYTES}:
 * the key string, the parsed claims and the frozen identity around them. The digest memo holds at
 * most `verifiedDigestCacheSize` entries (default 100 000) of {@link DIGEST_ENTRY_BYTES} each,
 * within the same byte bound. Both admit a token on its second sighting, even while they have room
 * (see `BoundedCache`); the record cache once full: a stream of one-off tokens neither evicts the
 * ones that repeat nor fills a cache, and costs no digest (the memo's doorkeeper asks the token's tail
 * fingerprint; the SHA-256 is computed only for a token it admits). No entry outlives its token's
 * `exp` (plus the clock tolerance).
 */
import { hash as oneShotHash, createHash } from 'node:crypto';

import type { AccessTokenRecord, RevocationQuery } from '../../stores/token-store';
import type { AuthInfo } from '../../types';
import { BoundedCache, tailFingerprint } from '../../util/bounded-cache';
import { issuedAtMsOf } from '../issuance';
import { claimsOfVerified } from '../jwt';
import { authFromClaims, freezeJwtAuth } from './auth-info';
import type { TokenContext } from './context';

/** A verified JWT, remembered until `exp`. */
export interface VerifiedEntry {
  /** The exact token string (the cache finds an entry by fingerprint, and compares this). */
  readonly token: string;
  readonly auth: AuthInfo;
  readonly query: RevocationQuery;
  /** The issuance instant revocation cut-offs are compared with (see `issuedAtMsOf`). */
  readonly issuedMs: number;
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

/**
 * What the digest memo remembers of a verified JWT, found by the token's tail fingerprint: the
 * token's SHA-256 digest (see {@link tokenDigest}; an entry counts only when it is the digest of
 * the token asked), and the options object and key-set version it was verified with.
 */
export interface VerifiedDigest {
  readonly digest: string;
  readonly options: object;
  readonly keys: number;
}

/** The caches of one token core (none when `verifiedCacheSize` is 0; no record cache without a view). */
export interface VerifyCaches {
  /** Verified JWTs by {@link tailFingerprint} of the token; an entry counts only when its `token` is the one asked. */
  readonly verified: BoundedCache<number, VerifiedEntry> | undefined;
  /** Verified JWTs by tail fingerprint, each holding the token's SHA-256 digest. */
  readonly digests: BoundedCache<number, VerifiedDigest> | undefined;
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

/**
 * Approximate bytes a digest memo entry costs: the 32-character key, the cache's entry and Map slot
 * (measured with bench/verify-cost.js: about 170 bytes on Node 20, 64-bit).
 */
export const DIGEST_ENTRY_BYTES = 200;

/** Creates the caches for a context, sized by its `verifiedCacheSize`, `verifiedDigestCacheSize` and `verifiedCacheBytes`. */
export function createVerifyCaches(ctx: TokenContext): VerifyCaches {
  const { verifiedCacheSize: size, verifiedCacheBytes: maxBytes, verifiedDigestCacheSize } = ctx.options;
  const options = { maxBytes, policy: 'admit-on-second-sighting' } as const;
  const digests = size > 0 ? verifiedDigestCacheSize : 0;
  return Object.seal({
    // A token is remembered, whole and by digest, on its second full verification: a one-off
    // token costs a fingerprint in each doorkeeper, not an entry (at N ≫ the cache, entries that
    // never hit cost old-generation GC work and memory). A number key: no hashing of the whole
    // (long) token string on every lookup.
    verified:
      size > 0
        ? new BoundedCache<number, VerifiedEntry>(size, {
            ...options,
            admitWhenRoom: false,
            fingerprint: (print) => print,
          })
        : undefined,
    digests:
      digests > 0
        ? new BoundedCache<number, VerifiedDigest>(digests, {
            ...options,
            admitWhenRoom: false,
            fingerprint: (print) => print,
          })
        : undefined,
    records: size > 0 && ctx.view ? new BoundedCache<string, OpaqueEntry>(size, options) : undefined,
  });
}

/**
 * SHA-256 of a token, as a 32-character latin1 string: collision resistant, so a token that was not
 * verified can never be taken for one that was. The last token's digest is kept, as the fast path
 * and then the full verification of one request ask for it twice.
 */
export function tokenDigest(token: string): string {
  if (token === lastToken) return lastTokenDigest;
  const digest =
    typeof oneShotHash === 'function'
      ? oneShotHash('sha256', token, 'binary')
      : createHash('sha256').update(token, 'utf8').digest('binary');
  lastToken = token;
  lastTokenDigest = digest;
  return digest;
}
let lastToken: string | undefined;
let lastTokenDigest = '';

/** The cache entry of a verified JWT, from its verified claims. */
export function verifiedEntry(
  token: string,
  claims: Readonly<Record<string, unknown>>,
  options: object,
  keys: number,
): VerifiedEntry {
  const auth = freezeJwtAuth(authFromClaims(claims));
  return {
    token,
    auth,
    query: revocationQuery(auth.jti, auth.subject, auth.clientId, auth.familyId),
    issuedMs: issuedAtMsOf(auth.jti, auth.issuedAt),
    options,
    keys,
  };
}

/** What the store is asked about a token: its jti, subject, client and family. */
export function revocationQuery(
  jti: string,
  subject: string,
  clientId: string,
  familyId?: string,
): RevocationQuery {
  return familyId === undefined ? { jti, subject, clientId } : { jti, subject, clientId, familyId };
}

/** Remembers a freshly verified JWT in both caches, until `expiresAtMs`. */
export function rememberVerified(
  caches: VerifyCaches,
  token: string,
  entry: VerifiedEntry,
  expiresAtMs: number,
): void {
  const print = tailFingerprint(token);
  caches.verified?.set(print, entry, expiresAtMs, jwtEntryBytes(token));
  const digests = caches.digests;
  // the doorkeeper asks the tail's fingerprint: a refused one-off token costs no digest
  if (digests === undefined || !digests.admits(print, DIGEST_ENTRY_BYTES)) return;
  const remembered = { digest: tokenDigest(token), options: entry.options, keys: entry.keys };
  digests.set(print, remembered, expiresAtMs, DIGEST_ENTRY_BYTES, true);
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
  const version = ctx.keys.version;
  const print = tailFingerprint(token);
  const hit = caches.verified?.get(print, nowMs);
  if (hit !== undefined && hit.token === token)
    return hit.options === options && hit.keys === version ? hit : undefined;
  // verified before, identity not held: parse the payload again, skip signature and claim checks
  const digests = caches.digests;
  // a token the memo has no entry for (the usual one-off) costs no digest
  const known = digests?.get(print, nowMs);
  if (
    known === undefined ||
    known.options !== options ||
    known.keys !== version ||
    known.digest !== tokenDigest(token)
  )
    return undefined;
  let entry: VerifiedEntry;
  try {
    entry = verifiedEntry(token, claimsOfVerified(token), options, version);
  } catch {
    return undefined;
  }
  caches.verified?.set(
    print,
    entry,
    (entry.auth.expiresAt + ctx.options.clockTolerance) * 1000,
    jwtEntryBytes(token),
  );
  return entry;
}

/** True once an opaque token's record is past `exp` and the clock tolerance. */
export function opaqueExpired(ctx: TokenContext, record: AccessTokenRecord, nowSeconds: number): boolean {
  return nowSeconds >= record.exp + ctx.options.clockTolerance;
}
