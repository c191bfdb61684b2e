'use strict';
/**
 * Revocation propagation: three kits (three instances) on the same Redis, each with its own
 * connection and revocation view and the same keys. Instances B and C are kept busy verifying the
 * bench's driven tokens (a steady stream of distinct tokens, as under HTTP load) while, per trial:
 *
 * 1. A issues two JWTs, S and U; B and C accept S (so S is in their caches); U they have never seen;
 * 2. A revokes both (two concurrent `revokeToken()` calls, started at t0);
 * 3. B and C poll S back to back until they reject it;
 * 4. B and C first look at U only once A's revocation of U has returned (so U was never accepted
 *    before it was revoked), and poll it until they reject it.
 *
 * The delays run from t0 to each instance's first rejection. Then a fail-closed check: a kit whose
 * Redis is unreachable must refuse a valid token (503 `service_unavailable`), never accept it.
 *
 * Run alone with `node bench/propagation.js` (private redis-server or REDIS_URL); `bench/run.js`
 * runs it too. Env: BENCH_PROPAGATION_TRIALS (default 200).
 */
const { performance } = require('node:perf_hooks');
const { connectRedis, deleteKeys, freePort, loadKit, percentile, sleep, startRedis } = require('./common');
const tokens = require('./tokens');
const { viewOptions } = require('./features');

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function measurePropagation({ redisUrl, trials = 200, tokensFile, background = 1000, loaders = 4 }) {
  const kitLib = loadKit();
  const prefix = `bench:propagation:${process.pid}:`;
  const key = await tokens.benchKey('RS256');
  const names = ['A', 'B', 'C'];
  const clients = await Promise.all(names.map(() => connectRedis(redisUrl)));
  // Stores before views: a store creates its deployment's revocation log, which a view that can be a
  // replica looks for when it starts.
  const stores = clients.map((client) => new kitLib.RedisTokenStore({ client, keyPrefix: prefix }));
  await sleep(50);
  const views = await Promise.all(
    clients.map((client) =>
      kitLib.RedisRevocationView.start({ client, channel: `${prefix}revocations`, ...viewOptions(kitLib) }),
    ),
  );
  for (let i = 0; i < 200 && views.some((v) => !v.ready); i++) await new Promise((r) => setTimeout(r, 10));
  if (views.some((v) => !v.ready)) throw new Error('the revocation views did not become ready');
  const kits = clients.map((client, i) =>
    kitLib.createTokenKit({
      store: stores[i],
      keys: kitLib.createKeySet({ keys: [key.keyInput] }),
      issuer: tokens.ISSUER,
      revocationView: views[i],
    }),
  );
  const [a, ...receivers] = kits;
  const replicating = views.map((v) => (typeof v.replicating === 'boolean' ? v.replicating : null));
  const driven = tokensFile ? tokens.readTokens(tokensFile, background) : [];
  let stop = false;
  let verified = 0;
  let loadError;
  const started = performance.now();
  const loops = driven.length
    ? receivers.flatMap((kit) =>
        Array.from({ length: loaders }, async (_, j) => {
          for (let i = j; !stop; i += loaders) {
            await tick();
            try {
              await kit.tokens.verifyAccessToken(driven[i % driven.length]);
              verified += 1;
            } catch (err) {
              loadError = err;
              stop = true;
            }
          }
        }),
      )
    : [];
  const delays = receivers.map(() => ({ seen: [], unseen: [], acceptedAfterAck: 0 }));
  /** Polls `token` on `kit` until it is rejected; returns the time of the rejection. */
  const pollUntilRejected = async (kit, token, onAccepted) => {
    const deadline = performance.now() + 5000;
    for (;;) {
      await tick();
      try {
        await kit.tokens.verifyAccessToken(token);
      } catch (err) {
        if (!(err instanceof kitLib.TokenError) || err.code !== 'invalid_token') throw err;
        return performance.now();
      }
      onAccepted?.();
      if (performance.now() > deadline) throw new Error('revocation not seen within 5 s');
    }
  };
  try {
    for (let t = 0; t < trials; t += 1) {
      const issue = async (kind) =>
        (await a.tokens.issueAccessToken({ subject: `prop-${kind}-${t}`, clientId: tokens.CLIENT_ID })).token;
      const seen = await issue('seen');
      const unseen = await issue('unseen');
      for (const kit of receivers) await kit.tokens.verifyAccessToken(seen); // throws if not accepted
      const t0 = performance.now();
      const revokeSeen = a.tokens.revokeToken(seen);
      const revokeUnseen = a.tokens.revokeToken(unseen);
      // Both at once: B and C poll the accepted token from t0, and look at the never-seen one only
      // once its revocation has returned.
      const seenPolls = Promise.all(
        receivers.map(async (kit, i) => {
          const seenAt = await pollUntilRejected(kit, seen);
          delays[i].seen.push(seenAt - t0);
        }),
      );
      const unseenPolls = revokeUnseen.then((ok) => {
        if (!ok) throw new Error('revokeToken returned false');
        return Promise.all(
          receivers.map(async (kit, i) => {
            const unseenAt = await pollUntilRejected(kit, unseen, () => {
              delays[i].acceptedAfterAck += 1;
            });
            delays[i].unseen.push(unseenAt - t0);
          }),
        );
      });
      await Promise.all([seenPolls, unseenPolls]);
      if (!(await revokeSeen)) throw new Error('revokeToken returned false');
      if (loadError) throw loadError;
    }
  } finally {
    stop = true;
    await Promise.allSettled(loops);
    await deleteKeys(clients[0], prefix).catch(() => undefined);
    await Promise.all(views.map((v) => v.close().catch(() => undefined)));
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  }
  if (loadError) throw new Error(`background verification failed: ${loadError.message}`);
  const seconds = (performance.now() - started) / 1000;
  const stats = (values) => ({
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
    within100ms: values.filter((ms) => ms <= 100).length,
  });
  return {
    trials,
    backgroundPerSecond: verified / seconds,
    backgroundTokens: driven.length,
    instances: receivers.map((_, i) => ({
      name: names[i + 1],
      seen: stats(delays[i].seen),
      unseen: { ...stats(delays[i].unseen), accepted: delays[i].acceptedAfterAck },
    })),
    replicating,
    failClosed: await failClosed(kitLib, key),
  };
}

/** A kit on an unreachable Redis refuses a valid token with a 503 `service_unavailable`. */
async function failClosed(kitLib, key) {
  const port = await freePort(); // nothing listens there
  const client = kitLib.createRedisClient({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 });
  client.on('error', () => undefined);
  const kit = kitLib.createTokenKit({
    store: new kitLib.RedisTokenStore({ client, keyPrefix: 'bench:dead:' }),
    keys: kitLib.createKeySet({ keys: [key.keyInput] }),
    issuer: tokens.ISSUER,
  });
  const { token } = await kit.tokens.issueAccessToken({ subject: 'fail-closed', clientId: tokens.CLIENT_ID });
  let outcome;
  try {
    await Promise.race([
      kit.tokens.verifyAccessToken(token),
      new Promise((_, reject) => setTimeout(() => reject(new Error('hang')), 5000)),
    ]);
    outcome = { ok: false, description: 'a valid token was ACCEPTED with Redis unreachable' };
  } catch (err) {
    const ok = err instanceof kitLib.TokenError && err.status === 503;
    outcome = {
      ok,
      description: ok
        ? `Redis unreachable: a valid token is refused, ${err.status} \`${err.code}\``
        : `Redis unreachable: ${err.message}`,
    };
  } finally {
    client.disconnect();
  }
  return outcome;
}

function formatPropagation(r) {
  const ms = (v) => v.toFixed(2);
  const rows = r.instances.flatMap((i) => [
    `| ${i.name} | accepted before (in its cache) | ${ms(i.seen.p50)} | ${ms(i.seen.p99)} | ${ms(i.seen.max)} | ${i.seen.within100ms}/${r.trials} | – |`,
    `| ${i.name} | never seen | ${ms(i.unseen.p50)} | ${ms(i.unseen.p99)} | ${ms(i.unseen.max)} | ${i.unseen.within100ms}/${r.trials} | ${i.unseen.accepted} |`,
  ]);
  return [
    'Three token kits (three instances) on one Redis, each with its own connection, revocation view and the same ' +
      `keys. Instances B and C verify the bench's driven tokens without pause (${r.backgroundTokens.toLocaleString('en-US')} ` +
      `distinct RS256 JWTs, ${Math.round(r.backgroundPerSecond).toLocaleString('en-US')} verifications/s in all) while, ` +
      'per trial, instance A issues two tokens, B and C accept the first, and A revokes both at once. The delay runs ' +
      "from the start of A's `revokeToken()` calls to each instance's first rejection: of the accepted token, polled " +
      'back to back; of the never-seen one, first looked at once its revocation has returned. ' +
      `${r.trials} trials.`,
    '',
    '| Instance | Token | p50 (ms) | p99 (ms) | max (ms) | within 100 ms | accepted after revocation returned |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    r.replicating?.some((v) => v !== null)
      ? `Revocation views: ${r.replicating.every(Boolean) ? 'all replicas' : `replica per instance ${JSON.stringify(r.replicating)}`}.`
      : 'Revocation views: per-jti answers cleared by every announcement (this build has no replica).',
    '',
    `Fail-closed: ${r.failClosed.description}.`,
  ].join('\n');
}

module.exports = { measurePropagation, formatPropagation };

if (require.main === module) {
  (async () => {
    const redis = await startRedis();
    try {
      const trials = Number(process.env.BENCH_PROPAGATION_TRIALS ?? 200);
      const tokensFile = await tokens.jwtFile('RS256', 1000);
      const r = await measurePropagation({ redisUrl: redis.url, trials, tokensFile });
      console.log(formatPropagation(r));
      if (r.instances.some((i) => i.seen.p99 > 100 || i.unseen.p99 > 100) || !r.failClosed.ok)
        process.exitCode = 1;
    } finally {
      await redis.stop();
    }
  })().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
