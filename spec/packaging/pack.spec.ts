/**
 * The published package: `npm pack` output installed into small consumer projects — CommonJS,
 * ESM and TypeScript — on Express 4.21 and Express 5, as a user would install it: one with the
 * optional peers ioredis and pg, using every entry point (`express-token-kit`, `/redis`,
 * `/postgres`, `/testing`), and one without them, on the memory store.
 *
 * Slow (a build and two `npm install`s, from the npm cache when it can): also runs alone as
 * `npm run test:packaging`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const MINUTE = 60_000;

interface PackedFile {
  readonly path: string;
}

async function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeout = 3 * MINUTE,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(command, [...args], {
      cwd,
      timeout,
      maxBuffer: 32 * 1024 * 1024,
      // A clean environment for npm: no inherited npm_config_* (nor REDIS_*) of the `npm test` that runs jest.
      env: {
        ...Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !/^(npm_|REDIS_|DATABASE_)/i.test(k)),
        ),
        ...extraEnv,
      },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

/** Installs a consumer project's dependencies, from the npm cache when it has them. */
async function npmInstall(dir: string): Promise<void> {
  await run(
    NPM,
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
    dir,
  );
}

/** A tiny app: requireToken and router C, one token request and two guarded requests. */
const APP_BODY = `
  const kit = createTokenKit({
    store: new MemoryTokenStore(),
    keys: await KeySet.generate('ES256'),
    issuer: 'http://127.0.0.1',
  });
  const created = await kit.credentials.createApplication({ name: 'Consumer' });
  const app = express();
  app.use('/api', createAuthRouter({ kit }));
  app.get('/api/plans/', requireToken({ kit }), (req, res) => res.json({ sub: req.auth.subject }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;
  const issued = await fetch(base + '/api/auth/tokens/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: created.clientId, client_secret: created.clientSecret }),
  });
  const token = await issued.json();
  const plans = await fetch(base + '/api/plans/', { headers: { authorization: 'Bearer ' + token.access_token } });
  const anonymous = await fetch(base + '/api/plans/');
  const result = {
    issued: issued.status,
    plans: plans.status,
    sub: (await plans.json()).sub,
    anonymous: anonymous.status,
    anonymousBody: await anonymous.json(),
    clientId: created.clientId,
  };
  server.close();
  await kit.tokens.store.close();
`;

const CJS_APP = `'use strict';
const express = require('express');
const etk = require('express-token-kit');
const { createTokenKit, KeySet, MemoryTokenStore, createAuthRouter, requireToken } = etk;
(async () => {
${APP_BODY}
  console.log(JSON.stringify({
    ...result,
    express: require('express/package.json').version,
    exports: Object.keys(etk).sort(),
  }));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

const ESM_APP = `import express from 'express';
import { createRequire } from 'node:module';
import * as etk from 'express-token-kit';
import { createTokenKit, KeySet, MemoryTokenStore, createAuthRouter, requireToken } from 'express-token-kit';
${APP_BODY}
const require = createRequire(import.meta.url);
console.log(JSON.stringify({
  ...result,
  express: require('express/package.json').version,
  exports: Object.keys(etk).filter((k) => !['default', 'module.exports', '__esModule'].includes(k)).sort(),
}));
`;

/** Type-checks against the package's declarations: options, req.auth, error codes, routers. */
const TS_GOOD = `import express, { type Request, type Response } from 'express';
import { describeTokenStoreContract, type StoreHarnessFactory } from 'express-token-kit/testing';
import {
  createApiKeyRouter,
  createAuthRouter,
  createOAuthRouter,
  createProviderRouter,
  createTokenKit,
  KeySet,
  MemoryTokenStore,
  requireBinding,
  requireToken,
  TokenError,
  type AuthInfo,
  type RequireTokenOptions,
  type TokenErrorCode,
  type TokenKit,
} from 'express-token-kit';

export async function buildApp(): Promise<express.Express> {
  const kit: TokenKit = createTokenKit({
    store: new MemoryTokenStore(),
    keys: await KeySet.generate('RS256'),
    issuer: 'https://auth.example.test',
  });
  const options: RequireTokenOptions = { kit, realm: 'api' };
  const app = express();
  app.use('/v1/auth', createApiKeyRouter({ kit }));
  app.use('/v1', createProviderRouter({ kit }));
  app.use('/api', createAuthRouter({ kit }));
  app.use(createOAuthRouter({ kit }));
  app.get(
    '/v1/employers/:employerId',
    requireToken(options),
    requireBinding({ param: 'employerId', type: 'employer' }),
    (req: Request, res: Response) => {
      const auth: AuthInfo | undefined = req.auth;
      res.json({ sub: auth?.subject, bound: auth?.boundEntity?.id ?? null });
    },
  );
  const code: TokenErrorCode = new TokenError('expired_token').code;
  void code;
  const app2 = await kit.credentials.createApplication({ name: 'TypeScript' });
  const secret: string = app2.clientSecret;
  void secret;
  return app;
}

// A store author's contract run: the testing entry's types need neither jest's nor ioredis' types.
export const harness: StoreHarnessFactory = async () => {
  const store = new MemoryTokenStore();
  return { store, now: () => Date.now() / 1000, advance: async () => undefined, cleanup: () => store.close() };
};
export const registerContract: (name: string, factory: StoreHarnessFactory) => void = describeTokenStoreContract;
`;

/** The entry points: their value exports from CommonJS, and the testing suite outside jest. */
const SUBPATHS_CJS = `'use strict';
const entries = ['express-token-kit', 'express-token-kit/redis', 'express-token-kit/postgres', 'express-token-kit/testing'];
const names = Object.fromEntries(entries.map((e) => [e, Object.keys(require(e)).sort()]));
const { RedisTokenStore, createRedisClient } = require('express-token-kit/redis');
const { PostgresCredentialStore } = require('express-token-kit/postgres');
const { describeTokenStoreContract } = require('express-token-kit/testing');
let outsideJest = null;
try {
  describeTokenStoreContract('x', async () => ({}));
} catch (err) {
  outsideJest = err.message;
}
console.log(JSON.stringify({
  exports: names,
  kinds: [typeof RedisTokenStore, typeof createRedisClient, typeof PostgresCredentialStore, typeof describeTokenStoreContract],
  outsideJest,
}));
`;

const SUBPATHS_ESM = `import * as main from 'express-token-kit';
import * as redis from 'express-token-kit/redis';
import * as postgres from 'express-token-kit/postgres';
import * as testing from 'express-token-kit/testing';
const keys = (m) => Object.keys(m).filter((k) => !['default', 'module.exports', '__esModule'].includes(k)).sort();
console.log(JSON.stringify({ exports: {
  'express-token-kit': keys(main),
  'express-token-kit/redis': keys(redis),
  'express-token-kit/postgres': keys(postgres),
  'express-token-kit/testing': keys(testing),
} }));
`;

/** Type-checks every entry point's declarations, with ioredis installed and pg's types not. */
const TS_SUBPATHS = `import { createTokenKit, KeySet, MemoryCredentialStore, type CredentialStore, type TokenStore } from 'express-token-kit';
import {
  createRedisClient,
  RedisCredentialStore,
  RedisRevocationView,
  RedisTokenStore,
  type RedisClientOptions,
  type RedisCredentialStoreOptions,
  type RedisTokenStoreOptions,
} from 'express-token-kit/redis';
import { PostgresCredentialStore, type PostgresCredentialStoreOptions } from 'express-token-kit/postgres';
import { describeCredentialStoreContract, type CredentialStoreHarness } from 'express-token-kit/testing';

export async function build(url: string): Promise<void> {
  const clientOptions: RedisClientOptions = { url };
  const client = createRedisClient(clientOptions);
  const options: RedisTokenStoreOptions = { client };
  const store: TokenStore = new RedisTokenStore(options);
  const pgOptions: PostgresCredentialStoreOptions = { connectionString: 'postgres://localhost/db' };
  const credentialStore = new PostgresCredentialStore(pgOptions);
  const revocationView = await RedisRevocationView.start({ client, channel: 'etk:revocations' });
  createTokenKit({ store, credentialStore, revocationView, keys: await KeySet.generate('ES256'), issuer: 'https://a.test' });
  const harness: CredentialStoreHarness = { store: credentialStore, cleanup: async () => undefined };
  describeCredentialStoreContract('pg', async () => harness);
  const redisCredentials: RedisCredentialStoreOptions = { client, keyPrefix: 'etk:' };
  const credentialStores: CredentialStore[] = [new RedisCredentialStore(redisCredentials), new MemoryCredentialStore()];
  createTokenKit({ store, credentialStore: credentialStores[0], keys: await KeySet.generate('ES256'), issuer: 'https://a.test' });
}
`;

/** Must not type-check: proves the declarations are real types, not `any`. */
const TS_BAD = `import { requireToken, TokenError } from 'express-token-kit';
requireToken({ kit: 42 });
new TokenError('not_a_code');
`;

describe('npm pack output', () => {
  let work: string;
  let tarball: string;
  let files: string[];
  /** The tarball extracted: `<unpacked>/package/…`. */
  let unpacked: string;

  /** A shipped file's text. */
  function shipped(file: string): Promise<string> {
    return readFile(path.join(unpacked, 'package', file), 'utf8');
  }

  /** True when `file` (a tarball path, resolved against the package root) is in the tarball. */
  function inTarball(file: string): boolean {
    return files.includes(path.posix.normalize(file));
  }

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'etk-pack-'));
    await run(NPM, ['run', 'build', '--silent'], ROOT);
    const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', work], ROOT);
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string;
      files: PackedFile[];
    }[];
    tarball = path.join(work, info!.filename);
    files = info!.files.map((f) => f.path);
    // The shipped bytes, to read the files as a user gets them.
    unpacked = path.join(work, 'unpacked');
    await mkdir(unpacked, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', unpacked], work);
  }, 5 * MINUTE);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the build, the docs and the CLI, and nothing else', async () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/server/cli.js',
      ]),
    );
    const outside = files.filter(
      (f) =>
        !/^dist\//.test(f) &&
        !/^docs\/[a-z0-9.-]+\.(md|yaml|json|svg)$/.test(f) &&
        !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(f),
    );
    expect(outside).toEqual([]);
    expect(files.filter((f) => f.startsWith('docs/api/'))).toEqual([]);
    expect(files.filter((f) => /\.(spec|test)\.|^spec\/|^lib\/|^bench\//.test(f))).toEqual([]);
    const cli = await readFile(path.join(ROOT, 'dist', 'server', 'cli.js'), 'utf8');
    expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('ships the MIT LICENSE and names the repository', async () => {
    expect(files).toContain('LICENSE');
    const license = await shipped('LICENSE');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} express-token-kit contributors\n/);
    expect(license).toContain('Permission is hereby granted, free of charge');
    const manifest = JSON.parse(await shipped('package.json')) as Record<string, unknown>;
    expect(manifest.license).toBe('MIT');
    expect(manifest.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/express-token-kit/express-token-kit.git',
    });
  });

  it('ships no source map whose sources are missing from the tarball', async () => {
    const maps = files.filter((f) => f.endsWith('.map'));
    const missing: string[] = [];
    for (const map of maps) {
      const { sources = [], sourceRoot = '' } = JSON.parse(await shipped(map)) as {
        sources?: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const target = path.posix.join(path.posix.dirname(map), sourceRoot, source);
        if (!inTarball(target)) missing.push(`${map} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);
    // Nor a sourceMappingURL comment pointing at a map that is not shipped.
    const dangling: string[] = [];
    for (const file of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(await shipped(file))?.[1];
      if (url !== undefined && !inTarball(path.posix.join(path.posix.dirname(file), url))) {
        dangling.push(`${file} -> ${url}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('resolves every relative link of the shipped README and docs inside the tarball', async () => {
    const pages = files.filter((f) => f === 'README.md' || /^docs\/.*\.md$/.test(f));
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'docs/getting-started.md', 'docs/cli.md']));
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages) {
      for (const [, target] of (await shipped(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!) || target!.startsWith('#')) continue;
        const file = path.posix.join(path.posix.dirname(page), decodeURI(target!.split('#')[0]!));
        checked += 1;
        if (!inTarball(file)) broken.push(`${page} -> ${target!}`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  describe.each([
    { express: '4.21.2', label: 'Express 4.21, ioredis and pg', typescript: false, peers: true },
    { express: '^5.1.0', label: 'Express 5, without ioredis or pg', typescript: true, peers: false },
  ])('installed next to $label', ({ express, typescript, peers }) => {
    let dir: string;

    beforeAll(async () => {
      dir = path.join(work, `consumer-express-${express.replace(/[^0-9]/g, '')}`);
      await mkdir(dir, { recursive: true });
      const devDependencies =
        typescript || peers ? { '@types/express': '^5.0.6', '@types/node': '^20.19.0' } : {};
      // The optional peers, at the ranges package.json names; the other consumer goes without them.
      const peerDependencies = peers ? { ioredis: '^5.9.2', pg: '^8.11.0' } : {};
      await writeFile(
        path.join(dir, 'package.json'),
        JSON.stringify(
          {
            name: 'etk-consumer',
            version: '1.0.0',
            private: true,
            dependencies: { 'express-token-kit': `file:${tarball}`, express, ...peerDependencies },
            devDependencies,
          },
          null,
          2,
        ),
      );
      await writeFile(path.join(dir, 'app.cjs'), CJS_APP);
      await writeFile(path.join(dir, 'app.mjs'), ESM_APP);
      await writeFile(path.join(dir, 'subpaths.cjs'), SUBPATHS_CJS);
      await writeFile(path.join(dir, 'subpaths.mjs'), SUBPATHS_ESM);
      await npmInstall(dir);
    }, 5 * MINUTE);

    async function runApp(file: string): Promise<Record<string, unknown>> {
      const { stdout } = await run(process.execPath, [file], dir, MINUTE);
      return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    }

    it(
      'require()s from CommonJS and serves a token to requireToken',
      async () => {
        const result = await runApp('app.cjs');
        expect(result).toMatchObject({
          issued: 200,
          plans: 200,
          anonymous: 401,
          anonymousBody: { errors: [{ errorType: 'missing_token', message: 'Access token missing' }] },
          express: express.startsWith('^') ? expect.stringMatching(/^5\./) : express,
        });
        expect(result.sub).toBe(result.clientId);
        expect(result.exports).toEqual(
          expect.arrayContaining([
            'requireToken',
            'createTokenKit',
            'createOAuthRouter',
            'TokenError',
            'MemoryCredentialStore',
          ]),
        );
        // Redis has its own entry; internals are not exported.
        const internals = [
          'RedisTokenStore',
          'createRedisClient',
          'storeUnavailable',
          'SecretHasher',
          'isUuid',
        ];
        expect((result.exports as string[]).filter((name) => internals.includes(name))).toEqual([]);
      },
      MINUTE,
    );

    if (peers) {
      it(
        'require()s and imports express-token-kit/redis, /postgres and /testing, the same names from both',
        async () => {
          const cjs = await runApp('subpaths.cjs');
          expect(cjs.kinds).toEqual(['function', 'function', 'function', 'function']);
          expect(cjs.outsideJest).toMatch(/run them under jest/);
          const exported = cjs.exports as Record<string, string[]>;
          expect(exported['express-token-kit/redis']).toEqual(
            expect.arrayContaining([
              'RedisTokenStore',
              'RedisCredentialStore',
              'createRedisClient',
              'RedisRevocationView',
              'waitForReady',
            ]),
          );
          expect(exported['express-token-kit/postgres']).toEqual(
            expect.arrayContaining(['PostgresCredentialStore', 'migrateCredentialStore']),
          );
          expect(exported['express-token-kit/testing']).toEqual([
            'describeCredentialStoreContract',
            'describeKeyStoreContract',
            'describeTokenStoreContract',
          ]);
          const esm = await runApp('subpaths.mjs');
          expect(esm.exports).toEqual(cjs.exports);
        },
        MINUTE,
      );

      it.each(['nodenext', 'bundler'])(
        'type-checks every entry point with skipLibCheck false (%s)',
        async (resolution) => {
          expect(existsSync(path.join(dir, 'node_modules', 'ioredis'))).toBe(true);
          const tsDir = path.join(dir, `ts-subpaths-${resolution}`);
          await mkdir(tsDir, { recursive: true });
          const compilerOptions = {
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            esModuleInterop: true,
            target: 'ES2022',
            types: ['node'],
            ...(resolution === 'nodenext'
              ? { module: 'nodenext', moduleResolution: 'nodenext' }
              : { module: 'esnext', moduleResolution: 'bundler' }),
          };
          await writeFile(path.join(tsDir, 'subpaths.ts'), TS_SUBPATHS);
          await writeFile(
            path.join(tsDir, 'tsconfig.json'),
            JSON.stringify({ compilerOptions, files: ['subpaths.ts'] }),
          );
          await run(process.execPath, [TSC, '-p', 'tsconfig.json'], tsDir, MINUTE);
        },
        MINUTE,
      );
    } else {
      it(
        'runs the main entry without ioredis or pg installed; express-token-kit/redis names the missing peer',
        async () => {
          for (const pkg of ['ioredis', 'pg', 'rate-limit-redis/node_modules/ioredis']) {
            expect([pkg, existsSync(path.join(dir, 'node_modules', pkg))]).toEqual([pkg, false]);
          }
          // app.cjs and app.mjs above ran on the memory store; the Redis entry needs its peer.
          await expect(
            run(process.execPath, ['-e', "require('express-token-kit/redis')"], dir, MINUTE),
          ).rejects.toThrow(/Cannot find module 'ioredis'/);
        },
        MINUTE,
      );
    }

    it(
      'imports named exports from ESM, the same names as CommonJS',
      async () => {
        const esm = await runApp('app.mjs');
        expect(esm).toMatchObject({ issued: 200, plans: 200, anonymous: 401 });
        const cjs = await runApp('app.cjs');
        expect(esm.exports).toEqual(cjs.exports);
      },
      MINUTE,
    );

    it(
      'runs the express-token-kit bin',
      async () => {
        const bin = path.join(dir, 'node_modules', '.bin', 'express-token-kit');
        const version = await run(bin, ['--version'], dir, MINUTE);
        expect(version.stdout.trim()).toBe(
          JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version,
        );
        const key = await run(bin, ['keys', 'generate', '--alg', 'ES256', '--kid', 'packaged'], dir, MINUTE);
        expect(JSON.parse(key.stdout)).toMatchObject({ kid: 'packaged', alg: 'ES256' });
        await expect(run(bin, ['application', 'create', '--name', 'x'], dir, MINUTE)).rejects.toThrow(
          /REDIS_URL/,
        );
        if (!peers) {
          // Redis configured without its client library: a usage error naming the fix.
          const withRedis = run(bin, ['application', 'create', '--name', 'x'], dir, MINUTE, {
            REDIS_URL: 'redis://127.0.0.1:1',
          });
          await expect(withRedis).rejects.toThrow(/ioredis package is not installed: npm install ioredis/);
        }
      },
      MINUTE,
    );

    if (typescript) {
      it.each(['nodenext', 'bundler'])(
        'type-checks a TypeScript consumer with skipLibCheck false and no prom-client, ioredis or pg installed (%s)',
        async (resolution) => {
          // The optional peers are not installed: the consumer has no prom-client, ioredis or pg anywhere.
          for (const pkg of ['prom-client', 'ioredis', 'pg', '@types/pg']) {
            expect([pkg, existsSync(path.join(dir, 'node_modules', pkg))]).toEqual([pkg, false]);
          }
          const tsDir = path.join(dir, `ts-strict-libs-${resolution}`);
          await mkdir(tsDir, { recursive: true });
          const compilerOptions = {
            strict: true,
            noEmit: true,
            // TypeScript's default: every declaration file is checked, the package's included.
            skipLibCheck: false,
            esModuleInterop: true,
            target: 'ES2022',
            types: ['node'],
            ...(resolution === 'nodenext'
              ? { module: 'nodenext', moduleResolution: 'nodenext' }
              : { module: 'esnext', moduleResolution: 'bundler' }),
          };
          await writeFile(path.join(tsDir, 'good.ts'), TS_GOOD);
          await writeFile(
            path.join(tsDir, 'tsconfig.json'),
            JSON.stringify({ compilerOptions, files: ['good.ts'] }),
          );
          await run(process.execPath, [TSC, '-p', 'tsconfig.json'], tsDir, MINUTE);
        },
        MINUTE,
      );

      it.each(['nodenext', 'bundler'])(
        'type-checks a TypeScript consumer with moduleResolution %s',
        async (resolution) => {
          const tsDir = path.join(dir, `ts-${resolution}`);
          await mkdir(tsDir, { recursive: true });
          const compilerOptions = {
            strict: true,
            noEmit: true,
            // As `tsc --init` sets it: a declaration importing an optional peer (prom-client) is not
            // an error for consumers that do not install it.
            skipLibCheck: true,
            esModuleInterop: true,
            target: 'ES2022',
            types: ['node'],
            ...(resolution === 'nodenext'
              ? { module: 'nodenext', moduleResolution: 'nodenext' }
              : { module: 'esnext', moduleResolution: 'bundler' }),
          };
          await writeFile(path.join(tsDir, 'good.ts'), TS_GOOD);
          await writeFile(path.join(tsDir, 'bad.ts'), TS_BAD);
          await writeFile(
            path.join(tsDir, 'tsconfig.json'),
            JSON.stringify({ compilerOptions, files: ['good.ts'] }),
          );
          await writeFile(
            path.join(tsDir, 'tsconfig.bad.json'),
            JSON.stringify({ compilerOptions, files: ['bad.ts'] }),
          );

          await run(process.execPath, [TSC, '-p', 'tsconfig.json'], tsDir, MINUTE);
          const bad = run(process.execPath, [TSC, '-p', 'tsconfig.bad.json'], tsDir, MINUTE);
          await expect(bad).rejects.toThrow(/bad\.ts\(2,.*error TS2322/s);
          await expect(bad).rejects.toThrow(/bad\.ts\(3,.*error TS2345/s);
        },
        MINUTE,
      );
    }
  });
});
