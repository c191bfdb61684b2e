/**
 * A small bounded map whose entries expire: oldest-inserted entries are evicted first.
 */
export class BoundedCache<K, V> {
  readonly #max: number;
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`cache size must be a positive integer, got ${max}`);
    this.#max = max;
  }

  /** The live value for `key` at time `now` (ms), or undefined. */
  get(key: K, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (ms), evicting the oldest entry when full. */
  set(key: K, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /** Number of entries held (live or not yet swept). */
  get size(): number {
    return this.#entries.size;
  }
}
