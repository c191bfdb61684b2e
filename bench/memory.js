'use strict';
/**
 * `npm run bench:memory` (`node --expose-gc bench/memory.js`): does verifying and issuing many
 * tokens leave anything behind in the heap or in Redis?
 *
 * In one process, on a private redis-server (or REDIS_URL):
 * 1. verifies 1,000,000 requests' worth of tokens with `kit.tokens.verifyAccessToken` — 1000
 *    distinct tokens (500 RS256 JWTs, 500 opaque) repeated;
 * 2. issues 100,000 opaque tokens with a short TTL;
 * 3. waits for those to expire;
 * and reports heap used after a forced GC and the Redis key count under the store's prefix at each
 * step. Writes the "Memory" section of docs/performance.md.
 *
 * Env: BENCH_MEMORY_VERIFY (default 1000000), BENCH_MEMORY_ISSUE (default 100000),
 * BENCH_MEMORY_TTL (s, default 10), BENCH_MEMORY_CONCURRENCY (default 200), BENCH_NO_DOC=1.
 */
const { performance } = require('node:perf_hooks');
const {
  connectRedis,
  countKeys,
  deleteKeys,
  loadAverage,
  machine,
  sleep,
  startRedis,
  table,
  version,
  writeDocSection,
} = require('./common');

const VERIFY = Number(process.env.BENCH_MEMORY_VERIFY ?? 1_000_000);
const ISSUE = Number(process.env.BENCH_MEMORY_ISSUE ?? 100_000);
const TTL = Number(process.env.BENCH_MEMORY_TTL ?? 10);
const CONCURRENCY = Number(process.env.BENCH_MEMORY_CONCURRENCY ?? 200);
const DISTINCT = 1000;
const RETENTION = 1;

const MiB = 2 ** 20;

async function settledHeap() {
  for (let i = 0; i < 3; i += 1) {
    global.gc();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
}

async function redisUsedMemory(client) {
  const info = await client.info('memory');
  return Number((/^used_memory:(\d+)/m.exec(info) || [])[1]);
}

/** Runs `task(i)` for i in [0, n) with `concurrency` workers; returns the failure count. */
async function pool(n, concurrency, task) {
  let next = 0;
  let failures = 0;
  let firstError;
  const worker = async () => {
    while (next < n) {
      const i = next;
      next += 1;
      try {
        await task(i);
      } catch (err) {
        failures += 1;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (firstError) console.error(`first failure: ${firstError.stack ?? firstError}`);
  return failures;
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench:memory)');
  const kitLib = require('./common').loadKit();
  const redis = await startRedis();
  const client = await connectRedis(redis.url);
  const prefix = `bench:memory:${process.pid}:`;
  const steps = [];
  try {
    const kit = kitLib.createTokenKit({
      store: new kitLib.RedisTokenStore({ client, keyPrefix: prefix }),
      keys: kitLib.createKeySet({ keys: [await kitLib.KeySet.generateKey('RS256', 'bench-memory')] }),
      issuer: 'https://bench.example',
      expiredRecordRetention: RETENTION,
    });
    const snap = async (name, extra = {}) => {
      const heap = await settledHeap();
      const step = {
        name,
        ...heap,
        keys: await countKeys(client, prefix),
        redisMemory: await redisUsedMemory(client),
        ...extra,
      };
      steps.push(step);
      console.log(
        `${name}: heap ${(step.heapUsed / MiB).toFixed(1)} MiB, rss ${(step.rss / MiB).toFixed(1)} MiB, ` +
          `keys ${step.keys}, redis ${(step.redisMemory / MiB).toFixed(1)} MiB`,
      );
      return step;
    };

    const tokens = [];
    for (let i = 0; i < DISTINCT; i += 1) {
      const format = i % 2 === 0 ? 'jwt' : 'opaque';
      const issued = await kit.tokens.issueAccessToken({ subject: `user-${i}`, clientId: 'bench', format });
      tokens.push(issued.token);
    }
    // Warm the code paths, so the baseline includes compiled code rather than counting it as growth.
    await pool(20_000, CONCURRENCY, (i) => kit.tokens.verifyAccessToken(tokens[i % DISTINCT]));
    await snap(`baseline (${DISTINCT} tokens issued, 20,000 warm-up verifications)`);

    let t = performance.now();
    const verifyFailures = await pool(VERIFY, CONCURRENCY, (i) =>
      kit.tokens.verifyAccessToken(tokens[i % DISTINCT]),
    );
    const verifySeconds = (performance.now() - t) / 1000;
    await snap(`after verifying ${VERIFY.toLocaleString('en-US')} requests`, {
      note: `${(VERIFY / verifySeconds).toFixed(0)} verifications/s, ${verifyFailures} failures`,
    });

    t = performance.now();
    const issueFailures = await pool(ISSUE, CONCURRENCY, (i) =>
      kit.tokens.issueAccessToken({ subject: `bulk-${i}`, clientId: 'bench', format: 'opaque', ttl: TTL }),
    );
    const issueSeconds = (performance.now() - t) / 1000;
    const issuedAt = Date.now();
    await snap(`after issuing ${ISSUE.toLocaleString('en-US')} opaque tokens (TTL ${TTL} s)`, {
      note: `${(ISSUE / issueSeconds).toFixed(0)} issues/s, ${issueFailures} failures`,
    });

    // Records live TTL + expiredRecordRetention; wait for that, then for Redis to drop them.
    await sleep(Math.max(0, issuedAt + (TTL + RETENTION + 1) * 1000 - Date.now()));
    const deadline = Date.now() + 60_000;
    while ((await countKeys(client, prefix)) > steps[0].keys && Date.now() < deadline) await sleep(500);
    await snap(`after expiry (${TTL + RETENTION} s + Redis' expiry cycle)`, {
      note: `${((Date.now() - issuedAt) / 1000).toFixed(1)} s after the last issue`,
    });

    const failures = verifyFailures + issueFailures;
    const doc = document(steps, { failures });
    console.log(`\n${doc}\n`);
    if (failures > 0) {
      console.error(`BENCH FAILED: ${failures} verifications/issues failed; docs/performance.md not updated`);
      process.exitCode = 1;
    } else if (process.env.BENCH_NO_DOC !== '1') {
      writeDocSection('memory', doc);
      console.log('written: docs/performance.md (Memory)');
    }
  } finally {
    await deleteKeys(client, prefix).catch(() => undefined);
    await client.quit().catch(() => undefined);
    await redis.stop();
  }
}

function document(steps, { failures }) {
  const mib = (b) => (b / MiB).toFixed(1);
  const base = steps[0];
  const m = machine();
  return [
    '## Memory',
    '',
    `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, \`npm run bench:memory\`: one process, \`node --expose-gc\`, a`,
    `\`RedisTokenStore\` on a private redis-server, RS256 keys. ${DISTINCT} distinct tokens (half RS256 JWTs, half`,
    `opaque) are verified ${VERIFY.toLocaleString('en-US')} times in total through \`kit.tokens.verifyAccessToken\``,
    `(${CONCURRENCY} in flight), then ${ISSUE.toLocaleString('en-US')} opaque tokens are issued with a ${TTL} s TTL`,
    `(\`expiredRecordRetention: ${RETENTION}\`) and left to expire. Heap figures are taken after three forced GCs;`,
    `keys are counted with \`SCAN MATCH <prefix>*\`.`,
    '',
    table(
      [
        'Step',
        'heap used (MiB)',
        'Δ heap vs baseline (MiB)',
        'RSS (MiB)',
        'keys under prefix',
        'Redis used_memory (MiB)',
        'note',
      ],
      steps.map((s) => [
        s.name,
        mib(s.heapUsed),
        (s === base ? '' : s.heapUsed >= base.heapUsed ? '+' : '') +
          (s === base ? '–' : mib(s.heapUsed - base.heapUsed)),
        mib(s.rss),
        s.keys.toLocaleString('en-US'),
        mib(s.redisMemory),
        s.note ?? '',
      ]),
    ),
    '',
    `Failures: ${failures}. Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ioredis`,
    `${version('ioredis')}; jsonwebtoken ${version('jsonwebtoken')}; load average at the end ${loadAverage()}.`,
    `RSS includes memory V8 keeps after GC and is shown for context only; the heap and the key count are the`,
    `figures to watch. The key count returns to the baseline once the short-lived tokens expire: every key`,
    `the store writes has a TTL.`,
  ].join('\n');
}

main().catch((err) => {
  console.error(`BENCH FAILED: ${err.stack ?? err}`);
  process.exit(1);
});
