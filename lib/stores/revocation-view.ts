/**
 * A local view of revocation state, so that requests need no store round trip: either a replica of
 * everything revoked ({@link RevocationReplica}: any token's check answered locally while synced) or
 * the older per-`jti` memory of answers read from the store ({@link LocalRevocationMemory}: every
 * announcement clears it). While the view is not known to be current, it is not `ready` and every
 * check goes to the store (fail closed).
 *
 * It lives with the stores, beside the types it speaks of, and imports nothing from the core: the core
 * and the views that implement it (e.g. `RedisRevocationView`) both depend on it, never on each other.
 */
import type { RevocationQuery, RevocationState } from './token-store';
import { BoundedCache } from '../util/bounded-cache';
import { positiveInteger } from '../util/options';

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
  /**
   * The full revocation state of ANY token, answered locally by a synced replica of everything
   * revoked (see {@link RevocationReplica}); undefined when the view cannot answer (it is no
   * replica, or not synced), and the core asks the store. Synchronous; allocates nothing for a
   * token that is not revoked.
   */
  check?(query: RevocationQuery): RevocationState | undefined;
  /** True when the view is a replica: while `ready`, {@link RevocationView.check} answers for any token. */
  readonly replicating?: boolean;
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

/** The state of a token nothing revokes: one shared frozen object. */
const NOT_REVOKED: RevocationState = Object.freeze({
  jtiRevoked: false,
  familyRevoked: false,
  subjectCutoffMs: null,
  clientCutoffMs: null,
});

/** One revocation a {@link RevocationReplica} holds. */
export interface ReplicaRevocation {
  readonly kind: 'jti' | 'family' | 'subject' | 'client';
  readonly id: string;
  /** The cut-off instant in ms (subject, client); ignored for a jti or a family. */
  readonly atMs?: number;
  /** When the revocation lapses, ms since the epoch (real time). */
  readonly untilMs: number;
}

/** Options of {@link RevocationReplica}. */
export interface RevocationReplicaOptions {
  /**
   * Most revocations held (jtis, families and cut-offs together). Past it the replica overflows: it
   * stops answering and every check goes to the store, until a load fits again. @default 500000
   */
  readonly maxEntries?: number;
}

/**
 * The bookkeeping half of a revocation replica, independent of the transport: every live
 * revocation of a deployment (denylisted jtis, revoked families, subject and client cut-offs) with
 * the sequence number of the last one applied. Revocations are few compared with live tokens; each
 * costs about 100 bytes plus its id (a Map entry and the id string), so the default bound of
 * 500 000 entries is about 60 MB at worst. Entries lapse on the real clock (as the store's TTLs
 * do), swept by {@link RevocationReplica.prune}; one held a little longer only refuses longer.
 */
export class RevocationReplica {
  readonly #jtis = new Map<string, number>();
  readonly #families = new Map<string, number>();
  readonly #subjects = new Map<string, { atMs: number; untilMs: number }>();
  readonly #clients = new Map<string, { atMs: number; untilMs: number }>();
  readonly #maxEntries: number;
  #seq = -1;

  constructor(options: Readonly<RevocationReplicaOptions> = {}) {
    this.#maxEntries = positiveInteger(options.maxEntries, 500_000, 'RevocationReplica: maxEntries');
  }

  /** The sequence number of the last revocation applied; -1 before the first load. */
  get seq(): number {
    return this.#seq;
  }

  /** Number of revocations held. */
  get size(): number {
    return this.#jtis.size + this.#families.size + this.#subjects.size + this.#clients.size;
  }

  /** True when more revocations are held than allowed: the replica must not answer. */
  get overflowing(): boolean {
    return this.size > this.#maxEntries;
  }

  /** Replaces everything with a snapshot taken at sequence `seq`. */
  load(seq: number, revocations: Iterable<ReplicaRevocation>): void {
    this.#jtis.clear();
    this.#families.clear();
    this.#subjects.clear();
    this.#clients.clear();
    for (const revocation of revocations) this.#put(revocation);
    this.#seq = seq;
  }

  /** Applies revocation `seq`; false (nothing applied) unless it is exactly the next one. */
  apply(seq: number, revocation: ReplicaRevocation): boolean {
    if (seq !== this.#seq + 1) return false;
    this.#put(revocation);
    this.#seq = seq;
    return true;
  }

  /** The revocation state of a token; the shared not-revoked state when nothing applies. */
  check(query: RevocationQuery): RevocationState {
    const jtiRevoked = this.#jtis.size > 0 && this.#jtis.has(query.jti);
    const familyRevoked =
      query.familyId !== undefined && this.#families.size > 0 && this.#families.has(query.familyId);
    const subject = this.#subjects.size > 0 ? this.#subjects.get(query.subject) : undefined;
    const client = this.#clients.size > 0 ? this.#clients.get(query.clientId) : undefined;
    if (!jtiRevoked && !familyRevoked && subject === undefined && client === undefined) return NOT_REVOKED;
    return {
      jtiRevoked,
      familyRevoked,
      subjectCutoffMs: subject?.atMs ?? null,
      clientCutoffMs: client?.atMs ?? null,
    };
  }

  /** Drops revocations that lapsed before `nowMs` (real time). */
  prune(nowMs: number): void {
    for (const map of [this.#jtis, this.#families])
      for (const [id, until] of map) if (until < nowMs) map.delete(id);
    for (const map of [this.#subjects, this.#clients])
      for (const [id, cutoff] of map) if (cutoff.untilMs < nowMs) map.delete(id);
  }

  #put(revocation: ReplicaRevocation): void {
    const { kind, id, untilMs } = revocation;
    if (kind === 'jti' || kind === 'family') {
      const map = kind === 'jti' ? this.#jtis : this.#families;
      map.set(id, Math.max(untilMs, map.get(id) ?? -Infinity));
      return;
    }
    const atMs = revocation.atMs;
    // never drop a cut-off silently: the transport treats this as a corrupt log and resyncs
    if (atMs === undefined || !Number.isFinite(atMs))
      throw new RangeError(`cut-off of ${kind} without an instant`);
    const map = kind === 'subject' ? this.#subjects : this.#clients;
    const current = map.get(id);
    map.set(id, {
      atMs: Math.max(atMs, current?.atMs ?? -Infinity),
      untilMs: Math.max(untilMs, current?.untilMs ?? -Infinity),
    });
  }
}
