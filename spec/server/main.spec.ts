import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDemoServer, type DemoServer } from '../../lib/server/main';
import { SeedError } from '../../lib/server/seed';
import { connectTestRedis, keysWithPrefix, testRedisUrl, type TestRedis } from '../helpers/redis';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'lib', 'server', 'main.ts');

const BAD_SEED = {
  applications: [
    {
      id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
      name: 'TestApp',
      organization: '123',
      clientId: 'client-1',
      clientSecret: '',
      applicationTypes: ['API'],
    },
  ],
};

/** Splits a POSIX shell line into words: single quotes, double quotes (with `\"` and `$VAR`), `$VAR`. */
function shellWords(line: string, vars: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const variable = (): string => {
    const match = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(line.slice(i));
    if (!match) throw new Error(`unsupported $ at ${i} in ${line}`);
    i += match[0].length;
    const value = vars[match[1]!];
    if (value === undefined) throw new Error(`unset variable ${match[1]!}`);
    return value;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      word = word ?? '';
      i++;
      while (line[i] !== '"') {
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\' || line[i + 1] === '$')) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === '$') {
          word += variable();
        } else {
          word += line[i];
          i++;
        }
      }
      i++;
    } else if (c === '$') {
      word = (word ?? '') + variable();
    } else if (c === '\\') {
      word = (word ?? '') + line[i + 1]!;
      i += 2;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Runs a `curl -sS [-X M] URL [-H h]… [-d body]` line with fetch. */
async function runCurl(
  line: string,
  vars: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: unknown }> {
  const words = shellWords(line, vars);
  expect(words[0]).toBe('curl');
  let method = 'GET';
  let url: string | undefined;
  let body: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-sS') continue;
    if (w === '-X') method = words[++i]!;
    else if (w === '-H') {
      const h = words[++i]!;
      const colon = h.indexOf(':');
      headers[h.slice(0, colon)] = h.slice(colon + 1).trim();
    } else if (w === '-d') {
      body = words[++i]!;
      if (method === 'GET') method = 'POST';
    } else if (w.startsWith('-')) throw new Error(`unsupported curl option ${w}`);
    else url = w;
  }
  const res = await fetch(url!, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: await res.json() };
}

function runCli(env: Record<string, string>): ReturnType<typeof spawn> {
  const { REDIS_URL: _r, TOKEN_KIT_SEED: _s, PORT: _p, ...rest } = process.env;
  return spawn(process.execPath, ['-r', 'esbuild-register', MAIN], {
    cwd: ROOT,
    env: { ...rest, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('startDemoServer', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'etk-main-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when the seed file is malformed', () => {
    it('rejects with a SeedError naming the field, before listening', async () => {
      const file = path.join(dir, 'bad.json');
      await writeFile(file, JSON.stringify(BAD_SEED));
      const lines: string[] = [];
      const err = await startDemoServer(
        { PORT: '0', TOKEN_KIT_SEED: file },
        { log: (l) => lines.push(l) },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SeedError);
      expect((err as SeedError).message).toBe('applications[0].clientSecret must be a non-empty string');
      expect(lines).toEqual([]);
    });

    it('rejects when the seed file is not JSON', async () => {
      const file = path.join(dir, 'broken.json');
      await writeFile(file, '{ nope');
      await expect(
        startDemoServer({ PORT: '0', TOKEN_KIT_SEED: file }, { log: () => undefined }),
      ).rejects.toThrow(/is not valid JSON/);
    });
  });

  describe('when the environment is malformed', () => {
    it.each([
      [{ PORT: 'abc' }, /PORT must be a whole number/],
      [{ PORT: '70000' }, /PORT must be a whole number/],
      [{ PORT: '0', REDIS_CLUSTER_NODES: '127.0.0.1' }, /REDIS_CLUSTER_NODES must be a comma-separated list/],
      [
        { PORT: '0', REDIS_SENTINELS: '127.0.0.1:26379' },
        /REDIS_SENTINELS is set but REDIS_SENTINEL_NAME is not/,
      ],
    ])('rejects %j', async (env, message) => {
      await expect(startDemoServer(env, { log: () => undefined, warn: () => undefined })).rejects.toThrow(
        message,
      );
    });
  });

  describe('with a seed file and REDIS_URL', () => {
    let redis: TestRedis;

    beforeAll(async () => {
      redis = await connectTestRedis('demo-main');
    });

    afterAll(async () => {
      await redis.cleanup();
    });

    it('serves the seed from Redis, and finds it in place after a restart', async () => {
      const file = path.join(dir, 'good.json');
      await copyFile(path.join(ROOT, 'docs', 'seed.example.json'), file);
      const lines: string[] = [];
      const io = { log: (l: string) => lines.push(l), warn: () => undefined };
      const env = {
        PORT: '0',
        TOKEN_KIT_SEED: file,
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: redis.prefix,
      };
      const server = await startDemoServer(env, io);
      try {
        expect(lines.join('\n')).toContain(`listening on ${server.url}`);
        expect(lines.join('\n')).toContain('7 credentials created, 0 already present');
        expect(lines.join('\n')).not.toContain('curl');
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
        expect(res.status).toBe(200);
      } finally {
        await server.close();
      }
      expect((await keysWithPrefix(redis.client, redis.prefix)).length).toBeGreaterThan(0);
      const again = await startDemoServer(env, io);
      await again.close();
      expect(lines.join('\n')).toContain('0 credentials created, 7 already present');
    });
  });

  describe('without a seed file', () => {
    let server: DemoServer;
    const lines: string[] = [];

    beforeAll(async () => {
      server = await startDemoServer({ PORT: '0', HOST: '127.0.0.1' }, { log: (l) => lines.push(l) });
    });

    afterAll(async () => {
      await server.close();
    });

    it('prints where it listens and the generated credentials', () => {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines[0]).toBe(`express-token-kit demo server listening on ${server.url}`);
      expect(server.generated).toBe(true);
      expect(lines.join('\n')).toContain(server.seed.applications[0]!.clientSecret);
    });

    it('prints curl lines for every surface', () => {
      const curl = lines.filter((l) => l.includes('curl '));
      for (const fragment of [
        '/v1/auth/access-tokens',
        'bound_entity',
        '"grant_type":"client_credentials","client_id"',
        '"grant_type":"password"',
        '/api/auth/tokens/refresh/',
        '/api/auth/tokens/validate/',
        '/v1/employers/',
        '/api/plans/',
        '/v1/providers/',
        'grant-type:token-exchange',
      ]) {
        expect(curl.some((l) => l.includes(fragment))).toBe(true);
      }
    });

    it('prints curl lines that work when run with fetch', async () => {
      const standalone = lines.filter((l) => l.startsWith('curl ') && !l.includes('$'));
      expect(standalone.length).toBeGreaterThanOrEqual(4);
      const results = [];
      for (const line of standalone) results.push(await runCurl(line));
      for (const r of results) expect([200, 201]).toContain(r.status);

      const routerA = results.find((r) =>
        (r.body as { access_token?: string }).access_token?.startsWith('vit_at_'),
      );
      const password = results.find(
        (r) => (r.body as { refresh_token?: string }).refresh_token !== undefined,
      );
      const vars = {
        AT: (routerA!.body as { access_token: string }).access_token,
        TOKEN: (password!.body as { access_token: string }).access_token,
        REFRESH: (password!.body as { refresh_token: string }).refresh_token,
      };
      const dependent = lines.filter((l) => l.startsWith('curl ') && l.includes('$'));
      expect(dependent.length).toBeGreaterThanOrEqual(5);
      for (const line of dependent) {
        const r = await runCurl(line, vars);
        expect({ line, status: r.status }).toEqual({ line, status: 200 });
      }
    });

    it('prints a script that runs in bash as pasted', async () => {
      const start = lines.findIndex((l) => l.startsWith('Try it'));
      const script = ['set -euo pipefail', ...lines.slice(start + 1)].join('\n');
      const { stdout } = await execFileAsync('bash', ['-c', script], { timeout: 15_000 });
      expect(stdout).not.toContain('"errors"');
      expect(stdout).toContain('"valid":true');
      expect(stdout).toContain('"plans"');
      expect(stdout).toContain('"accessToken"');
    });
  });
});

describe('lib/server/main.ts as a program', () => {
  it('prints the invalid seed message to stderr and exits 1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'etk-cli-'));
    try {
      const file = path.join(dir, 'bad.json');
      await writeFile(file, JSON.stringify(BAD_SEED));
      const child = runCli({ PORT: '0', TOKEN_KIT_SEED: file });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      expect(await exitOf(child)).toBe(1);
      expect(stderr).toBe(
        'express-token-kit: invalid seed file: applications[0].clientSecret must be a non-empty string\n',
      );
      expect(stdout).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a malformed REDIS_SENTINELS on stderr and exits 1 without listening', async () => {
    const child = runCli({
      PORT: '0',
      REDIS_SENTINELS: 'sentinel.internal',
      REDIS_SENTINEL_NAME: 'mymaster',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await exitOf(child)).toBe(1);
    expect(stderr).toBe(
      'express-token-kit: cannot start: REDIS_SENTINELS must be a comma-separated list of host:port, entry 1 is "sentinel.internal"\n',
    );
    expect(stdout).toBe('');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('stops cleanly with exit code 0 on %s', async (signal) => {
    const child = runCli({ PORT: '0' });
    const exited = exitOf(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
    });
    child.kill(signal);
    expect(await exited).toBe(0);
  });
});
