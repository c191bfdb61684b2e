/**
 * The CLI with credentials in PostgreSQL: `db migrate` creates the schema (idempotently), and the
 * admin commands write credentials to PostgreSQL when DATABASE_URL is set, where a server kit on
 * the same database finds them.
 */
import { Pool } from 'pg';
import { EXIT_OK, EXIT_USAGE, runCli } from '../../lib/server/cli';
import { PostgresCredentialStore } from '../../lib/stores/postgres-credential-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { makeKit } from '../helpers/kit';
import { freshSchemaName, testDatabaseUrl } from '../helpers/postgres';
import { connectTestRedis, testRedisUrl, type TestRedis } from '../helpers/redis';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('express-token-kit db migrate and DATABASE_URL', () => {
  let redis: TestRedis;
  let pool: Pool;
  let schema: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-pg');
    pool = new Pool({ connectionString: testDatabaseUrl(), max: 2 });
    schema = freshSchemaName('cli');
    env = {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: redis.prefix,
      DATABASE_URL: testDatabaseUrl(),
      DATABASE_SCHEMA: schema,
    };
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    await redis.cleanup();
  });

  it('creates the schema once, then reports nothing to apply', async () => {
    const first = await cli(['db', 'migrate'], env);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
    expect(JSON.parse(first.stdout)).toEqual({ schema, version: 2, applied: [1, 2] });
    const again = await cli(['db', 'migrate'], env);
    expect(JSON.parse(again.stdout)).toEqual({ schema, version: 2, applied: [] });
  });

  it('writes applications to PostgreSQL, not Redis, and a server kit on the database authenticates them', async () => {
    await cli(['db', 'migrate'], env);
    const run = await cli(['application', 'create', '--name', 'Billing'], env);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
    const app = JSON.parse(run.stdout) as { id: string; clientId: string; clientSecret: string };
    const { rows } = await pool.query(`SELECT id FROM "${schema}".credentials WHERE kind = 'application'`);
    expect(rows).toEqual([{ id: app.id }]);
    expect(await redis.client.keys(`${redis.prefix}*`)).toEqual([]);

    const credentialStore = new PostgresCredentialStore({ pool, schema });
    const { kit } = await makeKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
      credentialStore,
    });
    await expect(kit.credentials.authenticateClient(app.clientId, app.clientSecret)).resolves.toMatchObject({
      id: app.id,
    });
    const listed = await cli(['application', 'list'], env);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: app.id, name: 'Billing' })]);
  });

  it.each([
    ['no DATABASE_URL', { DATABASE_URL: undefined }],
    ['a DATABASE_URL that is not postgres://', { DATABASE_URL: 'mysql://x' }],
    ['a DATABASE_SCHEMA that is not an identifier', { DATABASE_SCHEMA: 'a;b' }],
  ])('exits 2 with a clear message for %s', async (_, extra) => {
    const run = await cli(['db', 'migrate'], { ...env, ...extra });
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stderr).toMatch(/DATABASE_(URL|SCHEMA)/);
  });

  it('exits 1 when the database cannot be reached', async () => {
    const run = await cli(['db', 'migrate'], {
      ...env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/db migrate: cannot migrate/);
  });

  it('prints its own help', async () => {
    const run = await cli(['db', 'migrate', '--help'], env);
    expect(run.code).toBe(EXIT_OK);
    expect(run.stdout).toMatch(/db migrate/);
    expect(run.stdout).toMatch(/DATABASE_URL/);
  });
});
