'use strict';
/**
 * `npm run bench:logins`: does a burst of password-grant logins stall everything else?
 *
 * Starts the demo server (`dist/server/main.js`, as `npm start` runs it, on the memory store unless
 * REDIS_URL is set) cold on a free 127.0.0.1 port, pinned to CPU 0, with docs/seed.example.json and
 * `TOKEN_KIT_TRUST_PROXY=1` (each request carries its own `X-Forwarded-For`, so the per-IP limits of
 * one load generator do not turn the logins into 429s). From the moment it listens, for
 * BENCH_DURATION seconds (15), autocannon (pinned to CPU 1) runs at the same time:
 *
 * - BENCH_LOGIN_CONNECTIONS (32) connections of password-grant logins (`POST /api/auth/tokens/`);
 * - BENCH_OTHER_CONNECTIONS (4) connections of other requests, alternating `GET /api/plans/` (a
 *   requireToken route) and a client_credentials grant.
 *
 * Reports p50/p99/max of both streams and, for the other requests, how many took over 100 ms and
 * over 2 s. The target: other requests p99 < 50 ms. Exits 1 on any 5xx or socket error. Writes the
 * `login-stall` section of docs/performance.md (unless BENCH_NO_DOC=1), beside the baseline in
 * bench/login-stall.before.json; BENCH_SAVE_BASELINE=1 stores this run as that baseline instead.
 * Run `npm run build` first (the npm script does).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const autocannon = require('autocannon');
const {
  ROOT,
  distDir,
  freePort,
  loadAverage,
  machine,
  percentile,
  pinned,
  pinningEnabled,
  table,
  writeDocSection,
} = require('./common');

const SEED = path.join(ROOT, 'docs', 'seed.example.json');
const BASELINE = path.join(__dirname, 'login-stall.before.json');
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const LOGIN_CONNECTIONS = Number(process.env.BENCH_LOGIN_CONNECTIONS ?? 32);
const OTHER_CONNECTIONS = Number(process.env.BENCH_OTHER_CONNECTIONS ?? 4);
const TARGET_P99_MS = 50;

function positive(name, value, max) {
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new Error(`${name} must be a whole number from 1 to ${max}`);
  }
}

/** Starts the demo server and resolves its URL once it listens. */
function startServer(port) {
  const main = path.join(distDir(), 'server', 'main.js');
  if (!fs.existsSync(main)) throw new Error('dist/server/main.js not found: run `npm run build` first');
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    TOKEN_KIT_SEED: SEED,
    TOKEN_KIT_TRUST_PROXY: '1',
  };
  const [cmd, args] = pinned(0, process.execPath, [main]);
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // audit lines: read and drop
        resolve({ child, url: m[1], stderr: () => stderr });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`demo server exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error('demo server did not start within 30 s')), 30_000).unref();
  });
}

let ipCounter = 0;
/** A distinct client address per request (the demo trusts one proxy hop). */
function nextIp() {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function withIp(req) {
  return { ...req, headers: { ...req.headers, 'x-forwarded-for': nextIp() } };
}

/** Runs autocannon and keeps every response time (ms) with its offset from `t0` (ms). */
function load(opts, t0) {
  const samples = [];
  return new Promise((resolve, reject) => {
    // Queued logins may wait long on a busy machine; a timeout (30 s) counts as an error.
    const instance = autocannon({ ...opts, pipelining: 1, duration: DURATION, timeout: 30 }, (err, result) =>
      err ? reject(err) : resolve({ result, samples }),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      samples.push({ at: Date.now() - t0, ms: responseTime, status: statusCode });
    });
  });
}

function stats(samples) {
  const ms = samples.map((s) => s.ms);
  return {
    count: ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: Math.max(...ms),
    over100: ms.filter((v) => v > 100).length,
    over2s: ms.filter((v) => v > 2000).length,
    firstSecondP99: percentile(
      samples.filter((s) => s.at < 1000).map((s) => s.ms),
      99,
    ),
    laterP99: percentile(
      samples.filter((s) => s.at >= 1000).map((s) => s.ms),
      99,
    ),
    non2xx: samples.filter((s) => s.status < 200 || s.status > 299).length,
    status5xx: samples.filter((s) => s.status >= 500).length,
  };
}

async function main() {
  positive('BENCH_DURATION', DURATION, 120);
  positive('BENCH_LOGIN_CONNECTIONS', LOGIN_CONNECTIONS, 256);
  positive('BENCH_OTHER_CONNECTIONS', OTHER_CONNECTIONS, 64);
  const seed = JSON.parse(fs.readFileSync(SEED, 'utf8'));
  const user = seed.users[0];
  const app = seed.applications.find((a) => a.grantTypes?.includes('client_credentials'));
  const loadBefore = loadAverage();
  const server = await startServer(await freePort());
  const t0 = Date.now();
  try {
    const json = { 'content-type': 'application/json' };
    // One token for the requireToken route: the very first request, on a cold server.
    const first = await fetch(`${server.url}/api/auth/tokens/`, {
      method: 'POST',
      headers: { ...json, 'x-forwarded-for': nextIp() },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      }),
    });
    if (first.status !== 200) throw new Error(`client_credentials answered ${first.status}`);
    const token = (await first.json()).access_token;
    const login = {
      method: 'POST',
      path: '/api/auth/tokens/',
      headers: json,
      body: JSON.stringify({ grant_type: 'password', username: user.username, password: user.password }),
    };
    const guarded = { method: 'GET', path: '/api/plans/', headers: { authorization: `Bearer ${token}` } };
    const clientCredentials = {
      method: 'POST',
      path: '/api/auth/tokens/',
      headers: json,
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      }),
    };
    const [logins, others] = await Promise.all([
      load(
        {
          url: server.url,
          connections: LOGIN_CONNECTIONS,
          requests: [{ ...login, setupRequest: withIp }],
        },
        t0,
      ),
      load(
        {
          url: server.url,
          connections: OTHER_CONNECTIONS,
          requests: [
            { ...guarded, setupRequest: withIp },
            { ...clientCredentials, setupRequest: withIp },
          ],
        },
        t0,
      ),
    ]);
    const result = {
      at: new Date().toISOString(),
      durationSeconds: DURATION,
      loginConnections: LOGIN_CONNECTIONS,
      otherConnections: OTHER_CONNECTIONS,
      store: process.env.REDIS_URL ? 'redis' : 'memory',
      pinned: pinningEnabled(),
      uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? 'default (4)',
      loadBefore,
      loadAfter: loadAverage(),
      machine: machine(),
      logins: stats(logins.samples),
      others: stats(others.samples),
      errors: logins.result.errors + others.result.errors,
      timeouts: logins.result.timeouts + others.result.timeouts,
    };
    report(result);
    const failed = result.errors > 0 || result.logins.status5xx > 0 || result.others.status5xx > 0;
    if (failed) {
      console.error('login-stall: 5xx or socket errors (see above)');
      process.exitCode = 1;
    }
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
  }
}

function row(label, s) {
  return [
    label,
    String(s.count),
    s.p50.toFixed(0),
    s.p99.toFixed(0),
    s.max.toFixed(0),
    String(s.over100),
    String(s.over2s),
    // NaN (no response in the first second) is stored as null in the JSON baseline.
    typeof s.firstSecondP99 === 'number' && !Number.isNaN(s.firstSecondP99)
      ? s.firstSecondP99.toFixed(0)
      : '–',
    typeof s.laterP99 === 'number' && !Number.isNaN(s.laterP99) ? s.laterP99.toFixed(0) : '–',
    String(s.non2xx),
  ];
}

function tableFor(result) {
  return table(
    [
      'stream',
      'requests',
      'p50 ms',
      'p99 ms',
      'max ms',
      '> 100 ms',
      '> 2 s',
      'p99 ms, 1st second',
      'p99 ms, after it',
      'non-2xx',
    ],
    [
      row(`password-grant logins (${result.loginConnections} connections)`, result.logins),
      row(`other requests (${result.otherConnections} connections)`, result.others),
    ],
  );
}

function describe(result) {
  return (
    `${result.at}, ${result.durationSeconds} s from a cold start, store ${result.store}, ` +
    `UV_THREADPOOL_SIZE ${result.uvThreadpoolSize}, ${result.pinned ? 'server on CPU 0 and autocannon on CPU 1' : 'not pinned'}; ` +
    `${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node}; ` +
    `load average before ${result.loadBefore}, after ${result.loadAfter}.`
  );
}

function report(result) {
  console.log(describe(result));
  console.log(tableFor(result));
  const verdict = result.others.p99 < TARGET_P99_MS ? 'meets' : 'misses';
  console.log(`other requests p99 ${result.others.p99} ms: ${verdict} the < ${TARGET_P99_MS} ms target`);
  if (process.env.BENCH_SAVE_BASELINE === '1') {
    fs.writeFileSync(BASELINE, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`baseline saved to ${path.relative(ROOT, BASELINE)}`);
    return;
  }
  if (process.env.BENCH_NO_DOC === '1') return;
  const baseline = fs.existsSync(BASELINE) ? JSON.parse(fs.readFileSync(BASELINE, 'utf8')) : null;
  const parts = [
    '## Password logins beside other requests',
    '',
    `\`npm run bench:logins\` (\`bench/login-stall.js\`) starts the demo server cold and, from the moment it listens, runs ` +
      `${result.loginConnections} connections of password-grant logins beside ${result.otherConnections} connections of other ` +
      'requests (a requireToken route and client_credentials grants, alternating) for ' +
      `${result.durationSeconds} s. Target: other requests p99 < ${TARGET_P99_MS} ms while the logins queue.`,
    '',
  ];
  if (baseline) {
    parts.push(
      '**Before** (seed users verified with scrypt on the libuv pool, up to 4 at once, nothing warmed up):',
      '',
      describe(baseline),
      '',
      tableFor(baseline),
      '',
      '**After** (password checks wait in a FIFO queue, at most CPUs − 1 and UV_THREADPOOL_SIZE − 1 at once — ' +
        'here 1, the server having one CPU — and a warm-up before serving):',
      '',
    );
  }
  parts.push(describe(result), '', tableFor(result));
  if (baseline) {
    parts.push(
      '',
      'Each scrypt check keeps a CPU busy for tens of milliseconds, so login throughput is bounded by the CPU ' +
        'either way. Unbounded, four hashes at once share the server’s CPU with the event loop, and every other ' +
        'request waits behind them; queued, one hash runs beside the event loop: the other requests keep their ' +
        'latency (and their throughput), and the logins wait longer in the queue. More CPUs, or ' +
        '`TOKEN_KIT_HASH_CONCURRENCY`, buy login throughput.',
    );
  }
  writeDocSection('login-stall', parts.join('\n'));
  console.log('docs/performance.md: login-stall section written');
}

main().catch((err) => {
  console.error(`login-stall failed: ${err.stack}`);
  process.exit(1);
});
