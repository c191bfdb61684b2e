import { Pool } from 'pg';
import { StoreUnavailableError } from '../../lib/errors';
import {
  migrateCredentialStore,
  PostgresCredentialStore,
  POSTGRES_SCHEMA_VERSION,
} from '../../lib/stores/postgres-credential-store';
import { describeCredentialStoreContract } from '../../lib/testing';
import { createTestSchema, freshSchemaName, testDatabaseUrl } from '../helpers/postgres';
import type { TestSchema } from '../helpers/postgres';
import { startTcpProxy } from '../helpers/tcp-proxy';
import type { TcpProxy } from '../helpers/tcp-proxy';

let db: TestSchema;
let twinPool: Pool;

beforeAll(async () => {
  db = await createTestSchema('contract');
  twinPool = new Pool({ connectionString: testDatabaseUrl(), max: 4 });
});

afterAll(async () => {
  await twinPool?.end();
  await db?.cleanup();
});

describeCredentialStoreContract('PostgresCredentialStore', async () => {
  await db.truncate();
  const store = new PostgresCredentialStore({ pool: db.pool, schema: db.schema });
  return {
    store,
    twin: new PostgresCredentialStore({ pool: twinPool, schema: db.schema }),
    cleanup: () => store.close(),
  };
});

function portOf(url: string): number {
  return Number(new URL(url).port || 5432);
}

function throughProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

describe('PostgresCredentialStore', () => {
  describe('when given an injected pool', () => {
    it('leaves the pool open on close', async () => {
      const store = new PostgresCredentialStore({ pool: db.pool, schema: db.schema });
      await store.close();
      await expect(db.pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    });
  });

  describe('when the options are wrong', () => {
    it.each([
      ['no options', undefined],
      ['neither pool nor connection string', {}],
      ['an empty connection string', { connectionString: '' }],
      ['a pool without connect', { pool: { query: () => Promise.resolve({ rows: [], rowCount: 0 }) } }],
      ['a schema with a quote', { pool: db?.pool, schema: 'a"b' }],
      ['an uppercase schema', { pool: db?.pool, schema: 'Tokens' }],
      ['a schema of 64 characters', { pool: db?.pool, schema: 'a'.repeat(64) }],
    ])('throws a TypeError for %s', (_, options) => {
      expect(() => new PostgresCredentialStore(options as never)).toThrow(TypeError);
    });

    it.each([
      ['timeoutMs', { timeoutMs: 0 }],
      ['timeoutMs', { timeoutMs: 1.5 }],
      ['maxConnections', { maxConnections: 0 }],
      ['maxConnections', { maxConnections: 1000 }],
    ])('throws a RangeError naming %s', (option, extra) => {
      expect(() => new PostgresCredentialStore({ connectionString: testDatabaseUrl(), ...extra })).toThrow(
        new RegExp(option),
      );
    });
  });

  describe('when the raw rows are read', () => {
    it('holds only what it was handed: hashes as index keys, JSON data, a version', async () => {
      await db.truncate();
      const store = new PostgresCredentialStore({ pool: db.pool, schema: db.schema });
      await store.createCredential('application', 'app-1', { secretHash: 'h(s)' }, ['h(client)']);
      const { rows } = await db.pool.query(
        `SELECT c.kind, c.id, c.version, c.data, i.index_key FROM "${db.schema}".credentials c
           JOIN "${db.schema}".credential_index i USING (kind, id)`,
      );
      expect(rows).toEqual([
        {
          kind: 'application',
          id: 'app-1',
          version: 1,
          data: { secretHash: 'h(s)' },
          index_key: 'h(client)',
        },
      ]);
    });
  });
});

describe('migrateCredentialStore', () => {
  describe('when run twice on one schema', () => {
    it('applies every version once and is a no-op the second time', async () => {
      const pool = new Pool({ connectionString: testDatabaseUrl(), max: 2 });
      const schema = freshSchemaName('migrate');
      try {
        await expect(migrateCredentialStore(pool, { schema })).resolves.toEqual({
          version: POSTGRES_SCHEMA_VERSION,
          applied: [1, 2],
        });
        await expect(migrateCredentialStore(pool, { schema })).resolves.toEqual({
          version: POSTGRES_SCHEMA_VERSION,
          applied: [],
        });
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      }
    });
  });

  describe('when five processes migrate one fresh schema at once', () => {
    it('applies it exactly once and every caller succeeds', async () => {
      const schema = freshSchemaName('race');
      const pools = Array.from(
        { length: 5 },
        () => new Pool({ connectionString: testDatabaseUrl(), max: 1 }),
      );
      try {
        const results = await Promise.all(pools.map((pool) => migrateCredentialStore(pool, { schema })));
        expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2]);
        const store = new PostgresCredentialStore({ pool: pools[0]!, schema });
        await expect(store.createCredential('user', 'u1', {}, ['k'])).resolves.toBe(true);
      } finally {
        await pools[0]!.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
  });

  describe('when the schema name is not a plain identifier', () => {
    it('refuses it before touching the database', async () => {
      await expect(migrateCredentialStore(db.pool, { schema: 'x; DROP TABLE y' })).rejects.toThrow(TypeError);
    });
  });
});

describe('PostgresCredentialStore through a network that fails', () => {
  let proxy: TcpProxy;
  let store: PostgresCredentialStore;

  beforeEach(async () => {
    await db.truncate();
    proxy = await startTcpProxy(
      portOf(testDatabaseUrl()),
      new URL(testDatabaseUrl()).hostname || '127.0.0.1',
    );
    store = new PostgresCredentialStore({
      connectionString: throughProxy(testDatabaseUrl(), proxy.port),
      schema: db.schema,
      timeoutMs: 500,
    });
    await store.createCredential('api_key', 'k1', { name: 'a' }, ['h1']);
  });

  afterEach(async () => {
    await store.close().catch(() => undefined);
    await proxy.close();
  });

  describe('when the database is unreachable', () => {
    it('rejects every call with StoreUnavailableError, then recovers without a restart', async () => {
      await proxy.cut();
      await expect(store.findCredential('api_key', 'h1')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.createCredential('api_key', 'k2', {}, ['h2'])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.replaceCredential('api_key', 'k1', 1, {}, ['h1'], ['h3'])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await proxy.restore();
      await expect(store.findCredential('api_key', 'h1')).resolves.toMatchObject({ id: 'k1', version: 1 });
      await expect(store.getCredential('api_key', 'k2')).resolves.toBeNull();
    });
  });

  describe('when the database hangs', () => {
    it('answers StoreUnavailableError within its timeout, then recovers', async () => {
      await proxy.blackhole();
      const fresh = new PostgresCredentialStore({
        connectionString: throughProxy(testDatabaseUrl(), proxy.port),
        schema: db.schema,
        timeoutMs: 500,
      });
      try {
        const started = Date.now();
        await expect(fresh.getCredential('api_key', 'k1')).rejects.toBeInstanceOf(StoreUnavailableError);
        const waited = Date.now() - started;
        // it waited for the hung server (not a refused connection), and no longer than a bound
        expect(waited).toBeGreaterThanOrEqual(400);
        expect(waited).toBeLessThan(5_000);
        await proxy.restore();
        await expect(fresh.getCredential('api_key', 'k1')).resolves.toMatchObject({ id: 'k1' });
      } finally {
        await fresh.close();
      }
    });
  });
});
