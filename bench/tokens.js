'use strict';
/**
 * The tokens the verification scenarios are driven with, made before anything is timed.
 *
 * - Signing keys (RS256, ES256, HS256) are generated once and kept in bench/.cache/ (gitignored).
 * - JWTs are minted through the kit (`kit.tokens.issueAccessToken`, one subject per token, the
 *   longest lifetime the kit allows) in worker threads, one per core, and cached on disk keyed by
 *   the key's fingerprint, the issuer and the count: a later run reuses them while they have hours
 *   left. The kit stores nothing for a JWT, so a cached JWT is as valid as a fresh one.
 * - Opaque tokens live in the store, so they are issued through the kit into the bench Redis
 *   (many in flight: ioredis pipelines them on one connection) at the start of every run.
 *
 * A token file is one token a line; `bench/load.js` reads it and cycles through its first N lines.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { ROOT } = require('./common');

const CACHE = path.join(ROOT, 'bench', '.cache');
const ISSUER = 'https://bench.example';
const CLIENT_ID = 'bench-client';
/** The kit's longest access-token lifetime (MAX_ACCESS_TOKEN_LIFETIME, 48 h). */
const JWT_TTL = 172_800;
/** A cached token file is reused while its tokens have at least this long left. */
const MIN_REMAINING = 6 * 3600;

/** The bench's signing key for `alg`, from bench/.cache/ or generated and saved there. */
async function benchKey(alg) {
  const file = path.join(CACHE, `key-${alg.toLowerCase()}.json`);
  if (fs.existsSync(file)) return keyFromFile(file);
  fs.mkdirSync(CACHE, { recursive: true });
  const kid = `bench-${alg.toLowerCase()}`;
  let saved;
  if (alg === 'HS256') {
    saved = { kid, alg, secret: crypto.randomBytes(32).toString('base64url') };
  } else {
    const { privateKey } =
      alg === 'RS256'
        ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
        : crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    saved = { kid, alg, privateKey: privateKey.export({ format: 'jwk' }) };
  }
  fs.writeFileSync(file, JSON.stringify(saved), { mode: 0o600 });
  return keyFromFile(file);
}

/**
 * A key file as the kit's `KeyInput` plus what the peers need: `publicKey` (KeyObject), `pem`
 * (SPKI), `secret` (HS256 bytes) and `fingerprint` (which token files belong to it).
 */
function keyFromFile(file) {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fingerprint = crypto
    .createHash('sha256')
    .update(JSON.stringify(saved))
    .update(ISSUER)
    .digest('hex')
    .slice(0, 16);
  if (saved.alg === 'HS256') {
    const secret = Buffer.from(saved.secret, 'base64url');
    return { file, fingerprint, keyInput: { kid: saved.kid, alg: 'HS256', secret }, secret };
  }
  const privateKey = crypto.createPrivateKey({ key: saved.privateKey, format: 'jwk' });
  const publicKey = crypto.createPublicKey(privateKey);
  return {
    file,
    fingerprint,
    keyInput: { kid: saved.kid, alg: saved.alg, privateKey, publicKey },
    publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A kit with the bench key (any store): what mints JWTs, here and in the workers. */
function mintingKit(kitLib, key, store) {
  return kitLib.createTokenKit({
    store: store ?? new kitLib.MemoryTokenStore(),
    keys: kitLib.createKeySet({ keys: [key.keyInput] }),
    issuer: ISSUER,
    maxTokenLifetime: JWT_TTL,
  });
}

const subjectOf = (i) => `user-${i}`;

/** The cached file of `count` JWTs for `alg`, minted now (on every core) when missing or stale. */
async function jwtFile(alg, count, log = console.log) {
  const key = await benchKey(alg);
  const stem = `jwt-${alg.toLowerCase()}-${key.fingerprint}-`;
  // Any fresh cached file with at least `count` tokens of this key will do (readers take the first N).
  for (const name of fs.existsSync(CACHE) ? fs.readdirSync(CACHE) : []) {
    if (!name.startsWith(stem) || !name.endsWith('.txt.json')) continue;
    try {
      const { expiresAt, lines } = JSON.parse(fs.readFileSync(path.join(CACHE, name), 'utf8'));
      const txt = path.join(CACHE, name.slice(0, -'.json'.length));
      if (lines >= count && expiresAt - Date.now() / 1000 > MIN_REMAINING && fs.existsSync(txt)) return txt;
    } catch {
      // a half-written cache entry: mint again
    }
  }
  const file = path.join(CACHE, `${stem}${count}.txt`);
  const meta = `${file}.json`;
  const started = Date.now();
  const workers = Math.max(1, Math.min(os.availableParallelism(), Math.ceil(count / 500)));
  log(
    `minting ${count.toLocaleString('en-US')} ${alg} JWTs on ${workers} worker thread(s) (cached afterwards)…`,
  );
  const per = Math.ceil(count / workers);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = w * per;
      const to = Math.min(count, from + per);
      return new Promise((resolve, reject) => {
        const worker = new Worker(__filename, { workerData: { keyFile: key.file, from, to } });
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`mint worker exited with ${code}`));
        });
      });
    }),
  );
  const tokens = parts.flatMap((p) => p.tokens);
  const expiresAt = Math.min(...parts.map((p) => p.expiresAt));
  if (tokens.length !== count || new Set(tokens).size !== count)
    throw new Error(`minting produced ${new Set(tokens).size} distinct tokens, expected ${count}`);
  fs.writeFileSync(file, `${tokens.join('\n')}\n`);
  fs.writeFileSync(
    meta,
    JSON.stringify({ alg, count, lines: count, expiresAt, fingerprint: key.fingerprint }),
  );
  log(`  minted in ${((Date.now() - started) / 1000).toFixed(1)} s → ${path.relative(ROOT, file)}`);
  return file;
}

/**
 * Issues `count` opaque tokens through a kit on the bench Redis under `keyPrefix` (the prefix the
 * opaque scenario's server uses) and writes them to a file in bench/.cache/. Returns the path.
 */
async function opaqueFile(kitLib, client, keyPrefix, count, log = console.log) {
  const key = await benchKey('RS256');
  const kit = mintingKit(kitLib, key, new kitLib.RedisTokenStore({ client, keyPrefix }));
  const started = Date.now();
  const tokens = new Array(count);
  const inFlight = 256;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) {
        const i = next++;
        const { token } = await kit.tokens.issueAccessToken({
          subject: subjectOf(i),
          clientId: CLIENT_ID,
          scope: 'read',
          format: 'opaque',
          ttl: 4 * 3600,
        });
        tokens[i] = token;
      }
    }),
  );
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `opaque-${process.pid}-${count}.txt`);
  fs.writeFileSync(file, `${tokens.join('\n')}\n`);
  log(
    `issued ${count.toLocaleString('en-US')} opaque tokens into Redis in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return file;
}

/** The first `n` tokens of a token file. */
function readTokens(file, n = Infinity) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length < n) throw new Error(`${file} has ${lines.length} tokens, ${n} wanted`);
  return Number.isFinite(n) ? lines.slice(0, n) : lines;
}

module.exports = {
  CACHE,
  CLIENT_ID,
  ISSUER,
  benchKey,
  jwtFile,
  keyFromFile,
  mintingKit,
  opaqueFile,
  readTokens,
};

if (!isMainThread && workerData?.keyFile) {
  // A mint worker: tokens [from, to) with the key of keyFile.
  const { loadKit } = require('./common');
  const kitLib = loadKit();
  const key = keyFromFile(workerData.keyFile);
  const kit = mintingKit(kitLib, key);
  (async () => {
    const tokens = [];
    let expiresAt = Infinity;
    for (let i = workerData.from; i < workerData.to; i += 1) {
      const issued = await kit.tokens.issueAccessToken({
        subject: subjectOf(i),
        clientId: CLIENT_ID,
        scope: 'read',
        ttl: JWT_TTL,
      });
      tokens.push(issued.token);
      expiresAt = Math.min(expiresAt, issued.expiresAt);
    }
    parentPort.postMessage({ tokens, expiresAt });
  })().catch((err) => {
    throw err;
  });
}
