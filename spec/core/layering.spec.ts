/**
 * The import graph of lib/, read with a plain regex scan (no dependency): no cycle between files,
 * no Express below the middleware, stores never import the core, and the token context imports
 * none of the verb modules built on it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const LIB = join(ROOT, 'lib');

/** `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`, `require('x')`. */
const IMPORT =
  /(?:\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?|\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Comments removed, so an example in TSDoc is not read as an import. */
function code(path: string): string {
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

function specifiers(path: string): string[] {
  return [...code(path).matchAll(IMPORT)].map((m) => m[1]!);
}

function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${rel(from)} imports ${specifier}, which does not resolve`);
}

function rel(path: string): string {
  return relative(ROOT, path).split(sep).join('/');
}

/** lib-relative file → the lib-relative files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(LIB)) {
    const targets = specifiers(file)
      .map((s) => resolveLocal(file, s))
      .filter((t): t is string => t !== undefined)
      .map(rel);
    graph.set(rel(file), [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, as the list of files on it (Tarjan's strongly connected components). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

function importsOf(graph: ReadonlyMap<string, readonly string[]>, folder: string, target: string): string[] {
  return [...graph]
    .filter(([file]) => file.startsWith(folder))
    .flatMap(([file, targets]) => targets.filter((t) => t.startsWith(target)).map((t) => `${file} → ${t}`));
}

describe('lib/ import graph', () => {
  const graph = importGraph();

  it('reads every file of lib/', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get('lib/index.ts')).toContain('lib/core/token-service.ts');
  });

  describe('the scanner', () => {
    it('finds a cycle between two files and none in a chain', () => {
      const loop = new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
        ['d', ['a']],
      ]);
      expect(cycles(loop)).toEqual([['a', 'b', 'c']]);
      expect(
        cycles(
          new Map([
            ['a', ['b']],
            ['b', []],
          ]),
        ),
      ).toEqual([]);
    });

    it('reads import, export-from, type-only, dynamic and require forms', () => {
      const sample = [
        `import { a } from './a';`,
        `import type { B } from './b';`,
        `import c, { type C } from './c';`,
        `import './d';`,
        `export * from './e';`,
        `export type { F } from './f';`,
        `export { g } from './g';`,
        `const h = await import('./h');`,
        `const i = require('./i');`,
        `import {\n  j,\n  k,\n} from './j';`,
      ].join('\n');
      expect([...sample.matchAll(IMPORT)].map((m) => m[1])).toEqual([
        './a',
        './b',
        './c',
        './d',
        './e',
        './f',
        './g',
        './h',
        './i',
        './j',
      ]);
    });
  });

  it('has no cycle between files', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps the stores below the core: lib/stores imports nothing from lib/core', () => {
    expect(importsOf(graph, 'lib/stores/', 'lib/core/')).toEqual([]);
  });

  it('keeps lib/util at the bottom: it imports nothing else of lib/', () => {
    expect(
      importsOf(graph, 'lib/util/', 'lib/').filter((edge) => !edge.split(' → ')[1]!.startsWith('lib/util/')),
    ).toEqual([]);
  });

  it('has no cycle between the folders of lib/core, lib/keys, lib/stores and lib/util', () => {
    const folderOf = (file: string): string => file.split('/').slice(0, 2).join('/');
    const folders = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      if (!/^lib\/(core|keys|stores|util)\//.test(file)) continue;
      const from = folderOf(file);
      const edges = folders.get(from) ?? [];
      for (const t of targets)
        if (folderOf(t) !== from && !edges.includes(folderOf(t))) edges.push(folderOf(t));
      folders.set(from, edges);
    }
    expect(cycles(folders)).toEqual([]);
  });

  it('keeps lib/keys below the core and the stores', () => {
    expect([
      ...importsOf(graph, 'lib/keys/', 'lib/core/'),
      ...importsOf(graph, 'lib/keys/', 'lib/stores/'),
    ]).toEqual([]);
  });

  it('keeps Express out of lib/core, lib/keys, lib/stores and lib/resource', () => {
    const offenders = [...graph.keys()]
      .filter((file) => /^lib\/(core|keys|stores|resource)\//.test(file))
      .filter((file) =>
        specifiers(join(ROOT, file)).some((s) => s === 'express' || s.startsWith('express/')),
      );
    expect(offenders).toEqual([]);
  });

  it('keeps the core, keys and stores free of the layers above them', () => {
    const upward = [
      'lib/middleware/',
      'lib/routers/',
      'lib/server/',
      'lib/index.ts',
      'lib/postgres.ts',
    ].flatMap((above) =>
      ['lib/core/', 'lib/keys/', 'lib/stores/'].flatMap((below) => importsOf(graph, below, above)),
    );
    expect(upward).toEqual([]);
  });

  it('keeps lib/resource between the core and the middleware: nothing below imports it, it imports nothing above', () => {
    const below = ['lib/core/', 'lib/keys/', 'lib/stores/', 'lib/util/'].flatMap((folder) =>
      importsOf(graph, folder, 'lib/resource/'),
    );
    const above = ['lib/middleware/', 'lib/routers/', 'lib/server/', 'lib/index.ts'].flatMap((target) =>
      importsOf(graph, 'lib/resource/', target),
    );
    expect([...below, ...above]).toEqual([]);
  });

  describe('option validation', () => {
    /** The layers whose factories check options (lib/core keeps its own, through the same module). */
    const FACTORY_LAYERS = /^lib\/(routers|middleware|keys|stores|resource)\//;
    /**
     * The TypeErrors and RangeErrors of these layers that are not about a factory's options, by
     * file: each pattern matches the start of the error's message, and says why it stays.
     */
    const NOT_OPTIONS: Record<string, ReadonlyArray<readonly [pattern: RegExp, reason: string]>> = {
      'lib/routers/oauth/client-auth.ts': [
        [/^'not base64'/, 'request parsing, caught and answered 401 there'],
      ],
      'lib/keys/key-set.ts': [
        [
          /^\s*[`']KeySet\.(add|setSigningKey|retire|signingKey|replaceAll|\$\{method\})/,
          'KeySet methods: key ids and key state',
        ],
        [/^'KeySet\.add: key must be an object/, 'KeySet.add argument, a key, not an option'],
        [/^\s*`\$\{where\}: /, 'key material (PEM, JWK, KeyObject, secret) parsed for KeySet.add'],
      ],
      'lib/keys/key-manager.ts': [
        [/^`createKeyManager: two signers with kid/, 'key state: a kid given twice, as KeySet refuses it'],
      ],
      'lib/keys/signer.ts': [
        [
          /^'createLocalSigner: options\.privateKey /,
          'key material parsed (PEM, JWK, KeyObject), its cause kept',
        ],
        [/^'(RS|ES)256 needs /, 'publicJwkOf argument: a key that does not fit its algorithm'],
        [/^'derToJoseSignature: /, 'derToJoseSignature input, a signature from a KMS'],
        [/^\s*`signer \$\{/, 'the output of a signer, checked at signing time'],
      ],
      'lib/stores/revocation-view.ts': [
        [/^`cut-off of \$\{kind\} without an instant`/, 'a replicated revocation entry, not an option'],
      ],
      'lib/stores/redis-revocation-view.ts': [
        [/^'cut-off without an instant'/, 'a revocation log entry read from Redis, not an option'],
      ],
      'lib/stores/redis-connection.ts': [
        [
          /^\s*[`']\$?\{?(variable|REDIS_)/,
          'environment variables, named in the message (asserted verbatim)',
        ],
      ],
      'lib/stores/token-store.ts': [
        [/^\s*`setCutoff: at/, 'TokenStore method argument'],
        [/^`markUsed: key/, 'TokenStore method argument'],
      ],
      'lib/stores/memory-token-store.ts': [
        [/^`ttlSeconds must be finite/, 'TokenStore method argument'],
        [/^\s*`rotateRefreshToken: graceSeconds/, 'TokenStore method argument'],
      ],
      'lib/stores/redis-token-store.ts': [
        [/^`ttlSeconds must be finite/, 'TokenStore method argument'],
        [/^\s*`rotateRefreshToken: graceSeconds/, 'TokenStore method argument'],
        [/^\s*'refresh token proof:/, 'TokenStore method argument'],
      ],
      'lib/stores/postgres-credential-store.ts': [
        [/^'connectionString needs the `pg` package/, 'a missing optional peer dependency, not a bad value'],
      ],
    };
    const THROW = /new (TypeError|RangeError)\(([\s\S]{0,120})/g;

    function directThrows(file: string): string[] {
      return [...code(join(ROOT, file)).matchAll(THROW)].map((m) => m[2]!);
    }

    it('finds direct throws in a sample', () => {
      expect([...`throw new RangeError(\n  \`ttl must\`);`.matchAll(THROW)].map((m) => m[2]!.trim())).toEqual(
        ['`ttl must`);'],
      );
    });

    it('is one module, lib/util/options.ts, that imports nothing else of lib/', () => {
      expect(graph.get('lib/util/options.ts')).toEqual([]);
    });

    it('goes through lib/util/options in every factory of the routers, middleware, keys, stores and resource layer', () => {
      const offenders = [...graph.keys()]
        .filter((file) => FACTORY_LAYERS.test(file))
        .flatMap((file) =>
          directThrows(file)
            .filter((message) => !(NOT_OPTIONS[file] ?? []).some(([pattern]) => pattern.test(message)))
            .map((message) => `${file}: new Error(${message.split('\n')[0]!.trim()}…`),
        );
      expect(offenders).toEqual([]);
    });

    it('has an allow-list whose every entry still matches a throw (no stale reasons)', () => {
      const stale = Object.entries(NOT_OPTIONS).flatMap(([file, entries]) =>
        entries
          .filter(([pattern]) => !directThrows(file).some((message) => pattern.test(message)))
          .map(([pattern, reason]) => `${file} ${String(pattern)} (${reason})`),
      );
      expect(stale).toEqual([]);
    });

    it('is imported by every module that checks factory options', () => {
      const checkers = [
        'lib/keys/key-manager.ts',
        'lib/keys/key-set.ts',
        'lib/keys/signer.ts',
        'lib/middleware/error-response.ts',
        'lib/middleware/guards.ts',
        'lib/middleware/metrics.ts',
        'lib/middleware/rate-limit.ts',
        'lib/middleware/require-token.ts',
        'lib/middleware/token-pipeline.ts',
        'lib/resource/checks.ts',
        'lib/resource/remote-issuer.ts',
        'lib/routers/api-key-router.ts',
        'lib/routers/auth-router.ts',
        'lib/routers/oauth/context.ts',
        'lib/routers/protected-resource-router.ts',
        'lib/routers/shared.ts',
        'lib/stores/memory-token-store.ts',
        'lib/stores/postgres-credential-store.ts',
        'lib/stores/postgres-key-store.ts',
        'lib/stores/redis-client.ts',
        'lib/stores/redis-connection.ts',
        'lib/stores/redis-key-store.ts',
        'lib/stores/redis-revocation-view.ts',
        'lib/stores/redis-store-core.ts',
        'lib/core/token-options.ts',
        'lib/server/seed-kit.ts',
        'lib/server/demo-app.ts',
      ];
      const without = checkers.filter((file) => !(graph.get(file) ?? []).includes('lib/util/options.ts'));
      expect(without).toEqual([]);
    });

    it('leaves no private copy of the quotable-string pattern behind', () => {
      const copies = [...graph.keys()]
        .filter((file) => file !== 'lib/util/options.ts')
        .filter((file) => code(join(ROOT, file)).includes(String.raw`/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/`));
      expect(copies).toEqual([]);
    });
  });

  describe('the facade of the core', () => {
    /**
     * The collaborators and kit-internal methods of TokenService, which only lib/core may touch.
     * Its plain configuration values (`issuer`, the lifetimes) stay readable: they are answers, not
     * handles on state; the layers above use the named methods (`reportAuthFailure`, `close`, `jwks`…).
     */
    const INTERNALS = ['store', 'guard', 'emit', 'hasher', 'binding', 'keys'];
    const REACH_IN = new RegExp(`\\btokens\\??\\.(?:${INTERNALS.join('|')})\\b`);

    it('finds a reach-in in a sample, and none in a named method call', () => {
      expect(REACH_IN.test('kit.tokens.emit({ type })')).toBe(true);
      expect(REACH_IN.test('tokens?.emit(event)')).toBe(true);
      expect(REACH_IN.test('await kit.tokens.store.close()')).toBe(true);
      expect(REACH_IN.test('kit.tokens.guard(() => call())')).toBe(true);
      expect(REACH_IN.test('this.tokens.hasher.hash(secret)')).toBe(true);
      expect(REACH_IN.test('kit.tokens.reportAuthFailure(code, ip)')).toBe(false);
      expect(REACH_IN.test('kit.tokens.storeUnavailable')).toBe(false);
      expect(REACH_IN.test('kit.tokens.issuer')).toBe(false);
    });

    it('is not reached into from outside lib/core (store, guard, emit, hasher, …)', () => {
      const offenders = [...graph.keys()]
        .filter((file) => !file.startsWith('lib/core/'))
        .flatMap((file) =>
          code(join(ROOT, file))
            .split('\n')
            .map((line, i) => ({ file, line: i + 1, text: line.trim() }))
            .filter(({ text }) => REACH_IN.test(text)),
        );
      expect(offenders).toEqual([]);
    });
  });

  describe('the token core', () => {
    const VERBS = ['issue', 'verify', 'verify-cache', 'auth-info', 'refresh', 'revoke'].map(
      (name) => `lib/core/token/${name}.ts`,
    );
    /** Each verb module may import only the ones listed (besides the context); nothing upward. */
    const ALLOWED: Record<string, readonly string[]> = {
      'lib/core/token/auth-info.ts': [],
      'lib/core/token/verify-cache.ts': ['lib/core/token/auth-info.ts'],
      'lib/core/token/verify.ts': ['lib/core/token/auth-info.ts', 'lib/core/token/verify-cache.ts'],
      'lib/core/token/issue.ts': [],
      'lib/core/token/refresh.ts': [],
      'lib/core/token/revoke.ts': [
        'lib/core/token/refresh.ts',
        'lib/core/token/verify.ts',
        'lib/core/token/verify-cache.ts',
      ],
    };

    it('is split by verb over one context, behind the facade', () => {
      for (const file of ['lib/core/token/context.ts', 'lib/core/token-options.ts', ...VERBS]) {
        expect(graph.has(file)).toBe(true);
      }
      expect(graph.get('lib/core/token-service.ts')).toEqual(
        expect.arrayContaining(['lib/core/token/context.ts', 'lib/core/token-options.ts']),
      );
    });

    it('has a context and option module that import no verb module and not the facade', () => {
      for (const file of ['lib/core/token/context.ts', 'lib/core/token-options.ts']) {
        expect({
          file,
          imports: (graph.get(file) ?? []).filter((t) => t.startsWith('lib/core/token')),
        }).toEqual({
          file,
          imports: file === 'lib/core/token/context.ts' ? ['lib/core/token-options.ts'] : [],
        });
      }
    });

    it('has verb modules that import the context and each other only downward, never the facade', () => {
      for (const file of VERBS) {
        const local = (graph.get(file) ?? []).filter(
          (t) => t.startsWith('lib/core/token/') || t === 'lib/core/token-service.ts',
        );
        const extra = local.filter((t) => t !== 'lib/core/token/context.ts' && !ALLOWED[file]!.includes(t));
        expect({ file, extra }).toEqual({ file, extra: [] });
      }
    });

    it('is the only place lib/core builds a service_unavailable error', () => {
      const builders = [...graph.keys()]
        .filter((file) => file.startsWith('lib/core/token') && file.endsWith('.ts'))
        .filter((file) =>
          /serviceUnavailable\(|new TokenError\(\s*'service_unavailable'/.test(code(join(ROOT, file))),
        );
      expect(builders).toEqual(['lib/core/token/context.ts']);
    });

    it('builds every 503 of lib/ through serviceUnavailable (lib/errors.ts)', () => {
      const builders = [...graph.keys()]
        .filter((file) => file.endsWith('.ts'))
        .filter((file) => /new TokenError\(\s*'service_unavailable'/.test(code(join(ROOT, file))));
      expect(builders).toEqual(['lib/errors.ts']);
    });
  });
});
