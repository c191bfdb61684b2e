/**
 * PostgresKeyStore on the machine's PostgreSQL: the key store contract, the migration step that
 * creates its tables (idempotent, also from schema version 1), private keys at rest, and two key
 * managers sharing keys through polling.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { StoreUnavailableError } from '../../lib/errors';
import { KeyEncryptionKeyError } from '../../lib/keys/kek';
import { createKeyManager, type KeyManager } from '../../lib/keys/key-manager';
import { migrateCredentialStore, POSTGRES_SCHEMA_VERSION } from '../../lib/stores/postgres-credential-store';
import { PostgresKeyStore } from '../../lib/stores/postgres-key-store';
import { describeKeyStoreContract } from '../../lib/testing';
import { createTestSchema, freshSchemaName, testDatabaseUrl, type TestSchema } from '../helpers/postgres';

const ISSUER = 'https://issuer.test';

describeKeyStoreContract('PostgresKeyStore', async () => {
  const db = await createTestSchema('keys');
  const twinPool = new Pool({ connectionString: testDatabaseUrl(), max: 4 });
  return {
    store: new PostgresKeyStore({ pool: db.pool, schema: db.schema }),
    twin: new PostgresKeyStore({ pool: twinPool, schema: db.schema }),
    async cleanup() {
      await twinPool.end();
      await db.cleanup();
    },
  };
});

describe('migrateCredentialStore and the signing-key tables', () => {
  it('upgrades a schema at version 1 by applying only version 2, then nothing', async () => {
    const pool = new Pool({ connectionString: testDatabaseUrl(), max: 2 });
    const schema = freshSchemaName('keys_upgrade');
    try {
      await migrateCredentialStore(pool, { schema });
      // Back to version 1, as a database migrated before the key store existed.
      await pool.query(`DROP TABLE "${schema}".signing_keys, "${schema}".signing_key_meta`);
      await pool.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 2`);
      await expect(new PostgresKeyStore({ pool, schema }).load()).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(migrateCredentialStore(pool, { schema })).resolves.toEqual({
        version: POSTGRES_SCHEMA_VERSION,
        applied: [2],
      });
      await expect(migrateCredentialStore(pool, { schema })).resolves.toEqual({
        version: POSTGRES_SCHEMA_VERSION,
        applied: [],
      });
      await expect(new PostgresKeyStore({ pool, schema }).load()).resolves.toEqual({ version: 0, keys: [] });
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  it('answers StoreUnavailableError naming `db migrate` on an unmigrated schema', async () => {
    const pool = new Pool({ connectionString: testDatabaseUrl(), max: 1 });
    try {
      const store = new PostgresKeyStore({ pool, schema: freshSchemaName('keys_none') });
      await expect(store.load()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.version()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await pool.end();
    }
  });

  it('refuses a schema name that is not a plain identifier', () => {
    const pool = new Pool({ connectionString: testDatabaseUrl(), max: 1 });
    try {
      for (const schema of ['Token', 'a;drop', 'x"y', '']) {
        expect(() => new PostgresKeyStore({ pool, schema })).toThrow(TypeError);
      }
    } finally {
      void pool.end();
    }
  });
});

describe('PostgresKeyStore with key managers', () => {
  const kek = randomBytes(32);
  let db: TestSchema;
  const managers: KeyManager[] = [];

  beforeEach(async () => {
    db = await createTestSchema('keys_mgr');
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
    await db.cleanup();
  });

  async function manager(extra: { kek?: Buffer; pollEveryMs?: number } = {}): Promise<KeyManager> {
    const m = await createKeyManager({
      store: new PostgresKeyStore({ pool: db.pool, schema: db.schema }),
      kek,
      issuer: ISSUER,
      algorithm: 'ES256',
      pollEveryMs: 0,
      ...extra,
    });
    managers.push(m);
    return m;
  }

  it('stores private keys only sealed (no PEM, no JWK d); a wrong KEK fails with KeyEncryptionKeyError', async () => {
    const m = await manager();
    await m.rotate();
    const { rows } = await db.pool.query(`SELECT kid, data::text AS data FROM "${db.schema}".signing_keys`);
    expect(rows).toHaveLength(2);
    for (const row of rows as { data: string }[]) {
      expect(row.data).not.toMatch(/-----BEGIN|PRIVATE KEY|"d"\s*:/);
      expect(row.data).toMatch(/etk-kek-v1\./);
    }
    const error = await manager({ kek: randomBytes(32) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyEncryptionKeyError);
  });

  it('lets a second manager converge by polling within 1 s', async () => {
    const a = await manager();
    const b = await manager({ pollEveryMs: 200 });
    const fresh = await a.rotate({ now: true });
    const start = Date.now();
    while (!b.keys.kids().includes(fresh.kid)) {
      if (Date.now() - start > 1000) throw new Error('b did not converge within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(b.keys.signingKey().kid).toBe(fresh.kid);
  });

  it('tells a second manager through NOTIFY within 1 s (no polling)', async () => {
    const a = await manager();
    const b = await manager();
    const fresh = await a.rotate({ now: true });
    const start = Date.now();
    while (!b.keys.kids().includes(fresh.kid)) {
      if (Date.now() - start > 1000) throw new Error('b did not hear of the change within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(b.keys.signingKey().kid).toBe(fresh.kid);
  });

  it('bootstraps one key when two start on an empty store at once', async () => {
    const [a, b] = await Promise.all([manager(), manager()]);
    expect(await a.list()).toHaveLength(1);
    expect(b.keys.kids()).toEqual(a.keys.kids());
  });
});
