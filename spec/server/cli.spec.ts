import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import type * as Jose from 'jose';
import { KeySet, createKeySet, type KeyInput } from '../../lib/keys/key-set';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { signJwt, verifyJwt } from '../../lib/core/jwt';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli, type CliIo } from '../../lib/server/cli';
import type { DemoServer } from '../../lib/server/main';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { loadEsm } from '../helpers/load-esm';
import packageJson from '../../package.json';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'lib', 'server', 'cli.ts');
const jose = loadEsm<typeof Jose>('jose');

/** Every key of `value` and of the objects and arrays inside it. */
function keysDeep(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysDeep);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...keysDeep(v)]);
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process, capturing its output. */
async function cli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  extra: Partial<CliIo> = {},
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, {
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    ...extra,
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function parse<T = Record<string, unknown>>(run: Run): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
  return JSON.parse(run.stdout) as T;
}

/** Spawns the CLI as a real process (TypeScript through esbuild-register, as `npm start` runs the build). */
function spawnCli(argv: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['-r', 'esbuild-register', CLI, ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): {
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
} {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { stdout: () => stdout, stderr: () => stderr, exit };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('runCli', () => {
  describe('when asked for help or the version', () => {
    it('prints the usage with every command and the exit codes, exit 0', async () => {
      const run = await cli(['--help']);
      expect(run.code).toBe(EXIT_OK);
      for (const text of [
        'serve',
        'keys generate',
        'apikey create',
        'apikey revoke',
        'application create',
        'application rotate',
        'application revoke',
        'provider create',
        'client create',
        'REDIS_URL',
        'Exit codes',
      ]) {
        expect(run.stdout).toContain(text);
      }
      expect((await cli(['application', 'create', '--help'])).code).toBe(EXIT_OK);
    });

    it('lists the list and rotate commands in the usage', async () => {
      const run = await cli(['--help']);
      for (const text of [
        'apikey list',
        'apikey rotate',
        'application list',
        'provider list',
        'provider rotate',
        'client list',
      ]) {
        expect(run.stdout).toContain(text);
      }
    });

    it.each([
      [
        ['apikey', '--help'],
        'Usage: express-token-kit apikey <create|list|rotate|revoke>',
        ['apikey rotate --id ID'],
        ['application create', 'serve [--port'],
      ],
      [
        ['application', '-h'],
        'Usage: express-token-kit application <create|list|rotate|keys|revoke>',
        ['application rotate --id ID'],
        ['apikey create'],
      ],
      [
        ['keys', '--help'],
        'Usage: express-token-kit keys <generate|list|rotate|retire|import>',
        ['keys generate [--alg'],
        ['apikey create'],
      ],
      [
        ['apikey', 'create', '--help'],
        'Usage: express-token-kit apikey create --name NAME',
        ['REDIS_URL', 'Exit codes'],
        ['apikey revoke', 'application create'],
      ],
      [
        ['apikey', 'rotate', '--id', '42', '-h'],
        'Usage: express-token-kit apikey rotate --id ID [--keep-tokens]',
        ['--keep-tokens'],
        ['apikey create'],
      ],
      [
        ['application', 'create', '--help'],
        'Usage: express-token-kit application create --name NAME',
        ['--grant-types'],
        ['apikey create', 'application rotate'],
      ],
      [
        ['client', 'list', '--help'],
        'Usage: express-token-kit client list [--provider ID]',
        ['providerId'],
        ['client create'],
      ],
      [
        ['keys', 'generate', '--help'],
        'Usage: express-token-kit keys generate [--alg RS256|ES256|HS256]',
        ['oct JWK', 'publicJwk'],
        ['REDIS_KEY_PREFIX', 'apikey create'],
      ],
      [['serve', '--help'], 'Usage: express-token-kit serve [--port P]', ['SIGTERM'], ['apikey']],
      [
        ['help', 'provider', 'rotate'],
        'Usage: express-token-kit provider rotate --id ID',
        ['old keys fail'],
        ['provider create'],
      ],
      [
        ['help', 'client'],
        'Usage: express-token-kit client <create|list>',
        ['client create --provider'],
        ['apikey create'],
      ],
    ])("%j prints that command's own help, exit 0", async (argv, usage, contains, lacks) => {
      const run = await cli(argv);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
      expect(run.stdout.startsWith(usage)).toBe(true);
      for (const text of contains) expect(run.stdout).toContain(text);
      for (const text of lacks) expect(run.stdout).not.toContain(text);
      expect(run.stdout).not.toContain('Commands:\n  serve');
    });

    it('refuses help for an unknown command, exit 2', async () => {
      const run = await cli(['help', 'launch']);
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toMatch(/help: unknown command "launch"/);
    });

    it('prints the package version', async () => {
      const run = await cli(['--version']);
      expect(run).toEqual({ code: EXIT_OK, stdout: packageJson.version, stderr: '' });
    });

    it('prints the usage on stderr and exits 2 without a command', async () => {
      const run = await cli([]);
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toContain('Usage: express-token-kit');
    });
  });

  describe('when the input is bad', () => {
    const REDIS = { REDIS_URL: 'redis://127.0.0.1:1' };
    it.each([
      ['an unknown command', ['launch'], /unknown command "launch"/],
      ['an unknown subcommand', ['application', 'delete', '--id', 'x'], /unknown subcommand "delete"/],
      ['a missing subcommand', ['apikey'], /missing subcommand/],
      ['keys without generate', ['keys', 'make'], /unknown subcommand "make"/],
      ['an unknown flag', ['apikey', 'create', '--name', 'a', '--color', 'red'], /Unknown option '--color'/],
      ['a flag without its value', ['apikey', 'create', '--name'], /argument missing/],
      ['a missing required flag', ['application', 'create'], /--name is required/],
      ['an empty required flag', ['application', 'create', '--name', ' '], /--name is required/],
      ['a stray argument', ['provider', 'create', 'extra'], /unexpected argument "extra"/],
      ['an id that is not a UUID', ['application', 'rotate', '--id', '42'], /--id must be a UUID/],
      [
        'a provider id that is not a UUID',
        ['client', 'create', '--provider', 'p', '--audience', 'https://a.test'],
        /--provider must be a UUID/,
      ],
      [
        'an audience that is not a URL',
        ['client', 'create', '--provider', '497f6eca-6276-4993-bfeb-53cbbbba6f08', '--audience', 'api'],
        /--audience must be an absolute URL/,
      ],
      [
        'an unknown grant type',
        ['application', 'create', '--name', 'a', '--grant-types', 'client_credentials,implicit'],
        /unknown grant type "implicit"/,
      ],
      [
        'an empty list item',
        ['application', 'create', '--name', 'a', '--scopes', 'read,,write'],
        /comma-separated list/,
      ],
      [
        'an unknown algorithm',
        ['keys', 'generate', '--alg', 'none'],
        /--alg must be one of RS256, ES256, HS256/,
      ],
      ['a kid with spaces', ['keys', 'generate', '--kid', 'a b'], /--kid must be/],
      ['a bad port', ['serve', '--port', 'eighty'], /--port must be/],
    ])('exits 2 for %s, with a clear error on stderr and nothing on stdout', async (_name, argv, message) => {
      const run = await cli(argv, REDIS);
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain('express-token-kit --help');
    });

    it.each([
      [['apikey', 'create', '--name', 'a']],
      [['application', 'create', '--name', 'a']],
      [['provider', 'create']],
      [
        [
          'client',
          'create',
          '--provider',
          '497f6eca-6276-4993-bfeb-53cbbbba6f08',
          '--audience',
          'https://a.test',
        ],
      ],
    ])('refuses %j without REDIS_URL (an in-memory store would forget at once), exit 2', async (argv) => {
      const run = await cli(argv, {});
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/needs a store: set REDIS_URL/);
      expect(run.stderr).toMatch(/in-memory store would forget/);
    });

    it('exits 2 for a malformed REDIS_URL', async () => {
      const run = await cli(['provider', 'create'], { REDIS_URL: 'http://127.0.0.1:6379' });
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    });

    it('exits 1 when Redis cannot be reached', async () => {
      const run = await cli(['provider', 'create'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
      expect(run.code).toBe(EXIT_FAILURE);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/cannot reach Redis/);
    }, 15_000);
  });

  describe('keys generate', () => {
    it.each(['RS256', 'ES256'] as const)(
      'prints a %s key pair that a KeySet signs and verifies with',
      async (alg) => {
        const key = parse<{
          kid: string;
          alg: string;
          privateKey: string;
          publicKey: string;
          publicJwk: unknown;
        }>(await cli(['keys', 'generate', '--alg', alg.toLowerCase(), '--kid', `${alg}-2026`]));
        expect(key).toMatchObject({ kid: `${alg}-2026`, alg });
        expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
        expect(key.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
        expect(key.publicJwk).toMatchObject({ kid: `${alg}-2026`, alg, use: 'sig' });
        expect(JSON.stringify(key.publicJwk)).not.toMatch(/"d"/);

        const signer = new KeySet({ keys: [{ kid: key.kid, alg, privateKey: key.privateKey }] });
        const verifier = new KeySet({ keys: [{ kid: key.kid, alg, publicKey: key.publicKey }] });
        expect(verifier.jwks().keys[0]).toEqual(key.publicJwk);
        const now = Math.floor(Date.now() / 1000);
        const token = signJwt(signer, {
          iss: 'https://i.test',
          sub: 's',
          aud: 'a',
          exp: now + 60,
          iat: now,
          jti: 'j',
          client_id: 'c',
        });
        const options = {
          issuers: ['https://i.test'],
          audiences: ['a'],
          clockToleranceSeconds: 0,
          maxLifetimeSeconds: 3600,
          now,
        };
        expect(() => verifyJwt(verifier, token, options)).not.toThrow();
      },
    );

    it('prints an HS256 secret of 32 random bytes as an oct JWK, with a generated kid by default', async () => {
      const key = parse<{ kid: string; alg: string; secret: { kty: string; k: string } }>(
        await cli(['keys', 'generate', '--alg', 'HS256']),
      );
      expect(Object.keys(key).sort()).toEqual(['alg', 'kid', 'secret']);
      expect(key.kid).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      expect(key.secret).toEqual({
        kty: 'oct',
        kid: key.kid,
        alg: 'HS256',
        use: 'sig',
        k: expect.any(String),
      });
      expect(Buffer.from(key.secret.k, 'base64url')).toHaveLength(32);
      expect(
        () =>
          new KeySet({
            keys: [{ kid: key.kid, alg: 'HS256', secret: Buffer.from(key.secret.k, 'base64url') }],
          }),
      ).not.toThrow();
    });

    describe('when its output is fed to createKeySet unchanged', () => {
      it.each([
        ['RS256', 'pem'],
        ['RS256', 'jwk'],
        ['ES256', 'pem'],
        ['ES256', 'jwk'],
        ['HS256', 'pem'],
        ['HS256', 'jwk'],
      ] as const)(
        '%s (--format %s) signs tokens that jose verifies with the printed key',
        async (alg, format) => {
          const run = await cli([
            'keys',
            'generate',
            '--alg',
            alg,
            '--kid',
            `${alg}-${format}`,
            '--format',
            format,
          ]);
          const printed = parse<KeyInput & { publicJwk?: Jose.JWK; secret?: { k: string } }>(run);
          const kit = createTokenKit({
            store: new MemoryTokenStore(),
            keys: createKeySet({ keys: [JSON.parse(run.stdout) as KeyInput] }),
            issuer: 'https://issuer.example.test',
          });
          try {
            const { token } = await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
            const key =
              alg === 'HS256'
                ? Buffer.from(printed.secret!.k, 'base64url')
                : await jose.importJWK(printed.publicJwk!, alg);
            const { payload, protectedHeader } = await jose.jwtVerify(token, key, {
              issuer: 'https://issuer.example.test',
              algorithms: [alg],
              typ: 'at+jwt',
            });
            expect(protectedHeader).toMatchObject({ alg, kid: `${alg}-${format}` });
            expect(payload).toMatchObject({ sub: 'user-1', client_id: 'client-1' });
            if (alg !== 'HS256') {
              expect(kit.tokens.keys.jwks().keys).toEqual([printed.publicJwk]);
              if (format === 'jwk') {
                expect(printed.privateKey).toMatchObject({
                  kid: printed.kid,
                  alg,
                  use: 'sig',
                  d: expect.any(String),
                });
                expect(printed.publicKey).toEqual(printed.publicJwk);
              }
            }
          } finally {
            await kit.tokens.store.close();
          }
        },
      );
    });

    it('defaults to RS256 and needs no store', async () => {
      const key = parse<{ alg: string }>(await cli(['keys', 'generate'], {}));
      expect(key.alg).toBe('RS256');
    });
  });

  describe('admin commands on Redis', () => {
    let redis: TestRedis;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      redis = await connectTestRedis('cli');
      env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix };
      // Other spec files share this Redis: the first credential under a fresh prefix would be warned
      // about (another prefix holds kit data), so the prefix gets one before the tests.
      expect((await cli(['apikey', 'create', '--name', 'setup'], env)).code).toBe(EXIT_OK);
    });

    afterAll(async () => {
      await redis.cleanup();
    });

    /** A kit on the same store as the CLI, to check what its commands did. */
    async function storeKit(): Promise<TokenKit> {
      return createTokenKit({
        store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
        keys: await KeySet.generate('ES256'),
        issuer: 'https://i.test',
      });
    }

    it('creates and revokes an API key; a second revoke is exit 1', async () => {
      const key = parse<{ id: string; name: string; key: string; hint: string }>(
        await cli(['apikey', 'create', '--name', 'Acme Platform'], env),
      );
      expect(key).toMatchObject({
        name: 'Acme Platform',
        id: expect.any(String),
        key: expect.stringMatching(/^etk_ak_/),
      });
      expect(key.hint.length).toBeLessThan(key.key.length);

      expect(parse(await cli(['apikey', 'revoke', '--id', key.id], env))).toEqual({
        id: key.id,
        revoked: true,
      });
      const again = await cli(['apikey', 'revoke', '--id', key.id], env);
      expect(again.code).toBe(EXIT_FAILURE);
      expect(again.stderr).toContain(`no API key with id ${key.id}`);
    });

    it('creates, rotates and revokes an application; unknown ids are exit 1', async () => {
      const app = parse<Record<string, unknown>>(
        await cli(
          [
            'application',
            'create',
            '--name',
            'Billing',
            '--organization',
            'acme',
            '--grant-types',
            'client_credentials,refresh_token',
            '--scopes',
            'read,write',
          ],
          env,
        ),
      );
      expect(app).toMatchObject({
        name: 'Billing',
        organization: 'acme',
        grantTypes: ['client_credentials', 'refresh_token'],
        scopes: ['read', 'write'],
        applicationTypes: ['API'],
        clientId: expect.any(String),
        clientSecret: expect.stringMatching(/^etk_cs_/),
      });

      const rotated = parse<Record<string, unknown>>(
        await cli(['application', 'rotate', '--id', String(app.id), '--keep-tokens'], env),
      );
      expect(rotated.id).toBe(app.id);
      expect(rotated.clientId).not.toBe(app.clientId);
      expect(rotated.clientSecret).not.toBe(app.clientSecret);

      expect(parse(await cli(['application', 'revoke', '--id', String(app.id).toUpperCase()], env))).toEqual({
        id: app.id,
        revoked: true,
      });
      for (const verb of ['rotate', 'revoke']) {
        const missing = await cli(['application', verb, '--id', String(app.id)], env);
        expect(missing.code).toBe(EXIT_FAILURE);
        expect(missing.stderr).toContain(`no application with id ${String(app.id)}`);
      }
    });

    it('creates a provider (with and without a domain) and a client of it', async () => {
      const plain = parse<{ id: string; domain: string | null; apiKeys: string[] }>(
        await cli(['provider', 'create'], env),
      );
      expect(plain.domain).toBeNull();
      expect(plain.apiKeys).toHaveLength(1);

      const custom = parse<{ id: string; domain: string }>(
        await cli(['provider', 'create', '--domain', 'auth.example.test'], env),
      );
      expect(custom.domain).toBe('auth.example.test');

      const client = parse(
        await cli(
          ['client', 'create', '--provider', custom.id, '--audience', 'https://api.example.test'],
          env,
        ),
      );
      expect(client).toMatchObject({
        providerId: custom.id,
        audience: 'https://api.example.test',
        id: expect.any(String),
      });

      const orphan = await cli(
        [
          'client',
          'create',
          '--provider',
          '11111111-2222-4333-8444-555555555555',
          '--audience',
          'https://a.test',
        ],
        env,
      );
      expect(orphan.code).toBe(EXIT_FAILURE);
      expect(orphan.stderr).toContain('no provider with id 11111111-2222-4333-8444-555555555555');
    });

    it('lists API keys without their keys, and rotates one: the old key fails, the new one works', async () => {
      const key = parse<{ id: string; key: string; hint: string; createdAt: number }>(
        await cli(['apikey', 'create', '--name', 'Listed'], env),
      );
      const list = await cli(['apikey', 'list'], env);
      const rows = parse<Record<string, unknown>[]>(list);
      expect(rows).toContainEqual({ id: key.id, name: 'Listed', hint: key.hint, createdAt: key.createdAt });
      for (const row of rows) expect(Object.keys(row).sort()).toEqual(['createdAt', 'hint', 'id', 'name']);
      expect(list.stdout).not.toContain(key.key);
      expect(list.stdout).not.toMatch(/hash/i);

      const rotated = parse<{ id: string; key: string; hint: string }>(
        await cli(['apikey', 'rotate', '--id', key.id], env),
      );
      expect(rotated).toMatchObject({ id: key.id, name: 'Listed', key: expect.stringMatching(/^etk_ak_/) });
      expect(rotated.key).not.toBe(key.key);
      const kit = await storeKit();
      expect(await kit.credentials.authenticateApiKey(key.key)).toBeNull();
      expect(await kit.credentials.authenticateApiKey(rotated.key)).toMatchObject({ id: key.id });

      const kept = parse<{ key: string }>(
        await cli(['apikey', 'rotate', '--id', key.id, '--keep-tokens'], env),
      );
      expect(await kit.credentials.authenticateApiKey(kept.key)).toMatchObject({ id: key.id });
      const missing = await cli(['apikey', 'rotate', '--id', '11111111-2222-4333-8444-555555555555'], env);
      expect(missing.code).toBe(EXIT_FAILURE);
      expect(missing.stderr).toContain('no API key with id 11111111-2222-4333-8444-555555555555');
    });

    it('lists applications without their secrets', async () => {
      const app = parse<{ id: string; clientId: string; clientSecret: string }>(
        await cli(['application', 'create', '--name', 'Listed app', '--scopes', 'read'], env),
      );
      const list = await cli(['application', 'list'], env);
      const rows = parse<Record<string, unknown>[]>(list);
      expect(rows).toContainEqual({
        id: app.id,
        name: 'Listed app',
        organization: '',
        clientId: app.clientId,
        applicationTypes: ['API'],
        grantTypes: ['client_credentials'],
        scopes: ['read'],
        createdAt: expect.any(Number),
      });
      expect(list.stdout).not.toContain(app.clientSecret);
      expect(list.stdout).not.toMatch(/secret|hash/i);
    });

    it('lists providers and clients without keys, and rotates a provider key', async () => {
      const provider = parse<{ id: string; apiKeys: string[] }>(await cli(['provider', 'create'], env));
      const client = parse<{ id: string }>(
        await cli(['client', 'create', '--provider', provider.id, '--audience', 'https://listed.test'], env),
      );
      const providers = await cli(['provider', 'list'], env);
      expect(parse<unknown[]>(providers)).toContainEqual({
        id: provider.id,
        domain: null,
        createdAt: expect.any(Number),
      });
      expect(providers.stdout).not.toContain(provider.apiKeys[0]!);
      expect(providers.stdout).not.toMatch(/hash|apiKeys/i);

      const row = {
        id: client.id,
        providerId: provider.id,
        audience: 'https://listed.test',
        createdAt: expect.any(Number),
      };
      expect(parse(await cli(['client', 'list', '--provider', provider.id], env))).toEqual([row]);
      expect(parse<unknown[]>(await cli(['client', 'list'], env))).toContainEqual(row);
      const orphan = await cli(['client', 'list', '--provider', '11111111-2222-4333-8444-555555555555'], env);
      expect(orphan.code).toBe(EXIT_FAILURE);

      const rotated = parse<{ id: string; apiKeys: string[] }>(
        await cli(['provider', 'rotate', '--id', provider.id], env),
      );
      expect(rotated.id).toBe(provider.id);
      expect(rotated.apiKeys).toHaveLength(1);
      expect(rotated.apiKeys[0]).not.toBe(provider.apiKeys[0]);
      const kit = await storeKit();
      expect(await kit.credentials.authenticateProviderKey(provider.apiKeys[0])).toBeNull();
      expect(await kit.credentials.authenticateProviderKey(rotated.apiKeys[0])).toMatchObject({
        id: provider.id,
      });
      const missing = await cli(['provider', 'rotate', '--id', '11111111-2222-4333-8444-555555555555'], env);
      expect(missing.code).toBe(EXIT_FAILURE);
      expect(missing.stderr).toContain('no provider with id');
    });

    it('answers camelCase JSON on every command (the CLI surface, see docs/cli.md)', async () => {
      const outputs: unknown[] = [];
      const app = parse<{ id: string }>(await cli(['application', 'create', '--name', 'Cased'], env));
      const key = parse<{ id: string }>(await cli(['apikey', 'create', '--name', 'Cased'], env));
      const provider = parse<{ id: string }>(await cli(['provider', 'create'], env));
      outputs.push(app, key, provider);
      outputs.push(
        parse(
          await cli(['client', 'create', '--provider', provider.id, '--audience', 'https://c.test'], env),
        ),
      );
      for (const argv of [
        ['apikey', 'list'],
        ['application', 'list'],
        ['provider', 'list'],
        ['client', 'list'],
        ['apikey', 'rotate', '--id', key.id],
        ['application', 'rotate', '--id', app.id],
        ['provider', 'rotate', '--id', provider.id],
        ['apikey', 'revoke', '--id', key.id],
        ['keys', 'generate', '--alg', 'ES256', '--format', 'jwk'],
      ]) {
        outputs.push(parse(await cli(argv, env)));
      }
      const keys = [...new Set(outputs.flatMap(keysDeep))];
      expect(keys.filter((k) => !/^[a-z][a-zA-Z0-9]*$/.test(k))).toEqual([]);
      expect(keys).toEqual(expect.arrayContaining(['clientId', 'clientSecret', 'createdAt', 'grantTypes']));
    });

    it('exits 2 for a provider domain the core refuses', async () => {
      const run = await cli(['provider', 'create', '--domain', 'not a host'], env);
      expect(run.code).toBe(EXIT_USAGE);
      expect(run.stderr).toMatch(/domain must be a host name/);
    });
  });

  describe('when REDIS_KEY_PREFIX names a prefix without kit data', () => {
    let server: RedisServer;

    beforeAll(async () => {
      server = await startRedisServer();
    }, 30_000);

    afterAll(async () => {
      await server?.stop();
    });

    it('warns on stderr, naming the prefixes that hold kit data, and still runs the command', async () => {
      const used = { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'billing:' };
      // A fresh Redis: nothing anywhere, no warning.
      expect(parse(await cli(['application', 'create', '--name', 'First'], used))).toMatchObject({
        name: 'First',
      });
      expect(parse(await cli(['application', 'list'], used))).toHaveLength(1);

      const typo = await cli(['application', 'list'], { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'biling:' });
      expect(typo.code).toBe(EXIT_OK);
      expect(JSON.parse(typo.stdout)).toEqual([]);
      expect(typo.stderr).toMatch(
        /warning: key prefix "biling:" holds no express-token-kit data, but "billing:" does/,
      );
      expect(typo.stderr).toMatch(/set REDIS_KEY_PREFIX/);

      const unset = await cli(['apikey', 'create', '--name', 'Lost'], { REDIS_URL: server.url });
      expect(unset.code).toBe(EXIT_OK);
      expect(unset.stderr).toMatch(
        /key prefix "etk:" \(REDIS_KEY_PREFIX unset, the default\) holds no express-token-kit data, but "billing:" does/,
      );

      // Now both hold data: no warning for either.
      expect((await cli(['apikey', 'list'], { REDIS_URL: server.url })).stderr).toBe('');
      expect((await cli(['apikey', 'list'], used)).stderr).toBe('');
      const other = await cli(['provider', 'list'], { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'third:' });
      expect(other.stderr).toMatch(/but "billing:", "etk:" do:/);
    }, 30_000);
  });

  describe('done when: the CLI creates an application on Redis that the demo server (same REDIS_URL) accepts at once', () => {
    let redis: TestRedis;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      redis = await connectTestRedis('cli-serve');
      env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix, HOST: '127.0.0.1' };
      expect((await cli(['apikey', 'create', '--name', 'setup'], env)).code).toBe(EXIT_OK);
    });

    afterAll(async () => {
      await redis.cleanup();
    });

    it('as real processes: `application create`, then `serve` issues a token for it; rotation is seen at once', async () => {
      const create = collect(
        spawnCli(
          ['application', 'create', '--name', 'Billing', '--grant-types', 'client_credentials,refresh_token'],
          env,
        ),
      );
      expect(await create.exit).toBe(EXIT_OK);
      expect(create.stderr()).toBe('');
      const app = JSON.parse(create.stdout()) as { id: string; clientId: string; clientSecret: string };

      const serve = spawnCli(['serve', '--port', '0'], env);
      const server = collect(serve);
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`server did not start: ${server.stderr()}`)),
            15_000,
          );
          serve.stdout!.on('data', () => {
            const match = /listening on (http:\/\/\S+)\n.*store: /.exec(server.stdout());
            if (match) {
              clearTimeout(timer);
              resolve(match[1]!);
            }
          });
          void server.exit.then((code) =>
            reject(new Error(`server exited ${String(code)}: ${server.stderr()}`)),
          );
        });
        expect(server.stdout()).toContain(`store: redis`);

        const issued = await request(url).post('/api/auth/tokens/').send({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: app.clientSecret,
        });
        expect(issued.status).toBe(200);
        expect(issued.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });

        const oauth = await request(url)
          .post('/oauth/token')
          .auth(app.clientId, app.clientSecret)
          .type('form')
          .send({ grant_type: 'client_credentials' });
        expect(oauth.status).toBe(200);

        // Rotation from the CLI (in-process this time) takes effect on the running server at once.
        const rotated = parse<{ clientId: string; clientSecret: string }>(
          await cli(['application', 'rotate', '--id', app.id], env),
        );
        const old = await request(url).post('/api/auth/tokens/').send({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: app.clientSecret,
        });
        expect(old.status).toBe(401);
        const plans = await request(url)
          .get('/api/plans/')
          .set('Authorization', `Bearer ${(issued.body as { access_token: string }).access_token}`);
        expect(plans.status).toBe(401);
        const fresh = await request(url).post('/api/auth/tokens/').send({
          grant_type: 'client_credentials',
          client_id: rotated.clientId,
          client_secret: rotated.clientSecret,
        });
        expect(fresh.status).toBe(200);
      } finally {
        serve.kill('SIGTERM');
      }
      expect(await server.exit).toBe(EXIT_OK);
      expect(server.stderr()).toContain('SIGTERM, shutting down');
    }, 60_000);

    it('in-process: `serve` on the same Redis accepts an application `application create` just made', async () => {
      const app = parse<{ clientId: string; clientSecret: string }>(
        await cli(['application', 'create', '--name', 'Payroll', '--organization', '42'], env),
      );
      let stop!: (reason: string) => void;
      let serving!: (server: DemoServer) => void;
      const started = new Promise<DemoServer>((resolve) => (serving = resolve));
      const logs: string[] = [];
      const running = runCli(['serve', '--port', '0'], env, {
        stdout: (line) => logs.push(line),
        stderr: (line) => logs.push(line),
        waitForStop: () => new Promise<string>((resolve) => (stop = resolve)),
        onServing: serving,
      });
      const server = await Promise.race([
        started,
        running.then((code) => Promise.reject(new Error(`serve exited ${code}: ${logs.join('\n')}`))),
      ]);
      try {
        const res = await request(server.url).post('/api/auth/tokens/').send({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: app.clientSecret,
        });
        expect(res.status).toBe(200);
      } finally {
        stop('test done');
      }
      expect(await running).toBe(EXIT_OK);
      expect(logs).toContain('express-token-kit: test done, shutting down');
    });

    it('exits 1 when the server cannot start (bad seed file)', async () => {
      const run = await cli(['serve', '--port', '0', '--seed', path.join(ROOT, 'no-such-seed.json')], env, {
        waitForStop: () => new Promise(() => undefined),
      });
      expect(run.code).toBe(EXIT_FAILURE);
      expect(run.stderr).toMatch(/express-token-kit: (invalid seed file|cannot start)/);
    });
  });
});
