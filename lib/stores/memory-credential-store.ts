/**
 * The in-process implementation of {@link CredentialStore}, for tests, development and
 * single-instance deployments. Same semantics as the Redis and PostgreSQL credential stores; every
 * operation is atomic because it runs synchronously.
 */
import type { CredentialKind, CredentialRecord, CredentialStore } from './credential-store';

interface StoredCredential {
  readonly version: number;
  readonly json: string;
}

function credentialOf(id: string, stored: StoredCredential): CredentialRecord {
  return { id, version: stored.version, data: JSON.parse(stored.json) as Record<string, unknown> };
}

/**
 * Credential store in process memory. Stores deep copies, so callers cannot change stored state
 * through objects they passed in or got back. `MemoryTokenStore` owns one and forwards its
 * credential methods to it; give the kit one of its own (`credentialStore`) to keep credentials
 * apart from a token store.
 *
 * @example
 * const kit = createTokenKit({ store, credentialStore: new MemoryCredentialStore(), keys, issuer });
 */
export class MemoryCredentialStore implements CredentialStore {
  readonly #credentials = new Map<CredentialKind, Map<string, StoredCredential>>();
  readonly #indexes = new Map<CredentialKind, Map<string, string>>();

  /** Number of stored credentials and index keys. */
  size(): number {
    let n = 0;
    for (const m of this.#credentials.values()) n += m.size;
    for (const m of this.#indexes.values()) n += m.size;
    return n;
  }

  #credentialsOf(kind: CredentialKind): Map<string, StoredCredential> {
    let map = this.#credentials.get(kind);
    if (map === undefined) this.#credentials.set(kind, (map = new Map()));
    return map;
  }

  #indexOf(kind: CredentialKind): Map<string, string> {
    let map = this.#indexes.get(kind);
    if (map === undefined) this.#indexes.set(kind, (map = new Map()));
    return map;
  }

  /** True when `indexKey` points at a live credential other than `id`. */
  #taken(kind: CredentialKind, indexKey: string, id: string | null): boolean {
    const owner = this.#indexOf(kind).get(indexKey);
    return owner !== undefined && owner !== id && this.#credentialsOf(kind).has(owner);
  }

  async createCredential(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    indexKeys: readonly string[],
  ): Promise<boolean> {
    const credentials = this.#credentialsOf(kind);
    if (credentials.has(id) || indexKeys.some((k) => this.#taken(kind, k, null))) return false;
    credentials.set(id, { version: 1, json: JSON.stringify(data) });
    const index = this.#indexOf(kind);
    for (const k of indexKeys) index.set(k, id);
    return true;
  }

  async getCredential(kind: CredentialKind, id: string): Promise<CredentialRecord | null> {
    const stored = this.#credentialsOf(kind).get(id);
    return stored === undefined ? null : credentialOf(id, stored);
  }

  async findCredential(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null> {
    const id = this.#indexOf(kind).get(indexKey);
    const stored = id === undefined ? undefined : this.#credentialsOf(kind).get(id);
    return id === undefined || stored === undefined ? null : credentialOf(id, stored);
  }

  async listCredentials(kind: CredentialKind): Promise<CredentialRecord[]> {
    return [...this.#credentialsOf(kind)].map(([id, stored]) => credentialOf(id, stored));
  }

  async replaceCredential(
    kind: CredentialKind,
    id: string,
    expectedVersion: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<CredentialRecord | null> {
    const credentials = this.#credentialsOf(kind);
    const current = credentials.get(id);
    if (current === undefined || current.version !== expectedVersion) return null;
    if (addIndexKeys.some((k) => this.#taken(kind, k, id))) return null;
    const index = this.#indexOf(kind);
    for (const k of removeIndexKeys) if (index.get(k) === id) index.delete(k);
    for (const k of addIndexKeys) index.set(k, id);
    const next = { version: current.version + 1, json: JSON.stringify(data) };
    credentials.set(id, next);
    return credentialOf(id, next);
  }

  async deleteCredential(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean> {
    if (!this.#credentialsOf(kind).delete(id)) return false;
    const index = this.#indexOf(kind);
    for (const k of indexKeys) if (index.get(k) === id) index.delete(k);
    return true;
  }

  /** Does nothing: the store holds no timer or connection. */
  async close(): Promise<void> {}
}
