/**
 * The options of the token core, validated once and resolved into one frozen object. Configuration
 * mistakes throw here, at construction time, naming the option and the bad value.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { KeySet } from '../keys/key-set';
import type { TokenStore } from '../stores/token-store';
import { MAX_REFRESH_GRACE_SECONDS } from '../stores/token-store';
import {
  DEFAULT_ACCESS_TOKEN_PREFIX,
  DEFAULT_ACCESS_TOKEN_TTL,
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_EXPIRED_RECORD_RETENTION,
  DEFAULT_REFRESH_ABSOLUTE_TTL,
  DEFAULT_REFRESH_IDLE_TTL,
  DEFAULT_REFRESH_TOKEN_PREFIX,
  MAX_ACCESS_TOKEN_LIFETIME,
  MAX_CLOCK_TOLERANCE,
} from '../defaults';
import { toBindingProfile, type BindingProfile, type BindingProfileOptions } from './binding';
import type { TokenEventListener } from './events';
import { assertTokenPrefix } from './opaque-token';
import type { RevocationView } from '../stores/revocation-view';
import type { DpopOptions } from './dpop/dpop-options';
import { audienceArray, hasMethod, nonEmptyString, wholeSeconds } from '../util/options';

/** Options of `TokenService`. */
export interface TokenServiceOptions {
  /** Where revocations, opaque tokens and refresh families live. */
  readonly store: TokenStore;
  /** Signing and verification keys. */
  readonly keys: KeySet;
  /** Default issuer (`iss`) of issued tokens, e.g. `https://auth.example.com`. */
  readonly issuer: string;
  /** Default audience of issued tokens and the audiences verification accepts; @default the issuer. */
  readonly audience?: string | readonly string[];
  /** Other issuers whose tokens (signed by these keys) verification accepts, e.g. provider domains. */
  readonly trustedIssuers?: readonly string[];
  /** Default access-token lifetime in seconds; @default 3600. */
  readonly accessTokenTtl?: number;
  /** Longest `exp - iat` accepted when verifying, in seconds; @default 172800. */
  readonly maxTokenLifetime?: number;
  /** Prefix of opaque access tokens; @default `etk_at_`. */
  readonly accessTokenPrefix?: string;
  /** Prefix of refresh tokens; @default `etk_rt_`. */
  readonly refreshTokenPrefix?: string;
  /** Clock tolerance for `exp`/`nbf`/`iat` in seconds (0–60); @default 0. */
  readonly clockTolerance?: number;
  /** Absolute lifetime of a refresh family in seconds; @default 30 days. */
  readonly refreshAbsoluteTtl?: number;
  /** Idle lifetime of a refresh family in seconds; @default 7 days. */
  readonly refreshIdleTtl?: number;
  /**
   * Refresh grace window in seconds (0–60; 0 = off): a client whose refresh reply was lost may
   * present the immediately previous refresh token again while its successor is unused; the unused
   * successor is replaced, never kept alongside. See docs/operations.md. @default 0
   */
  readonly refreshGraceSeconds?: number;
  /** How long an expired opaque token's record is kept to answer `expired_token`, seconds; @default 3600. */
  readonly expiredRecordRetention?: number;
  /** Server-side pepper (>= 32 bytes) for hashing tokens and secrets with HMAC-SHA-256; @default plain SHA-256. */
  readonly pepper?: KeyObject | Buffer | string;
  /** Audit-event listener. */
  readonly onEvent?: TokenEventListener;
  /** Bound-entity types (`createBindingProfile`); @default employer (`empr_`) / employee (`empl_`). */
  readonly binding?: BindingProfile | BindingProfileOptions;
  /**
   * A revocation view (e.g. `RedisRevocationView`): a replica of everything revoked that answers
   * every check locally while synced, or (without a revocation log) remembered answers cleared by
   * announcements, so checks need no store round trip. @default none: one round trip per check.
   */
  readonly revocationView?: RevocationView;
  /** Most verified JWTs (and opaque records) remembered to skip signature checks on repeats; 0 disables; @default 10000. */
  readonly verifiedCacheSize?: number;
  /**
   * Upper bound, in approximate bytes, on each of the two verification caches (verified JWTs,
   * opaque records); see docs/require-token.md, "Caches and memory". @default 33554432 (32 MiB)
   */
  readonly verifiedCacheBytes?: number;
  /**
   * Most JWTs remembered as verified by their SHA-256 digest alone (about 200 bytes each, no
   * claims held): past the `verifiedCacheSize` entries that hold a whole identity, a repeat of
   * such a token skips the signature and claim checks and only parses its payload again. 0
   * disables; `verifiedCacheSize: 0` disables it too. See docs/require-token.md, "Caches and
   * memory". @default 100000
   */
  readonly verifiedDigestCacheSize?: number;
  /** Clock in milliseconds; @default `Date.now`. */
  readonly now?: () => number;
  /** DPoP (RFC 9449): proof algorithms, windows, server nonces. @default on, without nonces */
  readonly dpop?: DpopOptions;
}

/** {@link TokenServiceOptions} validated, defaults merged; frozen. Lifetimes in seconds. */
export interface ResolvedTokenOptions {
  readonly store: TokenStore;
  readonly keys: KeySet;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly issuers: readonly string[];
  readonly accessTokenTtl: number;
  readonly maxTokenLifetime: number;
  readonly accessTokenPrefix: string;
  readonly refreshTokenPrefix: string;
  readonly clockTolerance: number;
  readonly refreshAbsoluteTtl: number;
  readonly refreshIdleTtl: number;
  readonly refreshGraceSeconds: number;
  readonly expiredRecordRetention: number;
  /** How long revocation markers and cut-offs are kept: past every token they can cover. */
  readonly cutoffTtl: number;
  readonly pepper: KeyObject | undefined;
  readonly onEvent: TokenEventListener | undefined;
  /** The bound-entity types tokens may be bound to. */
  readonly binding: BindingProfile;
  readonly revocationView: RevocationView | undefined;
  /** 0: no verified-token cache. */
  readonly verifiedCacheSize: number;
  /** Approximate byte bound of each verification cache. */
  readonly verifiedCacheBytes: number;
  /** 0: no digest cache of verified JWTs. */
  readonly verifiedDigestCacheSize: number;
  /** Clock in milliseconds. */
  readonly now: () => number;
}

/** A secret of at least 32 bytes as a KeyObject; a RangeError naming `option` otherwise. */
export function toKeyObject(value: KeyObject | Buffer | string, option: string): KeyObject {
  const key =
    typeof value === 'object' && 'type' in value && !Buffer.isBuffer(value)
      ? value
      : createSecretKey(Buffer.from(value));
  if (key.type !== 'secret' || (key.symmetricKeySize ?? 0) < 32) {
    throw new RangeError(`${option} must be a secret of at least 32 bytes`);
  }
  return key;
}

/** Validates `options` (in a fixed order, so the first mistake is the one reported) and resolves them. */
export function resolveTokenOptions(options: Readonly<TokenServiceOptions>): ResolvedTokenOptions {
  if (!options || typeof options !== 'object') throw new TypeError('TokenService options are required');
  const { store, keys } = options;
  if (!store || !hasMethod(store, 'checkRevocation')) throw new TypeError('store must implement TokenStore');
  if (!keys || !hasMethod(keys, 'signingKey')) throw new TypeError('keys must be a KeySet');
  const issuer = nonEmptyString(options.issuer, 'issuer');
  const binding = toBindingProfile(options.binding);
  const audiences = audienceArray(options.audience, [issuer]);
  const issuers = [issuer, ...(options.trustedIssuers ?? [])];
  const maxTokenLifetime = wholeSeconds(
    options.maxTokenLifetime,
    MAX_ACCESS_TOKEN_LIFETIME,
    'maxTokenLifetime',
  );
  const accessTokenTtl = wholeSeconds(
    options.accessTokenTtl,
    DEFAULT_ACCESS_TOKEN_TTL,
    'accessTokenTtl',
    1,
    maxTokenLifetime,
  );
  const accessTokenPrefix = options.accessTokenPrefix ?? DEFAULT_ACCESS_TOKEN_PREFIX;
  const refreshTokenPrefix = options.refreshTokenPrefix ?? DEFAULT_REFRESH_TOKEN_PREFIX;
  assertTokenPrefix(accessTokenPrefix, 'accessTokenPrefix');
  assertTokenPrefix(refreshTokenPrefix, 'refreshTokenPrefix');
  if (accessTokenPrefix === refreshTokenPrefix) {
    throw new TypeError('accessTokenPrefix and refreshTokenPrefix must differ');
  }
  const clockTolerance = wholeSeconds(
    options.clockTolerance,
    DEFAULT_CLOCK_TOLERANCE,
    'clockTolerance',
    0,
    MAX_CLOCK_TOLERANCE,
  );
  const refreshAbsoluteTtl = wholeSeconds(
    options.refreshAbsoluteTtl,
    DEFAULT_REFRESH_ABSOLUTE_TTL,
    'refreshAbsoluteTtl',
  );
  const refreshIdleTtl = wholeSeconds(options.refreshIdleTtl, DEFAULT_REFRESH_IDLE_TTL, 'refreshIdleTtl');
  const refreshGraceSeconds = wholeSeconds(
    options.refreshGraceSeconds,
    0,
    'refreshGraceSeconds',
    0,
    MAX_REFRESH_GRACE_SECONDS,
  );
  const expiredRecordRetention = wholeSeconds(
    options.expiredRecordRetention,
    DEFAULT_EXPIRED_RECORD_RETENTION,
    'expiredRecordRetention',
  );
  const pepper = options.pepper === undefined ? undefined : toKeyObject(options.pepper, 'pepper');
  const verifiedCacheSize = options.verifiedCacheSize ?? 10_000;
  if (!Number.isSafeInteger(verifiedCacheSize) || verifiedCacheSize < 0)
    throw new RangeError('verifiedCacheSize must be a whole number');
  const verifiedCacheBytes = options.verifiedCacheBytes ?? 32 * 1024 * 1024;
  if (!Number.isSafeInteger(verifiedCacheBytes) || verifiedCacheBytes < 1)
    throw new RangeError('verifiedCacheBytes must be a positive whole number of bytes');
  const verifiedDigestCacheSize = options.verifiedDigestCacheSize ?? 100_000;
  if (!Number.isSafeInteger(verifiedDigestCacheSize) || verifiedDigestCacheSize < 0)
    throw new RangeError('verifiedDigestCacheSize must be a whole number');
  return Object.freeze({
    store,
    keys,
    issuer,
    audiences,
    issuers,
    accessTokenTtl,
    maxTokenLifetime,
    accessTokenPrefix,
    refreshTokenPrefix,
    clockTolerance,
    refreshAbsoluteTtl,
    refreshIdleTtl,
    refreshGraceSeconds,
    expiredRecordRetention,
    cutoffTtl: Math.max(maxTokenLifetime, refreshAbsoluteTtl) + clockTolerance + 60,
    pepper,
    onEvent: options.onEvent,
    binding,
    revocationView: options.revocationView,
    verifiedCacheSize,
    verifiedCacheBytes,
    verifiedDigestCacheSize,
    now: options.now ?? Date.now,
  });
}
