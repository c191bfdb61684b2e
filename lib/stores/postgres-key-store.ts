/**
 * The shared signing keys in PostgreSQL: the table `signing_keys` (kid → the key's JSON record,
 * private key sealed) and the one-row table `signing_key_meta` (the version and the lock lease),
 * created by `migrateCredentialStore` (`express-token-kit db migrate`). A commit is one
 * transaction that locks the meta row, compares the version and writes every changed key, so it
 * either happened or not. Changes are announced with `NOTIFY` on the channel `etk_keys_<schema>`;
 * a subscription holds one pool connection (`LISTEN`). Key managers poll the version as well.
 */
import { randomBytes } from 'node:crypto';

import { StoreUnavailableError } from '../errors';
import { matchingString, objectOption, objectWith } from '../util/options';
import { asStoredKey, type KeyStore, type KeyStoreSnapshot, type StoredKey } from '../keys/key-store';
import type { PostgresPool, PostgresPoolClient } from './postgres-credential-store';

/** The event side of a `pg` client, for `LISTEN`. */
interface NotifyingClient {
  on(event: 'notification', listener: (message: { channel?: string }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** Options of {@link PostgresKeyStore}. */
export interface PostgresKeyStoreOptions {
  /** A `pg` `Pool` the application owns (e.g. the credential store's `pool`); never ended by the store. */
  readonly pool: PostgresPool;
  /** The schema `migrateCredentialStore` created the tables in. @default 'token_kit' */
  readonly schema?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A {@link KeyStore} on PostgreSQL. Run `migrateCredentialStore` (or `express-token-kit db
 * migrate`) once before use.
 *
 * @example
 * ```ts
 * const store = new PostgresKeyStore({ pool: credentialStore.pool });
 * const manager = await createKeyManager({ store, kek, issuer });
 * ```
 */
export class PostgresKeyStore implements KeyStore {
  readonly #pool: PostgresPool;
  readonly #s: string;
  readonly #channel: string;

  constructor(options: Readonly<PostgresKeyStoreOptions>) {
    objectOption(options, 'PostgresKeyStore: options');
    const pool = objectWith(
      options.pool,
      ['query', 'connect'],
      'PostgresKeyStore: options.pool',
      'a pg Pool (query and connect)',
    );
    const schema = matchingString(
      options.schema,
      'token_kit',
      'PostgresKeyStore: schema',
      IDENTIFIER,
      'a lowercase SQL identifier',
    );
    this.#pool = pool;
    this.#s = `"${schema}"`;
    // Channel names are identifiers: at most 63 bytes.
    this.#channel = `etk_keys_${schema}`.slice(0, 63);
  }

  /** {@inheritDoc KeyStore.load} */
  async load(): Promise<KeyStoreSnapshot> {
    // One statement: one snapshot of the version and the keys.
    const result = await this.#call('load', () =>
      this.#pool.query(
        `SELECT m.version, k.kid, k.data FROM ${this.#s}.signing_key_meta m
           LEFT JOIN ${this.#s}.signing_keys k ON true WHERE m.id = 1`,
      ),
    );
    const first = result.rows[0];
    if (first === undefined) throw notMigrated();
    const version = Number(first.version);
    const keys: StoredKey[] = [];
    for (const row of result.rows) {
      if (row.kid === null) continue;
      const key = asStoredKey(row.data);
      if (key === undefined || key.kid !== row.kid) throw corrupt();
      keys.push(key);
    }
    return { version, keys };
  }

  /** {@inheritDoc KeyStore.version} */
  async version(): Promise<number> {
    const result = await this.#call('version', () =>
      this.#pool.query(`SELECT version FROM ${this.#s}.signing_key_meta WHERE id = 1`),
    );
    const row = result.rows[0];
    if (row === undefined) throw notMigrated();
    return Number(row.version);
  }

  /** {@inheritDoc KeyStore.commit} */
  async commit(expectedVersion: number, keys: readonly StoredKey[]): Promise<number | null> {
    const client = await this.#call('commit', () => this.#pool.connect());
    try {
      return await this.#call('commit', async () => {
        await client.query('BEGIN');
        try {
          const current = await client.query(
            `SELECT version FROM ${this.#s}.signing_key_meta WHERE id = 1 FOR UPDATE`,
          );
          const row = current.rows[0];
          if (row === undefined) throw notMigrated();
          if (Number(row.version) !== expectedVersion) {
            await client.query('ROLLBACK');
            return null;
          }
          for (const key of keys) {
            await client.query(
              `INSERT INTO ${this.#s}.signing_keys (kid, data) VALUES ($1, $2::jsonb)
                 ON CONFLICT (kid) DO UPDATE SET data = EXCLUDED.data`,
              [key.kid, JSON.stringify(key)],
            );
          }
          const next = await client.query(
            `UPDATE ${this.#s}.signing_key_meta SET version = version + 1 WHERE id = 1 RETURNING version`,
          );
          await client.query('COMMIT');
          return Number(next.rows[0]?.version);
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      });
    } finally {
      client.release();
    }
  }

  /** {@inheritDoc KeyStore.acquireLock} */
  async acquireLock(ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('hex');
    const result = await this.#call('lock', () =>
      this.#pool.query(
        `UPDATE ${this.#s}.signing_key_meta
            SET lock_token = $1, lock_until = clock_timestamp() + make_interval(secs => $2::double precision / 1000)
          WHERE id = 1 AND (lock_until IS NULL OR lock_until < clock_timestamp())`,
        [token, Math.max(1, Math.ceil(ttlMs))],
      ),
    );
    return result.rowCount === 1 ? token : null;
  }

  /** {@inheritDoc KeyStore.releaseLock} */
  async releaseLock(token: string): Promise<void> {
    await this.#call('unlock', () =>
      this.#pool.query(
        `UPDATE ${this.#s}.signing_key_meta SET lock_token = NULL, lock_until = NULL
          WHERE id = 1 AND lock_token = $1`,
        [token],
      ),
    );
  }

  /** {@inheritDoc KeyStore.publish} */
  async publish(): Promise<void> {
    await this.#call('publish', () =>
      this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, 'changed']),
    );
  }

  /**
   * {@inheritDoc KeyStore.subscribe}
   *
   * Holds one connection of the pool (`LISTEN`) until unsubscribed. A connection that breaks is
   * not replaced: the managers' polling covers it.
   */
  async subscribe(listener: () => void): Promise<() => Promise<void>> {
    const client = (await this.#call('subscribe', () => this.#pool.connect())) as PostgresPoolClient &
      Partial<NotifyingClient>;
    if (typeof client.on !== 'function' || typeof client.removeListener !== 'function') {
      client.release();
      throw new StoreUnavailableError('postgres key store: the pool client cannot receive notifications');
    }
    const onNotification = (message: { channel?: string }): void => {
      if (message.channel === this.#channel) listener();
    };
    // A broken connection emits 'error': handled here (never an unhandled event), then left to polling.
    const onError = (): void => undefined;
    client.on('notification', onNotification);
    client.on('error', onError);
    let released = false;
    const release = (err?: boolean): void => {
      if (released) return;
      released = true;
      client.removeListener!('notification', onNotification);
      client.release(err);
      client.removeListener!('error', onError);
    };
    try {
      await this.#call('subscribe', () => client.query(`LISTEN "${this.#channel}"`));
    } catch (error) {
      release(true);
      throw error;
    }
    return async () => {
      if (released) return;
      // Destroy the connection rather than UNLISTEN and return it: no pooled client keeps listening.
      release(true);
      return Promise.resolve();
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(`postgres key store: ${operation} failed`, { cause: error });
    }
  }
}

function corrupt(): StoreUnavailableError {
  return new StoreUnavailableError('postgres key store: corrupt key row');
}

function notMigrated(): StoreUnavailableError {
  return new StoreUnavailableError(
    'postgres key store: the signing_key_meta table is empty or missing; run `express-token-kit db migrate`',
  );
}
