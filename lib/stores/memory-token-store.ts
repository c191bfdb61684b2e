/**
 * The in-process implementation of {@link TokenStore}, for tests, development and single-instance
 * deployments. Same semantics as the Redis store; every operation is atomic because it runs
 * synchronously.
 */
import { ForwardsCredentials, type CredentialStore } from './credential-store';
import { MemoryCredentialStore } from './memory-credential-store';
import {
  assertCutoffMs,
  assertUsedKey,
  MAX_REFRESH_GRACE_RETRIES,
  MAX_REFRESH_GRACE_SECONDS,
} from './token-store';
import { optionalFunction, positiveNumber } from '../util/options';
import type {
  AccessTokenRecord,
  RefreshFamily,
  RefreshTokenProof,
  RefreshTokenState,
  RevocationQuery,
  RevocationState,
  RotateRefreshInput,
  RotateRefreshResult,
  TokenStore,
} from './token-store';

/** Options of {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Milliseconds between sweeps of expired entries (entries also expire lazily on read). @default 60000 */
  readonly sweepIntervalMs?: number;
  /** Clock in milliseconds since the epoch; inject one in tests. @default Date.now */
  readonly now?: () => number;
}

interface Entry<T> {
  readonly value: T;
  /** Expiry on the store's clock, in milliseconds. */
  expiresAtMs: number;
}

/** A map whose entries expire; expired entries are dropped on read and on sweep. */
class ExpiringMap<T> {
  readonly #entries = new Map<string, Entry<T>>();

  get(key: string, nowMs: number): Entry<T> | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAtMs <= nowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: T, expiresAtMs: number): void {
    this.#entries.set(key, { value, expiresAtMs });
  }

  sweep(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= nowMs) this.#entries.delete(key);
    }
  }

  /** The values of the entries (call after a sweep for live ones only). */
  *values(): IterableIterator<T> {
    for (const entry of this.#entries.values()) yield entry.value;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Mutable state of a refresh family. */
interface FamilyState {
  /** JSON of the family without `lastUsedAt`. */
  readonly json: string;
  readonly sub: string;
  readonly clientId: string;
  /** Creation instant in ms, compared with cut-offs. */
  readonly createdMs: number;
  readonly expiresAt: number;
  lastUsedAt: number;
  current: string;
  /** Hash of the family proof, or null for a family created without one (see RefreshTokenProof). */
  proofHash: string | null;
  /** Generation of the current token. */
  generation: number;
  revoked: boolean;
  /** The token `current` replaced by a normal rotation, when (seconds), and grace retries since. */
  previous: string | null;
  previousAt: number;
  graceRetries: number;
}

function ttlMs(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new RangeError(`ttlSeconds must be finite, got ${String(seconds)}`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

function familyOf(state: FamilyState): RefreshFamily {
  return { ...(JSON.parse(state.json) as RefreshFamily), lastUsedAt: state.lastUsedAt };
}

/**
 * True when a presented token that is not current is an authentic earlier token of the family:
 * the previous one, or one carrying the family's proof with a generation at or below the current.
 */
function rotatedOut(state: FamilyState, hash: string, proof: RefreshTokenProof | undefined): boolean {
  if (state.previous === hash) return true;
  return (
    proof !== undefined &&
    state.proofHash !== null &&
    proof.proofHash === state.proofHash &&
    proof.generation <= state.generation
  );
}

/**
 * Token store in process memory. Stores deep copies, so callers cannot change stored state through
 * objects they passed in or got back. It is a {@link CredentialStore} too, through a
 * `MemoryCredentialStore` it owns, so a kit given only this store keeps credentials beside tokens.
 *
 * @example
 * const store = new MemoryTokenStore();
 * // tests: const store = new MemoryTokenStore({ now: () => clock });
 */
export class MemoryTokenStore extends ForwardsCredentials implements TokenStore, CredentialStore {
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #accessTokens = new ExpiringMap<string>();
  readonly #revokedJtis = new ExpiringMap<true>();
  readonly #revokedFamilies = new ExpiringMap<true>();
  readonly #subjectCutoffs = new ExpiringMap<number>();
  readonly #clientCutoffs = new ExpiringMap<number>();
  readonly #families = new ExpiringMap<FamilyState>();
  readonly #used = new ExpiringMap<true>();
  readonly #credentials = new MemoryCredentialStore();

  constructor(options: Readonly<MemoryTokenStoreOptions> = {}) {
    super();
    const interval = positiveNumber(options.sweepIntervalMs, 60_000, 'MemoryTokenStore: sweepIntervalMs');
    optionalFunction(options.now, 'MemoryTokenStore: now (a clock in milliseconds)');
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.#sweep(), interval);
    this.#timer.unref();
  }

  /**
   * Number of live entries (token records, revocations, cut-offs, families, credentials, index
   * keys), counting each refresh family once per token hash it keeps (current and previous).
   */
  size(): number {
    this.#sweep();
    let n = 0;
    for (const m of this.#expiring()) n += m.size;
    for (const family of this.#families.values()) if (family.previous !== null) n += 1;
    n += this.#credentials.size();
    return n;
  }

  #expiring(): ExpiringMap<unknown>[] {
    return [
      this.#accessTokens,
      this.#revokedJtis,
      this.#revokedFamilies,
      this.#subjectCutoffs,
      this.#clientCutoffs,
      this.#families,
      this.#used,
    ];
  }

  #sweep(): void {
    const now = this.#now();
    for (const m of this.#expiring()) m.sweep(now);
  }

  /** Sets a marker for at least `ms` from now; never shortens it. */
  #mark(map: ExpiringMap<true>, key: string, ms: number): void {
    const now = this.#now();
    const entry = map.get(key, now);
    if (entry === undefined) map.set(key, true, now + ms);
    else entry.expiresAtMs = Math.max(entry.expiresAtMs, now + ms);
  }

  #cutoff(map: ExpiringMap<number>, id: string): number | null {
    return map.get(id, this.#now())?.value ?? null;
  }

  #state(jti: string, subject: string, clientId: string, familyId: string | undefined): RevocationState {
    const now = this.#now();
    return {
      jtiRevoked: this.#revokedJtis.get(jti, now) !== undefined,
      familyRevoked: familyId !== undefined && this.#revokedFamilies.get(familyId, now) !== undefined,
      subjectCutoffMs: this.#cutoff(this.#subjectCutoffs, subject),
      clientCutoffMs: this.#cutoff(this.#clientCutoffs, clientId),
    };
  }

  #familyRevoked(familyId: string, state: FamilyState): boolean {
    if (state.revoked || this.#revokedFamilies.get(familyId, this.#now()) !== undefined) return true;
    const cs = this.#cutoff(this.#subjectCutoffs, state.sub);
    const cc = this.#cutoff(this.#clientCutoffs, state.clientId);
    return (cs !== null && cs >= state.createdMs) || (cc !== null && cc >= state.createdMs);
  }

  #revokeFamily(familyId: string, ms: number): void {
    this.#mark(this.#revokedFamilies, familyId, ms);
    const family = this.#families.get(familyId, this.#now());
    if (family !== undefined) family.value.revoked = true;
  }

  // --- opaque access tokens ---------------------------------------------------

  async saveAccessToken(hash: string, record: AccessTokenRecord, ttlSeconds: number): Promise<void> {
    this.#accessTokens.set(hash, JSON.stringify(record), this.#now() + ttlMs(ttlSeconds));
  }

  async lookupAccessToken(
    hash: string,
  ): Promise<{ record: AccessTokenRecord | null; state: RevocationState }> {
    const raw = this.#accessTokens.get(hash, this.#now())?.value;
    if (raw === undefined) {
      return {
        record: null,
        state: { jtiRevoked: false, familyRevoked: false, subjectCutoffMs: null, clientCutoffMs: null },
      };
    }
    const record = JSON.parse(raw) as AccessTokenRecord;
    return { record, state: this.#state(record.jti, record.sub, record.clientId, record.familyId) };
  }

  // --- revocation -------------------------------------------------------------

  async checkRevocation(query: RevocationQuery): Promise<RevocationState> {
    return this.#state(query.jti, query.subject, query.clientId, query.familyId);
  }

  async revokeJti(jti: string, ttlSeconds: number): Promise<void> {
    this.#mark(this.#revokedJtis, jti, ttlMs(ttlSeconds));
  }

  // --- one-time use -----------------------------------------------------------

  async markUsed(key: string, ttlSeconds: number): Promise<boolean> {
    assertUsedKey(key);
    const ms = ttlMs(ttlSeconds);
    const now = this.#now();
    if (this.#used.get(key, now) !== undefined) return false;
    this.#used.set(key, true, now + ms);
    return true;
  }

  async revokeFamily(familyId: string, ttlSeconds: number): Promise<void> {
    this.#revokeFamily(familyId, ttlMs(ttlSeconds));
  }

  async setCutoff(kind: 'subject' | 'client', id: string, at: number, ttlSeconds: number): Promise<void> {
    assertCutoffMs(at);
    const map = kind === 'subject' ? this.#subjectCutoffs : this.#clientCutoffs;
    const now = this.#now();
    const current = map.get(id, now);
    const expiresAtMs = Math.max(current?.expiresAtMs ?? 0, now + ttlMs(ttlSeconds));
    map.set(id, Math.max(current?.value ?? at, at), expiresAtMs);
  }

  // --- refresh families -------------------------------------------------------

  async createRefreshFamily(family: RefreshFamily, hash: string, proofHash?: string): Promise<void> {
    const { lastUsedAt, ...stored } = family;
    const state: FamilyState = {
      json: JSON.stringify(stored),
      sub: family.sub,
      clientId: family.clientId,
      createdMs: family.createdAtMs ?? family.createdAt * 1000,
      expiresAt: family.expiresAt,
      lastUsedAt,
      current: hash,
      proofHash: proofHash ?? null,
      generation: 1,
      revoked: false,
      previous: null,
      previousAt: 0,
      graceRetries: 0,
    };
    this.#families.set(family.familyId, state, Math.floor(family.expiresAt * 1000));
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    const grace = input.graceSeconds ?? 0;
    if (!Number.isFinite(grace) || grace < 0 || grace > MAX_REFRESH_GRACE_SECONDS) {
      throw new RangeError(
        `rotateRefreshToken: graceSeconds must be from 0 to ${MAX_REFRESH_GRACE_SECONDS}, got ${String(grace)}`,
      );
    }
    const entry = this.#families.get(input.familyId, this.#now());
    if (entry === undefined) return { status: 'not_found' };
    const state = entry.value;
    // Binding first: a thief holding another client's token must not consume it or revoke the family.
    if (input.expectedClientId !== undefined && state.clientId !== input.expectedClientId) {
      return { status: 'mismatch' };
    }
    if (input.expectedSubject !== undefined && state.sub !== input.expectedSubject)
      return { status: 'mismatch' };
    const isCurrent = state.current === input.presentedHash;
    // A token not provably of the family (forged: wrong proof) changes nothing.
    if (!isCurrent && !rotatedOut(state, input.presentedHash, input.proof)) return { status: 'not_found' };
    if (this.#familyRevoked(input.familyId, state)) return { status: 'revoked' };
    const markerMs = Math.max((state.expiresAt - input.now) * 1000, 1000);
    const live = input.now < state.expiresAt && input.now - state.lastUsedAt < input.idleSeconds;
    const expiresAtMs = Math.floor(Math.min(state.expiresAt, input.now + input.idleSeconds) * 1000);
    if (!isCurrent) {
      // Grace: only the token `current` replaced, only while `current` is unused (using it moves
      // `previous` on), inside the window counted from that rotation, a bounded number of times.
      // The unused successor dies but stays known, so presenting it later is reuse.
      if (
        grace > 0 &&
        live &&
        state.previous === input.presentedHash &&
        input.now < state.previousAt + grace &&
        state.graceRetries < MAX_REFRESH_GRACE_RETRIES
      ) {
        // The successor is issued as the same generation as the one it replaces, so the replaced
        // one (proof, generation <= current) is still recognised as rotated out.
        state.current = input.nextHash;
        state.lastUsedAt = input.now;
        state.graceRetries += 1;
        entry.expiresAtMs = expiresAtMs;
        return { status: 'rotated', family: familyOf(state), retried: true };
      }
      this.#revokeFamily(input.familyId, markerMs);
      return { status: 'reused', family: familyOf(state) };
    }
    if (!live) {
      this.#revokeFamily(input.familyId, markerMs);
      return { status: 'expired' };
    }
    state.previous = state.current;
    state.previousAt = input.now;
    state.graceRetries = 0;
    state.current = input.nextHash;
    state.generation += 1;
    if (state.proofHash === null && input.proof !== undefined) state.proofHash = input.proof.proofHash;
    state.lastUsedAt = input.now;
    entry.expiresAtMs = expiresAtMs;
    return { status: 'rotated', family: familyOf(state) };
  }

  async inspectRefreshToken(
    familyId: string,
    hash: string,
    now: number,
    proof?: RefreshTokenProof,
  ): Promise<RefreshTokenState | null> {
    const state = this.#families.get(familyId, this.#now())?.value;
    if (state === undefined) return null;
    const isCurrent = state.current === hash;
    if (!isCurrent && !rotatedOut(state, hash, proof)) return null;
    const active = isCurrent && !this.#familyRevoked(familyId, state) && now < state.expiresAt;
    return { family: familyOf(state), active };
  }

  /** The owned credential store the {@link CredentialStore} methods forward to. */
  protected credentialStore(): CredentialStore {
    return this.#credentials;
  }

  // --- lifecycle --------------------------------------------------------------

  /** Stops the sweep timer. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
  }
}
