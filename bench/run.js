'use strict';
/**
 * `npm run bench`: HTTP throughput of requireToken and the issuing routers beside bare Express and
 * the peers (express-jwt, express-oauth2-jwt-bearer, oidc-provider), then revocation propagation.
 *
 * Every round runs every scenario once, in a shuffled order: a fresh server (`bench/server.js`,
 * pinned to CPU 0) checks its own correctness, then autocannon (`bench/load.js`, pinned to CPU 1)
 * runs a discarded warm-up and the measured run. Any 5xx, socket error or timeout fails the bench.
 * Results go to stdout and to docs/performance.md.
 *
 * Env: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 3), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 50), BENCH_SCENARIOS (comma-separated names), BENCH_SEED,
 * BENCH_PROPAGATION_TRIALS (default 200), BENCH_NO_PIN=1, BENCH_NO_DOC=1, REDIS_URL.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const SCENARIOS = require('./scenarios');
const { measurePropagation, formatPropagation } = require('./propagation');
const {
  ROOT,
  connectRedis,
  deleteKeys,
  hasTaskset,
  loadAverage,
  machine,
  median,
  pinned,
  pinningEnabled,
  snapshotDist,
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

const settings = {
  duration: intEnv('BENCH_DURATION', 10, 1),
  warmup: intEnv('BENCH_WARMUP', 3, 0),
  rounds: intEnv('BENCH_ROUNDS', 3, 1),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  trials: intEnv('BENCH_PROPAGATION_TRIALS', 200, 1),
  seed: intEnv('BENCH_SEED', Date.now() % 1_000_000, 0),
};
const wanted = process.env.BENCH_SCENARIOS ? process.env.BENCH_SCENARIOS.split(',') : null;
const scenarios = SCENARIOS.filter((s) =>
  wanted ? s.name === 'bare' || wanted.includes(s.name) : !s.optional,
);
if (wanted) {
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown BENCH_SCENARIOS: ${unknown.join(', ')}`);
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

// --- CPU accounting: how much of the machine other processes used during a scenario ----------

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** Busy and total jiffies of all CPUs, from /proc/stat; null when unavailable. */
function machineJiffies() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] || 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a live process, from /proc/<pid>/stat; 0 when unavailable. */
function processCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
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
  const line = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = new RegExp(`^${tag} (.*)$`, 'm').exec(stdout);
      if (m) resolve(JSON.parse(m[1]));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`${script} ${args.join(' ')} exited (${code ?? signal}) before ${tag}:\n${stderr}`)),
    );
  });
  return { child, line, stderr: () => stderr };
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

// --- one scenario run --------------------------------------------------------------------------------

async function runScenario(scenario, round, redis) {
  const before = machineJiffies();
  const selfCpu0 = process.cpuUsage();
  const redisCpu0 = redis.pid ? processCpuSeconds(redis.pid) : 0;
  const server = spawnNode(
    0,
    'server.js',
    [scenario.name],
    { REDIS_URL: redis.url, BENCH_PREFIX: `bench:${scenario.name}:r${round}:`, NODE_ENV: 'production' },
    'BENCH_READY',
  );
  let serverCpu = 0;
  try {
    const spec = await Promise.race([
      server.line,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${scenario.name}: server not ready in 30 s`)), 30_000),
      ),
    ]);
    await runChecks(scenario.name, spec.port, spec.checks);
    const load = spawnNode(
      1,
      'load.js',
      [
        JSON.stringify({
          url: `http://127.0.0.1:${spec.port}${spec.load.path}`,
          method: spec.load.method,
          headers: spec.load.headers,
          body: spec.load.body,
          connections: settings.connections,
          warmup: settings.warmup,
          duration: settings.duration,
        }),
      ],
      {},
      'BENCH_RESULT',
    );
    const serverCpuStart = processCpuSeconds(spec.pid);
    const loadStart = performance.now();
    const result = await load.line;
    const loadWall = (performance.now() - loadStart) / 1000;
    serverCpu = processCpuSeconds(spec.pid);
    // Over the autocannon runs only (not the load process's start-up).
    const serverUtil = (serverCpu - serverCpuStart) / (result.runSeconds || loadWall);
    const loadUtil = result.cpuSeconds / loadWall;
    // Checks again after the load: the server still answers correctly.
    await runChecks(scenario.name, spec.port, spec.checks);
    await stopChild(load.child);
    const after = machineJiffies();
    let otherCpu = null;
    if (before && after) {
      const elapsed = (after.total - before.total) / CLK_TCK; // CPU-seconds of capacity
      const busy = (after.busy - before.busy) / CLK_TCK;
      const self = process.cpuUsage(selfCpu0);
      const ours =
        serverCpu +
        result.cpuSeconds +
        (self.user + self.system) / 1e6 +
        (redis.pid ? processCpuSeconds(redis.pid) - redisCpu0 : 0);
      otherCpu = elapsed > 0 ? Math.max(0, busy - ours) / elapsed : null;
    }
    return { ...result, otherCpu, serverUtil, loadUtil };
  } finally {
    await stopChild(server.child);
    const stderr = server.stderr();
    if (/responses ≥ 500/.test(stderr)) {
      // load.js counts 5xx too; this catches any the checks caused.
      process.stderr.write(stderr);
    }
  }
}

// --- report -----------------------------------------------------------------------------------------

function fmt(n, digits = 0) {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
}

function summarise(results) {
  // results[round][name] = { measured, warmup, otherCpu }
  const rows = scenarios.map((s) => {
    const runs = results.map((r) => r[s.name]).filter(Boolean);
    const ratios = results
      .filter((r) => r[s.name] && r.bare)
      .map((r) => r[s.name].measured.rps / r.bare.measured.rps);
    const perCpu = (x) => x.measured.rps / x.serverUtil;
    const cpuRatios = results
      .filter((r) => r[s.name] && r.bare)
      .map((r) => perCpu(r[s.name]) / perCpu(r.bare));
    const sum = (f) => runs.reduce((a, r) => a + f(r), 0);
    return {
      scenario: s,
      rps: median(runs.map((r) => r.measured.rps)),
      rpsAll: runs.map((r) => r.measured.rps),
      p50: median(runs.map((r) => r.measured.p50)),
      p99: median(runs.map((r) => r.measured.p99)),
      ratio: median(ratios),
      perCpu: median(runs.map(perCpu)),
      cpuRatio: median(cpuRatios),
      non2xx: sum((r) => r.measured.non2xx + (r.warmup?.non2xx ?? 0)),
      errors: sum(
        (r) =>
          r.measured.errors +
          r.measured.timeouts +
          r.measured.status5xx +
          (r.warmup ? r.warmup.errors + r.warmup.timeouts + r.warmup.status5xx : 0),
      ),
      otherCpu: median(runs.map((r) => r.otherCpu).filter((v) => v !== null)),
      serverUtil: median(runs.map((r) => r.serverUtil)),
      loadUtil: median(runs.map((r) => r.loadUtil)),
    };
  });
  // [ratio of req/s, ratio of req per server CPU-second], medians of per-round ratios.
  const peer = (a, b) => {
    const both = results.filter((r) => r[a] && r[b]);
    return [
      median(both.map((r) => r[a].measured.rps / r[b].measured.rps)),
      median(both.map((r) => r[a].measured.rps / r[a].serverUtil / (r[b].measured.rps / r[b].serverUtil))),
    ];
  };
  const issuanceRatios = [
    ['router C client_credentials RS256 ÷ oidc-provider', peer('c-cc-rs256', 'oidc-cc-rs256')],
    ['router C client_credentials ES256 ÷ oidc-provider', peer('c-cc-es256', 'oidc-cc-rs256')],
    ['router D /oauth/token RS256 ÷ oidc-provider', peer('d-cc-rs256', 'oidc-cc-rs256')],
  ].filter(([, v]) => Number.isFinite(v[0]));
  const verifyRatios = [
    ['requireToken RS256 (+Redis) ÷ express-jwt RS256', peer('rt-rs256', 'ejwt-rs256')],
    ['requireToken RS256 (+Redis) ÷ express-oauth2-jwt-bearer RS256', peer('rt-rs256', 'auth0-rs256')],
    ['requireToken HS256 (+Redis) ÷ express-jwt HS256', peer('rt-hs256', 'ejwt-hs256')],
  ].filter(([, v]) => Number.isFinite(v[0]));
  return { rows, issuanceRatios, verifyRatios };
}

function resultTable(rows) {
  return table(
    [
      'Scenario',
      'req/s (median)',
      'req/s per round',
      'p50 ms',
      'p99 ms',
      '× bare Express',
      'req per server CPU-s',
      '× bare, per CPU-s',
      'server CPU',
      'autocannon CPU',
      'non-2xx',
      '5xx + errors',
    ],
    rows.map((r) => [
      r.scenario.label,
      fmt(r.rps),
      r.rpsAll.map((v) => fmt(v)).join(' / '),
      fmt(r.p50),
      fmt(r.p99),
      r.scenario.name === 'bare' ? '1.00' : fmt(r.ratio, 2),
      fmt(r.perCpu),
      r.scenario.name === 'bare' ? '1.00' : fmt(r.cpuRatio, 2),
      `${fmt(r.serverUtil * 100)} %`,
      `${fmt(r.loadUtil * 100)} %`,
      fmt(r.non2xx),
      fmt(r.errors),
    ]),
  );
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

function ratioTable(title, ratios) {
  if (ratios.length === 0) return [];
  return [
    title,
    '',
    table(
      ['Ratio', 'req/s', 'req per server CPU-second'],
      ratios.map(([k, [v, c]]) => [k, fmt(v, 2), fmt(c, 2)]),
    ),
    '',
  ];
}

function document({ summary, propagation, env }) {
  const m = env.machine;
  const other = median(summary.rows.map((r) => r.otherCpu).filter(Number.isFinite));
  const busy = env.loadBefore1 > 0.5 || other > 0.05;
  const row = (name) => summary.rows.find((r) => r.scenario.name === name);
  const rs256 = row('rt-rs256');
  const lines = ['## Throughput and latency', ''];
  if (busy) {
    lines.push(
      `> **Preliminary.** The machine was shared with other work while these numbers were taken (load average ` +
        `before the run ${env.loadBefore}, after ${env.loadAfter}; other processes used a median ` +
        `${fmt(other * 100, 1)} % of the machine's CPU during the scenarios). Ratios from the same round are ` +
        `more trustworthy than absolute req/s. Re-run \`npm run bench\` on a quiet machine for final figures.`,
      '',
    );
  }
  lines.push(
    `${env.date}, one run of \`npm run bench\`: ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}, each running every scenario once in a ` +
      `shuffled order (seed ${settings.seed}) against a fresh server process. Per scenario: ${settings.warmup} s ` +
      `warm-up (discarded) then ${settings.duration} s measured, ${settings.connections} connections, no ` +
      `pipelining, the same request repeated. Figures are medians across rounds; "× bare Express" is the median ` +
      `of the per-round ratios to the bare route of the same round. "server CPU" is the server process's CPU ` +
      `use during the load: 100 % means its pinned core was saturated and the server was the bottleneck; less ` +
      `means other work on the machine took part of that core. "req per server CPU-s" divides req/s by that ` +
      `share, i.e. requests per second of server CPU: the cost per request, which holds up on a shared machine ` +
      `far better than raw req/s (it is an estimate of the req/s on a quiet core).`,
    '',
    resultTable(summary.rows),
    '',
  );
  if (rs256) {
    lines.push(
      `Target: JWT + Redis denylist ≥ 5k req/s per core. Measured here: ` +
        `**${fmt(rs256.rps)} req/s** for requireToken RS256 + Redis on one core, against ${fmt(row('bare')?.rps)} ` +
        `req/s for a bare Express route on the same core.`,
      '',
    );
  }
  lines.push(
    ...ratioTable(
      'Issuance against oidc-provider (median of per-round ratios of req/s; above 1 means faster):',
      summary.issuanceRatios,
    ),
    ...ratioTable(
      'Verification against the peers (median of per-round ratios; the peers check no revocation and make no Redis call):',
      summary.verifyRatios,
    ),
    '### Scenarios',
    '',
    '- **bare**: `app.get("/resource", (req, res) => res.json({...}))` on Express 5, no middleware.',
    '- **requireToken**: `requireToken({ kit })` in front of the same handler. The kit has one key of the given ' +
      'algorithm, a `RedisTokenStore` (client from `createRedisClient`) and a `RedisRevocationView`: the first ' +
      'request verifies the signature and claims and asks Redis; repeats of the same token are answered from the ' +
      'verified-token cache and the view, which every revocation on any instance clears through Redis pub/sub ' +
      '(`rt-rs256-direct` has no view: one Redis round trip per request). Checked ' +
      'first: valid → 200; tampered, absent and revoked → 401.',
    '- **express-jwt**: `expressjwt({ secret, algorithms: [alg] })` as its README shows: HS256 with the string ' +
      'secret, RS256 with the PEM public key. The same tokens as requireToken (issued by the kit). No ' +
      'revocation (`isRevoked` not set). Checked: valid → 200; tampered and absent → 401.',
    '- **express-oauth2-jwt-bearer**: `auth({ issuer, audience, jwksUri, tokenSigningAlg: "RS256" })`, the JWKS ' +
      'served by the same process (fetched once, then cached). The same tokens; no revocation.',
    '- **router C**: `POST /api/auth/tokens` with a JSON `{grant_type: "client_credentials", client_id, ' +
      'client_secret}`. The client is looked up in Redis (then remembered by the ' +
      'kit while its `RedisRevocationView` hears no rotation or deletion) and its secret compared by SHA-256; ' +
      'the brute-force limits count in Redis; one JWT is signed per request. Routers A and D run with the same ' +
      'set-up.',
    '- **router D**: `POST /oauth/token`, form body, `client_secret_basic`; RS256 JWT.',
    '- **router A**: `POST /v1/auth/access-tokens` with the API key as bearer token; each request stores an ' +
      'opaque token in Redis.',
    '- **oidc-provider**: its token endpoint mounted in Express 5 (`app.use(provider.callback())`): one client ' +
      'with `grant_types: ["client_credentials"]`, `features.clientCredentials`, resource indicators giving RS256 ' +
      'JWT access tokens (like routers C and D), the default in-memory adapter, `client_secret_basic`.',
    '- Issuance checks: good credentials → 200 with `access_token`, `token_type: Bearer` and `expires_in`; the ' +
      'issued token is accepted by a verifier on the same server and an altered one refused; bad credentials → ' +
      '401. Every check runs again after the load.',
    `- Rate limits: the routers' brute-force limits (on by default) stay in the path with their counters ` +
      `${(process.env.BENCH_RATE_LIMIT ?? 'redis') === 'redis' ? 'in Redis, as the demo server keeps them' : `set to BENCH_RATE_LIMIT=${process.env.BENCH_RATE_LIMIT}`}, ` +
      'and ceilings raised to 10^9 so the one load-generator IP is never throttled: their cost is measured, ' +
      'their 429s are not.',
    '- Redis: one private `redis-server --save "" --appendonly no` for the whole run (or `REDIS_URL`), a key ' +
      'prefix per scenario and round.',
    '',
    '### Settings and machine',
    '',
    table(
      ['', ''],
      [
        ['CPU', `${m.cpu} (${m.cores} cores available)`],
        ['Memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Pinning', env.pinning],
        ['Load average (1, 5, 15 min)', `before ${env.loadBefore}; after ${env.loadAfter}`],
        ["Other processes' CPU share during the scenarios (median)", `${fmt(other * 100, 1)} %`],
        [
          'Library',
          `express-token-kit ${env.pkgVersion}, dist/ built from ${env.git} (dist hash ${env.distHash})`,
        ],
        ['Node', m.node],
        ['Express', version('express')],
        ['jsonwebtoken', version('jsonwebtoken')],
        ['ioredis', version('ioredis')],
        ['Redis', env.redisVersion],
        ['express-jwt', version('express-jwt')],
        ['express-oauth2-jwt-bearer', version('express-oauth2-jwt-bearer')],
        [
          'oidc-provider',
          `${version('oidc-provider')} (it warns that Node 20 is an unsupported runtime, and runs)`,
        ],
        ['autocannon', version('autocannon')],
        [
          'Settings',
          `BENCH_DURATION=${settings.duration} BENCH_WARMUP=${settings.warmup} BENCH_ROUNDS=${settings.rounds} ` +
            `BENCH_CONNECTIONS=${settings.connections} BENCH_SEED=${settings.seed}`,
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

async function main() {
  const started = Date.now();
  const env = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(),
    loadBefore: loadAverage(),
    loadBefore1: os.loadavg()[0],
    git: gitState(),
    pkgVersion: require(path.join(ROOT, 'package.json')).version,
    pinning: pinningEnabled()
      ? 'server `taskset -c 0`; autocannon and redis-server `taskset -c 1`'
      : `none (${hasTaskset() ? 'fewer than 2 cores or BENCH_NO_PIN=1' : 'taskset not found'})`,
  };
  const snapshot = snapshotDist();
  env.distHash = snapshot.hash;
  process.on('exit', () => snapshot.remove());
  process.on('SIGINT', () => process.exit(130));
  const random = rng(settings.seed);
  const total = settings.rounds * scenarios.length * (settings.warmup + settings.duration + 1.5);
  console.log(
    `bench: ${scenarios.length} scenarios × ${settings.rounds} rounds, ${settings.warmup}+${settings.duration} s each, ` +
      `${settings.connections} connections, seed ${settings.seed}; about ${fmt(total / 60, 1)} min. ` +
      `Pinning: ${env.pinning}. Load average ${env.loadBefore}.`,
  );
  const redis = await startRedis({ cpu: 1 });
  env.redisVersion = redis.version;
  const results = [];
  const failures = [];
  let propagation = null;
  try {
    for (let round = 1; round <= settings.rounds; round += 1) {
      const order = shuffle(scenarios, random);
      const byName = {};
      results.push(byName);
      console.log(`\nround ${round}/${settings.rounds}: ${order.map((s) => s.name).join(', ')}`);
      for (const s of order) {
        const r = await runScenario(s, round, redis);
        byName[s.name] = r;
        const bad = [r.warmup, r.measured]
          .filter(Boolean)
          .reduce((a, x) => a + x.errors + x.timeouts + x.status5xx, 0);
        if (bad > 0)
          failures.push(
            `${s.name} round ${round}: ${bad} 5xx/errors/timeouts (${JSON.stringify(r.measured.statusCodes)})`,
          );
        console.log(
          `  ${s.name.padEnd(16)} ${fmt(r.measured.rps).padStart(8)} req/s  p50 ${fmt(r.measured.p50, 1)} ms  p99 ${fmt(
            r.measured.p99,
            1,
          )} ms  non-2xx ${r.measured.non2xx}  errors ${r.measured.errors + r.measured.timeouts}` +
            `  CPU server ${fmt(r.serverUtil * 100, 0)} % load ${fmt(r.loadUtil * 100, 0)} %` +
            (r.otherCpu === null ? '' : ` other ${fmt(r.otherCpu * 100, 0)} %`),
        );
      }
    }
    console.log(`\nrevocation propagation: ${settings.trials} trials`);
    propagation = await measurePropagation({ redisUrl: redis.url, trials: settings.trials });
  } finally {
    if (redis.external) {
      const client = await connectRedis(redis.url);
      await deleteKeys(client, 'bench:').catch(() => undefined);
      await client.quit();
    }
    await redis.stop();
  }
  env.loadAfter = loadAverage();
  env.wallSeconds = (Date.now() - started) / 1000;
  const summary = summarise(results);
  console.log(`\n${resultTable(summary.rows)}\n`);
  for (const [k, [v, c]] of [...summary.issuanceRatios, ...summary.verifyRatios]) {
    console.log(`${k}: ${fmt(v, 2)} (per server CPU-second: ${fmt(c, 2)})`);
  }
  console.log(`\n${formatPropagation(propagation)}\n`);
  if (failures.length > 0) {
    console.error(`\nBENCH FAILED: errors during the runs:\n  ${failures.join('\n  ')}`);
    console.error('docs/performance.md was not updated.');
    process.exit(1);
  }
  if (propagation.within100ms !== propagation.trials) {
    console.error(
      `\nBENCH FAILED: revocation took more than 100 ms in ${propagation.trials - propagation.within100ms} trials`,
    );
  }
  if (process.env.BENCH_NO_DOC !== '1') {
    const file = writeDocSection('throughput', document({ summary, propagation, env }), { prettier: true });
    console.log(`written: ${path.relative(ROOT, file)}`);
  }
  if (propagation.within100ms !== propagation.trials) process.exit(1);
}

main().catch((err) => {
  console.error(`\nBENCH FAILED: ${err.stack ?? err}`);
  process.exit(1);
});
