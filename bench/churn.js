'use strict';
/**
 * Revocation churn: `node bench/churn.js '<json>'` (pinned to CPU 1 by bench/run.js), a second
 * kit instance on the same Redis, key prefix and revocation channel as the server under test,
 * revoking a steady `rate` tokens a second until its stdin closes — the logouts of other users
 * while the server is loaded.
 *
 * It revokes tokens of its own (issued by this instance, other subjects, never in the driven set),
 * so the run keeps answering 200 while every revocation is written to Redis and announced to the
 * server's revocation view. The pool is issued before `CHURN_READY`, so only revocations happen
 * during the window. On exit it prints `CHURN_RESULT {revoked, seconds, rate, errors}`.
 *
 * Input: { redisUrl, prefix, format ('jwt' | 'opaque'), alg, rate, seconds (pool size hint) }.
 */
const { connectRedis, loadKit } = require('./common');
const { benchKey, CLIENT_ID, ISSUER } = require('./tokens');
const { viewOptions } = require('./features');

async function main() {
  const opts = JSON.parse(process.argv[2]);
  const kitLib = loadKit();
  const client = await connectRedis(opts.redisUrl);
  // The store first: it creates the deployment's revocation log, which a replica looks for at start.
  const store = new kitLib.RedisTokenStore({ client, keyPrefix: opts.prefix });
  const view = await kitLib.RedisRevocationView.start({
    client,
    channel: `${opts.prefix}revocations`,
    ...viewOptions(kitLib),
  });
  const key = await benchKey(opts.alg ?? 'RS256');
  const kit = kitLib.createTokenKit({
    store,
    keys: kitLib.createKeySet({ keys: [key.keyInput] }),
    issuer: ISSUER,
    revocationView: view,
  });
  const rate = opts.rate ?? 50;
  const poolSize = Math.ceil(rate * (opts.seconds ?? 30) * 1.2) + rate;
  const pool = [];
  for (let i = 0; i < poolSize; i += 1) {
    const { token } = await kit.tokens.issueAccessToken({
      subject: `churn-${process.pid}-${i}`,
      clientId: CLIENT_ID,
      scope: 'read',
      format: opts.format === 'opaque' ? 'opaque' : 'jwt',
      // Short-lived, as access tokens are: their revocation records expire with them.
      ttl: 600,
    });
    pool.push(token);
  }
  let revoked = 0;
  let errors = 0;
  let lastError;
  let started = 0;
  let stopping = false;
  const finish = () => {
    if (stopping) return;
    stopping = true;
    const seconds = started ? (Date.now() - started) / 1000 : 0;
    process.stdout.write(
      `CHURN_RESULT ${JSON.stringify({ revoked, seconds, rate: seconds ? revoked / seconds : 0, errors, lastError })}\n`,
    );
    view
      .close()
      .catch(() => undefined)
      .then(() => client.quit())
      .finally(() => process.exit(0));
  };
  process.stdin.on('end', finish).resume();
  process.on('SIGTERM', finish);
  process.stdout.write(`CHURN_READY ${JSON.stringify({ pool: pool.length })}\n`);
  started = Date.now();
  // A steady rate: every 20 ms, catch up to rate × elapsed (never a burst after a stall beyond that).
  let inFlight = 0;
  const timer = setInterval(() => {
    if (stopping) return clearInterval(timer);
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (revoked + inFlight < due && inFlight < 16) {
      const token = pool.pop();
      if (token === undefined) {
        errors += 1;
        lastError = 'pool exhausted';
        return undefined;
      }
      inFlight += 1;
      kit.tokens.revokeToken(token).then(
        (ok) => {
          inFlight -= 1;
          if (ok) revoked += 1;
          else {
            errors += 1;
            lastError = 'revokeToken returned false';
          }
        },
        (err) => {
          inFlight -= 1;
          errors += 1;
          lastError = String(err?.message ?? err);
        },
      );
    }
    return undefined;
  }, 20);
}

main().catch((err) => {
  process.stderr.write(`bench churn failed: ${err.stack}\n`);
  process.exit(1);
});
