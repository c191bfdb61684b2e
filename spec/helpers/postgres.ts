/**
 * Test access to PostgreSQL: `DATABASE_URL` when set, else the machine's server on 127.0.0.1:5432
 * (trust auth, database `test`). Each caller gets a schema of its own, dropped by `cleanup`.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { migrateCredentialStore, PostgresCredentialStore } from '../../lib/stores/postgres-credential-store';

/** The URL of the test database. */
export function testDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  return url !== undefined && url !== '' ? url : 'postgres://postgres@127.0.0.1:5432/test';
}

/** A migrated schema nobody else uses, and a pool to reach it. */
export interface TestSchema {
  readonly pool: Pool;
  /** e.g. `etk_test_1a2b3c4d` */
  readonly schema: string;
  /** Empties the schema's tables. */
  truncate(): Promise<void>;
  /** Drops the schema and ends the pool. */
  cleanup(): Promise<void>;
}

/** A fresh, empty schema name (lowercase, unique per call). */
export function freshSchemaName(hint: string): string {
  return `etk_test_${hint}_${randomBytes(4).toString('hex')}`;
}

/** Creates and migrates a schema of the caller's own. */
export async function createTestSchema(hint: string, url = testDatabaseUrl()): Promise<TestSchema> {
  const pool = new Pool({ connectionString: url, max: 4 });
  const schema = freshSchemaName(hint);
  await migrateCredentialStore(pool, { schema });
  return {
    pool,
    schema,
    async truncate() {
      await pool.query(`TRUNCATE "${schema}".credential_index, "${schema}".credentials`);
    },
    async cleanup() {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}

/** A suite's PostgreSQL schema (see {@link usePostgresCredentials}). */
export interface PostgresCredentials {
  /** The schema of the suite; set once its `beforeAll` ran. */
  db(): TestSchema;
  /** A new credential store over the suite's schema. */
  credentialStore(): PostgresCredentialStore;
}

/**
 * Registers, in the calling `describe`, a schema created before its tests and dropped after them,
 * and gives credential stores over it.
 */
export function usePostgresCredentials(hint: string): PostgresCredentials {
  let schema: TestSchema | undefined;
  beforeAll(async () => {
    schema = await createTestSchema(hint);
  });
  afterAll(() => schema?.cleanup());
  const db = (): TestSchema => {
    if (schema === undefined) throw new Error('usePostgresCredentials: the schema is made in beforeAll');
    return schema;
  };
  return { db, credentialStore: () => new PostgresCredentialStore({ pool: db().pool, schema: db().schema }) };
}
