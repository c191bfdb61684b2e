/**
 * A bounded map whose entries expire, capped both in entries and (approximately) in bytes.
 *
 * Policies:
 * - `'fifo'` (the default): oldest-inserted entries are evicted first, hits change nothing;
 * - `'lru'`: least recently used entries are evicted first (a hit moves its entry to the back);
 * - `'admit-on-second-sighting'`: LRU behind a doorkeeper. While the cache has room, every key is
 *   admitted; once it is full, a key is admitted (evicting the least recently used entry) only the
 *   second time it is offered within the doorkeeper's memory — a set of numeric fingerprints of up
 *   to twice `max` recently refused keys, cleared when full (the "doorkeeper" of TinyLFU). So a
 *   stream of one-off keys, many more than `max`, never evicts the entries that keep hitting: at
 *   N ≫ `max` distinct keys the cache does not thrash.
 *
 * Sizes are what the caller says an entry costs (`set(…, bytes)`); the cache adds nothing to them.
 */

/** Options of {@link BoundedCache}. */
export interface BoundedCacheOptions<K> {
  /** Upper bound on the sum of the entries' `bytes`; @default Infinity (entries only). */
  readonly maxBytes?: number;
  /** Eviction and admission policy; @default 'fifo' */
  readonly policy?: 'fifo' | 'lru' | 'admit-on-second-sighting';
  /**
   * A number standing for a key in the doorkeeper (collisions only admit a key early). @default a
   * hash of the last 16 characters and the length of a string key (made for tokens, whose tail is
   * their signature or secret).
   */
  readonly fingerprint?: (key: K) => number;
  /**
   * With `'admit-on-second-sighting'`: false asks the doorkeeper even while there is room, so a
   * key seen once costs a fingerprint (a small integer in a set) and never a whole entry — for a
   * large cache of many one-off keys. @default true
   */
  readonly admitWhenRoom?: boolean;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  bytes: number;
}

/** FNV-1a over the last 16 UTF-16 units of a string, mixed with its length, to 30 bits. */
export function tailFingerprint(key: unknown): number {
  const text = String(key);
  let hash = 0x811c9dc5 ^ text.length;
  for (let i = Math.max(0, text.length - 16); i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // 30 bits: a small integer, stored unboxed in the doorkeeper's set
  return hash & 0x3fffffff;
}

/** A bounded map whose entries expire; see the module comment for the policies. */
export class BoundedCache<K, V> {
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #reorder: boolean;
  readonly #doorkeeper: Set<number> | undefined;
  readonly #fingerprint: (key: K) => number;
  readonly #admitWhenRoom: boolean;
  readonly #entries = new Map<K, Entry<V>>();
  #bytes = 0;

  constructor(max: number, options: Readonly<BoundedCacheOptions<K>> = {}) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`cache size must be a positive integer, got ${max}`);
    const maxBytes = options.maxBytes ?? Infinity;
    if (!(maxBytes > 0)) throw new RangeError(`cache maxBytes must be positive, got ${String(maxBytes)}`);
    const policy = options.policy ?? 'fifo';
    if (policy !== 'fifo' && policy !== 'lru' && policy !== 'admit-on-second-sighting')
      throw new TypeError(`cache policy must be 'fifo', 'lru' or 'admit-on-second-sighting'`);
    this.#max = max;
    this.#maxBytes = maxBytes;
    this.#reorder = policy !== 'fifo';
    this.#doorkeeper = policy === 'admit-on-second-sighting' ? new Set() : undefined;
    this.#fingerprint = options.fingerprint ?? tailFingerprint;
    this.#admitWhenRoom = options.admitWhenRoom ?? true;
  }

  /** The live value for `key` at time `now` (ms), or undefined. */
  get(key: K, now: number): V | undefined {
    const entries = this.#entries;
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#remove(key, entry);
      return undefined;
    }
    if (this.#reorder) {
      entries.delete(key);
      entries.set(key, entry);
    }
    return entry.value;
  }

  /**
   * Offers `value` until `expiresAt` (ms), costing about `bytes`; evicts as the policy says. Returns
   * false when the entry was not admitted (too big, or refused by the doorkeeper).
   */
  set(key: K, value: V, expiresAt: number, bytes = 0): boolean {
    const entries = this.#entries;
    const current = entries.get(key);
    if (current !== undefined) this.#remove(key, current);
    if (bytes > this.#maxBytes) return false;
    const full = entries.size >= this.#max || this.#bytes + bytes > this.#maxBytes;
    const doorkeeper = this.#doorkeeper;
    if ((full || !this.#admitWhenRoom) && doorkeeper !== undefined && current === undefined) {
      const print = this.#fingerprint(key);
      if (!doorkeeper.delete(print)) {
        if (doorkeeper.size >= 2 * this.#max) doorkeeper.clear();
        doorkeeper.add(print);
        return false;
      }
    }
    while (entries.size > 0 && (entries.size >= this.#max || this.#bytes + bytes > this.#maxBytes)) {
      const oldest = entries.entries().next().value as [K, Entry<V>];
      this.#remove(oldest[0], oldest[1]);
    }
    entries.set(key, { value, expiresAt, bytes });
    this.#bytes += bytes;
    return true;
  }

  /** Forgets `key`. */
  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
  }

  /** Drops every entry (and the doorkeeper's memory). */
  clear(): void {
    this.#entries.clear();
    this.#doorkeeper?.clear();
    this.#bytes = 0;
  }

  /** Number of entries held (live or not yet swept). */
  get size(): number {
    return this.#entries.size;
  }

  /** Sum of the held entries' declared bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  #remove(key: K, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
