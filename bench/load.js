'use strict';
/**
 * The load generator: `node bench/load.js '<json>'` (pinned to CPU 1 by bench/run.js).
 *
 * Runs autocannon against one server: a warm-up whose numbers are discarded except for its error
 * counts, then the measured run (or, with `amount`, exactly that many requests: the memory pass).
 * Prints one line `BENCH_RESULT {...}`.
 *
 * Input: { origin, path, method, headers, body, connections, warmup, duration, amount?,
 * tokensFile?, n? } (durations in seconds). With a tokens file, the requests carry its first n
 * tokens as `Authorization: Bearer`, in turn: one shared counter across all connections, so
 * consecutive requests (on any connection) carry consecutive tokens and each of the n is sent once
 * per n requests. The tokens are read before anything is timed; per request the cycling costs an
 * array index and a string concatenation in this process, none in the server's.
 *
 * Around the measured window it asks the server's control endpoint (bench/server.js) for its CPU
 * time and RSS; during the warm-up it has the server count the distinct Authorization headers it
 * receives, and checks that count against what was sent.
 */
const autocannon = require('autocannon');
const { readTokens } = require('./tokens');

async function control(origin, what) {
  const res = await fetch(`${origin}/__bench/${what}`);
  if (res.status !== 200) throw new Error(`control ${what}: ${res.status}`);
  return res.json();
}

function run(opts, { duration, amount }, headersFor) {
  const request = { method: opts.method, path: opts.path, headers: opts.headers, body: opts.body };
  if (headersFor) {
    // autocannon 9 rebuilds a request whose setupRequest is a function before every send; the
    // headers object it passes is a fresh copy, safe to extend.
    request.setupRequest = (req) => {
      req.headers.authorization = headersFor();
      return req;
    };
  }
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${opts.origin}${opts.path}`,
        connections: opts.connections,
        pipelining: 1,
        timeout: 10,
        requests: [request],
        ...(amount ? { amount } : { duration }),
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
  let headersFor = null;
  let sent = 0;
  let n = 0;
  if (opts.tokensFile) {
    const values = readTokens(opts.tokensFile, opts.n).map((t) => `Bearer ${t}`);
    n = values.length;
    headersFor = () => values[sent++ % n];
  }
  const t0 = process.hrtime.bigint();
  let warmup = null;
  let distinct = null;
  if (opts.warmup > 0 || (headersFor && !opts.amount)) {
    if (headersFor) await control(opts.origin, 'count?on=1');
    const sentBefore = sent;
    // Without a warm-up, a short counted pass still proves the tokens are distinct.
    warmup = summary(
      await run(
        opts,
        opts.warmup > 0 ? { duration: opts.warmup } : { amount: Math.min(n, 2000) },
        headersFor,
      ),
    );
    if (headersFor) {
      const seen = (await control(opts.origin, 'count?on=0')).distinct;
      distinct = { seen, sent: sent - sentBefore, n };
    }
  }
  const before = await control(opts.origin, 'stats');
  const m0 = process.hrtime.bigint();
  const measured = summary(
    await run(opts, opts.amount ? { amount: opts.amount } : { duration: opts.duration }, headersFor),
  );
  const measuredSeconds = Number(process.hrtime.bigint() - m0) / 1e9;
  const after = await control(opts.origin, 'stats');
  const runSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage();
  process.stdout.write(
    `BENCH_RESULT ${JSON.stringify({
      warmup,
      measured,
      distinct,
      measuredSeconds,
      serverCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      serverRss: after.rss,
      serverErrors: after.serverErrors,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      runSeconds,
    })}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bench load failed: ${err.stack}\n`);
  process.exit(1);
});
