/**
 * A local, invalidated view of revocation state, so that repeat requests need no store round trip.
 *
 * Answers read from the store are remembered per `jti`; every revocation anywhere is announced on a
 * channel, and each announcement clears the view. While the channel is not known to be live, the
 * view is not `ready` and every check goes to the store (fail closed).
 *
 * It lives with the stores, beside the types it speaks of, and imports nothing from the core: the core
 * and the views that implement it (e.g. `RedisRevocationView`) both depend on it, never on each other.
 */
import type { RevocationState } from './token-store';
import { BoundedCache } from '../util/bounded-cache';

/** A revocation announcement. */
export interface RevocationNotice {
  /** What changed: a revoked jti, family, subject or client, or a rotated or deleted credential. */
  readonly kind: 'jti' | 'family' | 'subject' | 'client' | 'credential';
  readonly id: string;
}

/**
 * What the token core needs of a revocation view. `RedisRevocationView` implements it over Redis
 * pub/sub.
 */
export interface RevocationView {
  /** True while announcements are known to arrive; when false the core asks the store every time. */
  readonly ready: boolean;
  /** Increases on every announcement received (and on every loss of the channel). */
  readonly generation: number;
  /** The remembered state for a jti, if any. */
  lookup(jti: string, nowMs: number): RevocationState | undefined;
  /** Remembers a state read from the store, unless an announcement arrived since `generation`. */
  remember(jti: string, state: RevocationState, expiresAtMs: number, generation: number): void;
  /** Announces a revocation to every instance (after it was written to the store). */
  announce(notice: RevocationNotice): Promise<void>;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Options of {@link LocalRevocationMemory}. */
export interface LocalRevocationMemoryOptions {
  /** Most jtis remembered; @default 100000. */
  readonly maxEntries?: number;
  /** Longest time an answer is remembered, ms, bounding staleness even if an announcement were lost; @default 60000. */
  readonly maxAgeMs?: number;
}

/**
 * The bookkeeping half of a revocation view, independent of the transport: a bounded cache that
 * is cleared by every announcement and refuses answers that raced one.
 */
export class LocalRevocationMemory {
  readonly #cache: BoundedCache<string, RevocationState>;
  readonly #maxAgeMs: number;
  #generation = 0;

  constructor(options: Readonly<LocalRevocationMemoryOptions> = {}) {
    this.#cache = new BoundedCache(options.maxEntries ?? 100_000);
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
  }

  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#cache.size;
  }

  lookup(jti: string, nowMs: number): RevocationState | undefined {
    return this.#cache.get(jti, nowMs);
  }

  remember(
    jti: string,
    state: RevocationState,
    expiresAtMs: number,
    generation: number,
    nowMs: number,
  ): void {
    if (generation !== this.#generation) return;
    this.#cache.set(jti, state, Math.min(expiresAtMs, nowMs + this.#maxAgeMs));
  }

  /** Forgets everything and invalidates reads in flight. */
  invalidate(): void {
    this.#generation++;
    this.#cache.clear();
  }
}
