/**
 * Credentials in PostgreSQL: API keys, applications, providers and their clients in the team's own
 * SQL database, beside a Redis (or memory) token store. Unique constraints do the work that
 * compare-and-swap scripts do in Redis: of concurrent rotations of one credential, exactly one wins.
 *
 * The `pg` package is an optional peer dependency: it is loaded only when the store is given a
 * connection string. The types here are structural, so a consumer without `pg` compiles cleanly.
 */
import { createRequire } from 'node:module';
import { StoreUnavailableError } from '../errors';
import type { CredentialKind, CredentialRecord, CredentialStore } from './credential-store';
import { matchingString, missingOption, objectWith, wholeNumber } from '../util/options';

/** The result of a query, as `pg` returns it. */
export interface PostgresQueryResult {
  readonly rows: readonly Record<string, unknown>[];
  readonly rowCount: number | null;
}

/** Anything that runs a parameterised query: a `pg` `Pool`, `Client` or `PoolClient`. */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
}

/** A client checked out of a pool, for one transaction. */
export interface PostgresPoolClient extends PostgresQueryable {
  release(err?: Error | boolean): void;
}

/** The part of a `pg` `Pool` the store uses. */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresPoolClient>;
  end(): Promise<void>;
}

/** Options of {@link PostgresCredentialStore}. Give `pool` or `connectionString`. */
export interface PostgresCredentialStoreOptions {
  /** A `pg` `Pool` the application owns; the store never ends it. */
  readonly pool?: PostgresPool;
  /**
   * A connection string (e.g. `postgres://user@127.0.0.1:5432/app`); the store creates its own
   * `pg` `Pool` (the `pg` package must be installed) and ends it on `close()`.
   */
  readonly connectionString?: string;
  /** The schema that holds the store's tables (created by {@link migrateCredentialStore}); @default `token_kit`. */
  readonly schema?: string;
  /**
   * With `connectionString`: how long a connection attempt and a query may take before the store
   * answers `StoreUnavailableError`, in milliseconds (100–60000). @default 3000
   */
  readonly timeoutMs?: number;
  /** With `connectionString`: the most connections the store's pool opens (1–100). @default 10 */
  readonly maxConnections?: number;
}

/** The schema the store's tables live in by default. */
export const DEFAULT_POSTGRES_SCHEMA = 'token_kit';

/** The newest schema version {@link migrateCredentialStore} creates. */
export const POSTGRES_SCHEMA_VERSION = 2;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const UNIQUE_VIOLATION = '23505';
/** Any constant fits; it only has to be the same for every process migrating one database. */
const MIGRATION_LOCK = 7_213_004_419;

function schemaName(value: string | undefined): string {
  const schema = matchingString(
    value,
    DEFAULT_POSTGRES_SCHEMA,
    'schema',
    IDENTIFIER,
    'a lowercase SQL identifier (letters, digits, _; at most 63)',
  );
  return `"${schema}"`;
}

function boundedInt(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  option: string,
): number {
  return wholeNumber(value, fallback, option, min, max);
}

/** The SQL of each schema version, applied in order, each once. */
function migrations(s: string): readonly (readonly string[])[] {
  return [
    [
      `CREATE TABLE IF NOT EXISTS ${s}.credentials (
         kind text NOT NULL,
         id text NOT NULL,
         version integer NOT NULL CHECK (version > 0),
         data jsonb NOT NULL,
         PRIMARY KEY (kind, id)
       )`,
      `CREATE TABLE IF NOT EXISTS ${s}.credential_index (
         kind text NOT NULL,
         index_key text NOT NULL,
         id text NOT NULL,
         PRIMARY KEY (kind, index_key),
         FOREIGN KEY (kind, id) REFERENCES ${s}.credentials (kind, id) ON DELETE CASCADE
       )`,
      `CREATE INDEX IF NOT EXISTS credential_index_owner ON ${s}.credential_index (kind, id)`,
    ],
    // 2: the shared signing keys (PostgresKeyStore in postgres-key-store.ts).
    [
      `CREATE TABLE IF NOT EXISTS ${s}.signing_keys (
         kid text PRIMARY KEY,
         data jsonb NOT NULL
       )`,
      `CREATE TABLE IF NOT EXISTS ${s}.signing_key_meta (
         id smallint PRIMARY KEY CHECK (id = 1),
         version bigint NOT NULL,
         lock_token text,
         lock_until timestamptz
       )`,
      `INSERT INTO ${s}.signing_key_meta (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
    ],
  ];
}

/**
 * Creates (or brings up to date) the store's schema and tables. Idempotent, and safe to run from
 * several processes at once (an advisory lock serialises them). Returns the schema version now in
 * place and the versions this call applied.
 *
 * @example
 * ```ts
 * await migrateCredentialStore(pool); // or: npx express-token-kit db migrate
 * ```
 */
export async function migrateCredentialStore(
  pool: PostgresPool,
  options: { readonly schema?: string } = {},
): Promise<{ version: number; applied: number[] }> {
  const s = schemaName(options.schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await client.query(`SELECT version FROM ${s}.schema_migrations`);
    const have = new Set(done.rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const [i, statements] of migrations(s).entries()) {
      const version = i + 1;
      if (have.has(version)) continue;
      for (const sql of statements) await client.query(sql);
      await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [version]);
      applied.push(version);
    }
    await client.query('COMMIT');
    return { version: POSTGRES_SCHEMA_VERSION, applied };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** An added index key belongs to another credential: the replace rolls back. */
class IndexKeyTaken extends Error {}

function isUniqueViolation(err: unknown): boolean {
  if (err instanceof IndexKeyTaken) return true;
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === UNIQUE_VIOLATION;
}

function toRecord(row: Record<string, unknown> | undefined): CredentialRecord | null {
  if (row === undefined) return null;
  const data = row.data;
  if (typeof row.id !== 'string' || typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new StoreUnavailableError('corrupt credential row');
  }
  return { id: row.id, version: Number(row.version), data: data as Record<string, unknown> };
}

function loadPg(): { Pool: new (config: Record<string, unknown>) => PostgresPool } {
  const require = createRequire(__filename);
  try {
    return require('pg') as { Pool: new (config: Record<string, unknown>) => PostgresPool };
  } catch (cause) {
    throw new TypeError('connectionString needs the `pg` package: npm install pg', { cause });
  }
}

/**
 * A {@link CredentialStore} on PostgreSQL. Run {@link migrateCredentialStore} (or
 * `express-token-kit db migrate`) once before use.
 *
 * @example
 * ```ts
 * const credentialStore = new PostgresCredentialStore({ connectionString: process.env.DATABASE_URL });
 * await migrateCredentialStore(credentialStore.pool);
 * const kit = createTokenKit({ store, credentialStore, keys, issuer });
 * ```
 */
export class PostgresCredentialStore implements CredentialStore {
  /** The pool the store queries, injected or its own. */
  readonly pool: PostgresPool;
  readonly #owned: boolean;
  readonly #s: string;

  constructor(options: Readonly<PostgresCredentialStoreOptions>) {
    if (!options || typeof options !== 'object')
      throw missingOption('PostgresCredentialStore options are required');
    this.#s = schemaName(options.schema);
    if (options.pool !== undefined) {
      const pool = objectWith(options.pool, ['query', 'connect'], 'pool', 'a pg Pool (query and connect)');
      this.pool = pool;
      this.#owned = false;
    } else if (typeof options.connectionString === 'string' && options.connectionString.length > 0) {
      const timeout = boundedInt(options.timeoutMs, 3000, 100, 60_000, 'timeoutMs');
      const max = boundedInt(options.maxConnections, 10, 1, 100, 'maxConnections');
      const { Pool } = loadPg();
      const pool = new Pool({
        connectionString: options.connectionString,
        connectionTimeoutMillis: timeout,
        query_timeout: timeout,
        statement_timeout: timeout,
        max,
      });
      // an idle client whose server went away must not crash the process; the next query reconnects
      (pool as unknown as { on(event: string, fn: () => void): void }).on('error', () => undefined);
      this.pool = pool;
      this.#owned = true;
    } else {
      throw missingOption('PostgresCredentialStore needs pool or connectionString');
    }
  }

  async #query(text: string, values: unknown[]): Promise<PostgresQueryResult> {
    try {
      return await this.pool.query(text, values);
    } catch (cause) {
      throw new StoreUnavailableError('credential store unavailable', { cause });
    }
  }

  /**
   * Runs `work` in one transaction. Resolves to `work`'s result, or to `onConflict` when a unique
   * constraint refused a write (the transaction is rolled back: nothing half-written).
   */
  async #transaction<T>(work: (client: PostgresQueryable) => Promise<T>, onConflict: T): Promise<T> {
    let client: PostgresPoolClient;
    try {
      client = await this.pool.connect();
    } catch (cause) {
      throw new StoreUnavailableError('credential store unavailable', { cause });
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (isUniqueViolation(err)) return onConflict;
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError('credential store unavailable', { cause: err });
    } finally {
      client.release(broken);
    }
  }

  async createCredential(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    indexKeys: readonly string[],
  ): Promise<boolean> {
    const s = this.#s;
    return this.#transaction(async (client) => {
      await client.query(`INSERT INTO ${s}.credentials (kind, id, version, data) VALUES ($1, $2, 1, $3)`, [
        kind,
        id,
        JSON.stringify(data),
      ]);
      if (indexKeys.length > 0) {
        await client.query(
          `INSERT INTO ${s}.credential_index (kind, index_key, id) SELECT $1, k, $2 FROM unnest($3::text[]) AS k`,
          [kind, id, [...indexKeys]],
        );
      }
      return true;
    }, false);
  }

  async getCredential(kind: CredentialKind, id: string): Promise<CredentialRecord | null> {
    const { rows } = await this.#query(
      `SELECT id, version, data FROM ${this.#s}.credentials WHERE kind = $1 AND id = $2`,
      [kind, id],
    );
    return toRecord(rows[0]);
  }

  async findCredential(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null> {
    const { rows } = await this.#query(
      `SELECT c.id, c.version, c.data FROM ${this.#s}.credential_index i
         JOIN ${this.#s}.credentials c ON c.kind = i.kind AND c.id = i.id
        WHERE i.kind = $1 AND i.index_key = $2`,
      [kind, indexKey],
    );
    return toRecord(rows[0]);
  }

  async listCredentials(kind: CredentialKind): Promise<CredentialRecord[]> {
    const { rows } = await this.#query(
      `SELECT id, version, data FROM ${this.#s}.credentials WHERE kind = $1`,
      [kind],
    );
    return rows.map((row) => toRecord(row)!);
  }

  async replaceCredential(
    kind: CredentialKind,
    id: string,
    expectedVersion: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<CredentialRecord | null> {
    const s = this.#s;
    return this.#transaction(async (client) => {
      // the row lock makes every concurrent replace of this version wait, then find it moved on
      const updated = await client.query(
        `UPDATE ${s}.credentials SET version = version + 1, data = $4
          WHERE kind = $1 AND id = $2 AND version = $3
          RETURNING id, version, data`,
        [kind, id, expectedVersion, JSON.stringify(data)],
      );
      const record = toRecord(updated.rows[0]);
      if (record === null) return null;
      if (removeIndexKeys.length > 0) {
        await client.query(
          `DELETE FROM ${s}.credential_index WHERE kind = $1 AND id = $2 AND index_key = ANY($3::text[])`,
          [kind, id, [...removeIndexKeys]],
        );
      }
      if (addIndexKeys.length > 0) {
        // A key the credential already owns may be added again; one another credential owns may not.
        const keys = [...new Set(addIndexKeys)];
        await client.query(
          `INSERT INTO ${s}.credential_index (kind, index_key, id) SELECT $1, k, $2 FROM unnest($3::text[]) AS k
           ON CONFLICT (kind, index_key) DO NOTHING`,
          [kind, id, keys],
        );
        const owned = await client.query(
          `SELECT count(*)::int AS n FROM ${s}.credential_index WHERE kind = $1 AND id = $2 AND index_key = ANY($3::text[])`,
          [kind, id, keys],
        );
        if (Number(owned.rows[0]?.n) !== keys.length) throw new IndexKeyTaken();
      }
      return record;
    }, null);
  }

  async deleteCredential(kind: CredentialKind, id: string): Promise<boolean> {
    // the index rows of this credential go with it (ON DELETE CASCADE); others' are left alone
    const { rowCount } = await this.#query(`DELETE FROM ${this.#s}.credentials WHERE kind = $1 AND id = $2`, [
      kind,
      id,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    if (this.#owned) await this.pool.end();
  }
}
