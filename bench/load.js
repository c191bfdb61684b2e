'use strict';
/**
 * The load generator: `node bench/load.js '<json>'` (pinned to CPU 1 by bench/run.js).
 *
 * Runs autocannon twice against one URL — a warm-up whose numbers are discarded except for its
 * error counts, then the measured run — and prints one line `BENCH_RESULT {...}`.
 * Input: { url, method, headers, body, connections, warmup, duration } (durations in seconds).
 */
const autocannon = require('autocannon');

function run(opts, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: opts.url,
        method: opts.method,
        headers: opts.headers,
        body: opts.body,
        connections: opts.connections,
        pipelining: 1,
        duration,
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

function summary(r) {
  return {
    rps: r.requests.average,
    total: r.requests.total,
    duration: r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: r.latency.average,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    status5xx: r['5xx'],
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
  };
}

async function main() {
  const opts = JSON.parse(process.argv[2]);
  const t0 = process.hrtime.bigint();
  const warmup = opts.warmup > 0 ? summary(await run(opts, opts.warmup)) : null;
  const measured = summary(await run(opts, opts.duration));
  const runSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ warmup, measured, cpuSeconds, runSeconds })}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench load failed: ${err.stack}\n`);
  process.exit(1);
});
