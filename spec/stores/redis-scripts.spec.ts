/**
 * Every key a Lua script of the Redis store touches is declared in KEYS (Redis Cluster requires it:
 * a key built inside a script may live in another slot, or another node). A static check of the
 * script sources: the key argument of every `redis.call` must be `KEYS[...]`, or a parameter of a
 * helper function that every caller passes such a key, and the command must take a single key.
 * The Cluster spec (redis-cluster.spec.ts) runs the same scripts on a real Cluster.
 */
import { STORE_SCRIPTS } from '../../lib/stores/redis-scripts';
import type { StoreScript } from '../../lib/stores/redis-scripts';

/** Commands the scripts may call, each with its one key as first argument. */
const SINGLE_KEY_COMMANDS = new Set([
  'GET',
  'SET',
  'PTTL',
  'EXISTS',
  'DEL',
  'HSET',
  'HGET',
  'HMGET',
  'HEXISTS',
  'PEXPIREAT',
  'SADD',
  'SREM',
  'SMEMBERS',
  'SCARD',
  'SISMEMBER',
]);
/** Commands that take several keys when given several arguments. */
const VARIADIC_KEY_COMMANDS = new Set(['EXISTS', 'DEL']);

const KEYS_ENTRY = /^KEYS\[[^\]]+\]$/;

/** Lua source without `--` comments (the scripts have no `--` inside strings). */
function stripComments(lua: string): string {
  return lua.replace(/--[^\n]*/g, '');
}

/** The arguments of the call whose `(` is at `open`, split at top-level commas. */
function callArguments(src: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (let i = open + 1; i < src.length; i++) {
    const c = src[i]!;
    if (quote !== null) {
      current += c;
      if (c === quote && src[i - 1] !== '\\') quote = null;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === '(' || c === '{' || c === '[') {
      depth++;
      current += c;
    } else if ((c === ')' || c === '}' || c === ']') && depth > 0) {
      depth--;
      current += c;
    } else if (c === ')') {
      args.push(current.trim());
      return args;
    } else if (c === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  throw new Error(`unbalanced call at ${open}`);
}

interface LuaFunction {
  readonly name: string;
  readonly params: readonly string[];
  readonly start: number;
  readonly end: number;
}

/** Top-level `local function` definitions: from the header to the first `end` at column 0. */
function functionsOf(src: string): LuaFunction[] {
  const out: LuaFunction[] = [];
  const header = /^local function (\w+)\(([^)]*)\)/gm;
  for (let m = header.exec(src); m !== null; m = header.exec(src)) {
    const end = src.indexOf('\nend', m.index);
    out.push({
      name: m[1]!,
      params: m[2]!
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
      start: m.index,
      end: end < 0 ? src.length : end,
    });
  }
  return out;
}

/**
 * The violations of one script: `redis.call`s whose key is not provably from KEYS, commands that are
 * not single-key, and `redis.pcall` (not used; would need the same check).
 */
function keyViolations(script: StoreScript): string[] {
  const src = stripComments(script.lua);
  const functions = functionsOf(src);
  const violations: string[] = [];
  const enclosing = (at: number): LuaFunction | undefined =>
    functions.find((f) => at > f.start && at < f.end);
  /** Positions where `fn` is called (not defined). */
  const callSites = (fn: LuaFunction): number[] => {
    const sites: number[] = [];
    const pattern = new RegExp(`(?<![\\w.])${fn.name}\\(`, 'g');
    for (let m = pattern.exec(src); m !== null; m = pattern.exec(src)) {
      if (src.slice(Math.max(0, m.index - 9), m.index) !== 'function ') sites.push(m.index);
    }
    return sites;
  };
  /** True when code at `at` can run: outside every helper, or in a helper called from such code. */
  const runs = (at: number, seen = new Set<string>()): boolean => {
    const fn = enclosing(at);
    if (fn === undefined) return true;
    if (seen.has(fn.name)) return false;
    seen.add(fn.name);
    return callSites(fn).some((site) => runs(site, seen));
  };

  /** True when `expr`, at position `at`, is a key from KEYS (following helper parameters to their callers). */
  const isKey = (expr: string, at: number, seen: Set<string>): boolean => {
    if (KEYS_ENTRY.test(expr)) return true;
    if (!/^\w+$/.test(expr)) return false;
    const fn = enclosing(at);
    const index = fn?.params.indexOf(expr) ?? -1;
    if (fn === undefined || index < 0) return false;
    const marker = `${fn.name}#${index}`;
    if (seen.has(marker)) return true;
    seen.add(marker);
    for (const site of callSites(fn)) {
      if (!runs(site)) continue;
      const arg = callArguments(src, site + fn.name.length)[index];
      if (arg === undefined || !isKey(arg, site, seen)) return false;
    }
    return true;
  };

  if (/redis\.pcall\s*\(/.test(src)) violations.push('uses redis.pcall');
  const call = /redis\.call\s*\(/g;
  for (let m = call.exec(src); m !== null; m = call.exec(src)) {
    if (!runs(m.index)) continue; // in a helper this script never calls
    const args = callArguments(src, m.index + m[0].length - 1);
    const [command = '', key = ''] = args;
    const name = /^'(\w+)'$/.exec(command)?.[1]?.toUpperCase();
    const text = `redis.call(${args.join(', ')})`;
    if (name === undefined || !SINGLE_KEY_COMMANDS.has(name)) {
      violations.push(`${text}: not a known single-key command`);
    } else if (VARIADIC_KEY_COMMANDS.has(name) && args.length !== 2) {
      violations.push(`${text}: more than one key`);
    } else if (!isKey(key, m.index, new Set())) {
      violations.push(`${text}: key not from KEYS`);
    }
  }
  return violations;
}

describe('the Lua scripts of the Redis store', () => {
  describe('when their sources are checked', () => {
    it.each(STORE_SCRIPTS.map((s) => [s.name, s] as const))(
      '%s touches only keys it declares in KEYS',
      (_, script) => {
        expect(keyViolations(script)).toEqual([]);
      },
    );
  });

  describe('when the check itself is given scripts that build keys', () => {
    const common = `
local function marker(key)
  if redis.call('GET', key) then return 1 end
  return 0
end
`;
    const bad: [string, string][] = [
      ['a key from ARGV', `return redis.call('GET', ARGV[1])`],
      ['a key built from a prefix', `return redis.call('GET', ARGV[1] .. 'cs:' .. ARGV[2])`],
      [
        'a key built from a stored value',
        `local id = redis.call('GET', KEYS[1])\nreturn redis.call('HGET', id, 'v')`,
      ],
      ['a helper given a built key', `return marker(ARGV[1] .. 'rj:' .. KEYS[1])`],
      ['a multi-key command', `return redis.call('MGET', KEYS[1], KEYS[2])`],
      ['EXISTS of two keys', `return redis.call('EXISTS', KEYS[1], KEYS[2])`],
      ['a command chosen at run time', `return redis.call(ARGV[1], KEYS[1])`],
      ['redis.pcall', `return redis.pcall('GET', KEYS[1])`],
    ];
    it.each(bad)('flags %s', (_, body) => {
      expect(keyViolations({ name: 'bad', lua: common + body })).not.toEqual([]);
    });

    it('accepts keys from KEYS, directly and through helpers', () => {
      const body = `
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return { marker(KEYS[1]), redis.call('HMGET', KEYS[2], 'v', 'd') }
`;
      expect(keyViolations({ name: 'good', lua: common + body })).toEqual([]);
    });
  });
});
