/**
 * The key store contract: where the signing keys every instance shares live (memory, Redis,
 * PostgreSQL). A store keeps records, a version and a lock; the key manager does the rest.
 *
 * - The key set is one document: `load()` returns every key and the version, read together.
 * - `commit(expected, keys)` writes keys (each replacing the record of its kid) only when the
 *   version is still `expected`, and bumps it, atomically: of two writers racing from one version,
 *   one wins and the other gets `null`. A rotation touching several keys is one commit, so it has
 *   either happened or not.
 * - `acquireLock`/`releaseLock`: a lease with a token, so one instance at a time runs a rotation
 *   step (the compare-and-swap above keeps it correct if a lease expires mid-step).
 * - `subscribe`/`publish` (optional): change notifications; without them, managers poll `version()`.
 *
 * Private keys reach the store only sealed with the key-encryption key (see kek.ts).
 */
import type { PublicJwk } from './signer';

/**
 * The state of a shared key:
 * - `next`: published in the JWKS and verifying, not signing yet;
 * - `active`: the one key that signs (published, verifying);
 * - `retiring`: no longer signs, still published and verifying until the tokens it signed expire;
 * - `retired`: neither published nor verifying; its private key is deleted.
 */
export type KeyState = 'next' | 'active' | 'retiring' | 'retired';

/** The key states, in lifecycle order. */
export const KEY_STATES: readonly KeyState[] = ['next', 'active', 'retiring', 'retired'];

/** One key as a key store holds it. Times are milliseconds since the epoch. */
export interface StoredKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly state: KeyState;
  /** The public key, as published in the JWKS. */
  readonly publicJwk: PublicJwk;
  /** The private key (PKCS #8 PEM) sealed with the key-encryption key; absent for external signers and retired keys. */
  readonly sealedPrivateKey?: string;
  /** The kid of the external {@link Signer} that holds the private key, when it is not stored. */
  readonly signerRef?: string;
  readonly createdAtMs: number;
  /** When the key entered the JWKS. */
  readonly publishAtMs: number;
  /** When the key signs (or signed) first. */
  readonly activateAtMs?: number;
  /** When the key stops verifying (set when it starts retiring). */
  readonly retireAtMs?: number;
  /** When the key was retired. */
  readonly retiredAtMs?: number;
}

/** What {@link KeyStore.load} returns: every key and the version they were read at. */
export interface KeyStoreSnapshot {
  /** Increases on every commit; 0 for an empty store. */
  readonly version: number;
  readonly keys: readonly StoredKey[];
}

/**
 * A shared store of signing keys. `MemoryKeyStore` (one process), `RedisKeyStore`
 * (`express-token-kit/redis`) and `PostgresKeyStore` (`express-token-kit/postgres`) implement it;
 * `describeKeyStoreContract` (`express-token-kit/testing`) checks an implementation.
 *
 * Every method rejects with `StoreUnavailableError` when the backend cannot answer.
 */
export interface KeyStore {
  /** Every key (retired ones included) and the version, read together. */
  load(): Promise<KeyStoreSnapshot>;
  /** The current version only (cheap: for polling). */
  version(): Promise<number>;
  /**
   * Writes `keys` (each replaces its kid's record, or adds it) and bumps the version, only when the
   * version is `expectedVersion`; all or nothing. Resolves to the new version, or `null` when the
   * version moved (someone else committed first) and nothing was written.
   */
  commit(expectedVersion: number, keys: readonly StoredKey[]): Promise<number | null>;
  /**
   * Takes the store's rotation lock for `ttlMs` milliseconds: resolves to a token when this caller
   * holds it now, `null` when someone else does.
   */
  acquireLock(ttlMs: number): Promise<string | null>;
  /** Releases the lock when `token` still holds it (never someone else's). */
  releaseLock(token: string): Promise<void>;
  /** Tells every subscriber that the keys changed (best effort; polling covers a lost message). */
  publish?(): Promise<void>;
  /**
   * Calls `listener` on every change published by any instance. Resolves once subscribed, to a
   * function that unsubscribes. A broken subscription is not reported: managers poll anyway.
   */
  subscribe?(listener: () => void): Promise<() => Promise<void>>;
}

const STATES: ReadonlySet<unknown> = new Set(KEY_STATES);
const OPTIONAL_TIMES = ['activateAtMs', 'retireAtMs', 'retiredAtMs'] as const;

/**
 * Checks a record read back from a store (parsed JSON) and returns it as a {@link StoredKey}, or
 * `undefined` when it is not one (a corrupt or foreign value: the store then fails closed).
 */
export function asStoredKey(value: unknown): StoredKey | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  const isTime = (t: unknown): boolean => typeof t === 'number' && Number.isSafeInteger(t) && t >= 0;
  const jwk = r.publicJwk as Record<string, unknown> | null | undefined;
  if (
    typeof r.kid !== 'string' ||
    r.kid.length === 0 ||
    (r.alg !== 'RS256' && r.alg !== 'ES256') ||
    !STATES.has(r.state) ||
    typeof jwk !== 'object' ||
    jwk === null ||
    jwk.kid !== r.kid ||
    jwk.alg !== r.alg ||
    !isTime(r.createdAtMs) ||
    !isTime(r.publishAtMs) ||
    (r.sealedPrivateKey !== undefined && typeof r.sealedPrivateKey !== 'string') ||
    (r.signerRef !== undefined && typeof r.signerRef !== 'string') ||
    OPTIONAL_TIMES.some((name) => r[name] !== undefined && !isTime(r[name]))
  ) {
    return undefined;
  }
  return r as unknown as StoredKey;
}
