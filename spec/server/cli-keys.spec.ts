/**
 * `express-token-kit keys list | rotate | retire | import` on a real Redis: JSON results, the key
 * lifecycle they drive, and bad input (a malformed import file, an unknown kid, a wrong or missing
 * key-encryption key, a store that is down) refused with a clear error, a non-zero exit and nothing
 * written. The CLI runs in-process through `runCli`, and once as a real process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from '../../lib/server/cli';
import { connectTestRedis, keysWithPrefix, testRedisUrl, type TestRedis } from '../helpers/redis';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'lib', 'server', 'cli.ts');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface KeyInfo {
  readonly kid: string;
  readonly alg: string;
  readonly state: 'next' | 'active' | 'retiring' | 'retired';
  readonly createdAt: string;
  readonly publishAt: string;
  readonly activateAt?: string;
  readonly retireAt?: string;
  readonly retiredAt?: string;
}

async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function parse<T>(run: Run): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
  return JSON.parse(run.stdout) as T;
}

const kek = (): string => randomBytes(32).toString('base64');

/** Every raw value under `prefix`: strings, hashes (field and value), anything else by TYPE. */
async function rawValues(client: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await keysWithPrefix(client, prefix)).sort()) {
    const type = await client.type(key);
    if (type === 'string') out[key] = await client.get(key);
    else if (type === 'hash') out[key] = await client.hgetall(key);
    else out[key] = type;
  }
  return out;
}

/** A free loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('express-token-kit keys', () => {
  let redis: TestRedis;
  let dir: string;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-keys');
    dir = await mkdtemp(path.join(os.tmpdir(), 'etk-cli-keys-'));
  });

  afterAll(async () => {
    await redis.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** An environment on a prefix of its own, with a fresh key-encryption key. */
  function freshEnv(): NodeJS.ProcessEnv {
    return {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: `${redis.prefix}${randomBytes(3).toString('hex')}:`,
      TOKEN_KIT_KEK: kek(),
      TOKEN_KIT_ISSUER: 'https://auth.example.test',
    };
  }

  async function file(name: string, text: string): Promise<string> {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  }

  /** What `keys generate` prints for these arguments. */
  async function generated(...args: string[]): Promise<string> {
    const run = await cli(['keys', 'generate', ...args], {});
    expect(run.code).toBe(EXIT_OK);
    return run.stdout;
  }

  describe('help', () => {
    it('lists list, rotate, retire and import with the key-encryption key variables', async () => {
      const run = await cli(['keys', '--help'], {});
      expect(run.code).toBe(EXIT_OK);
      for (const text of [
        'keys list',
        'keys rotate [--now]',
        'keys retire --kid KID [--now]',
        'keys import FILE',
      ]) {
        expect(run.stdout).toContain(text);
      }
      expect(run.stdout).toContain('TOKEN_KIT_KEK');
      const rotate = await cli(['keys', 'rotate', '--help'], {});
      expect(rotate.stdout).toMatch(/^Usage: express-token-kit keys rotate \[--now\]/);
      expect(rotate.stdout).toContain('publish-ahead');
      expect((await cli(['--help'], {})).stdout).toContain('keys retire --kid KID [--now]');
    });
  });

  describe('the lifecycle', () => {
    it('rotate on an empty store creates the active key; list shows kid, alg, state and times, never key material', async () => {
      const env = freshEnv();
      expect(parse<KeyInfo[]>(await cli(['keys', 'list'], env))).toEqual([]);
      const first = parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      expect(first).toMatchObject({ alg: 'RS256', state: 'active', kid: expect.any(String) });
      const listed = parse<KeyInfo[]>(await cli(['keys', 'list'], env));
      expect(listed).toEqual([first]);
      expect(Object.keys(listed[0]!).sort()).toEqual(
        expect.arrayContaining(['activateAt', 'alg', 'createdAt', 'kid', 'publishAt', 'state']),
      );
      const text = JSON.stringify(listed);
      for (const secret of ['sealed', 'PRIVATE', '"d"', 'etk-kek']) expect(text).not.toContain(secret);
    });

    it('plain rotate publishes a next key after the lead time; --now switches at once; retire --now retires', async () => {
      const env = { ...freshEnv(), TOKEN_KIT_PUBLISH_AHEAD: '10m', TOKEN_KIT_KEY_ALG: 'ES256' };
      const a = parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      const b = parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      expect(b).toMatchObject({ state: 'next', alg: 'ES256' });
      // The lead time from TOKEN_KIT_PUBLISH_AHEAD, to the second.
      expect(Date.parse(b.activateAt!) - Date.parse(b.publishAt)).toBe(600_000);
      // A next key already scheduled is returned as it is.
      expect(parse<KeyInfo>(await cli(['keys', 'rotate'], env)).kid).toBe(b.kid);

      const c = parse<KeyInfo>(await cli(['keys', 'rotate', '--now'], env));
      expect(c.state).toBe('active');
      const states = Object.fromEntries(
        parse<KeyInfo[]>(await cli(['keys', 'list'], env)).map((k) => [k.kid, k.state]),
      );
      // The old active key keeps verifying; the next key that never signed is gone.
      expect(states).toEqual({ [a.kid]: 'retiring', [b.kid]: 'retired', [c.kid]: 'active' });

      const retired = parse<KeyInfo>(await cli(['keys', 'retire', '--kid', a.kid, '--now'], env));
      expect(retired).toMatchObject({ kid: a.kid, state: 'retired', retiredAt: expect.any(String) });
      // Retiring the active key at once (a compromise) leaves a new key signing.
      const gone = parse<KeyInfo>(await cli(['keys', 'retire', '--kid', c.kid, '--now'], env));
      expect(gone.state).toBe('retired');
      const after = parse<KeyInfo[]>(await cli(['keys', 'list'], env));
      expect(after.filter((k) => k.state === 'active')).toHaveLength(1);
      expect(after.find((k) => k.state === 'active')!.kid).not.toBe(c.kid);
    });

    it('retire without --now puts a retiring key on its way and refuses the active key (exit 1, nothing written)', async () => {
      const env = freshEnv();
      const a = parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      const before = await rawValues(redis.client, env.REDIS_KEY_PREFIX!);
      const refused = await cli(['keys', 'retire', '--kid', a.kid], env);
      expect(refused.code).toBe(EXIT_FAILURE);
      expect(refused.stderr).toMatch(/is the active key; rotate first/);
      expect(await rawValues(redis.client, env.REDIS_KEY_PREFIX!)).toEqual(before);
      parse<KeyInfo>(await cli(['keys', 'rotate', '--now'], env));
      const retiring = parse<KeyInfo>(await cli(['keys', 'retire', '--kid', a.kid], env));
      expect(retiring).toMatchObject({ kid: a.kid, state: 'retiring', retireAt: expect.any(String) });
    });

    it.each([['pem'], ['jwk']])(
      'import takes what `keys generate --format %s` prints, sealed at rest',
      async (format) => {
        const env = freshEnv();
        parse<KeyInfo>(await cli(['keys', 'rotate'], env));
        const printed = await generated('--alg', 'ES256', '--kid', `imported-${format}`, '--format', format);
        const imported = parse<KeyInfo>(
          await cli(['keys', 'import', await file(`key-${format}.json`, printed)], env),
        );
        expect(imported).toMatchObject({ kid: `imported-${format}`, alg: 'ES256', state: 'next' });
        expect(parse<KeyInfo[]>(await cli(['keys', 'list'], env)).map((k) => k.kid)).toContain(
          `imported-${format}`,
        );
        // The raw Redis values hold no PEM and no JWK "d" of the imported key.
        const raw = JSON.stringify(await rawValues(redis.client, env.REDIS_KEY_PREFIX!));
        const key = JSON.parse(printed) as { privateKey: string | { d: string } };
        const secret = typeof key.privateKey === 'string' ? key.privateKey.split('\n')[1]! : key.privateKey.d;
        expect(raw).not.toContain(secret);
        expect(raw).not.toContain('PRIVATE KEY');
        expect(raw).not.toMatch(/"d":/);
        // The same kid again is refused, and nothing changes.
        const before = await rawValues(redis.client, env.REDIS_KEY_PREFIX!);
        const again = await cli(['keys', 'import', path.join(dir, `key-${format}.json`)], env);
        expect(again.code).toBe(EXIT_FAILURE);
        expect(again.stderr).toMatch(/already in the store/);
        expect(await rawValues(redis.client, env.REDIS_KEY_PREFIX!)).toEqual(before);
      },
    );

    it('runs as a real process: JSON on stdout, exit 0', async () => {
      const env = freshEnv();
      parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      const child = spawn(process.execPath, ['-r', 'esbuild-register', CLI, 'keys', 'list'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ code, stderr }).toEqual({ code: EXIT_OK, stderr: '' });
      expect(JSON.parse(stdout)).toEqual([expect.objectContaining({ state: 'active' })]);
    }, 30_000);
  });

  describe('bad input', () => {
    it.each([
      ['no subcommand', ['keys'], /keys: missing subcommand/],
      ['an unknown subcommand', ['keys', 'burn'], /keys: unknown subcommand "burn"/],
      ['retire without --kid', ['keys', 'retire', '--now'], /keys retire: --kid is required/],
      ['a kid with spaces', ['keys', 'retire', '--kid', 'a b'], /--kid must be 1-128 printable/],
      ['an unknown flag', ['keys', 'rotate', '--force'], /keys rotate: Unknown option '--force'/],
      ['a stray argument', ['keys', 'list', 'all'], /keys list: unexpected argument "all"/],
      ['import without a file', ['keys', 'import'], /give exactly one FILE/],
      ['import with two files', ['keys', 'import', 'a.json', 'b.json'], /give exactly one FILE/],
      [
        'import of a missing file',
        ['keys', 'import', '/no/such/key.json'],
        /cannot read "\/no\/such\/key.json" \(ENOENT\)/,
      ],
    ])('refuses %s, exit 2', async (_name, argv, message) => {
      const run = await cli(argv, freshEnv());
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    });

    it('refuses without REDIS_URL (exit 2): an in-memory key store would forget at once', async () => {
      const { REDIS_URL: _url, ...env } = freshEnv();
      const run = await cli(['keys', 'rotate'], env);
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toMatch(/keys rotate needs a store: set REDIS_URL/);
    });

    it.each([
      ['missing', {}, /keys list needs the key-encryption key the servers use: set TOKEN_KIT_KEK/],
      [
        'too short',
        { TOKEN_KIT_KEK: randomBytes(16).toString('base64') },
        /the key-encryption key in TOKEN_KIT_KEK must be 32 random bytes/,
      ],
      [
        'a passphrase',
        { TOKEN_KIT_KEK: 'correct horse battery staple' },
        /key-encryption key in TOKEN_KIT_KEK/,
      ],
      ['set twice', { TOKEN_KIT_KEK: kek(), TOKEN_KIT_KEK_FILE: '/run/secrets/kek' }, /not both/],
      [
        'an unreadable file',
        { TOKEN_KIT_KEK_FILE: '/no/such/kek' },
        /cannot read the key-encryption key file/,
      ],
    ])(
      'refuses a key-encryption key that is %s (exit 2), before touching the store',
      async (_name, kekEnv, message) => {
        const { TOKEN_KIT_KEK: _k, ...base } = freshEnv();
        const run = await cli(['keys', 'list'], { ...base, ...kekEnv });
        expect(run.code).toBe(EXIT_USAGE);
        expect(run.stderr).toMatch(message);
        expect(await keysWithPrefix(redis.client, base.REDIS_KEY_PREFIX!)).toEqual([]);
      },
    );

    it('reads the key-encryption key from TOKEN_KIT_KEK_FILE, and refuses a wrong one with exit 1 and nothing written', async () => {
      const { TOKEN_KIT_KEK: value, ...base } = freshEnv();
      const env = { ...base, TOKEN_KIT_KEK_FILE: await file('kek.txt', `${value!}\n`) };
      const a = parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      const before = await rawValues(redis.client, base.REDIS_KEY_PREFIX!);
      const wrong = { ...base, TOKEN_KIT_KEK: kek() };
      for (const argv of [
        ['keys', 'list'],
        ['keys', 'rotate', '--now'],
        ['keys', 'retire', '--kid', a.kid, '--now'],
        ['keys', 'import', await file('wrong-kek.json', await generated('--kid', 'wk'))],
      ]) {
        const run = await cli(argv, wrong);
        expect({ argv, code: run.code }).toEqual({ argv, code: EXIT_FAILURE });
        expect(run.stderr).toMatch(
          /does not open with this key-encryption key: the key-encryption key is wrong/,
        );
        expect(run.stdout).toBe('');
      }
      expect(await rawValues(redis.client, base.REDIS_KEY_PREFIX!)).toEqual(before);
      // The right one still works, and the key is still the only one.
      expect(parse<KeyInfo[]>(await cli(['keys', 'list'], env)).map((k) => k.kid)).toEqual([a.kid]);
    });

    it('refuses an unknown kid with exit 1, nothing written', async () => {
      const env = freshEnv();
      parse<KeyInfo>(await cli(['keys', 'rotate'], env));
      const before = await rawValues(redis.client, env.REDIS_KEY_PREFIX!);
      for (const now of [[], ['--now']]) {
        const run = await cli(['keys', 'retire', '--kid', 'no-such-kid', ...now], env);
        expect(run.code).toBe(EXIT_FAILURE);
        expect(run.stderr).toMatch(/no key with kid "no-such-kid"/);
      }
      expect(await rawValues(redis.client, env.REDIS_KEY_PREFIX!)).toEqual(before);
    });

    describe('a malformed import file', () => {
      let pub: { publicJwk: object; privateKey: { d: string } };
      let other: { publicKey: string };

      beforeAll(async () => {
        pub = JSON.parse(await generated('--kid', 'p', '--format', 'jwk')) as typeof pub;
        other = JSON.parse(await generated('--kid', 'o')) as typeof other;
      });

      it.each<[string, () => string, RegExp]>([
        ['empty', () => '', /is not JSON/],
        ['a bare PEM', () => '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n', /is not JSON/],
        ['truncated JSON', () => '{"kid":"k","alg":"RS256","privateKey":"-----BEGIN', /is not JSON/],
        ['an array', () => '[]', /must be a JSON object/],
        ['without kid', () => JSON.stringify({ alg: 'RS256', privateKey: 'x' }), /needs "kid" and "alg"/],
        [
          'an HS256 secret',
          () => '{"kid":"h","alg":"HS256","secret":{"kty":"oct","k":"x"}}',
          /HS256 secret.*RS256 or ES256/,
        ],
        ['a public JWK only', () => JSON.stringify(pub.publicJwk), /holds no private key/],
        [
          'an unreadable PEM',
          () =>
            JSON.stringify({
              kid: 'u',
              alg: 'RS256',
              privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
            }),
          /privateKey is not a readable private key/,
        ],
        [
          'a key of the wrong type',
          () =>
            JSON.stringify({
              kid: 'w',
              alg: 'ES256',
              privateKey: { ...pub.privateKey, kid: 'w', alg: undefined },
            }),
          /kty "RSA"; ES256 needs kty "EC"/,
        ],
        [
          'a public key of another key',
          () =>
            JSON.stringify({
              ...pub,
              kid: 'p',
              alg: 'RS256',
              publicKey: other.publicKey,
              publicJwk: undefined,
            }),
          /publicKey does not match privateKey/,
        ],
        [
          'an unknown algorithm',
          () => JSON.stringify({ kid: 'n', alg: 'none', privateKey: 'x' }),
          /alg must be/,
        ],
      ])(
        'refuses %s (exit 2, naming the file), writing nothing and printing no key material',
        async (name, text, message) => {
          const env = freshEnv();
          parse<KeyInfo>(await cli(['keys', 'rotate'], env));
          const before = await rawValues(redis.client, env.REDIS_KEY_PREFIX!);
          const p = await file(`bad-${name.replace(/\W/g, '-')}.json`, text());
          const run = await cli(['keys', 'import', p], env);
          expect(run.code).toBe(EXIT_USAGE);
          expect(run.stderr).toContain(`keys import: ${JSON.stringify(p)}`);
          expect(run.stderr).toMatch(message);
          expect(run.stderr).not.toContain(pub.privateKey.d.slice(0, 16));
          expect(run.stdout).toBe('');
          expect(await rawValues(redis.client, env.REDIS_KEY_PREFIX!)).toEqual(before);
        },
      );
    });

    it('exits 1 with a clear message when Redis is down', async () => {
      const env = { ...freshEnv(), REDIS_URL: `redis://127.0.0.1:${await closedPort()}` };
      for (const argv of [
        ['keys', 'list'],
        ['keys', 'rotate', '--now'],
      ]) {
        const run = await cli(argv, env);
        expect(run.code).toBe(EXIT_FAILURE);
        expect(run.stderr).toMatch(/cannot reach Redis/);
      }
    }, 30_000);
  });
});
