/**
 * The package's entry points (package.json `exports`): each names every export (no `export *`),
 * documents each with TSDoc, and the main entry neither loads nor types the optional peers.
 * Fast: reads the sources; the built package is checked by pack.spec.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

interface ExportTarget {
  readonly types: string;
  readonly default: string;
}

const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, ExportTarget | string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** Subpath (`.`, `./redis`, …) → its source file, from the `exports` map. */
const ENTRIES: [string, string][] = Object.entries(manifest.exports)
  .filter((entry): entry is [string, ExportTarget] => typeof entry[1] === 'object')
  .map(([subpath, target]) => [
    subpath,
    path.join(ROOT, target.default.replace(/^\.\/dist\//, 'lib/').replace(/\.js$/, '.ts')),
  ]);

interface ExportInfo {
  readonly name: string;
  readonly value: boolean;
  readonly documented: boolean;
}

const exportCache = new Map<string, ExportInfo[]>();

/** Names exported by an entry's module, by kind, with whether the declaration has TSDoc. */
function exportsOf(file: string): ExportInfo[] {
  const cached = exportCache.get(file);
  if (cached !== undefined) return cached;
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  const exported = checker.getExportsOfModule(moduleSymbol).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const documented = (target.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
    return { name: symbol.name, value: (target.flags & ts.SymbolFlags.Value) !== 0, documented };
  });
  exportCache.set(file, exported);
  return exported;
}

/** Value exports (what `require()` returns) of each entry, sorted. */
const VALUES: Record<string, string[]> = {
  '.': [
    'CredentialService',
    'GrantService',
    'KeyEncryptionKeyError',
    'KeyManagerError',
    'KeySet',
    'MAX_REFRESH_GRACE_RETRIES',
    'MemoryCredentialStore',
    'MemoryKeyStore',
    'MemoryTokenStore',
    'StoreUnavailableError',
    'TokenError',
    'TokenService',
    'composeEventListeners',
    'createApiKeyRouter',
    'createAuthRouter',
    'createBindingProfile',
    'createJsonLineLogger',
    'createKeyManager',
    'createKeySet',
    'createLocalSigner',
    'createMetrics',
    'createOAuthRouter',
    'createProtectedResourceRouter',
    'createProviderRouter',
    'createRateLimits',
    'createRemoteVerifier',
    'createTokenKit',
    'derToJoseSignature',
    'isTokenError',
    'kekFromEnv',
    'parseKek',
    'protectedResourceMetadataUrl',
    'requireBinding',
    'requireScope',
    'requireToken',
  ],
  './redis': [
    'RedisCredentialStore',
    'RedisKeyStore',
    'RedisRevocationView',
    'RedisTokenStore',
    'checkEvictionPolicy',
    'createRedisClient',
    'createRedisConnectionFromEnv',
    'createRevocationAnnouncer',
    'keysChannel',
    'revocationChannel',
    'waitForReady',
  ],
  './postgres': [
    'DEFAULT_POSTGRES_SCHEMA',
    'POSTGRES_SCHEMA_VERSION',
    'PostgresCredentialStore',
    'PostgresKeyStore',
    'migrateCredentialStore',
  ],
  './testing': ['describeCredentialStoreContract', 'describeKeyStoreContract', 'describeTokenStoreContract'],
};

/** Helpers, hashing classes and internal defaults that the main entry exported before 0.2. */
const INTERNAL = [
  'storeUnavailable',
  'bearerChallenge',
  'sendBearerError',
  'SecretHasher',
  'generateOpaqueToken',
  'parseOpaqueToken',
  'isUuid',
  'canonicalUuid',
  'isEntityId',
  'parseBoundEntity',
  'auditRecord',
  'statusOf',
  'toBody',
  'setNoStore',
  'extractBearerToken',
  'isRateLimits',
  'CREDENTIAL_CACHE_MS',
  'DEFAULT_ACCESS_TOKEN_TTL',
  'DEFAULT_REALM',
  'DEFAULT_FAILURES_PER_IP',
  'MAX_TOKEN_LENGTH',
  'MAX_REFRESH_GRACE_SECONDS',
];

describe('package entry points', () => {
  it('maps ., ./redis, ./postgres and ./testing to built files, types first', () => {
    expect(ENTRIES.map(([subpath]) => subpath)).toEqual(['.', './redis', './postgres', './testing']);
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue;
      expect([subpath, Object.keys(target)]).toEqual([subpath, ['types', 'default']]);
      expect(target.types).toBe(target.default.replace(/\.js$/, '.d.ts'));
    }
    for (const [, file] of ENTRIES) expect(existsSync(file)).toBe(true);
  });

  describe.each(ENTRIES)('%s', (subpath, file) => {
    it('names every export: no `export *` or `export type *`', () => {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const star = source.statements
        .filter(
          (s): s is ts.ExportDeclaration =>
            ts.isExportDeclaration(s) &&
            (s.exportClause === undefined || ts.isNamespaceExport(s.exportClause)),
        )
        .map((s) => s.getText());
      expect(star).toEqual([]);
    });

    it('documents every export, value or type, with TSDoc', () => {
      const exported = exportsOf(file);
      expect(exported.length).toBeGreaterThan(0);
      expect(exported.filter((e) => !e.documented).map((e) => e.name)).toEqual([]);
    });

    it('exports exactly the values of the public API', () => {
      const exported = exportsOf(file);
      expect(
        exported
          .filter((e) => e.value)
          .map((e) => e.name)
          .sort(),
      ).toEqual(VALUES[subpath]);
    });
  });

  it('keeps internals and Redis out of the main entry', () => {
    const names = exportsOf(ENTRIES[0]![1]).map((e) => e.name);
    expect(
      names.filter((n) => INTERNAL.includes(n) || /^DEFAULT_/.test(n) || /^Redis(?!Command)/.test(n)),
    ).toEqual([]);
    expect(names).not.toContain('createRedisClient');
  });

  it('makes ioredis, like pg and prom-client, an optional peer dependency (and a dev dependency here)', () => {
    for (const peer of ['ioredis', 'pg', 'prom-client']) {
      expect([peer, manifest.peerDependenciesMeta[peer]?.optional]).toEqual([peer, true]);
      expect(manifest.peerDependencies[peer]).toBeDefined();
      expect(manifest.devDependencies[peer]).toBeDefined();
      expect(manifest.dependencies[peer]).toBeUndefined();
    }
  });

  it('main entry: its types reach neither ioredis nor pg', () => {
    const program = ts.createProgram([ENTRIES[0]![1]], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
      types: ['node'],
    });
    const peers = program
      .getSourceFiles()
      .map((f) => path.relative(ROOT, f.fileName))
      .filter((f) =>
        /node_modules\/(ioredis|pg|@types\/pg|rate-limit-redis\/node_modules\/ioredis)\//.test(f),
      );
    expect(peers).toEqual([]);
  });

  it('main entry: require() loads neither ioredis nor pg; ./redis loads ioredis', async () => {
    const probe = (entry: string): Promise<{ stdout: string }> =>
      execFileAsync(
        process.execPath,
        [
          '-r',
          'esbuild-register',
          '-e',
          `require(${JSON.stringify(entry)}); console.log(JSON.stringify([...new Set(Object.keys(require.cache)` +
            `.map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k)?.[1]).filter(Boolean))].sort()))`,
        ],
        { cwd: ROOT, timeout: 60_000 },
      );
    const main = JSON.parse((await probe('./lib/index.ts')).stdout) as string[];
    expect(main).toEqual(expect.arrayContaining(['express-rate-limit', 'jsonwebtoken', 'rate-limit-redis']));
    expect(main.filter((m) => ['ioredis', '@ioredis', 'pg', 'pg-pool'].includes(m))).toEqual([]);
    const redis = JSON.parse((await probe('./lib/redis.ts')).stdout) as string[];
    expect(redis).toContain('ioredis');
  }, 90_000);
});
