/**
 * The shared signing keys in Redis (standalone, Sentinel or Cluster), beside the token store.
 *
 * Layout (`<p>` = `keyPrefix`): the hash `<p>{keys}:set` (kid → the key's JSON record, private key
 * sealed), the string `<p>{keys}:version` and the lock `<p>{keys}:lock`. The three share the hash
 * tag `{keys}`, so on a Cluster they live in one slot and one script can read or commit them all.
 * Changes are announced on the channel `<p>keys` (a PUBLISH on a Cluster reaches every node).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

import { StoreUnavailableError } from '../errors';
import { matchingString, objectOption, objectWith } from '../util/options';
import { asStoredKey, type KeyStore, type KeyStoreSnapshot, type StoredKey } from '../keys/key-store';
import { waitForReady } from './redis-client';

/** Options of {@link RedisKeyStore}. */
export interface RedisKeyStoreOptions {
  /**
   * An ioredis client (`Redis`, also for Sentinel) or `Cluster`, e.g. the token store's, from
   * `createRedisClient()` or `createRedisConnectionFromEnv()`. The store never closes it.
   */
  readonly client: Redis | Cluster;
  /** Prefix of every key and of the channel; no `{` or `}`. @default 'etk:' */
  readonly keyPrefix?: string;
  /**
   * A dedicated subscriber connection for change notifications. @default `client.duplicate()`,
   * opened on the first `subscribe` and closed by its unsubscribe function.
   */
  readonly subscriber?: Redis | Cluster;
}

/** The channel a {@link RedisKeyStore} announces key changes on. */
export function keysChannel(keyPrefix = 'etk:'): string {
  return `${keyPrefix}keys`;
}

/** KEYS: set, version. Returns { version, hgetall flat list }: one snapshot. */
const LOAD_KEYS = `
local v = redis.call('GET', KEYS[2])
return { v or '0', redis.call('HGETALL', KEYS[1]) }
`;

/** KEYS: set, version. ARGV: expected version, then kid, record pairs. Returns the new version, or -1 when stale. */
const COMMIT_KEYS = `
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if v == nil then return redis.error_reply('ETK_CORRUPT key store version') end
if v ~= tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return redis.call('INCR', KEYS[2])
`;

/** KEYS: lock. ARGV: token. Deletes the lock only when the token still holds it. */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Scripts by ioredis command name (distinct from the token store's). */
const SCRIPTS = {
  etkKeysLoad: LOAD_KEYS,
  etkKeysCommit: COMMIT_KEYS,
  etkKeysReleaseLock: RELEASE_LOCK,
} as const;

/** How long `subscribe` waits for the subscriber connection, in ms. */
const SUBSCRIBE_READY_MS = 5000;

type ScriptCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

/**
 * A {@link KeyStore} on Redis: every read is one script (a consistent snapshot), every commit one
 * compare-and-swap script on the version, the lock a `SET NX PX` lease with a random token.
 *
 * @example
 * ```ts
 * const store = new RedisKeyStore({ client: redis, keyPrefix: 'myapp:' });
 * const manager = await createKeyManager({ store, kek, issuer });
 * ```
 */
export class RedisKeyStore implements KeyStore {
  readonly #client: Redis | Cluster;
  readonly #set: string;
  readonly #version: string;
  readonly #lock: string;
  readonly #channel: string;
  readonly #subscriber: Redis | Cluster | undefined;

  constructor(options: Readonly<RedisKeyStoreOptions>) {
    objectOption(options, 'RedisKeyStore: options');
    const client = objectWith(
      options.client as Redis | Cluster | undefined,
      ['defineCommand', 'publish'],
      'RedisKeyStore: options.client',
      'an ioredis Redis or Cluster client',
    );
    const prefix = matchingString(
      options.keyPrefix,
      'etk:',
      'RedisKeyStore: keyPrefix',
      /^[^{}]*$/,
      "a string without '{' or '}' (cluster hash tags)",
    );
    this.#client = client;
    this.#set = `${prefix}{keys}:set`;
    this.#version = `${prefix}{keys}:version`;
    this.#lock = `${prefix}{keys}:lock`;
    this.#channel = keysChannel(prefix);
    this.#subscriber = options.subscriber;
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua });
  }

  /** {@inheritDoc KeyStore.load} */
  async load(): Promise<KeyStoreSnapshot> {
    const reply = await this.#call('load', () => this.#script('etkKeysLoad', [this.#set, this.#version], []));
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw corrupt('snapshot');
    const version = Number(reply[0]);
    if (!Number.isSafeInteger(version) || version < 0) throw corrupt('version');
    const flat = reply[1] as unknown[];
    const keys: StoredKey[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const key = parseRecord(flat[i + 1]);
      if (key.kid !== flat[i]) throw corrupt('key record');
      keys.push(key);
    }
    return { version, keys };
  }

  /** {@inheritDoc KeyStore.version} */
  async version(): Promise<number> {
    const raw = await this.#call('version', () => this.#client.get(this.#version));
    const version = Number(raw ?? '0');
    if (!Number.isSafeInteger(version) || version < 0) throw corrupt('version');
    return version;
  }

  /** {@inheritDoc KeyStore.commit} */
  async commit(expectedVersion: number, keys: readonly StoredKey[]): Promise<number | null> {
    const args: (string | number)[] = [expectedVersion];
    for (const key of keys) args.push(key.kid, JSON.stringify(key));
    const reply = await this.#call('commit', () =>
      this.#script('etkKeysCommit', [this.#set, this.#version], args),
    );
    if (typeof reply !== 'number') throw corrupt('commit reply');
    return reply < 0 ? null : reply;
  }

  /** {@inheritDoc KeyStore.acquireLock} */
  async acquireLock(ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('hex');
    const reply = await this.#call('lock', () =>
      this.#client.set(this.#lock, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
    );
    return reply === 'OK' ? token : null;
  }

  /** {@inheritDoc KeyStore.releaseLock} */
  async releaseLock(token: string): Promise<void> {
    await this.#call('unlock', () => this.#script('etkKeysReleaseLock', [this.#lock], [token]));
  }

  /** {@inheritDoc KeyStore.publish} */
  async publish(): Promise<void> {
    await this.#call('publish', () => this.#client.publish(this.#channel, 'changed'));
  }

  /** {@inheritDoc KeyStore.subscribe} */
  async subscribe(listener: () => void): Promise<() => Promise<void>> {
    const owned = this.#subscriber === undefined;
    const subscriber = this.#subscriber ?? this.#client.duplicate();
    const onMessage = (channel: string): void => {
      if (channel === this.#channel) listener();
    };
    subscriber.on('message', onMessage);
    try {
      await this.#call('subscribe', async () => {
        await waitForReady(subscriber, SUBSCRIBE_READY_MS);
        await subscriber.subscribe(this.#channel);
      });
    } catch (error) {
      subscriber.off('message', onMessage);
      if (owned) subscriber.disconnect();
      throw error;
    }
    return async () => {
      subscriber.off('message', onMessage);
      if (owned) subscriber.disconnect();
      else await subscriber.unsubscribe(this.#channel).catch(() => undefined);
    };
  }

  #script(
    name: keyof typeof SCRIPTS,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const command = (this.#client as unknown as Record<string, ScriptCommand | undefined>)[name];
    if (command === undefined) throw new StoreUnavailableError(`redis key store: script ${name} missing`);
    return command.call(this.#client, keys.length, ...keys, ...args);
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(`redis key store: ${operation} failed`, { cause: error });
    }
  }
}

function corrupt(what: string): StoreUnavailableError {
  return new StoreUnavailableError(`redis key store: corrupt ${what}`);
}

function parseRecord(raw: unknown): StoredKey {
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    throw corrupt('key record');
  }
  const key = asStoredKey(parsed);
  if (key === undefined) throw corrupt('key record');
  return key;
}
