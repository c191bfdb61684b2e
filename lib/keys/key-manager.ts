/**
 * Signing keys shared by every instance through a {@link KeyStore}, rotated on a schedule.
 *
 * A key manager keeps one live {@link KeySet} (pass it to `createTokenKit({ keys })`) in step with
 * the store: it loads and decrypts the keys before it resolves, reloads when another instance
 * announces a change (the store's pub/sub) or when its poll sees the store's version move, and runs
 * the lifecycle `next` → `active` → `retiring` → `retired`:
 *
 * - a new key is published (`next`) at least `publishAhead` seconds before it signs, so every
 *   verifier that caches the JWKS for at most that long has it before the first token;
 * - the previous key keeps verifying (`retiring`) until the longest token it signed has expired,
 *   plus `leeway`, then is retired: out of the JWKS, its private key deleted.
 *
 * Every step is done by one instance: it holds the store's lock lease, re-reads the store, and
 * commits with a compare-and-swap on the store's version, in one atomic write — so two instances
 * racing on one step do it once, and a failed write leaves the previous state everywhere.
 *
 * @see RFC 7517 §5 (JWK Set), RFC 8725 §3.1 (one algorithm per key)
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

import {
  hasMethod,
  invalidOption,
  nonEmptyString,
  objectOption,
  objectWith,
  oneOf,
  optionalFunction,
  optionConflict,
  wholeMilliseconds,
  wholeSeconds,
} from '../util/options';
import { KeyEncryptionKeyError, openPrivateKey, sealPrivateKey } from './kek';
import { KeySet, randomKid, type KeyInput } from './key-set';
import type { KeyState, KeyStore, KeyStoreSnapshot, StoredKey } from './key-store';
import { publicJwkOf, type PublicJwk, type Signer, type SignerAlgorithm } from './signer';

/** Default lead time of a `next` key, in seconds: twice the JWKS endpoint's default `max-age` (300). */
export const DEFAULT_PUBLISH_AHEAD = 600;
/** Default longest token lifetime a retiring key waits for, in seconds (the kit's longest access token). */
export const DEFAULT_KEY_TOKEN_LIFETIME = 172_800;
/** Default leeway added to the wait of a retiring key, in seconds. */
export const DEFAULT_KEY_LEEWAY = 60;
/** Default poll period of the store's version, in milliseconds. */
export const DEFAULT_KEY_POLL_MS = 1000;
/** Default cooldown between two reloads for an unknown `kid`, in milliseconds. */
export const DEFAULT_UNKNOWN_KID_COOLDOWN_MS = 10_000;

/**
 * Longest a rotation step may hold the store's lock, in milliseconds. A step takes well under a
 * second; the lease only outlives an instance that died holding it.
 */
const LOCK_TTL_MS = 5_000;
/** Longest a manual step waits for another instance's lock: past a dead holder's lease. */
const LOCK_WAIT_MS = 7_000;
/** Attempts of a step whose compare-and-swap lost (someone committed in between). */
const COMMIT_ATTEMPTS = 5;

/** Options of {@link createKeyManager}. Durations are seconds unless the name says `Ms`. */
export interface KeyManagerOptions {
  /** Where the shared keys live: `MemoryKeyStore`, `RedisKeyStore`, `PostgresKeyStore`. */
  readonly store: KeyStore;
  /**
   * The key-encryption key (32 bytes, see `parseKek`/`kekFromEnv`) that seals private keys in the
   * store. Needed to create or import a local key and to load any sealed key; optional only when
   * every key is held by an external signer.
   */
  readonly kek?: Buffer;
  /** The issuer the keys sign for; in error messages. Use one store (or key prefix) per issuer. */
  readonly issuer: string;
  /** Algorithm of the keys the manager creates. @default 'RS256' */
  readonly algorithm?: SignerAlgorithm;
  /** Rotate every this many seconds (counted from the active key's activation); 0 = manual only. @default 0 */
  readonly rotateEvery?: number;
  /**
   * Seconds a `next` key is in the JWKS before it signs; at least the JWKS cache lifetime of every
   * verifier (the JWKS endpoint sends `max-age` 300 by default). @default 600
   */
  readonly publishAhead?: number;
  /** The longest lifetime of a token the keys sign, in seconds: a retiring key verifies this long. @default 172800 */
  readonly tokenLifetime?: number;
  /** Seconds added to a retiring key's wait (clock skew of verifiers). @default 60 */
  readonly leeway?: number;
  /** The time of the schedule, in ms since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** Poll the store's version every this many ms (convergence when pub/sub is down); 0 = never. @default 1000 */
  readonly pollEveryMs?: number;
  /** At most one reload for tokens with an unknown `kid` per this many ms. @default 10000 */
  readonly unknownKidCooldownMs?: number;
  /** External signers (KMS, HSM) of keys in the store (`signerRef` = the signer's kid). @default [] */
  readonly signers?: readonly Signer[];
  /**
   * Create an active key when the store is empty (the first instance to start). The CLI passes
   * `false` to list an empty store without writing. @default true
   */
  readonly bootstrap?: boolean;
}

/** A shared key as {@link KeyManager.list} reports it: no key material. Times are ISO 8601. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SignerAlgorithm;
  readonly state: KeyState;
  /** True when the private key is held by an external signer. */
  readonly external: boolean;
  readonly createdAt: string;
  readonly publishAt: string;
  readonly activateAt?: string;
  readonly retireAt?: string;
  readonly retiredAt?: string;
}

/** Options of {@link KeyManager.rotate}. */
export interface RotateKeyOptions {
  /** Sign with the new key at once, skipping the publish-ahead lead time (an emergency). @default false */
  readonly now?: boolean;
  /** The new key is this external signer's (it must be among the manager's `signers`). @default a new local key */
  readonly signer?: Signer;
}

/** Options of {@link KeyManager.retire}. */
export interface RetireKeyOptions {
  /**
   * Retire at once (a compromised key): out of the JWKS, its tokens refused everywhere within a
   * second. When it is the active key, a new key signs at once. @default false
   */
  readonly now?: boolean;
}

/** Options of {@link KeyManager.import}. */
export interface ImportKeyOptions {
  /** The kid, when the input does not carry one. @default 16 random bytes, base64url */
  readonly kid?: string;
  /** Sign with it at once instead of after the publish-ahead lead time. @default false */
  readonly now?: boolean;
}

/** The shared signing keys of an instance; see {@link createKeyManager}. */
export interface KeyManager {
  /** The live key set: pass it to `createTokenKit({ keys: manager.keys })`. */
  readonly keys: KeySet;
  /** Every key in the store (retired ones included), oldest first. */
  list(): Promise<KeyInfo[]>;
  /**
   * Creates a `next` key that signs after `publishAhead` seconds (the schedule's lead time), or with
   * `now` an `active` key that signs at once (the previous one retiring). Resolves to the new key;
   * without `now`, an already scheduled `next` key is returned as it is.
   */
  rotate(options?: RotateKeyOptions): Promise<KeyInfo>;
  /** Retires `kid`: `retiring` until its tokens expired, or with `now` `retired` at once. */
  retire(kid: string, options?: RetireKeyOptions): Promise<KeyInfo>;
  /** Imports a private key (PEM, private JWK, or the `KeyInput` JSON `keys generate` prints) as `next`. */
  import(input: string, options?: ImportKeyOptions): Promise<KeyInfo>;
  /** Runs the schedule once (also run by the manager's timer). */
  tick(): Promise<void>;
  /** Reloads the keys from the store now. */
  reload(): Promise<void>;
  /** Stops the timers and the subscription (the store stays open: its owner closes it). */
  close(): Promise<void>;
}

/** A manual key step refused: an unknown kid, a malformed import, a step that would leave no key. */
export class KeyManagerError extends Error {
  /** A stable code: `unknown_kid`, `invalid_key`, `kid_taken`, `no_kek`, `refused`, `busy`. */
  readonly code: 'unknown_kid' | 'invalid_key' | 'kid_taken' | 'no_kek' | 'refused' | 'busy';

  constructor(code: KeyManagerError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyManagerError';
    this.code = code;
  }
}

interface Resolved {
  readonly store: KeyStore;
  readonly kek: Buffer | undefined;
  readonly issuer: string;
  readonly algorithm: SignerAlgorithm;
  readonly rotateEveryMs: number;
  readonly publishAheadMs: number;
  readonly retireAfterMs: number;
  readonly clock: () => number;
  readonly pollEveryMs: number;
  readonly unknownKidCooldownMs: number;
  readonly signers: ReadonlyMap<string, Signer>;
  readonly bootstrap: boolean;
}

/**
 * Creates a key manager over a shared store: loads and decrypts the store's keys (creating the
 * first key when the store is empty), then keeps its key set in step.
 *
 * @throws KeyEncryptionKeyError (rejects) when a stored key does not open with `kek`, or a key
 *   must be sealed or opened and no `kek` is given; StoreUnavailableError when the store is down;
 *   TypeError/RangeError for bad options.
 * @example
 * ```ts
 * const store = new RedisKeyStore({ client: redis, keyPrefix: 'myapp:' });
 * const manager = await createKeyManager({ store, kek: kekFromEnv(process.env)!.kek, issuer, rotateEvery: 30 * 86400 });
 * const kit = createTokenKit({ store: tokenStore, keys: manager.keys, issuer });
 * ```
 */
export async function createKeyManager(options: Readonly<KeyManagerOptions>): Promise<KeyManager> {
  const manager = new SharedKeyManager(resolve(options));
  await manager.start();
  return manager;
}

function seconds(value: number | undefined, fallback: number, option: string, min = 0): number {
  return wholeSeconds(value, fallback, `createKeyManager: ${option}`, min);
}

function resolve(options: Readonly<KeyManagerOptions>): Resolved {
  objectOption(options, 'createKeyManager: options');
  const store = objectWith(
    options.store,
    ['load', 'version', 'commit', 'acquireLock', 'releaseLock'],
    'createKeyManager: options.store',
    'a KeyStore (load, version, commit, acquireLock and releaseLock)',
  );
  if (options.kek !== undefined && (!Buffer.isBuffer(options.kek) || options.kek.length !== 32)) {
    throw new KeyEncryptionKeyError(
      'createKeyManager: the key-encryption key (options.kek) must be 32 bytes',
    );
  }
  const issuer = nonEmptyString(options.issuer, 'createKeyManager: options.issuer');
  const algorithm = oneOf(
    options.algorithm,
    ['RS256', 'ES256'],
    'createKeyManager: options.algorithm',
    'RS256',
  );
  const rotateEvery = seconds(options.rotateEvery, 0, 'rotateEvery');
  const publishAhead = seconds(options.publishAhead, DEFAULT_PUBLISH_AHEAD, 'publishAhead');
  if (rotateEvery > 0 && rotateEvery <= publishAhead) {
    throw optionConflict(
      `createKeyManager: rotateEvery (${rotateEvery}) must be longer than publishAhead (${publishAhead})`,
    );
  }
  const tokenLifetime = seconds(options.tokenLifetime, DEFAULT_KEY_TOKEN_LIFETIME, 'tokenLifetime', 1);
  const leeway = seconds(options.leeway, DEFAULT_KEY_LEEWAY, 'leeway');
  const clock = optionalFunction(options.clock, 'createKeyManager: options.clock') ?? Date.now;
  const pollEveryMs = wholeMilliseconds(
    options.pollEveryMs,
    DEFAULT_KEY_POLL_MS,
    'createKeyManager: pollEveryMs',
    0,
  );
  const cooldown = wholeMilliseconds(
    options.unknownKidCooldownMs,
    DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
    'createKeyManager: unknownKidCooldownMs',
    0,
  );
  const signers = new Map<string, Signer>();
  for (const signer of options.signers ?? []) {
    if (!hasMethod(signer, 'sign') || typeof signer.kid !== 'string') {
      throw invalidOption('createKeyManager: options.signers must be Signers { kid, alg, publicJwk, sign }');
    }
    if (signers.has(signer.kid)) {
      throw new RangeError(`createKeyManager: two signers with kid ${JSON.stringify(signer.kid)}`);
    }
    signers.set(signer.kid, signer);
  }
  return Object.freeze({
    store,
    kek: options.kek,
    issuer,
    algorithm,
    rotateEveryMs: rotateEvery * 1000,
    publishAheadMs: publishAhead * 1000,
    retireAfterMs: (tokenLifetime + leeway) * 1000,
    clock,
    pollEveryMs,
    unknownKidCooldownMs: cooldown,
    signers,
    bootstrap: options.bootstrap ?? true,
  });
}

/** What a step commits (the changed keys) and what it reports. */
interface StepResult {
  readonly changes: readonly StoredKey[];
  readonly result?: StoredKey;
}

class SharedKeyManager implements KeyManager {
  readonly keys = new KeySet();
  readonly #o: Resolved;
  /** The snapshot the key set was built from. */
  #snapshot: KeyStoreSnapshot = { version: -1, keys: [] };
  /** Opened private keys, by kid and sealed text (a re-sealed key is opened again). */
  readonly #opened = new Map<string, { sealed: string; key: KeyObject }>();
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #lastUnknownKidMs = -Infinity;
  #unknownKidReload: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #unsubscribe: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(options: Resolved) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { store } = this.#o;
    if (store.subscribe !== undefined) {
      try {
        this.#unsubscribe = await store.subscribe(() => this.#reloadInBackground());
      } catch {
        // Pub/sub is a speed-up: the poll below converges without it.
      }
    }
    try {
      await this.reload();
      if (this.#o.bootstrap && this.#active() === undefined) {
        await this.#step(true, (snapshot, now) => {
          if (snapshot.keys.some((k) => k.state === 'active')) return { changes: [] };
          return this.#newKeyStep(snapshot, now, true);
        });
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.keys.onUnknownKid(() => this.#reloadForUnknownKid());
    if (this.#o.pollEveryMs > 0) {
      this.#timer = setInterval(() => void this.#poll(), this.#o.pollEveryMs);
      this.#timer.unref();
    }
  }

  async list(): Promise<KeyInfo[]> {
    const snapshot = await this.#o.store.load();
    return sortKeys(snapshot.keys).map(info);
  }

  async rotate(options: Readonly<RotateKeyOptions> = {}): Promise<KeyInfo> {
    const signer = options.signer;
    if (signer !== undefined && this.#o.signers.get(signer.kid) !== signer) {
      throw new KeyManagerError('refused', "rotate: options.signer must be one of the manager's signers");
    }
    const result = await this.#step(true, (snapshot, now) => {
      if (options.now !== true) {
        const next = snapshot.keys.find((k) => k.state === 'next');
        if (next !== undefined) return { changes: [], result: next };
      }
      return this.#newKeyStep(snapshot, now, options.now === true, signer);
    });
    return info(result!);
  }

  async retire(kid: string, options: Readonly<RetireKeyOptions> = {}): Promise<KeyInfo> {
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 128) {
      throw new KeyManagerError(
        'unknown_kid',
        'retire: kid must be a non-empty string of at most 128 characters',
      );
    }
    const result = await this.#step(true, (snapshot, now) => {
      const key = snapshot.keys.find((k) => k.kid === kid);
      if (key === undefined) {
        throw new KeyManagerError(
          'unknown_kid',
          `retire: no key with kid ${JSON.stringify(kid)} in the store`,
        );
      }
      if (key.state === 'retired') return { changes: [], result: key };
      if (options.now === true || key.state === 'next') {
        // A next key signed nothing: it can go at once.
        const retired = retiredKey(key, now);
        if (key.state !== 'active') return { changes: [retired], result: retired };
        const next = this.#newKeyStep(snapshot, now, true);
        // #newKeyStep already moves the active key to retiring: retire it instead.
        return {
          changes: next.changes.map((k) => (k.kid === kid ? retired : k)),
          result: retired,
        };
      }
      if (key.state === 'active') {
        throw new KeyManagerError(
          'refused',
          `retire: ${JSON.stringify(kid)} is the active key; rotate first (it then retires on schedule), or retire it now`,
        );
      }
      return { changes: [], result: key };
    });
    return info(result!);
  }

  async import(input: string, options: Readonly<ImportKeyOptions> = {}): Promise<KeyInfo> {
    const parsed = parseImport(input, options.kid);
    const result = await this.#step(true, (snapshot, now) => {
      if (snapshot.keys.some((k) => k.kid === parsed.kid)) {
        throw new KeyManagerError(
          'kid_taken',
          `import: kid ${JSON.stringify(parsed.kid)} is already in the store`,
        );
      }
      return this.#placeKey(
        snapshot,
        now,
        this.#localKey(parsed.kid, parsed.alg, parsed.privateKey, now),
        options.now === true,
      );
    });
    return info(result!);
  }

  async tick(): Promise<void> {
    const now = this.#o.clock();
    if (!this.#due(this.#snapshot, now)) return;
    await this.#step(false, (snapshot, at) => this.#scheduleStep(snapshot, at));
  }

  async reload(): Promise<void> {
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#reloadAgain = false;
          this.#apply(await this.#o.store.load());
        } while (this.#reloadAgain);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.keys.onUnknownKid(undefined);
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
  }

  // --- the schedule -------------------------------------------------------------------------

  #active(snapshot = this.#snapshot): StoredKey | undefined {
    return snapshot.keys.find((k) => k.state === 'active');
  }

  /** True when a scheduled step is due at `now` (decided on the local snapshot, no store access). */
  #due(snapshot: KeyStoreSnapshot, now: number): boolean {
    for (const key of snapshot.keys) {
      if (key.state === 'next' && (key.activateAtMs ?? Infinity) <= now) return true;
      if (key.state === 'retiring' && (key.retireAtMs ?? Infinity) <= now) return true;
    }
    const active = this.#active(snapshot);
    if (this.#o.rotateEveryMs > 0 && active !== undefined && !snapshot.keys.some((k) => k.state === 'next')) {
      const rotateAt = (active.activateAtMs ?? active.createdAtMs) + this.#o.rotateEveryMs;
      if (rotateAt - this.#o.publishAheadMs <= now) return true;
    }
    return false;
  }

  #scheduleStep(snapshot: KeyStoreSnapshot, now: number): StepResult {
    const changes = new Map<string, StoredKey>();
    let keys = [...snapshot.keys];
    const put = (key: StoredKey): void => {
      changes.set(key.kid, key);
      keys = keys.map((k) => (k.kid === key.kid ? key : k));
    };
    for (const key of keys) {
      if (key.state === 'retiring' && (key.retireAtMs ?? Infinity) <= now) put(retiredKey(key, now));
    }
    const next = keys.find((k) => k.state === 'next' && (k.activateAtMs ?? Infinity) <= now);
    if (next !== undefined) {
      const active = keys.find((k) => k.state === 'active');
      if (active !== undefined) put(this.#retiringKey(active, now));
      put({ ...next, state: 'active', activateAtMs: now });
    }
    const active = keys.find((k) => k.state === 'active');
    if (this.#o.rotateEveryMs > 0 && active !== undefined && !keys.some((k) => k.state === 'next')) {
      const rotateAt = (active.activateAtMs ?? active.createdAtMs) + this.#o.rotateEveryMs;
      if (rotateAt - this.#o.publishAheadMs <= now) {
        const key = this.#localKey(this.#newKid(snapshot), this.#o.algorithm, undefined, now);
        put({ ...key, state: 'next', activateAtMs: Math.max(rotateAt, now + this.#o.publishAheadMs) });
      }
    }
    return { changes: [...changes.values()] };
  }

  #retiringKey(key: StoredKey, now: number): StoredKey {
    return { ...key, state: 'retiring', retireAtMs: now + this.#o.retireAfterMs };
  }

  /** A new key (local, or the given external signer's) placed as `next` or, with `now`, active. */
  #newKeyStep(snapshot: KeyStoreSnapshot, now: number, activeNow: boolean, signer?: Signer): StepResult {
    let key: StoredKey;
    if (signer !== undefined) {
      if (snapshot.keys.some((k) => k.kid === signer.kid)) {
        throw new KeyManagerError(
          'kid_taken',
          `rotate: kid ${JSON.stringify(signer.kid)} is already in the store`,
        );
      }
      key = {
        kid: signer.kid,
        alg: signer.alg,
        state: 'next',
        publicJwk: publicJwkOf(jwkToPublicKey(signer.publicJwk), signer.kid, signer.alg),
        signerRef: signer.kid,
        createdAtMs: now,
        publishAtMs: now,
      };
    } else {
      key = this.#localKey(this.#newKid(snapshot), this.#o.algorithm, undefined, now);
    }
    return this.#placeKey(snapshot, now, key, activeNow);
  }

  #placeKey(snapshot: KeyStoreSnapshot, now: number, key: StoredKey, activeNow: boolean): StepResult {
    if (!activeNow && this.#active(snapshot) !== undefined) {
      const placed: StoredKey = { ...key, state: 'next', activateAtMs: now + this.#o.publishAheadMs };
      // One next key at a time: a scheduled one it replaces signed nothing.
      const others = snapshot.keys.filter((k) => k.state === 'next').map((k) => retiredKey(k, now));
      return { changes: [...others, placed], result: placed };
    }
    const placed: StoredKey = { ...key, state: 'active', activateAtMs: now };
    const changes: StoredKey[] = [];
    for (const k of snapshot.keys) {
      if (k.state === 'active') changes.push(this.#retiringKey(k, now));
      else if (k.state === 'next') changes.push(retiredKey(k, now));
    }
    changes.push(placed);
    return { changes, result: placed };
  }

  /** A new stored key: `generate` a key pair when `privateKey` is not given, seal it with the KEK. */
  #localKey(kid: string, alg: SignerAlgorithm, privateKey: KeyObject | undefined, now: number): StoredKey {
    const kek = this.#o.kek;
    if (kek === undefined) {
      throw new KeyEncryptionKeyError(
        `no key-encryption key given (TOKEN_KIT_KEK): a new private key for ${this.#o.issuer} cannot be stored sealed`,
      );
    }
    const key = privateKey ?? generatePrivateKey(alg);
    const pem = Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }) as string, 'utf8');
    return {
      kid,
      alg,
      state: 'next',
      publicJwk: publicJwkOf(createPublicKey(key), kid, alg),
      sealedPrivateKey: sealPrivateKey(kek, pem, aadOf(kid, alg)),
      createdAtMs: now,
      publishAtMs: now,
    };
  }

  #newKid(snapshot: KeyStoreSnapshot): string {
    for (;;) {
      const kid = randomKid(12);
      if (!snapshot.keys.some((k) => k.kid === kid)) return kid;
    }
  }

  /**
   * Runs one step under the store's lock: re-reads the store, computes the changes, commits them
   * with a compare-and-swap on the version (retrying when another instance committed first),
   * announces the change and applies it locally. `wait`: wait for another instance's lock (manual
   * steps) rather than leave the step to it (scheduled steps).
   */
  async #step(
    wait: boolean,
    compute: (snapshot: KeyStoreSnapshot, now: number) => StepResult,
  ): Promise<StoredKey | undefined> {
    const { store } = this.#o;
    const token = await this.#lock(wait);
    if (token === null) return undefined;
    try {
      for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt += 1) {
        const snapshot = await store.load();
        const { changes, result } = compute(snapshot, this.#o.clock());
        if (changes.length === 0) {
          this.#apply(snapshot);
          return result;
        }
        // Check the new state opens before it is written: a wrong KEK never commits.
        const merged = mergeKeys(snapshot.keys, changes);
        this.#inputsOf(merged);
        const version = await store.commit(snapshot.version, changes);
        if (version === null) continue;
        this.#apply({ version, keys: merged });
        await store.publish?.().catch(() => undefined);
        return result === undefined ? undefined : changes.find((k) => k.kid === result.kid);
      }
      throw new KeyManagerError('busy', 'the key store kept changing during the step; try again');
    } finally {
      await store.releaseLock(token).catch(() => undefined);
    }
  }

  async #lock(wait: boolean): Promise<string | null> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const token = await this.#o.store.acquireLock(LOCK_TTL_MS);
      if (token !== null || !wait) return token;
      if (Date.now() >= deadline) {
        throw new KeyManagerError('busy', 'another instance holds the key store lock; try again');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // --- loading ------------------------------------------------------------------------------

  /** Builds the key set from a snapshot (all keys open, or nothing changes). */
  #apply(snapshot: KeyStoreSnapshot): void {
    if (snapshot.version === this.#snapshot.version && this.#snapshot.version >= 0) return;
    if (snapshot.version < this.#snapshot.version) return;
    const { inputs, signingKid, retired } = this.#inputsOf(snapshot.keys);
    this.keys.replaceAll(inputs, signingKid, retired);
    this.#snapshot = snapshot;
  }

  #inputsOf(keys: readonly StoredKey[]): {
    inputs: KeyInput[];
    signingKid: string | undefined;
    retired: string[];
  } {
    const inputs: KeyInput[] = [];
    const retired: string[] = [];
    let signingKid: string | undefined;
    for (const key of keys) {
      if (key.state === 'retired') {
        retired.push(key.kid);
        continue;
      }
      let input: KeyInput;
      if (key.sealedPrivateKey !== undefined) {
        input = { kid: key.kid, alg: key.alg, privateKey: this.#open(key, key.sealedPrivateKey) };
      } else if (key.signerRef !== undefined && this.#o.signers.has(key.signerRef)) {
        input = { kid: key.kid, alg: key.alg, signer: this.#o.signers.get(key.signerRef)! };
      } else {
        input = { kid: key.kid, alg: key.alg, publicKey: key.publicJwk as unknown as KeyInput['publicKey'] };
      }
      inputs.push(input);
      if (key.state === 'active' && (input.privateKey !== undefined || input.signer !== undefined)) {
        signingKid = key.kid;
      }
    }
    return { inputs, signingKid, retired };
  }

  #open(key: StoredKey, sealed: string): KeyObject {
    const cached = this.#opened.get(key.kid);
    if (cached?.sealed === sealed) return cached.key;
    const kek = this.#o.kek;
    if (kek === undefined) {
      throw new KeyEncryptionKeyError(
        `the key store of ${this.#o.issuer} holds sealed private keys but no key-encryption key was given (TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE)`,
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(openPrivateKey(kek, sealed, aadOf(key.kid, key.alg)));
    } catch (error) {
      if (error instanceof KeyEncryptionKeyError) {
        throw new KeyEncryptionKeyError(
          `the stored key ${JSON.stringify(key.kid)} does not open with this key-encryption key: the key-encryption key is wrong`,
          { cause: error },
        );
      }
      throw new KeyEncryptionKeyError(
        `the stored key ${JSON.stringify(key.kid)} opened to no readable private key`,
        {
          cause: error,
        },
      );
    }
    this.#opened.set(key.kid, { sealed, key: privateKey });
    return privateKey;
  }

  #reloadInBackground(): void {
    if (this.#closed) return;
    this.reload().catch(() => undefined);
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      const version = await this.#o.store.version();
      if (version !== this.#snapshot.version) await this.reload();
      await this.tick();
    } catch {
      // An outage: keep the last good keys, try again next period.
    } finally {
      this.#polling = false;
    }
  }

  /** At most one store reload per cooldown for unknown kids, single-flight. */
  #reloadForUnknownKid(): Promise<void> {
    if (this.#unknownKidReload !== undefined) return this.#unknownKidReload;
    const now = Date.now();
    if (now - this.#lastUnknownKidMs < this.#o.unknownKidCooldownMs) return Promise.resolve();
    this.#lastUnknownKidMs = now;
    this.#unknownKidReload = this.reload().finally(() => {
      this.#unknownKidReload = undefined;
    });
    return this.#unknownKidReload;
  }
}

function aadOf(kid: string, alg: string): string {
  return `etk-key:${alg}:${kid}`;
}

function generatePrivateKey(alg: SignerAlgorithm): KeyObject {
  // Synchronous on purpose: it runs inside one short locked step, a few times a month.
  return alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

function jwkToPublicKey(jwk: PublicJwk): KeyObject {
  try {
    return createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new KeyManagerError('invalid_key', "the signer's publicJwk is not a readable public JWK", {
      cause,
    });
  }
}

function retiredKey(key: StoredKey, now: number): StoredKey {
  const { sealedPrivateKey: _dropped, ...rest } = key;
  return { ...rest, state: 'retired', retiredAtMs: now };
}

function mergeKeys(keys: readonly StoredKey[], changes: readonly StoredKey[]): StoredKey[] {
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  for (const change of changes) byKid.set(change.kid, change);
  return [...byKid.values()];
}

function sortKeys(keys: readonly StoredKey[]): StoredKey[] {
  return [...keys].sort((a, b) => a.createdAtMs - b.createdAtMs || (a.kid < b.kid ? -1 : 1));
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function info(key: StoredKey): KeyInfo {
  const out: Record<string, unknown> = {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    external: key.signerRef !== undefined,
    createdAt: iso(key.createdAtMs),
    publishAt: iso(key.publishAtMs),
  };
  if (key.activateAtMs !== undefined) out.activateAt = iso(key.activateAtMs);
  if (key.retireAtMs !== undefined) out.retireAt = iso(key.retireAtMs);
  if (key.retiredAtMs !== undefined) out.retiredAt = iso(key.retiredAtMs);
  return Object.freeze(out) as unknown as KeyInfo;
}

/**
 * Reads an import: a PEM private key, a private JWK, or the `KeyInput` JSON `keys generate` prints
 * (`{ kid, alg, privateKey, publicKey? }`). Nothing of the input is ever put in a message.
 */
function parseImport(
  input: string,
  kidOption: string | undefined,
): { kid: string; alg: SignerAlgorithm; privateKey: KeyObject } {
  if (typeof input !== 'string' || input.trim().length === 0) {
    throw new KeyManagerError(
      'invalid_key',
      'import: the input is empty (give a PEM private key or a JSON JWK / KeyInput)',
    );
  }
  if (input.length > 64 * 1024) {
    throw new KeyManagerError('invalid_key', 'import: the input is longer than 64 KiB');
  }
  let kid = kidOption;
  let alg: string | undefined;
  let material: unknown = input;
  const text = input.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new KeyManagerError('invalid_key', 'import: the input starts with "{" but is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new KeyManagerError('invalid_key', 'import: the JSON is not an object');
    }
    const record = parsed as Record<string, unknown>;
    if ('privateKey' in record || 'secret' in record) {
      if (record.secret !== undefined || record.alg === 'HS256') {
        throw new KeyManagerError(
          'invalid_key',
          'import: HS256 secrets cannot be shared keys (they are never published); use RS256 or ES256',
        );
      }
      material = record.privateKey;
      if (typeof record.kid === 'string') kid = kidOption ?? record.kid;
      if (typeof record.alg === 'string') alg = record.alg;
    } else {
      material = record;
      if (typeof record.kid === 'string') kid = kidOption ?? record.kid;
      if (typeof record.alg === 'string') alg = record.alg;
      if (record.kty === 'oct') {
        throw new KeyManagerError(
          'invalid_key',
          'import: HS256 secrets cannot be shared keys (they are never published); use RS256 or ES256',
        );
      }
      if (record.d === undefined) {
        throw new KeyManagerError(
          'invalid_key',
          'import: the JWK is a public key (no "d" member); import needs the private key',
        );
      }
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey =
      typeof material === 'string'
        ? createPrivateKey(material)
        : createPrivateKey({ key: material as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new KeyManagerError(
      'invalid_key',
      'import: the input is not a readable private key (PEM, JWK or KeyInput JSON)',
      { cause },
    );
  }
  const inferred: SignerAlgorithm | undefined =
    privateKey.asymmetricKeyType === 'rsa'
      ? 'RS256'
      : privateKey.asymmetricKeyType === 'ec'
        ? 'ES256'
        : undefined;
  if (inferred === undefined || (alg !== undefined && alg !== inferred)) {
    throw new KeyManagerError(
      'invalid_key',
      'import: the key is neither an RSA key for RS256 nor a P-256 key for ES256',
    );
  }
  kid ??= randomKid();
  if (!/^[\x21-\x7e]{1,128}$/.test(kid)) {
    throw new KeyManagerError(
      'invalid_key',
      'import: kid must be 1-128 printable ASCII characters without spaces',
    );
  }
  try {
    publicJwkOf(createPublicKey(privateKey), kid, inferred);
  } catch (cause) {
    throw new KeyManagerError('invalid_key', `import: ${(cause as Error).message}`, { cause });
  }
  return { kid, alg: inferred, privateKey };
}
