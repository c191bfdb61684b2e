/**
 * The Redis implementation of {@link CredentialStore}: API keys, applications, providers, their
 * clients and users, as configuration without TTL. Lua scripts for every write (compare-and-swap
 * included) and every read that follows an index, `StoreUnavailableError` for every failure. Works
 * on a single Redis (standalone or behind Sentinel) and on a Redis Cluster.
 */
import type { CredentialKind, CredentialRecord, CredentialStore } from './credential-store';
import {
  CREATE_CREDENTIAL,
  DELETE_CREDENTIAL,
  FIND_CREDENTIAL,
  LIST_CREDENTIALS,
  REPLACE_CREDENTIAL,
} from './redis-scripts';
import {
  asArray,
  corrupt,
  isObject,
  parseJson,
  parseNumber,
  RedisStoreCore,
  STALE,
} from './redis-store-core';
import type { RedisStoreOptions } from './redis-store-core';

/**
 * Options of {@link RedisCredentialStore}: the same as `RedisTokenStore`'s, so one client and one
 * `keyPrefix` serve both, and credentials written by a `RedisTokenStore` are found.
 */
export type RedisCredentialStoreOptions = RedisStoreOptions;

function parseCredential(id: unknown, version: unknown, data: unknown): CredentialRecord {
  const d = parseJson(data, 'credential');
  if (typeof id !== 'string' || !isObject(d)) throw corrupt('credential');
  const v = parseNumber(version, 'credential');
  if (!Number.isSafeInteger(v)) throw corrupt('credential');
  return { id, version: v, data: d };
}

/**
 * Credential store on Redis (ioredis 5): a single Redis (standalone or Sentinel) or a Redis Cluster.
 *
 * Key layout under `keyPrefix` (hashes and ids only, never raw secrets), the one `RedisTokenStore`
 * has always used for credentials: `cred:{<kind>}:<id>` credential hash (`v` version, `d` JSON),
 * `cidx:{<kind>}:<indexKey>` → id, `cset:{<kind>}` set of ids — configuration, without TTL. The
 * keys of a kind share one cluster slot (the `{kind}` hash tag), so every script declares its keys
 * in KEYS and runs the same on a single Redis and on a Cluster. An index key's owner is read before
 * the script that checks it; the script answers "stale" when it moved on, and the store retries.
 *
 * `RedisTokenStore` owns one of these over its own client and prefix; build one yourself to keep
 * credentials on another Redis, or use `PostgresCredentialStore` (see docs/stores.md).
 *
 * @example
 * const client = createRedisClient({ url: process.env.REDIS_URL });
 * await waitForReady(client, 5000);
 * const credentialStore = new RedisCredentialStore({ client, keyPrefix: 'myapp:etk:' });
 */
export class RedisCredentialStore implements CredentialStore {
  readonly #redis: RedisStoreCore;

  constructor(options: Readonly<RedisCredentialStoreOptions>) {
    this.#redis = new RedisStoreCore('RedisCredentialStore', 'redis credential store', options, [
      CREATE_CREDENTIAL,
      FIND_CREDENTIAL,
      LIST_CREDENTIALS,
      REPLACE_CREDENTIAL,
      DELETE_CREDENTIAL,
    ]);
  }

  // --- keys -------------------------------------------------------------------

  #credentialKey(kind: CredentialKind, id: string): string {
    return `${this.#redis.prefix}cred:{${kind}}:${id}`;
  }

  #credentialSetKey(kind: CredentialKind): string {
    return `${this.#redis.prefix}cset:{${kind}}`;
  }

  #indexKeys(kind: CredentialKind, indexKeys: readonly string[]): string[] {
    return indexKeys.map((k) => `${this.#redis.prefix}cidx:{${kind}}:${k}`);
  }

  // --- credentials ------------------------------------------------------------

  async createCredential(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    indexKeys: readonly string[],
  ): Promise<boolean> {
    const head = [this.#credentialKey(kind, id), this.#credentialSetKey(kind)];
    const index = this.#indexKeys(kind, indexKeys);
    const json = JSON.stringify(data);
    return this.#redis.call('createCredential', () =>
      this.#redis.untilFresh('credential index', async () => {
        // The owners of the index keys name keys the script must check; read them first.
        const owners = await this.#owners(index);
        const reply = await this.#redis.writeScript(
          CREATE_CREDENTIAL,
          [...head, ...index, ...this.#ownerKeys(kind, owners, id, false)],
          [id, json, String(index.length), ...owners],
          (r) => r === 1,
        );
        return reply === -1 ? STALE : reply === 1;
      }),
    );
  }

  async getCredential(kind: CredentialKind, id: string): Promise<CredentialRecord | null> {
    return this.#redis.call('getCredential', async () => {
      const [version, data] = await this.#redis.client.hmget(this.#credentialKey(kind, id), 'v', 'd');
      if (version === null && data === null) return null;
      return parseCredential(id, version, data);
    });
  }

  async findCredential(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null> {
    const [key] = this.#indexKeys(kind, [indexKey]) as [string];
    return this.#redis.call('findCredential', () =>
      this.#redis.untilFresh('credential index', async () => {
        const id = await this.#redis.client.get(key);
        if (id === null) return null;
        const reply = await this.#redis.script(FIND_CREDENTIAL, [key, this.#credentialKey(kind, id)], [id]);
        if (reply === -1) return STALE;
        if (reply === null) return null;
        const [found, version, data] = asArray(reply, 3, 'credential reply');
        return parseCredential(found, version, data);
      }),
    );
  }

  async listCredentials(kind: CredentialKind): Promise<CredentialRecord[]> {
    const setKey = this.#credentialSetKey(kind);
    return this.#redis.call('listCredentials', () =>
      this.#redis.untilFresh('credential set', async () => {
        const ids = await this.#redis.client.smembers(setKey);
        const keys = [setKey, ...ids.map((i) => this.#credentialKey(kind, i))];
        const reply = await this.#redis.script(LIST_CREDENTIALS, keys, ids);
        if (reply === -1) return STALE;
        const values = asArray(reply, 0, 'credential list');
        const records: CredentialRecord[] = [];
        for (let i = 0; i + 2 < values.length; i += 3) {
          records.push(parseCredential(values[i], values[i + 1], values[i + 2]));
        }
        return records;
      }),
    );
  }

  async replaceCredential(
    kind: CredentialKind,
    id: string,
    expectedVersion: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<CredentialRecord | null> {
    const remove = this.#indexKeys(kind, removeIndexKeys);
    const add = this.#indexKeys(kind, addIndexKeys);
    const json = JSON.stringify(data);
    const head = [id, String(expectedVersion), json, String(remove.length)];
    return this.#redis.call('replaceCredential', () =>
      this.#redis.untilFresh('credential index', async () => {
        const owners = await this.#owners(add);
        const keys = [
          this.#credentialKey(kind, id),
          ...remove,
          ...add,
          ...this.#ownerKeys(kind, owners, id, true),
        ];
        const reply = await this.#redis.writeScript(
          REPLACE_CREDENTIAL,
          keys,
          [...head, ...owners],
          (r) => r !== null && r !== -1,
        );
        if (reply === -1) return STALE;
        if (reply === null) return null;
        return parseCredential(id, reply, json);
      }),
    );
  }

  /**
   * The ids index keys point at ('' = none), read before a script that checks them. MGET is fine
   * here: the script reads each key again with GET (WRONGTYPE on a clobbered key) and compares.
   * The index keys of a kind share one slot.
   */
  async #owners(indexKeys: readonly string[]): Promise<string[]> {
    if (indexKeys.length === 0) return [];
    return (await this.#redis.client.mget(...indexKeys)).map((v) => v ?? '');
  }

  /** The credential keys of `owners` (skipping '' and, when `skipSelf`, `id`), in order. */
  #ownerKeys(kind: CredentialKind, owners: readonly string[], id: string, skipSelf: boolean): string[] {
    return owners.filter((o) => o !== '' && !(skipSelf && o === id)).map((o) => this.#credentialKey(kind, o));
  }

  async deleteCredential(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean> {
    const keys = [
      this.#credentialKey(kind, id),
      this.#credentialSetKey(kind),
      ...this.#indexKeys(kind, indexKeys),
    ];
    return this.#redis.call('deleteCredential', async () => {
      return (await this.#redis.writeScript(DELETE_CREDENTIAL, keys, [id], (r) => r === 1)) === 1;
    });
  }

  // --- lifecycle --------------------------------------------------------------

  /** Does nothing: the injected client belongs to the application, which closes it. */
  async close(): Promise<void> {}
}
