/**
 * A bounded map whose entries expire, capped both in entries and (approximately) in bytes.
 *
 * Policies:
 * - `'fifo'` (the default): oldest-inserted entries are evicted first, hits change nothing;
 * - `'lru'`: least recently used first, approximately (second chance, or CLOCK): a hit only marks
 *   its entry, and eviction moves a marked entry to the back (clearing the mark) instead of
 *   evicting it, so a hit costs no reordering of the map;
 * - `'admit-on-second-sighting'`: `'lru'` behind a doorkeeper. While the cache has room, every key
 *   is admitted; once it is full, a key is admitted (evicting the least recently used entry) only
 *   the second time it is offered within the doorkeeper's memory — the numeric fingerprints of up to
 *   twice `max` recently refused keys, cleared when full (the "doorkeeper" of TinyLFU), held in a
 *   fixed open-addressing table (16 bytes per entry of `max`, allocated once: a stream of one-off
 *   keys allocates nothing). So a stream of one-off keys, many more than `max`, never evicts the
 *   entries that keep hitting: at N ≫ `max` distinct keys the cache does not thrash.
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
  /** Hit since it was last inserted or moved to the back (the second-chance mark). */
  hit: boolean;
}

/**
 * The doorkeeper's memory: a set of up to `capacity` non-negative 31-bit fingerprints in a fixed
 * Int32Array, allocated on first use (linear probing, load at most one half; 0 marks a free slot,
 * -1 a removed one), reset whole when full. Exact for the fingerprints themselves, like a `Set<number>`, without its growth.
 */
class FingerprintSet {
  #slots: Int32Array | undefined;
  readonly #mask: number;
  readonly #capacity: number;
  #used = 0;

  constructor(capacity: number) {
    let size = 16;
    while (size < 2 * capacity) size *= 2;
    this.#mask = size - 1;
    this.#capacity = capacity;
  }

  /** Removes `print`; true when it was there. */
  delete(print: number): boolean {
    const slots = this.#slots;
    if (slots === undefined) return false;
    const stored = (print & 0x3fffffff) + 1;
    for (let i = Math.imul(stored, 0x9e3779b1) & this.#mask; ; i = (i + 1) & this.#mask) {
      const slot = slots[i]!;
      if (slot === 0) return false;
      if (slot === stored) {
        slots[i] = -1;
        return true;
      }
    }
  }

  /** Adds `print` (known absent), first forgetting everything when `capacity` were added. */
  add(print: number): void {
    if (this.#used >= this.#capacity) this.clear();
    const slots = (this.#slots ??= new Int32Array(this.#mask + 1));
    const stored = (print & 0x3fffffff) + 1;
    let i = Math.imul(stored, 0x9e3779b1) & this.#mask;
    while (slots[i] !== 0) i = (i + 1) & this.#mask;
    slots[i] = stored;
    this.#used++;
  }

  clear(): void {
    this.#slots?.fill(0);
    this.#used = 0;
  }
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
  readonly #doorkeeper: FingerprintSet | undefined;
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
    this.#doorkeeper = policy === 'admit-on-second-sighting' ? new FingerprintSet(2 * max) : undefined;
    this.#fingerprint = options.fingerprint ?? tailFingerprint;
    this.#admitWhenRoom = options.admitWhenRoom ?? true;
  }

  /** The live value for `key` at time `now` (ms), or undefined. */
  get(key: K, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#remove(key, entry);
      return undefined;
    }
    entry.hit = true;
    return entry.value;
  }

  /**
   * Whether an entry of about `bytes` whose key has fingerprint `print` would be admitted now, as
   * `set` decides for a key not held: asking the doorkeeper records the sighting, so ask once per
   * offer and then `set(…, true)`. Lets a caller skip computing a costly key for a refused entry.
   */
  admits(print: number, bytes = 0): boolean {
    if (bytes > this.#maxBytes) return false;
    const doorkeeper = this.#doorkeeper;
    if (doorkeeper === undefined) return true;
    const full = this.#entries.size >= this.#max || this.#bytes + bytes > this.#maxBytes;
    if (!full && this.#admitWhenRoom) return true;
    if (doorkeeper.delete(print)) return true;
    doorkeeper.add(print);
    return false;
  }

  /**
   * Offers `value` until `expiresAt` (ms), costing about `bytes`; evicts as the policy says. Returns
   * false when the entry was not admitted (too big, or refused by the doorkeeper). `admitted`:
   * {@link admits} already said yes for this key.
   */
  set(key: K, value: V, expiresAt: number, bytes = 0, admitted = false): boolean {
    const entries = this.#entries;
    const current = entries.get(key);
    if (current !== undefined) this.#remove(key, current);
    if (bytes > this.#maxBytes) return false;
    if (!admitted && current === undefined && !this.admits(this.#fingerprint(key), bytes)) return false;
    while (entries.size > 0 && (entries.size >= this.#max || this.#bytes + bytes > this.#maxBytes)) {
      const oldest = entries.entries().next().value as [K, Entry<V>];
      if (this.#reorder && oldest[1].hit) {
        // second chance: to the back, unmarked
        oldest[1].hit = false;
        entries.delete(oldest[0]);
        entries.set(oldest[0], oldest[1]);
        continue;
      }
      this.#remove(oldest[0], oldest[1]);
    }
    entries.set(key, { value, expiresAt, bytes, hit: false });
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
