/**
 * The storage contract behind credentials: API keys, applications, providers, provider clients and
 * users. It is one of the two store contracts: tokens, revocation and refresh families live behind
 * the other one, `TokenStore` (token-store.ts). Credentials are configuration: they do not expire,
 * and a store keeps them until deleted.
 *
 * Stores never see a raw secret: the core hands them hashes, as index keys and inside `data`.
 * Any failure to answer (connection down, timeout, corrupt value) rejects with
 * `StoreUnavailableError`.
 */

/** Kinds of credential records. */
export type CredentialKind = 'api_key' | 'application' | 'provider' | 'provider_client' | 'user';

/** A stored credential record: an id, a version for compare-and-swap, and JSON data. */
export interface CredentialRecord {
  readonly id: string;
  /** Incremented on every replace; used for compare-and-swap. */
  readonly version: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * The credential storage contract. Implementations: `MemoryCredentialStore`,
 * `RedisCredentialStore` and `PostgresCredentialStore`; `MemoryTokenStore` and `RedisTokenStore`
 * implement it too, by forwarding to a credential store of their kind that they own, so existing
 * credentials are found where they were. The kit takes one as `credentialStore`; without it, it
 * uses its token store when that implements this interface. The conformance suite is
 * `describeCredentialStoreContract` (express-token-kit/testing).
 */
export interface CredentialStore {
  /**
   * Creates a credential with its lookup index keys (e.g. the hash of an API key). Resolves false
   * when the id or any index key is taken (nothing written).
   */
  createCredential(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    indexKeys: readonly string[],
  ): Promise<boolean>;
  /** Reads a credential by id. */
  getCredential(kind: CredentialKind, id: string): Promise<CredentialRecord | null>;
  /** Reads a credential through one of its index keys, in one round trip. */
  findCredential(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null>;
  /** Lists credentials of a kind (any order). */
  listCredentials(kind: CredentialKind): Promise<CredentialRecord[]>;
  /**
   * Atomically replaces a credential if its version is still `expectedVersion`: the data, and the
   * index keys (`removeIndexKeys` deleted, `addIndexKeys` added). Resolves to the new record, or
   * null when the version moved on, the record is gone, or an added index key is taken. Of any
   * number of concurrent replaces of one version, on any number of connections, exactly one wins.
   */
  replaceCredential(
    kind: CredentialKind,
    id: string,
    expectedVersion: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<CredentialRecord | null>;
  /** Deletes a credential and its index keys. Resolves false when it did not exist. */
  deleteCredential(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean>;
  /** Releases timers and connections the store owns (not injected clients). */
  close(): Promise<void>;
}

/**
 * The credential half of a token store that keeps credentials beside its tokens by owning a
 * credential store over the same data (`MemoryTokenStore`, `RedisTokenStore`): every
 * {@link CredentialStore} method but `close` forwards to {@link ForwardsCredentials.credentialStore}.
 */
export abstract class ForwardsCredentials implements Omit<CredentialStore, 'close'> {
  /** The owned credential store the methods forward to. */
  protected abstract credentialStore(): CredentialStore;

  createCredential(...a: Parameters<CredentialStore['createCredential']>): Promise<boolean> {
    return this.credentialStore().createCredential(...a);
  }

  getCredential(
    ...a: Parameters<CredentialStore['getCredential']>
  ): ReturnType<CredentialStore['getCredential']> {
    return this.credentialStore().getCredential(...a);
  }

  findCredential(
    ...a: Parameters<CredentialStore['findCredential']>
  ): ReturnType<CredentialStore['findCredential']> {
    return this.credentialStore().findCredential(...a);
  }

  listCredentials(
    ...a: Parameters<CredentialStore['listCredentials']>
  ): ReturnType<CredentialStore['listCredentials']> {
    return this.credentialStore().listCredentials(...a);
  }

  replaceCredential(
    ...a: Parameters<CredentialStore['replaceCredential']>
  ): ReturnType<CredentialStore['replaceCredential']> {
    return this.credentialStore().replaceCredential(...a);
  }

  deleteCredential(...a: Parameters<CredentialStore['deleteCredential']>): Promise<boolean> {
    return this.credentialStore().deleteCredential(...a);
  }
}
