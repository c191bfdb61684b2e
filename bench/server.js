'use strict';
/**
 * The server under test: `node bench/server.js <scenario>` (pinned to CPU 0 by bench/run.js).
 *
 * Builds one scenario's Express 5 app on a free port, then prints one line
 * `BENCH_READY {"port",...,"load",...,"checks"}` describing the request to load it with and the
 * correctness checks to run first. Exits on SIGTERM/SIGINT. Env: REDIS_URL (required by the
 * scenarios that use Redis), BENCH_PREFIX (Redis key prefix).
 *
 * The verification scenarios use the bench's cached keys (bench/tokens.js), so the tokens minted
 * beforehand are valid here. A control endpoint outside the app, `GET /__bench/stats`, answers the
 * process's CPU seconds and RSS (read by bench/load.js around the measured window);
 * `GET /__bench/count?on=1|0` starts and stops counting distinct Authorization headers.
 */
const { randomBytes } = require('node:crypto');
const express = require('express');
const { connectRedis, loadKit } = require('./common');
const { benchKey, ISSUER } = require('./tokens');
const { kitOptions, viewOptions } = require('./features');

const kitLib = loadKit();

const SUBJECT = 'bench-user';
const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = `etk_cs_${randomBytes(24).toString('base64url')}`;
const HS256_SECRET = 'a-string-secret-at-least-32-bytes-long-for-hs256';

const scenario = process.argv[2];
const closers = [];

function newApp() {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  return app;
}

/** The resource every guarded scenario serves. */
function resource(req, res) {
  res.json({ ok: true, sub: req.auth?.subject ?? req.auth?.sub ?? SUBJECT });
}

/** Peers throw their own errors; answer them 401 like requireToken, never with a stack. */
function peerErrors(err, _req, res, _next) {
  const status = err.status ?? err.statusCode ?? 500;
  res.status(status).json({ error: err.code ?? err.name ?? 'error' });
}

/**
 * The routers' brute-force limits (on by default in the library), kept in the request path so their
 * cost is measured, with ceilings high enough that the one load-generator IP is never throttled.
 * BENCH_RATE_LIMIT: `redis` (default when the kit is on Redis, as the demo server does), `memory`
 * or `off`.
 */
function rateLimitOption(client) {
  const mode = process.env.BENCH_RATE_LIMIT ?? 'redis';
  if (mode === 'off') return { enabled: false };
  const ceilings = { requestsPerIp: 1e9, failuresPerIp: 1e9, failuresPerCredentialAndIp: 1e9 };
  if (mode === 'memory' || !client) return { store: 'memory', ...ceilings };
  return { store: client, keyPrefix: `${prefix}rl:`, ...ceilings };
}

const prefix = process.env.BENCH_PREFIX ?? `bench:${scenario}:${process.pid}:`;

let viewState = null;

async function makeKit({
  alg = 'RS256',
  store = 'redis',
  extra = {},
  view = false,
  benchKeys = false,
  replica,
} = {}) {
  let tokenStore;
  let client;
  if (store === 'redis') {
    if (!process.env.REDIS_URL) throw new Error('REDIS_URL is required');
    client = await connectRedis(process.env.REDIS_URL);
    closers.push(() => client.quit());
    tokenStore = new kitLib.RedisTokenStore({ client, keyPrefix: prefix });
    if (view) {
      // the recommended production set-up: a pub/sub revocation view in front of Redis
      const revocationView = await kitLib.RedisRevocationView.start({
        client,
        channel: `${prefix}revocations`,
        ...viewOptions(kitLib, { replica }),
      });
      closers.unshift(() => revocationView.close());
      for (let i = 0; i < 200 && !revocationView.ready; i++) await new Promise((r) => setTimeout(r, 10));
      if (!revocationView.ready) throw new Error('the revocation view did not become ready');
      viewState = { replicating: revocationView.replicating ?? null };
      extra = { ...extra, revocationView };
    }
  } else {
    tokenStore = new kitLib.MemoryTokenStore();
  }
  // The verification scenarios use the bench's cached keys (bench/tokens.js): the tokens they are
  // driven with were minted with them beforehand.
  const benchKeyInfo = benchKeys ? await benchKey(alg) : undefined;
  const keyInput = benchKeyInfo
    ? benchKeyInfo.keyInput
    : alg === 'HS256'
      ? { kid: 'bench-hs256', alg, secret: HS256_SECRET }
      : await kitLib.KeySet.generateKey(alg, `bench-${alg.toLowerCase()}`);
  const kit = kitLib.createTokenKit({
    store: tokenStore,
    keys: kitLib.createKeySet({ keys: [keyInput] }),
    issuer: ISSUER,
    maxTokenLifetime: 172_800,
    ...kitOptions(),
    ...extra,
  });
  return { kit, keyInput, key: benchKeyInfo, rateLimit: rateLimitOption(client) };
}

async function issue(kit, format = 'jwt') {
  const { token } = await kit.tokens.issueAccessToken({
    subject: SUBJECT,
    clientId: CLIENT_ID,
    scope: 'read',
    format,
  });
  return token;
}

function tamper(token) {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.at(-1)}`;
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

/**
 * Checks of a guarded GET: the good token passes, a tampered (and a revoked) one gets 401. The load
 * is GET /resource with the run's N distinct tokens (bench/load.js adds them). `revocation` tells
 * bench/run.js that this scenario enforces revocation, which it then checks across instances.
 */
function verifyChecks(good, bad, revoked) {
  const checks = [
    { name: 'valid token → 200', path: '/resource', headers: bearer(good), status: 200, json: { ok: true } },
    { name: 'tampered token → 401', path: '/resource', headers: bearer(bad), status: 401 },
    { name: 'no token → 401', path: '/resource', headers: {}, status: 401 },
  ];
  if (revoked) {
    checks.push({ name: 'revoked token → 401', path: '/resource', headers: bearer(revoked), status: 401 });
  }
  return {
    load: { method: 'GET', path: '/resource', headers: {}, tokens: true },
    checks,
    revocation: Boolean(revoked),
  };
}

async function requireTokenScenario(
  alg,
  format = 'jwt',
  store = 'redis',
  view = store === 'redis',
  replica = undefined,
) {
  const { kit } = await makeKit({ alg, store, view, benchKeys: true, replica });
  const app = newApp();
  app.get('/resource', kitLib.requireToken({ kit }), resource);
  const good = await issue(kit, format);
  const revoked = await issue(kit, format);
  if (!(await kit.tokens.revokeToken(revoked))) throw new Error('revokeToken did not revoke');
  const bad = format === 'opaque' ? `${good.slice(0, -6)}AAAAAA` : tamper(good);
  return { app, ...verifyChecks(good, bad, revoked) };
}

/** A checker of issued tokens at GET /check (requireToken of the same kit). */
function mountCheck(app, kit) {
  app.get('/check', kitLib.requireToken({ kit }), resource);
}

const json = (body) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (params) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});
const basic = (id, secret) => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
});

async function createClient(kit) {
  await kit.credentials.createApplication({
    name: 'bench',
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    grantTypes: ['client_credentials'],
    scopes: ['read'],
  });
}

function issueChecks(load, badRequest) {
  const good = { name: 'good credentials → 200 + usable token', ...load, status: 200, issued: '/check' };
  return {
    load,
    checks: [good, { name: 'bad credentials → 401', ...badRequest, status: 401 }],
  };
}

async function routerCScenario(alg) {
  const { kit, rateLimit } = await makeKit({ alg, view: true });
  await createClient(kit);
  const app = newApp();
  app.use('/api', kitLib.createAuthRouter({ kit, rateLimit }));
  mountCheck(app, kit);
  const body = { grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
  const load = { method: 'POST', path: '/api/auth/tokens', ...json(body) };
  const bad = { method: 'POST', path: '/api/auth/tokens', ...json({ ...body, client_secret: 'wrong' }) };
  return { app, ...issueChecks(load, bad) };
}

async function routerDScenario(alg) {
  const { kit, rateLimit } = await makeKit({ alg, view: true });
  await createClient(kit);
  const app = newApp();
  app.use(kitLib.createOAuthRouter({ kit, rateLimit }));
  mountCheck(app, kit);
  const f = form({ grant_type: 'client_credentials' });
  const load = { method: 'POST', path: '/oauth/token', body: f.body };
  load.headers = { ...f.headers, ...basic(CLIENT_ID, CLIENT_SECRET) };
  const bad = { method: 'POST', path: '/oauth/token', body: f.body };
  bad.headers = { ...f.headers, ...basic(CLIENT_ID, 'wrong') };
  return { app, ...issueChecks(load, bad) };
}

async function routerAScenario() {
  const { kit, rateLimit } = await makeKit({ alg: 'RS256', view: true });
  const app = newApp();
  app.use('/v1/auth', kitLib.createApiKeyRouter({ kit, rateLimit }));
  mountCheck(app, kit);
  const { key } = await kit.credentials.createApiKey({ name: 'bench' });
  const body = json({ grant_type: 'client_credentials' });
  const load = { method: 'POST', path: '/v1/auth/access-tokens', body: body.body };
  load.headers = { ...body.headers, ...bearer(key) };
  const bad = { method: 'POST', path: '/v1/auth/access-tokens', body: body.body };
  bad.headers = { ...body.headers, ...bearer(`${key.slice(0, -4)}AAAA`) };
  return { app, ...issueChecks(load, bad) };
}

async function expressJwtScenario(alg) {
  const { expressjwt } = require('express-jwt');
  const { kit, key } = await makeKit({ alg, store: 'memory', benchKeys: true });
  // As the express-jwt README does: the secret, or the public key as PEM.
  const secret = alg === 'HS256' ? key.secret : key.pem;
  const app = newApp();
  app.get(
    '/resource',
    expressjwt({ secret, algorithms: [alg], issuer: ISSUER, audience: ISSUER }),
    resource,
    peerErrors,
  );
  const good = await issue(kit);
  return { app, ...verifyChecks(good, tamper(good)) };
}

async function auth0Scenario(port) {
  const { auth } = require('express-oauth2-jwt-bearer');
  const { kit } = await makeKit({ alg: 'RS256', store: 'memory', benchKeys: true });
  const app = newApp();
  app.get('/.well-known/jwks.json', (_req, res) => res.json(kit.tokens.keys.jwks()));
  app.get(
    '/resource',
    auth({
      issuer: ISSUER,
      audience: ISSUER,
      jwksUri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      tokenSigningAlg: 'RS256',
    }),
    resource,
    peerErrors,
  );
  const good = await issue(kit);
  return { app, ...verifyChecks(good, tamper(good)) };
}

/** jose `jwtVerify` with the public key in hand (no JWKS fetch), as a minimal hand-written guard. */
async function joseScenario() {
  const { jwtVerify } = await import('jose');
  const { kit, key } = await makeKit({ alg: 'RS256', store: 'memory', benchKeys: true });
  const options = { issuer: ISSUER, audience: ISSUER, algorithms: ['RS256'] };
  const app = newApp();
  app.get(
    '/resource',
    async (req, res, next) => {
      const m = /^Bearer ([^ ]+)$/.exec(req.headers.authorization ?? '');
      if (!m) return res.status(401).json({ error: 'invalid_token' });
      try {
        const { payload } = await jwtVerify(m[1], key.publicKey, options);
        req.auth = payload;
      } catch {
        return res.status(401).json({ error: 'invalid_token' });
      }
      return next();
    },
    resource,
  );
  const good = await issue(kit);
  return { app, ...verifyChecks(good, tamper(good)) };
}

async function oidcProviderScenario() {
  // oidc-provider is ESM-only; dynamic import() works from CommonJS.
  const { default: Provider } = await import('oidc-provider');
  const { generateKeyPairSync } = require('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };
  const provider = new Provider(ISSUER, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ['read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // JWT access tokens (RS256) for an API, like router C's; in-memory adapter (the default).
      resourceIndicators: {
        enabled: true,
        defaultResource: () => ISSUER,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read',
          audience: ISSUER,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  const app = newApp();
  // The checker of issued tokens: signature by the provider's key, issuer, audience, client.
  const { jwtVerify } = await import('jose');
  app.get('/check', async (req, res) => {
    try {
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const { payload } = await jwtVerify(token, publicKey, { issuer: ISSUER, audience: ISSUER });
      if (payload.client_id !== CLIENT_ID) throw new Error('client_id');
      res.json({ ok: true, sub: payload.sub ?? payload.client_id });
    } catch {
      res.status(401).json({ error: 'invalid_token' });
    }
  });
  app.use(provider.callback());
  const f = form({ grant_type: 'client_credentials', scope: 'read' });
  const load = {
    method: 'POST',
    path: '/token',
    body: f.body,
    headers: { ...f.headers, ...basic(CLIENT_ID, CLIENT_SECRET) },
  };
  const bad = {
    method: 'POST',
    path: '/token',
    body: f.body,
    headers: { ...f.headers, ...basic(CLIENT_ID, 'wrong') },
  };
  return { app, ...issueChecks(load, bad) };
}

/**
 * The ceiling of any verifier that checks every token's signature: node:crypto's RSA verify of the
 * signing input alone, on a KeyObject in hand — no header, claims, expiry or revocation checks.
 * Not a guard to use; the reference the RS256 scenarios are read against at large N, where no token
 * repeats and every request pays a signature.
 */
async function signatureFloorScenario() {
  const { verify } = require('node:crypto');
  const { kit, key } = await makeKit({ alg: 'RS256', store: 'memory', benchKeys: true });
  const app = newApp();
  app.get(
    '/resource',
    (req, res, next) => {
      const token = (req.headers.authorization ?? '').slice('Bearer '.length);
      const dot = token.lastIndexOf('.');
      const input = Buffer.from(token.slice(0, Math.max(dot, 0)), 'latin1');
      const signature = Buffer.from(token.slice(dot + 1), 'base64url');
      if (dot < 0 || !verify('sha256', input, key.publicKey, signature)) {
        return res.status(401).json({ error: 'invalid_token' });
      }
      return next();
    },
    resource,
  );
  const good = await issue(kit);
  return { app, ...verifyChecks(good, tamper(good)) };
}

/**
 * The ceiling of any guard that is an Express middleware: one that does nothing but clear
 * `req.auth` and call `next()`, in front of the same resource.
 */
async function emptyMiddlewareScenario() {
  const spec = await bareScenario();
  const app = newApp();
  app.get(
    '/resource',
    (req, _res, next) => {
      req.auth = undefined;
      next();
    },
    resource,
  );
  return { ...spec, app };
}

/**
 * Bare Express with the hand-off requireToken makes by default (`deferNext`): a middleware that
 * only calls `next()` through `setImmediate`, so the responses of one event-loop turn are written
 * together. It shows what that hand-off alone is worth, with no verification at all.
 */
async function deferredBareScenario() {
  const spec = await bareScenario();
  const app = newApp();
  app.get('/resource', (_req, _res, next) => setImmediate(next), resource);
  return { ...spec, app };
}

async function bareScenario() {
  const app = newApp();
  app.get('/resource', resource);
  return {
    app,
    // The same requests as the guarded routes (N distinct bearer tokens), ignored.
    load: { method: 'GET', path: '/resource', headers: {}, tokens: true },
    checks: [{ name: 'GET → 200', path: '/resource', headers: {}, status: 200, json: { ok: true } }],
  };
}

const SCENARIOS = {
  bare: bareScenario,
  'floor-rs256': signatureFloorScenario,
  'noop-middleware': emptyMiddlewareScenario,
  'bare-deferred': deferredBareScenario,
  'rt-rs256': () => requireTokenScenario('RS256'),
  'rt-es256': () => requireTokenScenario('ES256'),
  'rt-hs256': () => requireTokenScenario('HS256'),
  'rt-opaque': () => requireTokenScenario('RS256', 'opaque'),
  'rt-rs256-direct': () => requireTokenScenario('RS256', 'jwt', 'redis', false),
  'rt-rs256-no-replica': () => requireTokenScenario('RS256', 'jwt', 'redis', true, false),
  'rt-rs256-memory': () => requireTokenScenario('RS256', 'jwt', 'memory'),
  'ejwt-hs256': () => expressJwtScenario('HS256'),
  'ejwt-rs256': () => expressJwtScenario('RS256'),
  'auth0-rs256': auth0Scenario,
  'jose-rs256': joseScenario,
  'c-cc-rs256': () => routerCScenario('RS256'),
  'c-cc-es256': () => routerCScenario('ES256'),
  'd-cc-rs256': () => routerDScenario('RS256'),
  'd-cc-es256': () => routerDScenario('ES256'),
  'a-access-tokens': routerAScenario,
  'oidc-cc-rs256': oidcProviderScenario,
};

async function main() {
  const build = SCENARIOS[scenario];
  if (!build)
    throw new Error(`unknown scenario ${JSON.stringify(scenario)}; one of ${Object.keys(SCENARIOS)}`);
  // Listen first (the Auth0 scenario needs its own port for the JWKS URL), then mount the app.
  const http = require('node:http');
  let handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const spec = await build(port);
  let serverErrors = 0;
  const app = spec.app;
  // Distinct Authorization headers, counted only while bench/load.js asks (its warm-up), to prove
  // that the load really sends N distinct tokens; off during the measured window.
  let seen = null;
  const control = (req, res) => {
    const url = new URL(req.url, 'http://x');
    const distinct = seen ? seen.size : null;
    if (url.pathname === '/__bench/count') seen = url.searchParams.get('on') === '1' ? new Set() : null;
    const cpu = process.cpuUsage();
    const body = JSON.stringify({
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rss: process.memoryUsage.rss(),
      distinct,
      serverErrors,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  };
  handler = (req, res) => {
    if (req.url.startsWith('/__bench/')) return control(req, res);
    if (seen !== null && req.headers.authorization) seen.add(req.headers.authorization);
    res.on('finish', () => {
      if (res.statusCode >= 500) serverErrors += 1;
    });
    return app(req, res);
  };
  const stop = async () => {
    server.close();
    server.closeAllConnections?.();
    for (const close of closers) await Promise.resolve(close()).catch(() => undefined);
    process.stderr.write(
      serverErrors > 0 ? `bench server ${scenario}: ${serverErrors} responses ≥ 500\n` : '',
    );
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Exit with the bench: run.js holds our stdin open and it closes when run.js goes away.
  process.stdin.on('end', stop).resume();
  process.stdout.write(
    `BENCH_READY ${JSON.stringify({ port, pid: process.pid, load: spec.load, checks: spec.checks, revocation: Boolean(spec.revocation), view: viewState })}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bench server ${scenario} failed: ${err.stack}\n`);
  process.exit(1);
});
