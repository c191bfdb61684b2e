/**
 * Two demo instances on one real Redis and on a 3-primary Redis Cluster, with one
 * `TOKEN_KIT_ISSUER` and key-encryption key, share their signing keys: a JWT from one verifies on
 * the other, both serve the same JWKS, `keys rotate --now` and `keys retire --kid … --now` through
 * the CLI reach both within 2 s, a restart keeps every key, and a JWT revoked through the other
 * instance is refused on both within 1 s. Also: a wrong key-encryption key never opens the port,
 * no key-encryption key writes nothing to Redis, and `TOKEN_KIT_KEYS_FILE` gives fixed keys.
 *
 * The instances run in-process (`startDemoServer`), as main-redis.spec.ts does; the CLI through
 * `runCli`; the wrong-key case also as a real process. Cross-instance propagation is polled with
 * deadlines, never slept for.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from 'ioredis';
import { runCli } from '../../lib/server/cli';
import { startDemoServer, type DemoServer, type DemoServerIo } from '../../lib/server/main';
import { createRedisConnectionFromEnv, type RedisConnection } from '../../lib/stores/redis-connection';
import { waitForReady } from '../../lib/stores/redis-client';
import { startRedisCluster, waitUntil, type RedisCluster } from '../helpers/redis-server';
import { testRedisUrl } from '../helpers/redis';
import { startTcpProxy } from '../helpers/tcp-proxy';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'lib', 'server', 'main.ts');
const SEED = path.join(ROOT, 'docs', 'seed.example.json');
const ISSUER = 'https://auth.shared-keys.example.test';

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

const newKek = (): string => randomBytes(32).toString('base64');

/** The kid in a JWT's header. */
function kidOf(jwt: string): string {
  return (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

/** A router C client_credentials token (a JWT) from `server`. */
async function clientToken(server: DemoServer): Promise<string> {
  const app = server.seed.applications[0]!;
  const res = await fetch(`${server.url}/api/auth/tokens/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.clientSecret,
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  expect(res.status).toBe(200);
  expect(body.access_token!.split('.')).toHaveLength(3);
  return body.access_token!;
}

/** The kid `server` signs with now (a token issued in-process, never leaving the test). */
async function signingKid(server: DemoServer): Promise<string> {
  const { token } = await server.kit.tokens.issueAccessToken({
    subject: 'probe',
    clientId: 'probe',
    ttl: 60,
  });
  return kidOf(token);
}

/** The status of the guarded `/api/plans/` on `server` with `token`. */
async function plans(server: DemoServer, token: string): Promise<number> {
  const res = await fetch(`${server.url}/api/plans/`, { headers: { Authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

async function jwks(server: DemoServer): Promise<{ keys: { kid: string }[] }> {
  const res = await fetch(`${server.url}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as { keys: { kid: string }[] };
}

const kids = async (server: DemoServer): Promise<string[]> =>
  (await jwks(server)).keys.map((k) => k.kid).sort();

async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  expect({ argv, code, err }).toEqual({ argv, code: 0, err: [] });
  return JSON.parse(out.join('\n')) as unknown;
}

/** A Redis deployment the instances share. */
interface Topology {
  /** The Redis variables of the deployment. */
  env(): NodeJS.ProcessEnv;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const singleRedis: Topology = {
  env: () => ({ REDIS_URL: testRedisUrl() }),
  start: () => Promise.resolve(),
  stop: () => Promise.resolve(),
};

function redisCluster(): Topology {
  let cluster: RedisCluster | undefined;
  let admin: RedisConnection | undefined;
  return {
    env: () => ({ REDIS_CLUSTER_NODES: cluster!.nodesEnv }),
    async start() {
      cluster = await startRedisCluster(3);
      admin = createRedisConnectionFromEnv(
        { REDIS_CLUSTER_NODES: cluster.nodesEnv },
        { commandTimeoutMs: 2000 },
      )!;
      await waitForReady(admin.client, 10_000);
    },
    async stop() {
      await admin?.close();
      await cluster?.stop();
    },
  };
}

/** Deadlines: the issue's bounds, generous only for the loaded machine's HTTP round trips. */
const ROTATION_DEADLINE_MS = 2000;
const REVOCATION_DEADLINE_MS = 1000;

describe.each<[string, Topology]>([
  ['one Redis (REDIS_URL)', singleRedis],
  ['a 3-primary Redis Cluster (REDIS_CLUSTER_NODES)', redisCluster()],
])('two demo instances on %s', (_name, topology) => {
  beforeAll(() => topology.start(), 60_000);
  afterAll(() => topology.stop());

  /** One deployment's environment: its own key prefix, one issuer, one key-encryption key. */
  function deployment(): NodeJS.ProcessEnv {
    return {
      ...topology.env(),
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      TOKEN_KIT_ISSUER: ISSUER,
      REDIS_KEY_PREFIX: `etk-shared-keys:${randomBytes(4).toString('hex')}:`,
      TOKEN_KIT_KEK: newKek(),
    };
  }

  /** Runs `body` with two instances of `env`, closing them after. */
  async function withPair(
    env: NodeJS.ProcessEnv,
    body: (one: DemoServer, two: DemoServer) => Promise<void>,
  ): Promise<void> {
    const outOne = capture();
    const one = await startDemoServer(env, outOne.io);
    try {
      const outTwo = capture();
      const two = await startDemoServer(env, outTwo.io);
      try {
        expect([outOne.warnings, outTwo.warnings]).toEqual([[], []]);
        expect(outOne.lines.join('\n')).toContain('signing keys: RS256, shared by every instance');
        await body(one, two);
      } finally {
        await two.close();
      }
    } finally {
      await one.close();
    }
  }

  it('share one key set: a JWT from one verifies on the other, and both serve the same JWKS', async () => {
    await withPair(deployment(), async (one, two) => {
      const fromOne = await clientToken(one);
      const fromTwo = await clientToken(two);
      expect(kidOf(fromOne)).toBe(kidOf(fromTwo));
      expect(await plans(two, fromOne)).toBe(200);
      expect(await plans(one, fromTwo)).toBe(200);
      expect(await jwks(one)).toEqual(await jwks(two));
      expect(await kids(one)).toEqual([kidOf(fromOne)]);
    });
  }, 60_000);

  it('keys rotate --now: both sign with the new kid within 2 s, old tokens keep verifying; keys retire --now: they fail on both within 2 s', async () => {
    const env = deployment();
    await withPair(env, async (one, two) => {
      const old = await clientToken(one);
      const oldKid = kidOf(old);
      const rotated = (await cli(['keys', 'rotate', '--now'], env)) as { kid: string; state: string };
      expect(rotated.state).toBe('active');
      expect(rotated.kid).not.toBe(oldKid);
      const bothSignNew = await waitUntil(
        async () => (await signingKid(one)) === rotated.kid && (await signingKid(two)) === rotated.kid,
        ROTATION_DEADLINE_MS,
        20,
      );
      expect(bothSignNew).toBe(true);
      // Over HTTP too, and the old key's token still verifies everywhere.
      const fresh = await clientToken(two);
      expect(kidOf(fresh)).toBe(rotated.kid);
      expect([await plans(one, old), await plans(two, old), await plans(one, fresh)]).toEqual([
        200, 200, 200,
      ]);
      expect(await kids(one)).toEqual([oldKid, rotated.kid].sort());
      expect(await jwks(two)).toEqual(await jwks(one));

      const retired = (await cli(['keys', 'retire', '--kid', oldKid, '--now'], env)) as { state: string };
      expect(retired.state).toBe('retired');
      const refusedOnBoth = await waitUntil(
        async () => (await plans(one, old)) === 401 && (await plans(two, old)) === 401,
        ROTATION_DEADLINE_MS,
        20,
      );
      expect(refusedOnBoth).toBe(true);
      expect(await kids(one)).toEqual([rotated.kid]);
      expect(await kids(two)).toEqual([rotated.kid]);
      expect([await plans(one, fresh), await plans(two, fresh)]).toEqual([200, 200]);
    });
  }, 60_000);

  it('a restarted instance keeps every key: its JWKS and the tokens signed before the restart', async () => {
    const env = deployment();
    const one = await startDemoServer(env, capture().io);
    try {
      const before = await clientToken(one);
      await cli(['keys', 'rotate', '--now'], env);
      await cli(['keys', 'rotate'], env); // and a next key
      expect(await waitUntil(async () => (await kids(one)).length === 3, ROTATION_DEADLINE_MS, 20)).toBe(
        true,
      );
      const published = await jwks(one);
      const after = await clientToken(one);
      const listed = (await cli(['keys', 'list'], env)) as unknown[];

      let two = await startDemoServer(env, capture().io);
      await two.close();
      two = await startDemoServer(env, capture().io);
      try {
        expect(await jwks(two)).toEqual(published);
        expect([await plans(two, before), await plans(two, after)]).toEqual([200, 200]);
        expect(kidOf(await clientToken(two))).toBe(kidOf(after));
        expect(await cli(['keys', 'list'], env)).toEqual(listed);
      } finally {
        await two.close();
      }
    } finally {
      await one.close();
    }
  }, 60_000);

  /** Revokes `token` (issued by the first instance) through the second instance. */
  const revocations: [string, (two: DemoServer, token: string) => Promise<void>][] = [
    [
      'its /oauth/revoke (RFC 7009)',
      async (two, token) => {
        const app = two.seed.applications[0]!;
        const res = await fetch(`${two.url}/oauth/revoke`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`).toString('base64')}`,
          },
          body: new URLSearchParams({ token }).toString(),
        });
        expect(res.status).toBe(200);
      },
    ],
    [
      "createAuthRouter's rotate_credentials (the application's own tokens die)",
      async (two, token) => {
        const res = await fetch(`${two.url}/api/applications/rotate_credentials/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify({ application_id: two.seed.applications[0]!.id }),
        });
        expect(res.status).toBe(200);
      },
    ],
    [
      'the library (kit.tokens.revokeToken)',
      async (two, token) => {
        expect(await two.kit.tokens.revokeToken(token)).toBe(true);
      },
    ],
  ];

  it.each(revocations)(
    'refuses on both within 1 s a JWT issued by one and revoked through the other: %s',
    async (_how, revoke) => {
      await withPair(deployment(), async (one, two) => {
        const token = await clientToken(one);
        // Both have verified it (and their revocation views remember the answer).
        for (let i = 0; i < 2; i++)
          expect([await plans(one, token), await plans(two, token)]).toEqual([200, 200]);
        await revoke(two, token);
        const refused = await waitUntil(
          async () => (await plans(one, token)) === 401 && (await plans(two, token)) === 401,
          REVOCATION_DEADLINE_MS,
          20,
        );
        expect(refused).toBe(true);
      });
    },
    60_000,
  );
});

describe('two demo instances through a Redis outage', () => {
  it('a rotation the CLI cannot write changes nothing; one the instances missed reaches both once Redis is back', async () => {
    const redisPort = Number(new URL(testRedisUrl()).port);
    const proxy = await startTcpProxy(redisPort);
    const prefix = `etk-shared-keys:${randomBytes(4).toString('hex')}:`;
    const shared = {
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      TOKEN_KIT_ISSUER: ISSUER,
      REDIS_KEY_PREFIX: prefix,
      TOKEN_KIT_KEK: newKek(),
    };
    // The instances reach Redis through the proxy; the operator's CLI reaches it directly.
    const behindProxy = { ...shared, REDIS_URL: `redis://127.0.0.1:${proxy.port}` };
    const direct = { ...shared, REDIS_URL: testRedisUrl() };
    const quiet = (): DemoServerIo => ({
      log: () => undefined,
      warn: () => undefined,
      audit: { write: () => true },
    });
    const one = await startDemoServer(behindProxy, quiet());
    const two = await startDemoServer(behindProxy, quiet());
    try {
      const oldKid = await signingKid(one);
      expect(await signingKid(two)).toBe(oldKid);
      const listed = JSON.stringify(await cli(['keys', 'list'], direct));

      await proxy.cut();
      // Through the cut link the CLI fails with exit 1, and the store is as it was.
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['keys', 'rotate', '--now'], behindProxy, {
        stdout: (l) => out.push(l),
        stderr: (l) => err.push(l),
      });
      expect(code).toBe(1);
      expect(err.join('\n')).toMatch(/cannot reach Redis/);
      expect(out).toEqual([]);
      expect(JSON.stringify(await cli(['keys', 'list'], direct))).toBe(listed);
      // The instances keep their last good keys meanwhile.
      expect(await signingKid(one)).toBe(oldKid);

      // A rotation the instances cannot hear about (their pub/sub is cut too)...
      const rotated = (await cli(['keys', 'rotate', '--now'], direct)) as { kid: string };
      expect(await signingKid(one)).toBe(oldKid);
      await proxy.restore();
      // ...reaches both once they reconnect (their poll of the store's version), never half of it.
      const converged = await waitUntil(
        async () => (await signingKid(one)) === rotated.kid && (await signingKid(two)) === rotated.kid,
        15_000,
        50,
      );
      expect(converged).toBe(true);
      expect(await jwks(one)).toEqual(await jwks(two));
    } finally {
      await proxy.restore();
      await two.close();
      await one.close();
      await proxy.close();
    }
  }, 60_000);
});

describe('the demo server on Redis and its key-encryption key', () => {
  function env(): NodeJS.ProcessEnv {
    return {
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      TOKEN_KIT_ISSUER: ISSUER,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: `etk-shared-keys:${randomBytes(4).toString('hex')}:`,
      TOKEN_KIT_KEK: newKek(),
    };
  }

  async function rawKeyStore(prefix: string): Promise<string> {
    const connection = createRedisConnectionFromEnv({ REDIS_URL: testRedisUrl() })!;
    try {
      await waitForReady(connection.client, 5000);
      const client = connection.client as Exclude<typeof connection.client, Cluster>;
      const keys = await client.keys(`${prefix}{keys}*`);
      const values: unknown[] = [];
      for (const key of keys.sort()) {
        const type = await client.type(key);
        values.push(
          key,
          type === 'hash' ? await client.hgetall(key) : type === 'string' ? await client.get(key) : type,
        );
      }
      return JSON.stringify(values);
    } finally {
      await connection.close();
    }
  }

  it('stores the private key sealed: the raw values hold no PEM and no JWK "d"', async () => {
    const e = env();
    const server = await startDemoServer(e, capture().io);
    await server.close();
    const raw = await rawKeyStore(e.REDIS_KEY_PREFIX!);
    expect(raw).toContain('etk-kek-v1.');
    expect(raw).not.toContain('PRIVATE KEY');
    expect(raw).not.toMatch(/\\"d\\":/);
  }, 30_000);

  it('refuses to start with a wrong key-encryption key, naming it, and leaves the store as it was', async () => {
    const e = env();
    const first = await startDemoServer(e, capture().io);
    const listed = JSON.stringify(await cli(['keys', 'list'], e));
    const raw = await rawKeyStore(e.REDIS_KEY_PREFIX!);
    try {
      const out = capture();
      const err = (await startDemoServer({ ...e, TOKEN_KIT_KEK: newKek() }, out.io).catch(
        (x: unknown) => x,
      )) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('KeyEncryptionKeyError');
      expect(err.message).toMatch(/key-encryption key is wrong/);
      expect(out.lines).toEqual([]);
      expect(JSON.stringify(await cli(['keys', 'list'], e))).toBe(listed);
      expect(await rawKeyStore(e.REDIS_KEY_PREFIX!)).toBe(raw);
    } finally {
      await first.close();
    }
  }, 30_000);

  it.each([
    ['too short', { TOKEN_KIT_KEK: randomBytes(31).toString('base64') }],
    ['hex of 31 bytes', { TOKEN_KIT_KEK: randomBytes(31).toString('hex') }],
    ['base64url', { TOKEN_KIT_KEK: randomBytes(32).toString('base64url') }],
    ['a passphrase', { TOKEN_KIT_KEK: 'correct horse battery staple, really' }],
  ])('refuses a key-encryption key that is %s, naming it', async (_name, kek) => {
    const err = (await startDemoServer({ ...env(), ...kek }, capture().io).catch((x: unknown) => x)) as Error;
    expect(err.message).toMatch(/the key-encryption key in TOKEN_KIT_KEK must be 32 random bytes/);
  });

  it('as a process: a wrong key-encryption key exits non-zero, names it, and never opens its port', async () => {
    const e = env();
    const first = await startDemoServer(e, capture().io);
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    try {
      const { REDIS_URL: _u, TOKEN_KIT_SEED: _s, PORT: _p, ...rest } = process.env;
      const child = spawn(process.execPath, ['-r', 'esbuild-register', MAIN], {
        cwd: ROOT,
        env: { ...rest, ...e, PORT: String(port), HOST: '127.0.0.1', TOKEN_KIT_KEK: newKek() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
      let exited = false;
      void exit.then(() => (exited = true));
      // Until it exits, nothing ever accepts a connection on its port.
      let opened = false;
      while (!exited) {
        opened ||= await new Promise<boolean>((resolve) => {
          const socket = connect({ port, host: '127.0.0.1' });
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        });
        await Promise.race([exit, new Promise((r) => setTimeout(r, 25))]);
      }
      expect(await exit).not.toBe(0);
      expect(opened).toBe(false);
      expect(stderr).toMatch(/cannot start: .*key-encryption key is wrong/);
    } finally {
      await first.close();
    }
  }, 60_000);

  it('without a key-encryption key: warns, keeps the key in memory, and writes no key to Redis', async () => {
    const { TOKEN_KIT_KEK: _k, ...e } = env();
    const out = capture();
    const server = await startDemoServer(e, out.io);
    try {
      expect(out.warnings).toEqual([
        expect.stringMatching(
          /warning: no key-encryption key \(TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE\): generated one for this process only, so the signing keys stay in memory and nothing is written to Redis that a restart could not decrypt/,
        ),
      ]);
      expect(out.lines.join('\n')).toContain('signing key: RS256, generated at start');
      expect(await plans(server, await clientToken(server))).toBe(200);
      expect(await rawKeyStore(e.REDIS_KEY_PREFIX!)).toBe('[]');
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('the demo server with TOKEN_KIT_KEYS_FILE', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'etk-keys-file-'));
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('signs with the fixed keys, in memory mode and on Redis: two instances given one file verify each other', async () => {
    const out: string[] = [];
    expect(
      await runCli(
        ['keys', 'generate', '--alg', 'ES256', '--kid', 'fixed-2026'],
        {},
        {
          stdout: (l) => out.push(l),
          stderr: () => undefined,
        },
      ),
    ).toBe(0);
    const printed = JSON.parse(out.join('\n')) as { publicJwk: unknown };
    const file = path.join(dir, 'keys.json');
    await writeFile(file, out.join('\n'));
    const log = capture();
    const memory = await startDemoServer(
      { PORT: '0', TOKEN_KIT_SEED: SEED, TOKEN_KIT_KEYS_FILE: file },
      log.io,
    );
    try {
      expect(log.lines.join('\n')).toContain(
        'signing keys: fixed, from TOKEN_KIT_KEYS_FILE (fixed-2026; ES256 fixed-2026 signs)',
      );
      expect(kidOf(await clientToken(memory))).toBe('fixed-2026');
      expect((await jwks(memory)).keys).toEqual([printed.publicJwk]);
    } finally {
      await memory.close();
    }
    // On one Redis (tokens shared) without a key-encryption key: the file's keys, no warning.
    const e = {
      PORT: '0',
      TOKEN_KIT_SEED: SEED,
      TOKEN_KIT_KEYS_FILE: file,
      TOKEN_KIT_ISSUER: ISSUER,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: `etk-shared-keys:${randomBytes(4).toString('hex')}:`,
    };
    const first = capture();
    const one = await startDemoServer(e, first.io);
    try {
      const two = await startDemoServer(e, capture().io);
      try {
        expect(first.warnings).toEqual([]);
        const token = await clientToken(one);
        expect(kidOf(token)).toBe('fixed-2026');
        expect(await plans(two, token)).toBe(200);
        expect((await jwks(two)).keys).toEqual([printed.publicJwk]);
      } finally {
        await two.close();
      }
    } finally {
      await one.close();
    }
  }, 30_000);

  it('refuses to start with a malformed file, naming the variable', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, '{"keys":[{"kty":"EC"}]}');
    await expect(
      startDemoServer({ PORT: '0', TOKEN_KIT_KEYS_FILE: file }, capture().io),
    ).rejects.toMatchObject({
      name: 'DemoConfigError',
      message: expect.stringContaining(`TOKEN_KIT_KEYS_FILE (${file})`),
    });
  });
});
