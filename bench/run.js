'use strict';
/**
 * `npm run bench`: verification at N distinct tokens and issuance, beside bare Express 5 and the
 * peers (jose, express-oauth2-jwt-bearer, express-jwt, oidc-provider), with and without revocation
 * churn from a second instance; then a memory pass and revocation propagation. Writes
 * docs/performance.md (tables, targets, PASS/FAIL) and docs/performance-ratio.svg.
 *
 * A unit is one scenario at one N, with or without churn. Every round runs every unit once in a
 * shuffled order against a fresh server (`bench/server.js`, pinned to CPU 0): it checks its own
 * correctness, autocannon (`bench/load.js`, CPU 1) runs a warm-up (in which the server counts the
 * distinct tokens it receives) and the measured window, the server's CPU time and RSS are read
 * around it, and the checks run again, with a cross-instance revocation check where the scenario
 * enforces revocation. Any non-2xx, socket error, timeout or failed check fails that unit loudly:
 * the report says so and the bench exits 1.
 *
 * Env: BENCH_DURATION (s), BENCH_WARMUP (s), BENCH_ROUNDS, BENCH_N (e.g. `1,1000,100000`),
 * BENCH_SCENARIOS (comma-separated names), BENCH_CHURN (0: without churn only, 1: with churn
 * only; unset: both), BENCH_CHURN_RATE (revocations/s, 50), BENCH_CONNECTIONS (50),
 * BENCH_MEMORY_N (the memory pass: requests over as many tokens; 0 skips it), BENCH_SEED,
 * BENCH_PROPAGATION_TRIALS, BENCH_REPLICA, BENCH_VIEW_OPTIONS, BENCH_KIT_OPTIONS (see
 * bench/features.js), BENCH_QUICK=1 (a smoke run of a few seconds per unit), BENCH_DRY=1 (print the
 * plan and the estimate, run nothing), BENCH_NO_PIN=1, BENCH_NO_DOC=1, BENCH_DIST (the build to
 * measure; default dist/), REDIS_URL.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const SCENARIOS = require('./scenarios');
const { measurePropagation, formatPropagation } = require('./propagation');
const { describeFeatures, supportsReplica, viewOptions } = require('./features');
const tokens = require('./tokens');
const { ratioChart } = require('./chart');
const {
  ROOT,
  connectRedis,
  deleteKeys,
  hasTaskset,
  loadAverage,
  loadKit,
  machine,
  median,
  pinned,
  pinningEnabled,
  snapshotDist,
  sleep,
  startRedis,
  table,
  version,
  writeDocSection,
} = require('./common');

function intEnv(name, fallback, min = 0) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${name} must be an integer ≥ ${min}`);
  return n;
}

const QUICK = process.env.BENCH_QUICK === '1';
const nList = (process.env.BENCH_N ?? (QUICK ? '1,1000' : '1,1000,100000')).split(',').map((v) => {
  const n = Number(v.trim().replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`BENCH_N: ${v} is not a positive integer`);
  if (QUICK && n > 1000) throw new RangeError('BENCH_QUICK=1 runs N up to 1000');
  return n;
});
const settings = {
  quick: QUICK,
  duration: intEnv('BENCH_DURATION', QUICK ? 2 : 5, 1),
  warmup: intEnv('BENCH_WARMUP', QUICK ? 1 : 2, 0),
  rounds: intEnv('BENCH_ROUNDS', QUICK ? 1 : 2, 1),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  trials: intEnv('BENCH_PROPAGATION_TRIALS', QUICK ? 20 : 200, 1),
  seed: intEnv('BENCH_SEED', Date.now() % 1_000_000, 0),
  churnRate: intEnv('BENCH_CHURN_RATE', 50, 1),
  memoryN: intEnv('BENCH_MEMORY_N', QUICK ? 1000 : 100_000, 0),
  ns: [...new Set(nList)].sort((a, b) => a - b),
  churn: process.env.BENCH_CHURN === undefined || process.env.BENCH_CHURN === '' ? [false, true] : null,
};
if (!settings.churn) {
  if (!['0', '1'].includes(process.env.BENCH_CHURN)) throw new RangeError('BENCH_CHURN must be 0 or 1');
  settings.churn = [process.env.BENCH_CHURN === '1'];
}
const wanted = process.env.BENCH_SCENARIOS
  ? process.env.BENCH_SCENARIOS.split(',').map((s) => s.trim())
  : null;
if (wanted) {
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown BENCH_SCENARIOS: ${unknown.join(', ')}`);
}
// bare is the baseline of every verification ratio, oidc-provider of every issuance ratio.
const replicaBuild = supportsReplica(loadKit());
const scenarios = SCENARIOS.filter((s) => {
  if (s.requires === 'replica' && !replicaBuild) return false;
  if (!wanted) return !s.optional;
  if (wanted.includes(s.name)) return true;
  if (s.name === 'bare') return SCENARIOS.some((x) => x.group === 'verify' && wanted.includes(x.name));
  if (s.name === 'oidc-cc-rs256')
    return SCENARIOS.some((x) => x.group === 'issue' && wanted.includes(x.name));
  return false;
});
for (const s of SCENARIOS)
  if (wanted?.includes(s.name) && s.requires === 'replica' && !replicaBuild)
    console.warn(`bench: ${s.name} skipped: this build's RedisRevocationView has no replica option`);
/** The Redis key prefix (and so revocation channel) every verification server and churn share. */
const KIT_PREFIX = 'bench:kit:';

/** Every unit of a round: verification scenarios × N × churn, issuance scenarios once. */
function units() {
  const out = [];
  for (const s of scenarios) {
    if (s.group === 'issue') {
      out.push({ scenario: s, n: null, churn: false, key: `${s.name}|-|0` });
      continue;
    }
    for (const n of settings.ns) {
      for (const churn of settings.churn) {
        if (churn && !s.churn) continue;
        out.push({ scenario: s, n, churn, key: `${s.name}|${n}|${churn ? 1 : 0}` });
      }
    }
  }
  return out;
}

/** mulberry32: a small seeded PRNG, so a round order can be replayed with BENCH_SEED. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(list, random) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// --- child processes ------------------------------------------------------------------------------

/** Spawns a node script (pinned) and resolves with its `<TAG> {json}` line. */
function spawnNode(cpu, script, args, env, tag) {
  const [cmd, cmdArgs] = pinned(cpu, process.execPath, [path.join(__dirname, script), ...args]);
  const child = spawn(cmd, cmdArgs, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const waitFor = (t) =>
    new Promise((resolve, reject) => {
      const look = () => {
        const m = new RegExp(`^${t} (.*)$`, 'm').exec(stdout);
        if (m) resolve(JSON.parse(m[1]));
        return Boolean(m);
      };
      if (look()) return;
      child.stdout.on('data', look);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        if (!look())
          reject(new Error(`${script} ${args.join(' ')} exited (${code ?? signal}) before ${t}:\n${stderr}`));
      });
    });
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  return { child, line: waitFor(tag), waitFor, stderr: () => stderr };
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// --- correctness checks ---------------------------------------------------------------------------

async function request(port, { method = 'GET', path: p, headers = {}, body }) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function runChecks(name, port, checks) {
  for (const check of checks) {
    const res = await request(port, check);
    const fail = (why) => {
      throw new Error(
        `${name}: check "${check.name}" failed: ${why} (status ${res.status}, body ${res.text.slice(0, 300)})`,
      );
    };
    if (res.status !== check.status) fail(`expected status ${check.status}`);
    for (const [k, v] of Object.entries(check.json ?? {}))
      if (res.json?.[k] !== v) fail(`expected ${k}=${v}`);
    if (check.issued) {
      const b = res.json ?? {};
      if (typeof b.access_token !== 'string' || b.access_token.length < 20) fail('no access_token');
      if (String(b.token_type).toLowerCase() !== 'bearer') fail('token_type is not Bearer');
      if (typeof b.expires_in !== 'number' || b.expires_in <= 0) fail('no expires_in');
      const used = await request(port, {
        path: check.issued,
        headers: { authorization: `Bearer ${b.access_token}` },
      });
      if (used.status !== 200 || used.json?.ok !== true)
        fail(`the issued token is refused by ${check.issued}`);
      const forged = `${b.access_token.slice(0, -3)}${b.access_token.endsWith('AAA') ? 'BBB' : 'AAA'}`;
      const refused = await request(port, {
        path: check.issued,
        headers: { authorization: `Bearer ${forged}` },
      });
      if (refused.status !== 401) fail(`an altered issued token got ${refused.status} from ${check.issued}`);
    }
  }
}

/**
 * Another instance (a kit on the same Redis, prefix and channel, with its own revocation view)
 * that issues and revokes tokens for the cross-instance revocation checks.
 */
class OtherInstance {
  constructor(kitLib, redisUrl) {
    this.kitLib = kitLib;
    this.redisUrl = redisUrl;
    this.kits = new Map();
  }

  async kit(alg) {
    if (!this.kits.has(alg)) {
      const kitLib = this.kitLib;
      if (!this.client) {
        this.client = await connectRedis(this.redisUrl);
        // The store first: it creates the revocation log a replica looks for at start.
        this.store = new kitLib.RedisTokenStore({ client: this.client, keyPrefix: KIT_PREFIX });
        this.view = await kitLib.RedisRevocationView.start({
          client: this.client,
          channel: `${KIT_PREFIX}revocations`,
          ...viewOptions(kitLib),
        });
      }
      const key = await tokens.benchKey(alg);
      this.kits.set(
        alg,
        kitLib.createTokenKit({
          store: this.store,
          keys: kitLib.createKeySet({ keys: [key.keyInput] }),
          issuer: tokens.ISSUER,
          revocationView: this.view,
        }),
      );
    }
    return this.kits.get(alg);
  }

  async issue(alg, format, subject) {
    const kit = await this.kit(alg);
    const { token } = await kit.tokens.issueAccessToken({
      subject,
      clientId: tokens.CLIENT_ID,
      scope: 'read',
      format,
    });
    return token;
  }

  async revoke(alg, token) {
    if (!(await (await this.kit(alg)).tokens.revokeToken(token)))
      throw new Error('revokeToken returned false');
  }

  async close() {
    await this.view?.close().catch(() => undefined);
    await this.client?.quit().catch(() => undefined);
  }
}

/** Polls GET /resource with `token` until it answers `status`; returns the ms it took. */
async function until(port, token, status, ms) {
  const t0 = performance.now();
  let last;
  for (;;) {
    last = await request(port, { path: '/resource', headers: { authorization: `Bearer ${token}` } });
    if (last.status === status) return performance.now() - t0;
    if (performance.now() - t0 > ms)
      throw new Error(
        `expected ${status} within ${ms} ms, still ${last.status} (${last.text.slice(0, 200)})`,
      );
    await sleep(2);
  }
}

/**
 * Revocation across instances, on the live server after the load: a token it has accepted (so
 * cached) and then revoked elsewhere gets 401; so does a token it has never seen, revoked
 * elsewhere before its first request.
 */
async function revocationChecks(unit, port, other) {
  const s = unit.scenario;
  const alg = s.tokens.startsWith('jwt-') ? s.tokens.slice(4).toUpperCase() : 'RS256';
  const format = s.tokens === 'opaque' ? 'opaque' : 'jwt';
  const tag = `${s.name}-${unit.n}-${unit.churn ? 1 : 0}-${Date.now()}`;
  try {
    const seen = await other.issue(alg, format, `check-seen-${tag}`);
    await until(port, seen, 200, 2000);
    await request(port, { path: '/resource', headers: { authorization: `Bearer ${seen}` } });
    await other.revoke(alg, seen);
    const seenMs = await until(port, seen, 401, 2000);
    const unseen = await other.issue(alg, format, `check-unseen-${tag}`);
    await other.revoke(alg, unseen);
    const unseenMs = await until(port, unseen, 401, 2000);
    return { seenMs, unseenMs };
  } catch (err) {
    throw new Error(`${s.name}: revocation on another instance not enforced: ${err.message}`);
  }
}

// --- one unit ---------------------------------------------------------------------------------------

/** Runs one unit against a fresh server; `amount` runs exactly that many requests (memory pass). */
async function runUnit(unit, ctx, { amount } = {}) {
  const s = unit.scenario;
  const verify = s.group === 'verify';
  const prefix = verify ? KIT_PREFIX : `bench:${s.name}:${ctx.tag}:`;
  const server = spawnNode(
    0,
    'server.js',
    [s.name],
    { REDIS_URL: ctx.redis.url, BENCH_PREFIX: prefix, NODE_ENV: 'production' },
    'BENCH_READY',
  );
  let churn;
  const problems = [];
  try {
    const spec = await withTimeout(server.line, 30_000, `${s.name}: server not ready`);
    await runChecks(s.name, spec.port, spec.checks);
    if (unit.churn) {
      churn = spawnNode(
        1,
        'churn.js',
        [
          JSON.stringify({
            redisUrl: ctx.redis.url,
            prefix: KIT_PREFIX,
            format: s.tokens === 'opaque' ? 'opaque' : 'jwt',
            alg: s.tokens.startsWith('jwt-') ? s.tokens.slice(4).toUpperCase() : 'RS256',
            rate: settings.churnRate,
            seconds: settings.warmup + settings.duration + 2,
          }),
        ],
        {},
        'CHURN_READY',
      );
      await withTimeout(churn.line, 60_000, `${s.name}: churn not ready`);
    }
    const load = spawnNode(
      1,
      'load.js',
      [
        JSON.stringify({
          origin: `http://127.0.0.1:${spec.port}`,
          path: spec.load.path,
          method: spec.load.method,
          headers: spec.load.headers,
          body: spec.load.body,
          connections: settings.connections,
          warmup: amount ? 0 : settings.warmup,
          duration: settings.duration,
          amount,
          tokensFile: spec.load.tokens ? ctx.tokenFiles[s.tokens] : undefined,
          n: spec.load.tokens ? (unit.n ?? 1) : undefined,
        }),
      ],
      {},
      'BENCH_RESULT',
    );
    const loadLimit = amount ? 900_000 : (settings.warmup + settings.duration) * 1000 + 120_000;
    const result = await withTimeout(load.line, loadLimit, `${s.name}: the load did not finish`).finally(() =>
      stopChild(load.child),
    );
    await stopChild(load.child);
    let churnResult = null;
    if (churn) {
      churn.child.stdin.end();
      churnResult = await withTimeout(churn.waitFor('CHURN_RESULT'), 10_000, `${s.name}: churn result`);
      if (churnResult.errors > 0)
        problems.push(`churn: ${churnResult.errors} failed revocations (${churnResult.lastError})`);
      if (churnResult.rate < settings.churnRate * 0.9)
        problems.push(`churn: ${churnResult.rate.toFixed(1)} revocations/s, below ${settings.churnRate}`);
    }
    const phases = [result.warmup, result.measured].filter(Boolean);
    const count = (f) => phases.reduce((a, x) => a + f(x), 0);
    const non2xx = count((x) => x.non2xx);
    const errors = count((x) => x.errors + x.timeouts + x.resets);
    if (non2xx > 0) {
      const codes = phases.map((x) => JSON.stringify(x.statusCodes)).join(' then ');
      problems.push(`${non2xx} non-2xx responses (status codes ${codes})`);
    }
    if (errors > 0) problems.push(`${errors} socket errors, timeouts or resets`);
    if (result.serverErrors > 0)
      problems.push(`${result.serverErrors} responses ≥ 500 counted by the server`);
    if (result.distinct) {
      const { seen, sent, n } = result.distinct;
      // Every request of the pass carried the next token: the server must have seen
      // min(sent, n) distinct ones (less the few still in flight when the pass stopped).
      const expected = Math.min(sent, n);
      const short =
        sent >= n + 2 * settings.connections ? seen !== n : seen < expected - 2 * settings.connections;
      if (seen > n || short || (n === 1 && seen !== 1))
        problems.push(
          `the server saw ${seen} distinct tokens, ${expected} expected (${sent} sent over N = ${n})`,
        );
    }
    await runChecks(s.name, spec.port, spec.checks);
    let revocation = null;
    if (s.revocation && !spec.revocation)
      problems.push('it claims to enforce revocation but has no revoked-token check');
    else if (s.revocation) revocation = await revocationChecks(unit, spec.port, ctx.other);
    return { ...result, churn: churnResult, revocation, view: spec.view, problems };
  } catch (err) {
    problems.push(err.message.split('\n')[0]);
    return { problems, failedEarly: true, stderr: server.stderr().slice(-2000) };
  } finally {
    if (churn) await stopChild(churn.child);
    await stopChild(server.child);
  }
}

// --- report -----------------------------------------------------------------------------------------

function fmt(n, digits = 0) {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
}

const perCpu = (r) => r.measured.total / r.serverCpuSeconds;
const MiB = 2 ** 20;

function summarise(results, memory) {
  // results[round][unit.key] = result
  const rows = units().map((unit) => {
    const runs = results.map((r) => r[unit.key]).filter((r) => r && !r.failedEarly);
    const baseKey = unit.scenario.group === 'verify' ? `bare|${unit.n}|${unit.churn ? 1 : 0}` : null;
    const ratios = baseKey
      ? results
          .filter((r) => r[unit.key] && !r[unit.key].failedEarly && r[baseKey] && !r[baseKey].failedEarly)
          .map((r) => perCpu(r[unit.key]) / perCpu(r[baseKey]))
      : [];
    const all = results.map((r) => r[unit.key]).filter(Boolean);
    const sum = (f) => runs.reduce((a, r) => a + f(r), 0);
    return {
      unit,
      runs: runs.length,
      rps: median(runs.map((r) => r.measured.rps)),
      perCpu: median(runs.map(perCpu)),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      p50: median(runs.map((r) => r.measured.p50)),
      p99: median(runs.map((r) => r.measured.p99)),
      rssMiB: median(runs.map((r) => r.serverRss / MiB)),
      non2xx: sum((r) => r.measured.non2xx + (r.warmup?.non2xx ?? 0)),
      errors: sum(
        (r) =>
          r.measured.errors +
          r.measured.timeouts +
          r.measured.resets +
          (r.warmup ? r.warmup.errors + r.warmup.timeouts + r.warmup.resets : 0),
      ),
      distinct: runs.map((r) => r.distinct?.seen).filter((v) => v !== undefined && v !== null),
      churnRate: median(runs.map((r) => r.churn?.rate).filter(Number.isFinite)),
      revocation: runs.map((r) => r.revocation).filter(Boolean),
      views: runs.map((r) => r.view?.replicating).filter((v) => typeof v === 'boolean'),
      problems: all.flatMap((r) => r.problems),
    };
  });
  const row = (name, n, churn) =>
    rows.find((r) => r.unit.scenario.name === name && r.unit.n === n && r.unit.churn === churn);
  const issuance = (a, b) => {
    const both = results.filter((r) => r[`${a}|-|0`] && r[`${b}|-|0`]);
    const ok = both.filter((r) => !r[`${a}|-|0`].failedEarly && !r[`${b}|-|0`].failedEarly);
    const v = ok.map((r) => perCpu(r[`${a}|-|0`]) / perCpu(r[`${b}|-|0`]));
    return { median: median(v), min: Math.min(...v), max: Math.max(...v) };
  };
  const issuanceRatios = [
    ['c-cc-rs256', '`createAuthRouter` client_credentials RS256', 1.3],
    ['d-cc-rs256', '`createOAuthRouter` /oauth/token RS256', 1.3],
    ['c-cc-es256', '`createAuthRouter` client_credentials ES256', 3],
    ['d-cc-es256', '`createOAuthRouter` /oauth/token ES256', 3],
    ['a-access-tokens', '`createApiKeyRouter` /access-tokens (opaque)', null],
  ]
    .filter(
      ([name]) => scenarios.some((s) => s.name === name) && scenarios.some((s) => s.name === 'oidc-cc-rs256'),
    )
    .map(([name, label, target]) => ({ name, label, target, ...issuance(name, 'oidc-cc-rs256') }));
  const memoryRows = (memory ?? []).map((m) => ({
    ...m,
    rssMiB: m.result.failedEarly ? NaN : m.result.serverRss / MiB,
  }));
  return { rows, row, issuanceRatios, memoryRows };
}

const PEERS = ['jose-rs256', 'auth0-rs256', 'ejwt-rs256'];

/** The reference rows the verification targets are read against (bench/scenarios.js). */
const EMPTY_MIDDLEWARE = { name: 'noop-middleware', what: 'one empty middleware' };
const SIGNATURE_ALONE = { name: 'floor-rs256', what: 'the RS256 signature check alone' };

/** The issue's targets, each PASS, FAIL or NOT MEASURED, with the figures behind it. */
function targets(summary, propagation) {
  const out = [];
  const verdict = (ok) => (ok === null ? 'NOT MEASURED' : ok ? 'PASS' : 'FAIL');
  const clean = (r) => r && r.runs > 0 && r.problems.length === 0;
  const churnLabel = (c) => (c ? 'with churn' : 'no churn');
  // the reference a target is read against: the same N, no churn (a ceiling checks no revocation)
  const ceilingOf = (ceiling, n) => {
    const r = ceiling && summary.row(ceiling.name, n, false);
    return r ? `, ceiling ${fmt(r.ratio, 2)} (${ceiling.what})` : '';
  };
  const ratioTarget = (name, what, test, floorFor, ceiling) => {
    for (const churn of settings.churn) {
      const cells = settings.ns.filter(test).map((n) => ({ n, r: summary.row(name, n, churn) }));
      if (cells.length === 0 || cells.every((c) => !c.r)) {
        out.push({
          target: `${what}, ${churnLabel(churn)}`,
          measured: `not run (BENCH_N=${settings.ns.join(',')}, BENCH_SCENARIOS)`,
          verdict: verdict(null),
        });
        continue;
      }
      const ok = cells.every((c) => clean(c.r) && c.r.ratio >= floorFor(c.n));
      out.push({
        target: `${what}, ${churnLabel(churn)}`,
        measured: cells
          .map(
            (c) =>
              `N = ${fmt(c.n)}: ${c.r ? `${fmt(c.r.ratio, 2)}${clean(c.r) ? '' : ' (failed)'}` : '–'}${ceilingOf(ceiling, c.n)}`,
          )
          .join('; '),
        verdict: verdict(cells.some((c) => !c.r) ? null : ok),
      });
    }
  };
  const small = (n) => n <= 10_000;
  ratioTarget(
    'rt-rs256',
    'requireToken RS256 + revocation ≥ 0.95× bare Express at N ≤ 10 000',
    small,
    () => 0.95,
    EMPTY_MIDDLEWARE,
  );
  ratioTarget(
    'rt-rs256',
    'requireToken RS256 + revocation ≥ 0.75× bare Express at N = 100 000',
    (n) => n === 100_000,
    () => 0.75,
    SIGNATURE_ALONE,
  );
  ratioTarget(
    'rt-opaque',
    'Opaque tokens ≥ 0.85× bare Express at N = 100 000',
    (n) => n === 100_000,
    () => 0.85,
  );
  for (const churn of settings.churn) {
    const cells = [];
    for (const n of settings.ns) {
      const kit = summary.row('rt-rs256', n, churn);
      const peers = PEERS.map((p) => summary.row(p, n, false)).filter(Boolean);
      if (!kit || peers.length === 0) continue;
      const best = peers.reduce((a, b) => (b.ratio > a.ratio ? b : a));
      cells.push({
        n,
        ok: clean(kit) && peers.every((p) => kit.ratio > p.ratio),
        kit,
        best,
        all: peers.length === PEERS.length,
      });
    }
    if (cells.length === 0) continue;
    out.push({
      target: `requireToken RS256 + revocation ahead of jose, express-oauth2-jwt-bearer and express-jwt at every N, ${churnLabel(churn)}`,
      measured: cells
        .map(
          (c) =>
            `N = ${fmt(c.n)}: ${fmt(c.kit.ratio, 2)} vs best peer ${fmt(c.best.ratio, 2)} (${c.best.unit.scenario.name})`,
        )
        .join('; '),
      verdict: verdict(cells.every((c) => c.all) ? cells.every((c) => c.ok) : null),
    });
  }
  const jose = summary.memoryRows.find((m) => m.name === 'jose-rs256');
  for (const m of summary.memoryRows.filter((x) => x.revocation)) {
    out.push({
      target: `Server RSS after ${fmt(settings.memoryN)} requests over ${fmt(settings.memoryN)} tokens ≤ 1.5× jose's: ${m.name}`,
      measured: `${fmt(m.rssMiB, 0)} MiB vs jose ${jose ? fmt(jose.rssMiB, 0) : '–'} MiB (${jose ? fmt(m.rssMiB / jose.rssMiB, 2) : '–'}×)`,
      verdict: verdict(
        !jose || settings.memoryN !== 100_000
          ? null
          : m.result.problems.length === 0 && m.rssMiB <= 1.5 * jose.rssMiB,
      ),
    });
  }
  for (const r of summary.issuanceRatios.filter((x) => x.target)) {
    out.push({
      target: `${r.label} ≥ ${r.target}× oidc-provider per server CPU-second`,
      measured: `${fmt(r.median, 2)} (rounds ${fmt(r.min, 2)}–${fmt(r.max, 2)})`,
      verdict: verdict(Number.isFinite(r.median) ? r.median >= r.target : null),
    });
  }
  if (propagation) {
    const p = propagation;
    out.push({
      target: 'Revocation on every instance within 100 ms (p99, under load), seen and never-seen tokens',
      measured: p.instances
        .map(
          (i) =>
            `${i.name}: seen p99 ${i.seen.p99.toFixed(1)} ms, never seen p99 ${i.unseen.p99.toFixed(1)} ms`,
        )
        .join('; '),
      verdict: verdict(p.instances.every((i) => i.seen.p99 <= 100 && i.unseen.p99 <= 100)),
    });
    out.push({
      target: 'Fail-closed when the store is unreachable',
      measured: p.failClosed.description,
      verdict: verdict(p.failClosed.ok),
    });
  }
  const revocationRows = summary.rows.filter((r) => r.unit.scenario.revocation && r.runs > 0);
  if (revocationRows.length) {
    out.push({
      target:
        'Every requireToken scenario refuses a token revoked on another instance, seen and never seen (after each run)',
      measured: `${revocationRows.reduce((a, r) => a + r.revocation.length, 0)} checks over ${revocationRows.length} units`,
      verdict: verdict(revocationRows.every((r) => r.revocation.length === r.runs)),
    });
  }
  return out;
}

function throughputTable(rows) {
  return table(
    [
      'Scenario',
      'N',
      'churn',
      'req/s',
      'req per server CPU-s',
      '× bare, per CPU-s',
      'spread over rounds',
      'p50 ms',
      'p99 ms',
      'RSS MiB',
      'non-2xx',
      'errors',
      'status',
    ],
    rows.map((r) => [
      r.unit.scenario.label,
      r.unit.n === null ? '–' : fmt(r.unit.n),
      r.unit.churn ? `${fmt(r.churnRate, 0)}/s` : '–',
      fmt(r.rps),
      fmt(r.perCpu),
      r.unit.scenario.name === 'bare' ? '1.00' : fmt(r.ratio, 2),
      r.unit.scenario.name === 'bare' || !Number.isFinite(r.ratioMin)
        ? '–'
        : `${fmt(r.ratioMin, 2)}–${fmt(r.ratioMax, 2)}`,
      fmt(r.p50, 1),
      fmt(r.p99, 1),
      fmt(r.rssMiB),
      fmt(r.non2xx),
      fmt(r.errors),
      r.problems.length === 0 && r.runs > 0 ? 'ok' : '**FAILED**',
    ]),
  );
}

/**
 * The ratio of every mode by N, one table per churn setting: median over rounds, spread in
 * brackets, the figure the targets are about.
 */
function ratioMatrix(summary) {
  const modes = [
    ...new Set(summary.rows.filter((r) => r.unit.scenario.mode).map((r) => r.unit.scenario.name)),
  ];
  const out = [];
  for (const churn of settings.churn) {
    const rows = modes
      .map((name) => {
        const cells = settings.ns.map((n) => summary.row(name, n, churn));
        if (cells.every((c) => !c)) return null;
        const mode = cells.find(Boolean).unit.scenario.mode;
        return [
          mode,
          ...cells.map((c) => {
            if (!c || !Number.isFinite(c.ratio)) return '–';
            const spread = c.runs > 1 ? ` (${fmt(c.ratioMin, 2)}–${fmt(c.ratioMax, 2)})` : '';
            return `${fmt(c.ratio, 2)}${spread}${c.problems.length ? ' FAILED' : ''}`;
          }),
        ];
      })
      .filter(Boolean);
    if (rows.length === 0) continue;
    out.push(
      churn
        ? `With another instance revoking ${settings.churnRate} tokens/s (the peers do not check revocation and are not run with churn):`
        : 'Without churn:',
      '',
      table(['Mode', ...settings.ns.map((n) => `N = ${fmt(n)}`)], rows),
      '',
    );
  }
  return out;
}

/** Which verification scenarios ran their view as a replica (as the servers reported it). */
function viewStates(summary) {
  const states = summary.rows
    .filter((r) => r.views.length)
    .map(
      (r) =>
        `${r.unit.scenario.name}: ${r.views.every((v) => v === true) ? 'replica' : r.views.every((v) => v === false) ? 'no replica' : 'mixed'}`,
    );
  return states.length ? `; ${[...new Set(states)].join(', ')}` : '';
}

function gitState() {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  return `${head || 'unknown'}${dirty ? ' + uncommitted changes in lib/' : ''}`;
}

function document({ summary, goals, failures, propagation, env }) {
  const m = env.machine;
  const verifyRows = summary.rows.filter((r) => r.unit.scenario.group === 'verify');
  const issueRows = summary.rows.filter((r) => r.unit.scenario.group === 'issue');
  const busy = env.loadBefore1 > 0.5;
  const lines = ['## Throughput, latency and memory', ''];
  if (failures.length) {
    lines.push(
      '> **BENCH FAILED.** These units had non-2xx responses, errors, timeouts or failed checks; their figures are not ' +
        'to be trusted:',
      '>',
      ...failures.map((f) => `> - ${f}`),
      '',
    );
  }
  if (env.quick || busy) {
    lines.push(
      `> **Preliminary.** ${env.quick ? 'A `BENCH_QUICK=1` smoke run (a few seconds per unit). ' : ''}` +
        `Load average before the run ${env.loadBefore}, after ${env.loadAfter}. Re-run \`npm run bench\` on a quiet ` +
        'machine for final figures.',
      '',
    );
  }
  lines.push(
    '### Targets',
    '',
    table(
      ['Target', 'Measured', 'Verdict'],
      goals.map((g) => [g.target, g.measured, `**${g.verdict}**`]),
    ),
    '',
    'Ratios are requests per server CPU-second divided by those of bare Express 5 in the same round, with the same N ' +
      'and the same churn (median over rounds). The peers check no revocation and are measured without churn (it ' +
      "does not concern them). That every cache of the kit has a documented bound is a matter for the library's " +
      'documentation; the bench measures the memory the server is left with, not the bounds.',
    '',
    'Two reference rows give each verification target its ceiling on this machine, measured in the same rounds: ' +
      '"one empty Express middleware" (it only clears `req.auth` and calls `next()`) bounds any guard, so no ' +
      'middleware, however cheap, reaches a ratio above it at N ≤ 10 000; "the RS256 signature check alone" ' +
      "(node:crypto's verify of the signing input on a key in hand, nothing else) bounds any verifier that checks " +
      'the signature of every token it has not seen, which at N = 100 000 is every request of the window (each ' +
      'token is sent once). A target above its ceiling cannot hold here, whatever the library does; the verdict ' +
      'still says FAIL, and the ceiling is printed beside it. Both ceilings hand the request on in the same tick. ' +
      'requireToken hands a verified request on through `setImmediate` by default (its `deferNext` option): under ' +
      'load the requests of one event-loop turn are verified together and their responses written together, which ' +
      'costs the server less CPU per request than writing each at once; that is how it can pass a ceiling, and ' +
      'bare Express given the same hand-off and nothing else ("bare Express, next() via setImmediate") shows what ' +
      'the hand-off alone is worth. The ratios stay those to bare Express as it is written, as the targets say.',
    '',
    '### Ratio to bare Express by N',
    '',
    `![Requests per server CPU-second ÷ bare Express, by N](performance-ratio.svg)`,
    '',
    ...ratioMatrix(summary),
    '### Verification',
    '',
    `${env.date}, one run of \`npm run bench\`: ${settings.rounds} round${settings.rounds === 1 ? '' : 's'} ` +
      `(seed ${settings.seed}), N ∈ {${settings.ns.map((n) => fmt(n)).join(', ')}}; per unit ${settings.warmup} s ` +
      `warm-up then ${settings.duration} s measured, ${settings.connections} connections. "churn" is the rate at ` +
      'which a second kit instance revoked other tokens during the run. "RSS" is the server\'s after the measured ' +
      'window.',
    '',
    throughputTable(verifyRows),
    '',
  );
  if (summary.memoryRows.length) {
    lines.push(
      '### Server memory',
      '',
      `A fresh server per scenario, then exactly ${fmt(settings.memoryN)} requests over ${fmt(settings.memoryN)} ` +
        'distinct tokens (each sent once), no churn; RSS read by the server itself right after.',
      '',
      table(
        ['Scenario', 'RSS MiB', '× jose', 'req/s', 'status'],
        summary.memoryRows.map((x) => {
          const jose = summary.memoryRows.find((j) => j.name === 'jose-rs256');
          return [
            x.label,
            fmt(x.rssMiB),
            jose ? fmt(x.rssMiB / jose.rssMiB, 2) : '–',
            x.result.failedEarly ? '–' : fmt(x.result.measured.total / x.result.measuredSeconds),
            x.result.problems.length === 0 ? 'ok' : '**FAILED**',
          ];
        }),
      ),
      '',
    );
  }
  if (issueRows.length) {
    lines.push(
      '### Issuance',
      '',
      table(
        [
          'Scenario',
          'req/s',
          'req per server CPU-s',
          'p50 ms',
          'p99 ms',
          'RSS MiB',
          'non-2xx',
          'errors',
          'status',
        ],
        issueRows.map((r) => [
          r.unit.scenario.label,
          fmt(r.rps),
          fmt(r.perCpu),
          fmt(r.p50, 1),
          fmt(r.p99, 1),
          fmt(r.rssMiB),
          fmt(r.non2xx),
          fmt(r.errors),
          r.problems.length === 0 && r.runs > 0 ? 'ok' : '**FAILED**',
        ]),
      ),
      '',
      'Against oidc-provider in the same round (requests per server CPU-second; above 1 means cheaper):',
      '',
      table(
        ['Ratio', 'median', 'spread over rounds', 'target'],
        summary.issuanceRatios.map((r) => [
          `${r.label} ÷ oidc-provider`,
          fmt(r.median, 2),
          `${fmt(r.min, 2)}–${fmt(r.max, 2)}`,
          r.target ? `≥ ${r.target}` : '–',
        ]),
      ),
      '',
    );
  }
  lines.push(
    '### Method',
    '',
    '- Run it: `npm run bench` (builds `dist/`, then `node bench/run.js`). A smoke run: ' +
      '`BENCH_QUICK=1 BENCH_NO_DOC=1 npm run bench`. Settings: `BENCH_DURATION` (measured seconds; 5), ' +
      '`BENCH_WARMUP` (2), `BENCH_ROUNDS` (2), `BENCH_N` (`1,1000,100000`), `BENCH_SCENARIOS` (names from ' +
      '`bench/scenarios.js`; bare and oidc-provider are added as baselines; `rt-es256`, `rt-hs256`, ' +
      '`rt-rs256-memory`, `ejwt-hs256` and `a-access-tokens` run only when named), `BENCH_CHURN` (`0`: without ' +
      'churn only, `1`: with churn only; both by default), `BENCH_CHURN_RATE` (50), `BENCH_CONNECTIONS` (50), ' +
      '`BENCH_MEMORY_N` (100000; 0 skips the memory pass), `BENCH_PROPAGATION_TRIALS` (200), `BENCH_SEED`, ' +
      '`BENCH_QUICK=1` (2 s per unit, 1 round, N up to 1000), `BENCH_DRY=1` (print the plan and the estimate), `BENCH_NO_PIN=1`, `BENCH_NO_DOC=1`, `REDIS_URL`, ' +
      '`BENCH_REPLICA` (`auto`, `true` or `false`: the `replica` option of every revocation view, on builds that ' +
      'have it; `rt-rs256-no-replica` runs one with `replica: false` when named), ' +
      '`BENCH_VIEW_OPTIONS` (JSON added to every `RedisRevocationView.start`), `BENCH_KIT_OPTIONS` (JSON added to ' +
      "the servers' `createTokenKit`). The full run prints its estimated " +
      'duration first (under 20 minutes on 2 cores).',
    '- Machine use: the server (`bench/server.js`) is pinned to CPU 0; autocannon (`bench/load.js`), ' +
      'redis-server and the churn instance to CPU 1. One private `redis-server --save "" --appendonly no` for ' +
      'the whole run.',
    '- Tokens: minted before anything is timed (`bench/tokens.js`). JWTs through the kit ' +
      '(`issueAccessToken`, one subject per token, a 48 h lifetime) in worker threads on every core, cached in ' +
      '`bench/.cache/` (gitignored) by key fingerprint and reused while they have 6 h left; opaque tokens issued ' +
      'through the kit into the bench Redis at the start of every run. Every verifier gets the same tokens; the ' +
      'bare route receives them too and ignores them.',
    '- Load: autocannon 9 with one request template whose `setupRequest` sets `Authorization` to the next token ' +
      'of a list shared by all connections, so each of the N tokens is sent once every N requests. During the ' +
      'warm-up the server counts the distinct `Authorization` headers it receives, and the unit fails unless that ' +
      'is min(sent, N). Rebuilding the request for the next token costs a few microseconds on the load core ' +
      "(measured 2–5 µs), nothing on the server's.",
    '- Units and rounds: a unit is a scenario at one N, with or without churn; every round runs every unit once, ' +
      'in a shuffled order, each against a fresh server process. The ratio of a unit is its requests per server ' +
      "CPU-second (the server's `process.cpuUsage()` read before and after the measured window) over those of " +
      'the bare route at the same N and churn in the same round; the table shows the median and the spread ' +
      '(min–max) over rounds.',
    `- Churn: a second process (\`bench/churn.js\`), another kit on the same Redis, prefix and revocation channel ` +
      `with its own \`RedisRevocationView\`, revokes a steady ${settings.churnRate} tokens a second (its own tokens, never ` +
      'in the driven set) during the warm-up and the measured window.',
    "- Correctness, every unit: the server's own checks before and after the load (valid → 200; tampered, " +
      'absent and — where it enforces revocation — revoked → 401; issued tokens usable, altered ones refused); ' +
      'after the load, another instance revokes a token the server has just accepted and one it has never seen, ' +
      'and both must get 401 within 2 s. Any non-2xx, socket error, timeout or reset, any 5xx counted by the ' +
      'server, a distinct-token count off, or a churn below 90 % of its rate fails the unit: it is marked ' +
      'FAILED here and the bench exits 1.',
    '- Scenarios: requireToken with `RedisTokenStore` and a `RedisRevocationView` (the recommended set-up), the ' +
      'same without a view (one Redis round trip per request), and with opaque tokens; jose `jwtVerify` with the ' +
      'public key in hand (issuer, audience, RS256 pinned); express-oauth2-jwt-bearer `auth({ issuer, audience, ' +
      'jwksUri, tokenSigningAlg })` with the JWKS served by the same process; express-jwt with the PEM public key, ' +
      'issuer and audience. Issuance: `createAuthRouter` and `createOAuthRouter` client_credentials (rate limits ' +
      "on, counters in Redis, ceilings at 10^9), oidc-provider's client_credentials with RS256 JWT access " +
      'tokens and its in-memory adapter.',
    '',
    '### Machine and versions',
    '',
    table(
      ['', ''],
      [
        ['CPU', `${m.cpu} (${m.cores} cores available)`],
        ['Memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Pinning', env.pinning],
        ['Load average (1, 5, 15 min)', `before ${env.loadBefore}; after ${env.loadAfter}`],
        [
          'Library',
          `express-token-kit ${env.pkgVersion}, dist/ built from ${env.git} (dist hash ${env.distHash})`,
        ],
        ['Revocation view', `${env.features}${viewStates(summary)}`],
        ['Node', m.node],
        ['Express', version('express')],
        ['jose', version('jose')],
        ['jsonwebtoken', version('jsonwebtoken')],
        ['express-jwt', version('express-jwt')],
        ['express-oauth2-jwt-bearer', version('express-oauth2-jwt-bearer')],
        ['oidc-provider', version('oidc-provider')],
        ['ioredis', version('ioredis')],
        ['Redis', env.redisVersion],
        ['autocannon', version('autocannon')],
        [
          'Settings',
          `BENCH_DURATION=${settings.duration} BENCH_WARMUP=${settings.warmup} BENCH_ROUNDS=${settings.rounds} ` +
            `BENCH_N=${settings.ns.join(',')} BENCH_CONNECTIONS=${settings.connections} ` +
            `BENCH_CHURN_RATE=${settings.churnRate} BENCH_MEMORY_N=${settings.memoryN} BENCH_SEED=${settings.seed}`,
        ],
        ['Wall time', `${fmt(env.wallSeconds / 60, 1)} min`],
      ],
    ),
    '',
    '## Revocation propagation across instances',
    '',
    propagation ? formatPropagation(propagation) : 'Not measured in this run.',
  );
  return lines.join('\n');
}

// --- main ---------------------------------------------------------------------------------------------

/** Seconds per unit beyond its warm-up and measured window (server start, checks, churn pool). */
const UNIT_OVERHEAD = 3;

function estimateSeconds() {
  const perRound = units().length * (settings.warmup + settings.duration + UNIT_OVERHEAD);
  const verifyScenarios = scenarios.filter((s) => s.group === 'verify').length;
  // The memory pass: requests at about 4 000/s, and the propagation trials.
  const memory = settings.memoryN ? verifyScenarios * (settings.memoryN / 4000 + UNIT_OVERHEAD) : 0;
  return settings.rounds * perRound + memory + settings.trials * 0.05 + 20;
}

async function main() {
  const started = Date.now();
  const kitLib = loadKit();
  const env = {
    quick: QUICK,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(),
    loadBefore: loadAverage(),
    loadBefore1: os.loadavg()[0],
    git: gitState(),
    pkgVersion: require(path.join(ROOT, 'package.json')).version,
    features: describeFeatures(kitLib),
    pinning: pinningEnabled()
      ? 'server `taskset -c 0`; autocannon, churn and redis-server `taskset -c 1`'
      : `none (${hasTaskset() ? 'fewer than 2 cores or BENCH_NO_PIN=1' : 'taskset not found'})`,
  };
  const snapshot = snapshotDist();
  env.distHash = snapshot.hash;
  process.on('exit', () => snapshot.remove());
  process.on('SIGINT', () => process.exit(130));
  const random = rng(settings.seed);
  const all = units();
  console.log(
    `bench: ${all.length} units (${scenarios.map((s) => s.name).join(', ')}; N ${settings.ns.join(', ')}; churn ` +
      `${settings.churn.map((c) => (c ? 'on' : 'off')).join('/')}) × ${settings.rounds} rounds, ` +
      `${settings.warmup}+${settings.duration} s each, memory pass ${settings.memoryN || 'off'}; ` +
      `estimated ${fmt(estimateSeconds() / 60, 1)} min plus minting on a first run. Seed ${settings.seed}. ` +
      `Pinning: ${env.pinning}. Load average ${env.loadBefore}.`,
  );
  if (process.env.BENCH_DRY === '1') {
    // The plan only: every unit of a round, in table order.
    for (const unit of all) console.log(`  ${unit.key}`);
    return;
  }
  const redis = await startRedis({ cpu: 1 });
  env.redisVersion = redis.version;
  const results = [];
  const memory = [];
  const failures = [];
  let propagation = null;
  const ctx = { redis, tokenFiles: {}, other: new OtherInstance(kitLib, redis.url), tag: 'r0' };
  const client = await connectRedis(redis.url);
  const opaqueFiles = [];
  try {
    // Tokens first, untimed: as many as the largest N (and the memory pass) needs.
    const verifyScenarios = scenarios.filter((s) => s.group === 'verify');
    const need = Math.max(...settings.ns, settings.memoryN, 1);
    for (const kind of new Set(verifyScenarios.map((s) => s.tokens))) {
      if (kind === 'opaque') {
        const file = await tokens.opaqueFile(kitLib, client, KIT_PREFIX, need);
        opaqueFiles.push(file);
        ctx.tokenFiles[kind] = file;
      } else {
        ctx.tokenFiles[kind] = await tokens.jwtFile(kind.slice(4).toUpperCase(), need);
      }
    }
    for (let round = 1; round <= settings.rounds; round += 1) {
      const order = shuffle(all, random);
      const byKey = {};
      results.push(byKey);
      ctx.tag = `r${round}`;
      console.log(`\nround ${round}/${settings.rounds}: ${order.length} units`);
      for (const unit of order) {
        const r = await runUnit(unit, ctx);
        byKey[unit.key] = r;
        const name = `${unit.scenario.name}${unit.n === null ? '' : ` N=${unit.n}`}${unit.churn ? ' +churn' : ''}`;
        if (r.problems.length) {
          const msg = `${name} (round ${round}): ${r.problems.join('; ')}`;
          failures.push(msg);
          console.error(`  FAILED ${msg}${r.stderr ? `\n${r.stderr}` : ''}`);
          continue;
        }
        console.log(
          `  ${name.padEnd(32)} ${fmt(r.measured.rps).padStart(7)} req/s ${fmt(perCpu(r)).padStart(7)} req/CPU-s ` +
            `p50 ${fmt(r.measured.p50, 1)} p99 ${fmt(r.measured.p99, 1)} ms RSS ${fmt(r.serverRss / MiB)} MiB` +
            (r.distinct ? ` distinct ${r.distinct.seen}/${r.distinct.sent}` : '') +
            (r.churn ? ` churn ${fmt(r.churn.rate, 1)}/s` : '') +
            (typeof r.view?.replicating === 'boolean'
              ? r.view.replicating
                ? ' replica'
                : ' no-replica'
              : '') +
            (r.revocation
              ? ` revoked→401 ${fmt(r.revocation.seenMs, 0)}/${fmt(r.revocation.unseenMs, 0)} ms`
              : ''),
        );
      }
    }
    if (settings.memoryN > 0) {
      console.log(`\nmemory pass: ${settings.memoryN} requests over ${settings.memoryN} tokens per scenario`);
      ctx.tag = 'mem';
      for (const s of scenarios.filter((x) => x.group === 'verify')) {
        const unit = { scenario: s, n: settings.memoryN, churn: false, key: `${s.name}|mem` };
        const result = await runUnit(unit, ctx, { amount: settings.memoryN });
        memory.push({ name: s.name, label: s.label, revocation: Boolean(s.revocation), result });
        if (result.problems.length) {
          failures.push(`${s.name} memory pass: ${result.problems.join('; ')}`);
          console.error(`  FAILED ${s.name} memory pass: ${result.problems.join('; ')}`);
        } else {
          console.log(
            `  ${s.name.padEnd(20)} RSS ${fmt(result.serverRss / MiB)} MiB (${fmt(result.measured.total / result.measuredSeconds)} req/s)`,
          );
        }
      }
    }
    console.log(`\nrevocation propagation: ${settings.trials} trials`);
    try {
      propagation = await measurePropagation({
        redisUrl: redis.url,
        trials: settings.trials,
        tokensFile: ctx.tokenFiles['jwt-rs256'] ?? (await tokens.jwtFile('RS256', 1000)),
      });
    } catch (err) {
      failures.push(`revocation propagation: ${err.message}`);
      console.error(`  FAILED revocation propagation: ${err.stack}`);
    }
  } finally {
    await ctx.other.close();
    await deleteKeys(client, 'bench:').catch(() => undefined);
    await client.quit().catch(() => undefined);
    await redis.stop();
    for (const f of opaqueFiles) fs.rmSync(f, { force: true });
  }
  env.loadAfter = loadAverage();
  env.wallSeconds = (Date.now() - started) / 1000;
  const summary = summarise(results, memory);
  const goals = targets(summary, propagation);
  console.log(`\n${throughputTable(summary.rows)}\n`);
  console.log(
    table(
      ['Target', 'Measured', 'Verdict'],
      goals.map((g) => [g.target, g.measured, g.verdict]),
    ),
  );
  if (propagation) console.log(`\n${formatPropagation(propagation)}\n`);
  if (process.env.BENCH_NO_DOC !== '1') {
    const file = writeDocSection('throughput', document({ summary, goals, failures, propagation, env }));
    const svg = path.join(ROOT, 'docs', 'performance-ratio.svg');
    fs.writeFileSync(
      svg,
      ratioChart(
        summary.rows.filter((r) => r.unit.scenario.mode),
        settings.ns,
      ),
    );
    console.log(`written: ${path.relative(ROOT, file)}, ${path.relative(ROOT, svg)}`);
  }
  console.log(`wall time ${fmt(env.wallSeconds / 60, 1)} min`);
  if (failures.length > 0) {
    console.error(`\nBENCH FAILED:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`\nBENCH FAILED: ${err.stack ?? err}`);
  process.exit(1);
});
