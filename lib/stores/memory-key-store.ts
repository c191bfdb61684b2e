/**
 * The key store of one process: keys shared by the key managers that hold the same
 * `MemoryKeyStore` object (e.g. several kits in one test). Nothing survives a restart.
 */
import { randomBytes } from 'node:crypto';

import type { KeyStore, KeyStoreSnapshot, StoredKey } from '../keys/key-store';

/**
 * A {@link KeyStore} in memory: the same contract as the Redis and PostgreSQL stores (version,
 * compare-and-swap commit, lock lease, change notification), within one process.
 *
 * @example
 * ```ts
 * const manager = await createKeyManager({ store: new MemoryKeyStore(), kek, issuer });
 * const kit = createTokenKit({ store, keys: manager.keys, issuer });
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  readonly #keys = new Map<string, StoredKey>();
  readonly #listeners = new Set<() => void>();
  #version = 0;
  #lock: { token: string; untilMs: number } | undefined;
  readonly #now: () => number;

  /** @param options.clock - the time of lock leases, in ms. @default Date.now */
  constructor(options: { readonly clock?: () => number } = {}) {
    this.#now = options.clock ?? Date.now;
  }

  /** {@inheritDoc KeyStore.load} */
  load(): Promise<KeyStoreSnapshot> {
    return Promise.resolve({ version: this.#version, keys: [...this.#keys.values()].map(copy) });
  }

  /** {@inheritDoc KeyStore.version} */
  version(): Promise<number> {
    return Promise.resolve(this.#version);
  }

  /** {@inheritDoc KeyStore.commit} */
  commit(expectedVersion: number, keys: readonly StoredKey[]): Promise<number | null> {
    if (expectedVersion !== this.#version) return Promise.resolve(null);
    for (const key of keys) this.#keys.set(key.kid, copy(key));
    this.#version += 1;
    return Promise.resolve(this.#version);
  }

  /** {@inheritDoc KeyStore.acquireLock} */
  acquireLock(ttlMs: number): Promise<string | null> {
    const now = this.#now();
    if (this.#lock !== undefined && this.#lock.untilMs > now) return Promise.resolve(null);
    const token = randomBytes(16).toString('hex');
    this.#lock = { token, untilMs: now + ttlMs };
    return Promise.resolve(token);
  }

  /** {@inheritDoc KeyStore.releaseLock} */
  releaseLock(token: string): Promise<void> {
    if (this.#lock?.token === token) this.#lock = undefined;
    return Promise.resolve();
  }

  /** {@inheritDoc KeyStore.publish} */
  publish(): Promise<void> {
    // Asynchronously, as a message over the network would arrive.
    for (const listener of this.#listeners) queueMicrotask(listener);
    return Promise.resolve();
  }

  /** {@inheritDoc KeyStore.subscribe} */
  subscribe(listener: () => void): Promise<() => Promise<void>> {
    const entry = (): void => listener();
    this.#listeners.add(entry);
    return Promise.resolve(() => {
      this.#listeners.delete(entry);
      return Promise.resolve();
    });
  }
}

function copy(key: StoredKey): StoredKey {
  return structuredClone(key);
}
