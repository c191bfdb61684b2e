'use strict';
/**
 * `node bench/verify-cost.js`: the in-process cost of one `requireToken` verification, no HTTP.
 *
 * Mints N distinct RS256 JWTs beforehand (bench/tokens.js, cached in bench/.cache/), builds a kit on
 * a memory store with an in-process revocation replica (synced, nothing revoked: the production
 * set-up of the Redis view, without the transport), and calls what the middleware calls —
 * `verifyRemembered`, else `await verifyAccessToken` — round-robin over the tokens:
 *
 * - `floor`: node:crypto RSA verify of each token's signing input alone (the RSA cost);
 * - `miss`:  N tokens round-robin with the cache off (`verifiedCacheSize: 0`): every call is a full
 *            verification;
 * - `miss+cache`: N tokens round-robin through caches far smaller than N (1 000 + 2 000: admission and
 *            eviction costs included);
 * - `digest`: N tokens round-robin, every one known to the digest memo only (`verifiedCacheSize: 1`):
 *            what a token costs past the identity cache (payload parsed again, no signature);
 * - `hit`:   1 000 tokens round-robin, all cached.
 *
 * Reports CPU µs per verification (process.cpuUsage, user + system, median of BENCH_ROUNDS rounds
 * interleaved so that load from other processes spreads over every mode) and heap bytes per cached
 * entry. Env: BENCH_N (default 20 000), BENCH_ROUNDS (default 5), BENCH_MODES (comma list).
 */
const crypto = require('node:crypto');
const path = require('node:path');
const { loadKit, distDir } = require('./common');
const { benchKey, jwtFile, readTokens, ISSUER } = require('./tokens');

const N = Number(process.env.BENCH_N ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MODES = (process.env.BENCH_MODES ?? 'floor,miss,miss+cache,digest,hit').split(',');

/** A synced replica with nothing revoked, answering every check locally (as RedisRevocationView does). */
function replicaView() {
  const { RevocationReplica } = require(path.join(distDir(), 'stores', 'revocation-view'));
  const replica = new RevocationReplica();
  replica.load(0, []);
  return {
    ready: true,
    replicating: true,
    generation: 0,
    check: (query) => replica.check(query),
    lookup: () => undefined,
    remember() {},
    announce: async () => {},
    close: async () => {},
  };
}

function kitWith(kitLib, key, extra) {
  return kitLib.createTokenKit({
    store: new kitLib.MemoryTokenStore(),
    keys: kitLib.createKeySet({ keys: [key.keyInput] }),
    issuer: ISSUER,
    maxTokenLifetime: 172_800,
    revocationView: replicaView(),
    ...extra,
  });
}

function cpuMicros(start) {
  const { user, system } = process.cpuUsage(start);
  return user + system;
}

/** One options object for every call, as requireToken passes (the caches key on its identity). */
const VERIFY_OPTIONS = Object.freeze({ typ: ['at+jwt'] });

async function runVerify(kit, tokens, calls) {
  const options = VERIFY_OPTIONS;
  const { tokens: service } = kit;
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const token = tokens[i % tokens.length];
    const auth =
      service.verifyRemembered(token, options) ?? (await service.verifyAccessToken(token, options));
    if (auth.subject === undefined) throw new Error('no subject');
  }
  return cpuMicros(start) / calls;
}

function runFloor(key, tokens, calls) {
  const parts = tokens.map((t) => {
    const dot = t.lastIndexOf('.');
    return [Buffer.from(t.slice(0, dot)), Buffer.from(t.slice(dot + 1), 'base64url')];
  });
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const [input, signature] = parts[i % parts.length];
    if (!crypto.verify('sha256', input, key.publicKey, signature)) throw new Error('bad signature');
  }
  return cpuMicros(start) / calls;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * BENCH_CALLS=n BENCH_MODES=<one mode>: a fixed warm-up, then n calls of that mode, nothing else —
 * for instruction counts, repeatable on a loaded machine: run it under
 * `valgrind --tool=callgrind` with two values of n and divide the difference of the totals by the
 * difference of the n's (bench/verify-instructions.sh).
 */
async function counted(kitLib, key, tokens, hot, mode, calls) {
  const kit =
    mode === 'floor' ? undefined : kitWith(kitLib, key, mode === 'miss' ? { verifiedCacheSize: 0 } : {});
  const list = mode === 'hit' ? hot : tokens;
  const warm = mode === 'hit' ? 3 * hot.length : mode === 'digest' ? 2 * tokens.length : 500;
  if (kit === undefined) runFloor(key, tokens, warm);
  else await runVerify(kit, list, warm);
  // the measured calls start past the warm-up's tokens, so a miss stays a miss
  const rest = mode === 'hit' || mode === 'digest' ? list : list.slice(warm);
  if (kit === undefined) runFloor(key, rest, calls);
  else await runVerify(kit, rest, calls);
  console.log(`${mode}: ${calls} calls done`);
}

async function main() {
  const kitLib = loadKit();
  const key = await benchKey('RS256');
  const tokens = readTokens(await jwtFile('RS256', N), N);
  const hot = tokens.slice(0, 1000);
  if (process.env.BENCH_CALLS !== undefined) {
    await counted(kitLib, key, tokens, hot, MODES[0], Number(process.env.BENCH_CALLS));
    return;
  }
  const results = Object.fromEntries(MODES.map((m) => [m, []]));
  const kits = {
    miss: kitWith(kitLib, key, { verifiedCacheSize: 0 }),
    digest: kitWith(kitLib, key, { verifiedCacheSize: 1 }),
    'miss+cache': kitWith(kitLib, key, { verifiedCacheSize: 1000, verifiedDigestCacheSize: 2000 }),
    hit: kitWith(kitLib, key, {}),
  };
  // warm up: JIT, and the hit kit's cache (admission on second sighting: two passes)
  await runVerify(kits.miss, tokens, Math.min(N, 3000));
  await runVerify(kits['miss+cache'], tokens, Math.min(N, 3000));
  await runVerify(kits.hit, hot, 3 * hot.length);
  if (kits.digest !== undefined) await runVerify(kits.digest, tokens, 2 * N);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES) {
      const calls = mode === 'hit' ? 200_000 : Math.min(N, 10_000);
      const micros =
        mode === 'floor'
          ? runFloor(key, tokens, calls)
          : await runVerify(kits[mode], mode === 'hit' ? hot : tokens, calls);
      results[mode].push(micros);
    }
  }
  const floor = results.floor ? median(results.floor) : undefined;
  console.log(`N = ${N}, ${ROUNDS} rounds, node ${process.version}`);
  for (const mode of MODES) {
    const m = median(results[mode]);
    const spread = `${Math.min(...results[mode]).toFixed(2)}–${Math.max(...results[mode]).toFixed(2)}`;
    const over = floor !== undefined && mode !== 'floor' ? `, +${(m - floor).toFixed(2)} µs over RSA` : '';
    console.log(`${mode.padEnd(11)} ${m.toFixed(2).padStart(8)} µs/verify (${spread})${over}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
