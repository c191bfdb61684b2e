/**
 * The demo server on every Redis deployment docs/operations.md names: a real 3-primary Redis Cluster
 * (`REDIS_CLUSTER_NODES`), a Sentinel setup (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`) and a single
 * Redis (`REDIS_URL`). Token store, rate limits and the pub/sub revocation view all live on it.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Cluster } from 'ioredis';
import { runCli } from '../../lib/server/cli';
import { startDemoServer, type DemoServer, type DemoServerIo } from '../../lib/server/main';
import { createRedisConnectionFromEnv, type RedisConnection } from '../../lib/stores/redis-connection';
import { waitForReady } from '../../lib/stores/redis-client';
import { startRedisCluster, startRedisSentinel, waitUntil } from '../helpers/redis-server';
import type { RedisCluster, RedisSentinelSetup } from '../helpers/redis-server';
import { connectTestRedis, testRedisUrl, type TestRedis } from '../helpers/redis';

const SEED = path.join(__dirname, '..', '..', 'docs', 'seed.example.json');

interface Captured {
  readonly io: DemoServerIo;
  readonly lines: string[];
  readonly warnings: string[];
}

function capture(): Captured {
  const lines: string[] = [];
  const warnings: string[] = [];
  return {
    lines,
    warnings,
    io: { log: (l) => lines.push(l), warn: (l) => warnings.push(l), audit: { write: () => true } },
  };
}

function uniquePrefix(hint: string): string {
  return `etk-demo-${hint}:${randomBytes(4).toString('hex')}:`;
}

async function clientCredentials(
  server: DemoServer,
  secret?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const app = server.seed.applications[0]!;
  const res = await fetch(`${server.url}/api/auth/tokens/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: secret ?? app.clientSecret,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function plans(server: DemoServer, token: string): Promise<number> {
  const res = await fetch(`${server.url}/api/plans/`, { headers: { Authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Router A: an opaque (`vit_at_`) token bound to the seed's first employer. */
async function apiKeyToken(server: DemoServer): Promise<string> {
  const res = await fetch(`${server.url}/v1/auth/access-tokens`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${server.seed.apiKeys[0]!.key}`,
    },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      bound_entity: { id: server.seed.employers[0]!.id, type: 'employer' },
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The guarded employer route, read with `token`. */
async function employer(server: DemoServer, token: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/employers/${server.seed.employers[0]!.id}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

/** Polls until `server` refuses `token` (401); false after 2 s. */
function refusedSoon(server: DemoServer, token: string): Promise<boolean> {
  return waitUntil(async () => (await employer(server, token)) === 401, 2000, 20);
}

/**
 * Two demo instances on one Redis deployment, behind one issuer (`TOKEN_KIT_ISSUER`). The
 * cross-instance token is router A's opaque one, which lives in the store (JWTs across instances,
 * on the shared signing keys: shared-keys.spec.ts). The
 * second instance checks it repeatedly (its revocation view remembers the answer); once `revoke`
 * revokes it, both instances refuse it at once.
 */
async function expectRevocationCrossesInstances(
  env: NodeJS.ProcessEnv,
  revoke: (first: DemoServer, token: string) => Promise<void>,
): Promise<void> {
  const shared = { ...env, TOKEN_KIT_ISSUER: 'https://demo.example.test' };
  const first = await startDemoServer(shared, capture().io);
  try {
    const second = await startDemoServer(shared, capture().io);
    try {
      const token = await apiKeyToken(first);
      for (let i = 0; i < 3; i++) expect(await employer(second, token)).toBe(200);
      expect(await employer(first, token)).toBe(200);
      await revoke(first, token);
      // The announcement reaches the other instance within one pub/sub message; bounded poll.
      expect(await refusedSoon(second, token)).toBe(true);
      expect(await refusedSoon(first, token)).toBe(true);
      expect(await employer(second, token)).toBe(401);
    } finally {
      await second.close();
    }
  } finally {
    await first.close();
  }
}

/** Revokes the token through the first instance's kit. */
async function revokeThroughFirst(first: DemoServer, token: string): Promise<void> {
  expect(await first.kit.tokens.revokeToken(token)).toBe(true);
}

/** Revokes the token's API key with the operator CLI (`apikey revoke`) on the same Redis. */
function revokeThroughCli(env: NodeJS.ProcessEnv) {
  return async (first: DemoServer, token: string): Promise<void> => {
    const { clientId } = await first.kit.tokens.verifyAccessToken(token);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['apikey', 'revoke', '--id', clientId], env, {
      stdout: (l) => out.push(l),
      stderr: (l) => err.push(l),
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(JSON.parse(out.join('\n'))).toEqual({ id: clientId, revoked: true });
  };
}

describe('the demo server on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: RedisCluster;
  let admin: RedisConnection;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    const connection = createRedisConnectionFromEnv(
      { REDIS_CLUSTER_NODES: cluster.nodesEnv },
      { commandTimeoutMs: 2000 },
    );
    if (connection === null) throw new Error('expected a cluster connection');
    admin = connection;
    await waitForReady(admin.client, 10_000);
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  function clusterEnv(prefix: string): NodeJS.ProcessEnv {
    return {
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_KEY_PREFIX: prefix,
      // The signing keys shared in the cluster (without one, a warning says they stay in memory).
      TOKEN_KIT_KEK: randomBytes(32).toString('base64'),
    };
  }

  /** Number of keys under `prefix` on each primary. */
  async function keysPerPrimary(prefix: string): Promise<number[]> {
    const counts: number[] = [];
    for (const node of (admin.client as Cluster).nodes('master')) {
      let cursor = '0';
      let count = 0;
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        count += batch.length;
      } while (cursor !== '0');
      counts.push(count);
    }
    return counts;
  }

  it('serves router C client_credentials and a guarded route, with everything in the cluster', async () => {
    const prefix = uniquePrefix('cluster');
    const out = capture();
    const server = await startDemoServer(clusterEnv(prefix), out.io);
    try {
      const text = out.lines.join('\n');
      expect(text).toContain('store: redis cluster (3 primaries)');
      expect(text).toContain('rate limits: redis; audit events');
      expect(text).toContain(`revocation view: redis pub/sub on ${prefix}revocations`);
      expect(text).toContain('7 credentials created, 0 already present');
      expect(out.warnings).toEqual([]);
      const minted = await clientCredentials(server);
      expect(minted.status).toBe(200);
      expect(minted.body.access_token).toEqual(expect.any(String));
      const token = minted.body.access_token as string;
      expect(await plans(server, token)).toBe(200);
      expect(await plans(server, token)).toBe(200);
      expect(await plans(server, 'not-a-token')).toBe(401);
      // Seed credentials and tokens are spread over the primaries, not piled on one.
      const counts = await keysPerPrimary(prefix);
      expect(counts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    } finally {
      await server.close();
    }
  });

  it('refuses at once on a second instance a token revoked through the first', async () => {
    await expectRevocationCrossesInstances(clusterEnv(uniquePrefix('cluster-revoke')), revokeThroughFirst);
  });

  it('refuses at once on every instance a token whose API key the CLI revoked', async () => {
    const env = clusterEnv(uniquePrefix('cluster-cli'));
    await expectRevocationCrossesInstances(env, revokeThroughCli(env));
  });

  it('counts failed client secrets in the cluster, shared by instances, after a SCRIPT FLUSH too', async () => {
    const env = clusterEnv(uniquePrefix('cluster-rl'));
    const first = await startDemoServer(env, capture().io);
    try {
      const second = await startDemoServer(env, capture().io);
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 15 && !statuses.includes(429); i++) {
          statuses.push((await clientCredentials(first, 'wrong-secret')).status);
        }
        // 10 failures per (credential, IP) per window; counting follows the answer, so a few more may pass.
        expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
        expect(statuses).toContain(429);
        // The other instance shares the budget: the same credential is refused there as well.
        expect((await clientCredentials(second, 'wrong-secret')).status).toBe(429);
        // Scripts lost on every primary (a restart, a failover to an empty replica): loaded again.
        for (const node of (admin.client as Cluster).nodes('master')) await node.script('FLUSH');
        expect((await clientCredentials(second, 'wrong-secret')).status).toBe(429);
        expect((await clientCredentials(first)).status).toBe(429);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  it('warns when a primary may evict keys', async () => {
    const victim = (admin.client as Cluster).nodes('master')[2]!;
    await victim.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const out = capture();
      const server = await startDemoServer(clusterEnv(uniquePrefix('cluster-evict')), out.io);
      await server.close();
      expect(out.warnings).toEqual([
        expect.stringContaining('a Redis Cluster primary has maxmemory-policy allkeys-lru'),
      ]);
    } finally {
      await victim.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});

describe('the demo server on Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME)', () => {
  let sentinel: RedisSentinelSetup;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 60_000);

  afterAll(async () => {
    await sentinel?.stop();
  });

  it('serves router C client_credentials and a guarded route', async () => {
    const out = capture();
    const server = await startDemoServer(
      {
        PORT: '0',
        TOKEN_KIT_SEED: SEED,
        REDIS_SENTINELS: sentinel.sentinelsEnv,
        REDIS_SENTINEL_NAME: sentinel.name,
        REDIS_KEY_PREFIX: uniquePrefix('sentinel'),
      },
      out.io,
    );
    try {
      expect(out.lines.join('\n')).toContain(`store: redis sentinel ${sentinel.name}`);
      const minted = await clientCredentials(server);
      expect(minted.status).toBe(200);
      expect(await plans(server, minted.body.access_token as string)).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('the demo server on one Redis (REDIS_URL)', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await connectTestRedis('demo-main-redis');
  });

  afterAll(async () => {
    await redis.cleanup();
  });

  function env(): NodeJS.ProcessEnv {
    return { PORT: '0', TOKEN_KIT_SEED: SEED, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: redis.prefix };
  }

  it('refuses at once on a second instance a token revoked through the first', async () => {
    await expectRevocationCrossesInstances(env(), revokeThroughFirst);
  });

  it('refuses at once on every instance a token whose API key the CLI revoked', async () => {
    await expectRevocationCrossesInstances(env(), revokeThroughCli(env()));
  });
});

describe('the demo server with a malformed Redis variable', () => {
  it.each([
    [
      { REDIS_SENTINELS: 'sentinel-without-port', REDIS_SENTINEL_NAME: 'mymaster' },
      /^REDIS_SENTINELS must be/,
    ],
    [{ REDIS_SENTINELS: '127.0.0.1:26379,:5' }, /^REDIS_SENTINELS must be .*entry 2/],
    [{ REDIS_SENTINELS: '127.0.0.1:26379' }, /REDIS_SENTINEL_NAME is not/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000,nope' }, /^REDIS_CLUSTER_NODES must be .*entry 2/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_SENTINELS: '127.0.0.1:26379' }, /cannot both be set/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /^REDIS_URL must be a redis:\/\//],
  ])('%j: refuses to start with a DemoConfigError naming the variable', async (env, message) => {
    const out = capture();
    const err = await startDemoServer({ PORT: '0', ...env }, out.io).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DemoConfigError', message: expect.stringMatching(message) });
    expect(out.lines).toEqual([]);
  });
});
