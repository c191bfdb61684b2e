/**
 * `npm run docs:api`: typedoc + typedoc-plugin-markdown render the API reference of everything the
 * entry points export (lib/index.ts, lib/redis.ts, lib/postgres.ts, lib/testing/index.ts), and
 * every exported symbol has a TSDoc summary.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const TYPEDOC = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
/** Reflection kinds of top-level exports; a warning about one of them is an undocumented export. */
const TOP_LEVEL =
  /\((Class|Function|Interface|TypeAlias|Variable|Enum|Namespace)\), defined in .* does not have any documentation/;

describe('npm run docs:api', () => {
  let out: string;
  let warnings: string[];
  let markdown: string;

  beforeAll(async () => {
    out = await mkdtemp(path.join(os.tmpdir(), 'etk-typedoc-'));
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [TYPEDOC, '--out', out, '--logLevel', 'Warn'],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    warnings = `${stdout}\n${stderr}`.split('\n').filter((line) => line.includes('warning'));
    const files = await readdir(out, { recursive: true });
    const texts = await Promise.all(
      files.filter((f) => f.endsWith('.md')).map((f) => readFile(path.join(out, f), 'utf8')),
    );
    markdown = texts.join('\n');
  }, 120_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('documents every export of every entry point with a TSDoc summary', () => {
    expect(warnings.filter((line) => TOP_LEVEL.test(line))).toEqual([]);
  });

  it('renders none of the internals the main entry no longer exports', () => {
    for (const internal of [
      'storeUnavailable',
      'bearerChallenge',
      'SecretHasher',
      'isUuid',
      'DEFAULT_REALM',
    ]) {
      expect([internal, new RegExp(`^#+ .*\\b${internal}\\b`, 'm').test(markdown)]).toEqual([
        internal,
        false,
      ]);
    }
  });

  it.each([
    'requireToken',
    'createTokenKit',
    'createApiKeyRouter',
    'createOAuthRouter',
    'RedisTokenStore',
    'RedisCredentialStore',
    'MemoryCredentialStore',
    'TokenError',
    'PostgresCredentialStore',
    'describeTokenStoreContract',
    'describeCredentialStoreContract',
  ])('renders %s as Markdown', (symbol) => {
    expect(markdown).toMatch(new RegExp(`^#+ .*\\b${symbol}\\b`, 'm'));
  });
});
