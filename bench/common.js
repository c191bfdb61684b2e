'use strict';
/**
 * Helpers shared by the bench scripts: a private redis-server, CPU pinning, machine facts,
 * statistics and the docs/performance.md section writer.
 */
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DOC = path.join(ROOT, 'docs', 'performance.md');

/** The compiled library the bench measures: BENCH_DIST (a snapshot made by run.js) or dist/. */
function distDir() {
  return process.env.BENCH_DIST || path.join(ROOT, 'dist');
}

/** `require` of the compiled library (see {@link distDir}): the main entry and `express-token-kit/redis`. */
function loadKit() {
  const dir = distDir();
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    throw new Error(`${path.relative(ROOT, dir)}/index.js not found: run \`npm run build\` first`);
  }
  return { ...require(dir), ...require(path.join(dir, 'redis')) };
}

/**
 * Copies dist/*.js into node_modules/.cache (so dependencies still resolve) and points BENCH_DIST
 * at it, so that a rebuild or a `rm -rf dist` by someone else during the run cannot change or
 * break what is measured. Returns the copy's content hash and a remover.
 */
function snapshotDist() {
  // BENCH_DIST set by the caller: measure that build (e.g. another branch's) instead of dist/.
  const src = process.env.BENCH_DIST || path.join(ROOT, 'dist');
  if (!fs.existsSync(path.join(src, 'index.js')))
    throw new Error(`${path.relative(ROOT, src) || src}/index.js not found: run \`npm run build\``);
  const dir = path.join(
    ROOT,
    'node_modules',
    '.cache',
    'express-token-kit-bench',
    String(process.pid),
    'dist',
  );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(src, dir, { recursive: true, filter: (f) => fs.statSync(f).isDirectory() || f.endsWith('.js') });
  const hash = crypto.createHash('sha256');
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      const f = path.join(d, name);
      if (fs.statSync(f).isDirectory()) walk(f);
      else hash.update(path.relative(dir, f)).update(fs.readFileSync(f));
    }
  };
  walk(dir);
  process.env.BENCH_DIST = dir;
  return {
    dir,
    hash: hash.digest('hex').slice(0, 12),
    remove: () => fs.rmSync(path.dirname(dir), { recursive: true, force: true }),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let tasksetChecked;
/** True when `taskset` runs here. */
function hasTaskset() {
  if (tasksetChecked === undefined) {
    const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    tasksetChecked = r.status === 0;
  }
  return tasksetChecked;
}

/** CPU pinning is used when taskset works and the machine has at least 2 cores. */
function pinningEnabled() {
  return process.env.BENCH_NO_PIN !== '1' && os.availableParallelism() >= 2 && hasTaskset();
}

/** [command, args] for running `cmd args` pinned to `cpu` (or unpinned when pinning is off). */
function pinned(cpu, cmd, args) {
  return pinningEnabled() ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

function pingRedis(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

/**
 * A Redis for the bench: REDIS_URL when set (never flushed), else a private redis-server on a free
 * port with no persistence, pinned to `cpu` when given. `stop()` kills the private server.
 */
async function startRedis({ cpu } = {}) {
  if (!process.env.REDIS_URL) {
    // Another process may take the free port before redis-server binds it: retry on a new one.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await launchRedis(cpu);
      } catch (err) {
        if (attempt >= 3) throw err;
        console.warn(`redis-server did not start (${err.message}); retrying on another port`);
      }
    }
  }
  return {
    url: process.env.REDIS_URL,
    external: true,
    version: 'external (REDIS_URL)',
    stop: async () => {},
  };
}

async function launchRedis(cpu) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', os.tmpdir());
  // A shell watchdog: it starts redis-server, prints its pid, and kills it when our end of its
  // stdin closes — also when this process dies without cleaning up.
  const script = 'redis-server "$@" & echo $!; read _ignored; kill $! 2>/dev/null; wait';
  const shArgs = ['-c', script, 'redis-watchdog', ...args];
  const [cmd, cmdArgs] = cpu === undefined ? ['sh', shArgs] : pinned(cpu, 'sh', shArgs);
  const proc = spawn(cmd, cmdArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
  let failed;
  proc.once('error', (err) => {
    failed = err;
  });
  let pid;
  let output = '';
  proc.stdout.on('data', (d) => {
    if (pid === undefined) pid = Number(String(d).split('\n')[0].trim());
    output = (output + d).slice(-2000);
  });
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const kill = () => {
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    proc.kill('SIGKILL');
  };
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(port)) || !pid) {
    if (failed) throw new Error(`could not start redis-server: ${failed.message}`);
    if (proc.exitCode !== null || (pid && !alive())) {
      kill();
      throw new Error(`redis-server exited: ${output.trim().split('\n').slice(-2).join(' ')}`);
    }
    if (Date.now() > deadline) {
      kill();
      throw new Error('redis-server did not answer PING within 10 s');
    }
    await sleep(50);
  }
  const v = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout || '';
  const version = (/v=(\S+)/.exec(v) || [])[1] || 'unknown';
  return {
    url: `redis://127.0.0.1:${port}`,
    external: false,
    version,
    pid,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.stdin.end(); // the watchdog kills redis-server and exits
        setTimeout(kill, 5000).unref();
      }),
  };
}

/**
 * An ioredis client as the library recommends (`createRedisClient`: command timeout, no offline
 * queue), ready to use. Falls back to plain ioredis when the helper is not in dist/.
 */
async function connectRedis(url) {
  let helper;
  try {
    helper = require(path.join(distDir(), 'stores', 'redis-client'));
  } catch {
    helper = undefined;
  }
  if (helper?.createRedisClient) {
    const client = helper.createRedisClient({ url });
    await helper.waitForReady(client, 5000);
    return client;
  }
  const { Redis } = require('ioredis');
  const client = new Redis(url, { enableOfflineQueue: false, commandTimeout: 500 });
  await new Promise((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  return client;
}

/** Counts the keys matching `prefix*` with SCAN (expired keys are not returned). */
async function countKeys(client, prefix) {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/** Deletes the keys matching `prefix*` (used to clean up an external REDIS_URL). */
async function deleteKeys(client, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0–100). */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function version(pkg) {
  try {
    return require(path.join(ROOT, 'node_modules', pkg, 'package.json')).version;
  } catch {
    return 'not installed';
  }
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** The 1, 5 and 15 minute load averages, formatted. */
function loadAverage() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/**
 * Replaces the part of docs/performance.md between `<!-- bench:NAME:start -->` and
 * `<!-- bench:NAME:end -->` (appending it when absent), so each script owns its own section.
 */
function writeDocSection(name, markdown, { prettier = true } = {}) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let doc = fs.existsSync(DOC) ? fs.readFileSync(DOC, 'utf8') : DOC_HEADER;
  const block = `${start}\n\n${markdown.trim()}\n\n${end}`;
  // The header (everything before the first section) is generated too: refresh it.
  const first = doc.search(/<!-- bench:[a-z-]+:start -->/);
  doc = first === -1 ? DOC_HEADER : DOC_HEADER + '\n' + doc.slice(first);
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i !== -1 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(DOC), { recursive: true });
  fs.writeFileSync(DOC, doc);
  if (prettier) {
    // Keep the generated file passing `prettier --check` (tables are aligned by prettier).
    const bin = path.join(ROOT, 'node_modules', '.bin', 'prettier');
    const r = spawnSync(bin, ['--write', DOC], { cwd: ROOT, stdio: 'ignore' });
    if (r.status !== 0) console.warn('prettier --write docs/performance.md failed; run it by hand');
  }
  return DOC;
}

const DOC_HEADER = `# Performance

How fast requireToken and the issuing routers are beside bare Express and the established peers when
every request carries a different token, what a steady stream of revocations elsewhere costs, how much
memory the server keeps, and how fast a revocation reaches every instance. Every figure below is
generated; the prose around the tables lives in \`bench/\`.

## How to run

- \`npm run bench\` builds \`dist/\`, snapshots it, starts a private \`redis-server\` (or uses \`REDIS_URL\`),
  mints the tokens it needs (cached in \`bench/.cache/\`), and runs every scenario of \`bench/scenarios.js\` at
  N = 1, 1 000 and 100 000 distinct tokens, the requireToken ones also under revocation churn, in shuffled
  rounds: the server (\`bench/server.js\`) pinned to CPU 0, autocannon (\`bench/load.js\`), the churn
  instance (\`bench/churn.js\`) and Redis pinned to CPU 1. Then a memory pass and revocation propagation
  (\`bench/propagation.js\`). Under 20 minutes on 2 cores; it prints its estimate first. Any non-2xx,
  socket error, timeout or failed check marks the unit FAILED and exits 1. It writes the section below
  and \`docs/performance-ratio.svg\`.
- A smoke run: \`BENCH_QUICK=1 BENCH_NO_DOC=1 npm run bench\` (about 3 minutes). The settings are listed
  under "Method" below.
- \`npm run bench:memory\` runs \`bench/memory.js\` under \`node --expose-gc\` (about a minute);
  \`npm run bench:logins\` runs \`bench/login-stall.js\`.
- Each script rewrites only its own section of this file, between its \`bench:<name>:start/end\` comments.
`;

/** A markdown table from a header row and rows of cells. */
function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rewrites the generated header of docs/performance.md, leaving every section as it is. */
function refreshDocHeader() {
  const doc = fs.readFileSync(DOC, 'utf8');
  const first = doc.search(/<!-- bench:[a-z-]+:start -->/);
  fs.writeFileSync(DOC, first === -1 ? DOC_HEADER : `${DOC_HEADER}\n${doc.slice(first)}`);
}

module.exports = {
  refreshDocHeader,
  ROOT,
  DOC,
  connectRedis,
  distDir,
  loadKit,
  snapshotDist,
  countKeys,
  deleteKeys,
  freePort,
  hasTaskset,
  loadAverage,
  machine,
  median,
  percentile,
  pinned,
  pinningEnabled,
  sleep,
  startRedis,
  table,
  version,
  writeDocSection,
};
