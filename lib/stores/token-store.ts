/**
 * The storage contract behind opaque access tokens, revocation and refresh-token families. It is
 * one of the two store contracts: credentials (API keys, applications, providers, their clients)
 * live behind the other one, `CredentialStore` (credential-store.ts), which a kit may keep in
 * another backend (see docs/stores.md).
 *
 * Stores never see a raw token: the core hands them hashes. Everything a token store keeps has a
 * TTL, so its size returns to its baseline once tokens expire.
 *
 * Any failure to answer (connection down, timeout, corrupt value) rejects with
 * `StoreUnavailableError`; a store never answers "not revoked" when it does not know.
 */
import type { BoundEntity } from '../types';

/** The stored record of an opaque access token (keyed by the token's hash). */
export interface AccessTokenRecord {
  /** Token id; revocation is keyed on it. */
  readonly jti: string;
  readonly sub: string;
  readonly clientId: string;
  readonly iss: string;
  readonly aud: readonly string[];
  /** Space-separated scopes, or '' for none. */
  readonly scope: string;
  readonly boundEntity: BoundEntity | null;
  /** Issued-at and expiry, seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  /** Refresh family the token was issued from. */
  readonly familyId?: string;
  /**
   * The delegation of a token obtained by token exchange (RFC 8693 §4.1): `{ sub, act? }`, nested
   * for prior actors. Stores keep it as part of the record.
   */
  readonly act?: Readonly<{ readonly sub: string; readonly act?: unknown }>;
  /** The DPoP key the token is bound to: its RFC 7638 thumbprint (RFC 9449 §6). */
  readonly jkt?: string;
}

/** What to check for one access token, in one round trip. */
export interface RevocationQuery {
  readonly jti: string;
  readonly subject: string;
  readonly clientId: string;
  readonly familyId?: string;
}

/**
 * Revocation state of one access token. Cut-offs are instants in MILLISECONDS since the epoch, so
 * a token issued in the same second but after a cut-off is not covered by it (see
 * {@link TokenStore.setCutoff}).
 */
export interface RevocationState {
  /** The `jti` is on the denylist. */
  readonly jtiRevoked: boolean;
  /** The token's refresh family was revoked. */
  readonly familyRevoked: boolean;
  /** Tokens of this subject issued at or before this instant (ms since the epoch) are revoked; null when none. */
  readonly subjectCutoffMs: number | null;
  /** Tokens of this client issued at or before this instant (ms since the epoch) are revoked; null when none. */
  readonly clientCutoffMs: number | null;
}

/**
 * The smallest cut-off instant a store accepts, in milliseconds since the epoch (1973-03-03). A
 * smaller value is almost certainly a time in seconds and is refused with a RangeError; a smaller
 * value found in a store (written by an older version, which stored whole seconds) is read as the
 * last millisecond of that second, so it keeps covering every token of that second.
 */
export const MIN_CUTOFF_MS = 100_000_000_000;

/**
 * A stored cut-off value in milliseconds: values below {@link MIN_CUTOFF_MS} are whole seconds
 * written by an older version and cover their whole second.
 */
export function cutoffMsOf(stored: number): number {
  return stored < MIN_CUTOFF_MS ? stored * 1000 + 999 : stored;
}

/** Throws a RangeError unless `atMs` is a finite cut-off instant in milliseconds. */
export function assertCutoffMs(atMs: number): void {
  if (!Number.isFinite(atMs) || atMs < MIN_CUTOFF_MS) {
    throw new RangeError(
      `setCutoff: at must be milliseconds since the epoch (>= ${MIN_CUTOFF_MS}), got ${String(atMs)}`,
    );
  }
}

/** A refresh-token family: one grant, rotated on every use. */
export interface RefreshFamily {
  readonly familyId: string;
  readonly sub: string;
  readonly clientId: string;
  readonly scope: string;
  readonly boundEntity: BoundEntity | null;
  /** Creation time, seconds since the epoch. */
  readonly createdAt: number;
  /**
   * Creation instant, milliseconds since the epoch, compared with cut-offs (a cut-off at or after
   * it covers the family). Absent on families written by older versions: `createdAt * 1000` is
   * used then, so any cut-off in the creation second covers the family (fail closed).
   */
  readonly createdAtMs?: number;
  /** Absolute expiry of the whole family, seconds since the epoch. */
  readonly expiresAt: number;
  /** Last successful rotation (or creation), seconds since the epoch. */
  readonly lastUsedAt: number;
  /** Free-form data the issuer wants back on refresh (e.g. audience). JSON-serialisable. */
  readonly data?: Readonly<Record<string, unknown>>;
  /**
   * The stable id (UUID) of the application the family was issued to, when it was issued to one.
   * Unlike `clientId`, it survives a credential rotation. Stores keep it as part of the family.
   */
  readonly applicationId?: string;
  /**
   * The DPoP key the family's refresh tokens are bound to (RFC 7638 thumbprint, RFC 9449 §5): a
   * refresh must prove possession of it. Stores keep it as part of the family.
   */
  readonly jkt?: string;
}

/**
 * What a refresh token proves about itself, beyond its hash: the generation it was issued as (1
 * for a family's first token, one more on every rotation) and the hash of the family's proof, a
 * random secret issued with the family and carried by every one of its tokens. A family keeps only
 * the proof's hash, its current generation and its current and previous token hashes, so its
 * record has a constant size however often it rotates, and yet every token it ever rotated out is
 * recognised: the right proof with a generation at or below the family's is an authentic earlier
 * token, and presenting it is reuse. A wrong proof is a forgery and changes nothing.
 */
export interface RefreshTokenProof {
  /** Generation the presented token was issued as (>= 0; 0 for a token of the legacy format). */
  readonly generation: number;
  /** Hash of the family proof the presented token carries. */
  readonly proofHash: string;
}

/** Input of {@link TokenStore.rotateRefreshToken}. */
export interface RotateRefreshInput {
  readonly familyId: string;
  /** Hash of the presented refresh token. */
  readonly presentedHash: string;
  /** Hash of the successor to install when the presented token is current. */
  readonly nextHash: string;
  /**
   * The presented token's generation and proof (see {@link RefreshTokenProof}). Without it, only
   * the current and the immediately previous token are recognised. The successor must be issued as
   * generation `proof.generation + 1` with the same proof. A family created without a proof adopts
   * this one on its next normal rotation.
   */
  readonly proof?: RefreshTokenProof;
  /** Now, seconds since the epoch. */
  readonly now: number;
  /** Idle lifetime in seconds: a family unused this long is expired. */
  readonly idleSeconds: number;
  /** When set, the family must belong to this client; checked before anything is consumed. */
  readonly expectedClientId?: string;
  /** When set, the family must belong to this subject; checked before anything is consumed. */
  readonly expectedSubject?: string;
  /**
   * Grace window in seconds (0 or absent = off; at most {@link MAX_REFRESH_GRACE_SECONDS}). Within
   * this many seconds of a rotation, the IMMEDIATELY previous token may be presented again as long
   * as its successor has not been used: the store then replaces that unused successor with
   * `nextHash` (the earlier successor dies) and answers `rotated` with `retried: true`. At most
   * {@link MAX_REFRESH_GRACE_RETRIES} such retries per generation. A token two generations back,
   * a retry after the successor was used, or a retry past the window is reuse, as without grace.
   */
  readonly graceSeconds?: number;
}

/** The longest key {@link TokenStore.markUsed} accepts, in characters. */
export const MAX_USED_KEY_LENGTH = 512;

/** Checks a {@link TokenStore.markUsed} key: a non-empty string of at most {@link MAX_USED_KEY_LENGTH} characters. */
export function assertUsedKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_USED_KEY_LENGTH) {
    throw new RangeError(`markUsed: key must be a string of 1 to ${MAX_USED_KEY_LENGTH} characters`);
  }
}

/** The longest refresh grace window a store accepts, in seconds (docs/operations.md, grace window). */
export const MAX_REFRESH_GRACE_SECONDS = 60;

/** Grace retries allowed per generation; one more is reuse (docs/operations.md, grace window). */
export const MAX_REFRESH_GRACE_RETRIES = 3;

/**
 * Outcome of a rotation:
 * - `rotated`: the presented token was current (or, with `retried: true`, the immediately previous
 *   one inside the grace window); `nextHash` is now current and the family is returned.
 * - `reused`: the presented token was a rotated-out one; the family has been revoked (atomically).
 * - `mismatch`: expectedClientId/expectedSubject did not match; nothing changed.
 * - `revoked`: the family was revoked before (or a client/subject cut-off covers it); nothing changed.
 * - `expired`: past the absolute or idle lifetime; the family has been revoked.
 * - `not_found`: no such family, or the token is not provably of it (a wrong proof, a generation
 *   ahead of the family's); nothing changed.
 */
export type RotateRefreshResult =
  | { readonly status: 'rotated'; readonly family: RefreshFamily; readonly retried?: boolean }
  | { readonly status: 'reused'; readonly family: RefreshFamily }
  | { readonly status: 'mismatch' }
  | { readonly status: 'revoked' }
  | { readonly status: 'expired' }
  | { readonly status: 'not_found' };

/** Result of {@link TokenStore.inspectRefreshToken}. */
export interface RefreshTokenState {
  readonly family: RefreshFamily;
  /** True when the hash is the family's current token and the family is live. */
  readonly active: boolean;
}

/**
 * The token storage contract: opaque access tokens, revocation and refresh families, nothing else.
 * Implementations: `MemoryTokenStore`, `RedisTokenStore`. Both also implement `CredentialStore`
 * (each through a credential store of its kind it owns over the same data), which is why a kit
 * given only `store` keeps credentials beside tokens; a store of your own needs to implement only
 * this interface when the kit is given a `credentialStore`. The conformance suite is
 * `describeTokenStoreContract` (express-token-kit/testing).
 */
export interface TokenStore {
  // --- opaque access tokens -------------------------------------------------
  /** Stores an opaque access token record under its hash, for `ttlSeconds`. */
  saveAccessToken(hash: string, record: AccessTokenRecord, ttlSeconds: number): Promise<void>;
  /**
   * Reads an opaque token record and its revocation state (the record names the keys to check).
   * `record` is null when unknown or expired; `state` is then all-false.
   */
  lookupAccessToken(hash: string): Promise<{ record: AccessTokenRecord | null; state: RevocationState }>;
  /**
   * Reads an opaque token record alone (null when unknown or expired), for a core whose revocation
   * replica answers the revocation state locally: one round trip instead of two. Optional.
   */
  readAccessToken?(hash: string): Promise<AccessTokenRecord | null>;

  // --- revocation -----------------------------------------------------------
  /** Revocation state of a JWT access token, in one round trip. */
  checkRevocation(query: RevocationQuery): Promise<RevocationState>;
  /** Puts a `jti` on the denylist for `ttlSeconds` (idempotent). */
  revokeJti(jti: string, ttlSeconds: number): Promise<void>;
  /**
   * Revokes a refresh family: its refresh tokens stop working and access tokens issued from it are
   * reported `familyRevoked` for `ttlSeconds`. Idempotent; a no-op on unknown families except the marker.
   */
  revokeFamily(familyId: string, ttlSeconds: number): Promise<void>;
  /**
   * Sets a cut-off: tokens of this subject (or client) issued at or before `atMs` (milliseconds
   * since the epoch; a RangeError below {@link MIN_CUTOFF_MS}) are revoked, and so are refresh
   * families created at or before it. A later cut-off replaces an earlier one, never the reverse.
   * Kept for `ttlSeconds`.
   */
  setCutoff(kind: 'subject' | 'client', id: string, atMs: number, ttlSeconds: number): Promise<void>;

  // --- refresh families -----------------------------------------------------
  /**
   * Creates a family whose current token is `hash`, generation 1, with the hash of its proof (see
   * {@link RefreshTokenProof}). The family lives until `family.expiresAt`. Its record has a constant
   * size: rotations never add to it.
   */
  createRefreshFamily(family: RefreshFamily, hash: string, proofHash?: string): Promise<void>;
  /** Atomically rotates (or detects reuse of) a refresh token. See {@link RotateRefreshResult}. */
  rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshResult>;
  /**
   * Reads a family and whether `hash` is its current token; null when the hash is not provably of
   * the family (not current, not the previous token, and no matching `proof`).
   */
  inspectRefreshToken(
    familyId: string,
    hash: string,
    now: number,
    proof?: RefreshTokenProof,
  ): Promise<RefreshTokenState | null>;

  // --- one-time use (replay caches) ----------------------------------------
  /**
   * Records `key` as used for `ttlSeconds` and answers true; answers false, changing nothing, when
   * `key` is already recorded and has not expired. Atomic across every instance on the store, so
   * two instances given the same key at once answer true exactly once. Replay caches use it: DPoP
   * proof `jti`s (RFC 9449 §11.1) and client assertion `jti`s (RFC 7523 §3, item 7). Callers
   * namespace their keys (`dpop:…`, `ca:…`) and keep them at most {@link MAX_USED_KEY_LENGTH}
   * characters (a RangeError otherwise). Optional for a store of your own: a kit whose store lacks it
   * refuses, at construction, the features that need a replay cache.
   */
  markUsed?(key: string, ttlSeconds: number): Promise<boolean>;

  // --- lifecycle ------------------------------------------------------------
  /** Releases timers and connections the store owns (not injected clients). */
  close(): Promise<void>;
}
