/**
 * The demo server with credentials in PostgreSQL (`DATABASE_URL`) and tokens in Redis
 * (`REDIS_URL`): the seed flows work, the credentials are rows in the database, and a second
 * instance on the same database and Redis serves the same clients.
 */
import path from 'node:path';
import { Pool } from 'pg';
import { startDemoServer, type DemoServer, type DemoServerIo } from '../../lib/server/main';
import { freshSchemaName, testDatabaseUrl } from '../helpers/postgres';
import { connectTestRedis, testRedisUrl, type TestRedis } from '../helpers/redis';

const SEED = path.join(__dirname, '..', '..', 'docs', 'seed.example.json');

function quiet(lines: string[] = []): DemoServerIo {
  return { log: (l) => lines.push(l), warn: (l) => lines.push(l), audit: { write: () => true } };
}

async function clientCredentials(server: DemoServer): Promise<{ status: number; token?: string }> {
  const app = server.seed.applications[0]!;
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  return { status: res.status, ...(body.access_token === undefined ? {} : { token: body.access_token }) };
}

describe('the demo server with DATABASE_URL', () => {
  let redis: TestRedis;
  let pool: Pool;
  let schema: string;

  beforeAll(async () => {
    redis = await connectTestRedis('demo-pg');
    pool = new Pool({ connectionString: testDatabaseUrl(), max: 2 });
    schema = freshSchemaName('demo');
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    await redis.cleanup();
  });

  function env(): NodeJS.ProcessEnv {
    return {
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: redis.prefix,
      DATABASE_URL: testDatabaseUrl(),
      DATABASE_SCHEMA: schema,
    };
  }

  it('keeps the seed credentials in PostgreSQL and serves them from two instances', async () => {
    const lines: string[] = [];
    const first = await startDemoServer(env(), quiet(lines));
    try {
      expect(lines.join('\n')).toContain(`credentials: PostgreSQL, schema ${schema}`);
      const { rows } = await pool.query(
        `SELECT kind, count(*)::int AS n FROM "${schema}".credentials GROUP BY kind`,
      );
      const kinds = Object.fromEntries(rows.map((r: { kind: string; n: number }) => [r.kind, r.n]));
      expect(kinds).toMatchObject({ application: expect.any(Number), api_key: expect.any(Number) });
      const second = await startDemoServer(env(), quiet());
      try {
        for (const server of [first, second]) {
          const answer = await clientCredentials(server);
          expect(answer.status).toBe(200);
          expect(answer.token).toEqual(expect.any(String));
        }
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  it.each([
    [{ DATABASE_URL: 'mysql://127.0.0.1/test' }, /^DATABASE_URL must be a postgres/],
    [{ DATABASE_SCHEMA: 'Bad-Schema' }, /^DATABASE_SCHEMA: schema must be/],
    [{ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' }, /^DATABASE_URL: cannot prepare/],
  ])('%j: refuses to start with a DemoConfigError naming the variable', async (extra, message) => {
    const lines: string[] = [];
    const err = await startDemoServer({ ...env(), ...extra }, quiet(lines)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DemoConfigError', message: expect.stringMatching(message) });
    expect(lines.filter((l) => l.includes('listening'))).toEqual([]);
  });
});
