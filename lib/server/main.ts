/**
 * The demo server of `npm start`, configured from the environment (docs/getting-started.md).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Cluster } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { GRANT_TYPES } from '../core/grants/registry';
import { createTokenKit, type TokenKit } from '../core/token-kit';
import { randomBase62 } from '../core/opaque-token';
import { MemoryTokenStore } from '../stores/memory-token-store';
import {
  checkEvictionPolicy,
  createRedisConnectionFromEnv,
  RedisKeyStore,
  RedisRevocationView,
  RedisTokenStore,
  revocationChannel,
  waitForReady,
  type RedisConnection,
} from './optional-redis';
import { migrateCredentialStore } from '../stores/postgres-credential-store';
import { credentialSchema, credentialStoreFromEnv } from './credential-store-env';
import type { TokenStore } from '../stores/token-store';
import { createJsonLineLogger, composeEventListeners, type LineSink } from '../core/audit-log';
import { createRateLimits } from '../middleware/rate-limit';
import { createMetrics } from '../middleware/metrics';
import { createDemoApp } from './demo-app';
import { openDemoKeys, readDemoKeyConfig, sharesKeys, type DemoKeyConfig, type DemoKeys } from './keys-env';
import type { KeyStore } from '../keys/key-store';
import { requireToken } from '../middleware/require-token';
import { loadSeedFile, parseSeed, SeedError, type Seed } from './seed';
import {
  applySeed,
  createSeedUserVerifier,
  seedTokenExchange,
  defaultHashConcurrency,
  HashQueue,
  uvThreadpoolSize,
} from './seed-kit';
import {
  DEFAULT_ACCESS_TOKEN_TTL,
  DEFAULT_API_KEY_TOKEN_TTL,
  DEFAULT_REFRESH_ABSOLUTE_TTL,
  DEFAULT_REFRESH_IDLE_TTL,
  MAX_ACCESS_TOKEN_LIFETIME,
} from '../defaults';

/** Milliseconds to wait for Redis at start. */
const REDIS_READY_TIMEOUT_MS = 5000;

/** A running demo server. */
export interface DemoServer {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** The seed in use (generated when `TOKEN_KIT_SEED` is unset). */
  readonly seed: Seed;
  /** True when the credentials were generated rather than read from a seed file. */
  readonly generated: boolean;
  /** The token kit behind the routers (for embedding and tests). */
  readonly kit: TokenKit;
  /** Stops listening, closes connections, the store and the Redis client. Idempotent. */
  close(): Promise<void>;
}

/** Where the server writes; defaults to the console. */
export interface DemoServerIo {
  readonly log?: (line: string) => void;
  readonly warn?: (line: string) => void;
  /** Where audit events go, one JSON line each; @default `process.stdout`. */
  readonly audit?: LineSink;
}

/** A configuration mistake in the environment. */
export class DemoConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoConfigError';
  }
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(port) || port > 65535) {
    throw new DemoConfigError(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

/** The host to put in URLs: a wildcard bind address is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function parseTrustProxy(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,2}$/.test(value) || Number(value) > 10) {
    throw new DemoConfigError(
      `TOKEN_KIT_TRUST_PROXY must be the number of proxy hops (0 to 10), got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/** A whole number from `min` to `max` read from `env[name]`, or `fallback` when unset or empty. */
function parseWhole(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  unit: string,
): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new DemoConfigError(
      `${name} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** HTTP server limits of the demo server (Node's own defaults let a slow client hold a socket 300 s). */
export interface DemoServerLimits {
  /** `server.headersTimeout`: the whole request head must arrive within it (ms). */
  readonly headersTimeoutMs: number;
  /** `server.requestTimeout`: the whole request, body included, must arrive within it (ms). */
  readonly requestTimeoutMs: number;
  /** `server.keepAliveTimeout`: an idle keep-alive connection is closed after it (ms). */
  readonly keepAliveTimeoutMs: number;
  /** `server.maxConnections`: connections beyond it are closed at once. */
  readonly maxConnections: number;
  /** `server.maxRequestsPerSocket`: requests per keep-alive connection, 0 for no limit. */
  readonly maxRequestsPerSocket: number;
  /** How often Node checks the two timeouts above (ms): a quarter of the headers timeout, at most 1 s. */
  readonly connectionsCheckingIntervalMs: number;
}

/** Defaults of {@link DemoServerLimits}. */
export const DEMO_SERVER_LIMIT_DEFAULTS = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
  maxRequestsPerSocket: 0,
});

/** Reads the `TOKEN_KIT_*` HTTP server limits; throws a {@link DemoConfigError} naming a bad one. */
export function parseServerLimits(env: NodeJS.ProcessEnv): DemoServerLimits {
  const d = DEMO_SERVER_LIMIT_DEFAULTS;
  const hour = 3_600_000;
  const headersTimeoutMs = parseWhole(
    env,
    'TOKEN_KIT_HEADERS_TIMEOUT_MS',
    d.headersTimeoutMs,
    100,
    hour,
    'ms',
  );
  const requestTimeoutMs = parseWhole(
    env,
    'TOKEN_KIT_REQUEST_TIMEOUT_MS',
    Math.max(d.requestTimeoutMs, headersTimeoutMs),
    100,
    hour,
    'ms',
  );
  const keepAliveTimeoutMs = parseWhole(
    env,
    'TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS',
    Math.min(d.keepAliveTimeoutMs, headersTimeoutMs - 1),
    1,
    hour,
    'ms',
  );
  const maxConnections = parseWhole(
    env,
    'TOKEN_KIT_MAX_CONNECTIONS',
    d.maxConnections,
    1,
    1_000_000,
    'connections',
  );
  const maxRequestsPerSocket = parseWhole(
    env,
    'TOKEN_KIT_MAX_REQUESTS_PER_SOCKET',
    d.maxRequestsPerSocket,
    0,
    1_000_000,
    'requests',
  );
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new DemoConfigError(
      `TOKEN_KIT_REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must be at least TOKEN_KIT_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`,
    );
  }
  // A keep-alive connection the server is about to close must not be mistaken for a slow request
  // head, and Node requires headersTimeout above keepAliveTimeout for that.
  if (keepAliveTimeoutMs >= headersTimeoutMs) {
    throw new DemoConfigError(
      `TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS (${keepAliveTimeoutMs}) must be below TOKEN_KIT_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`,
    );
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs,
    maxConnections,
    maxRequestsPerSocket,
    connectionsCheckingIntervalMs: Math.max(25, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
  };
}

/** Longest refresh-family lifetime the demo server accepts from the environment (10 years, in seconds). */
export const DEMO_MAX_REFRESH_TTL = 10 * 365 * 24 * 3600;

/** Token lifetimes from the environment, in seconds; unset ones are the library's defaults. */
export interface DemoTokenLifetimes {
  /** `accessTokenTtl` of the kit: createAuthRouter and createOAuthRouter. */
  readonly accessTokenTtl: number;
  /** `refreshAbsoluteTtl` of the kit. */
  readonly refreshAbsoluteTtl: number;
  /** `refreshIdleTtl` of the kit. */
  readonly refreshIdleTtl: number;
  /** `ttl` of createApiKeyRouter. */
  readonly apiKeyTokenTtl: number;
}

/** Reads the `TOKEN_KIT_*_TTL` variables; throws a {@link DemoConfigError} naming a bad one. */
export function parseTokenLifetimes(env: NodeJS.ProcessEnv): DemoTokenLifetimes {
  const s = 'seconds';
  const accessTokenTtl = parseWhole(
    env,
    'TOKEN_KIT_ACCESS_TOKEN_TTL',
    DEFAULT_ACCESS_TOKEN_TTL,
    1,
    MAX_ACCESS_TOKEN_LIFETIME,
    s,
  );
  const apiKeyTokenTtl = parseWhole(
    env,
    'TOKEN_KIT_API_KEY_TOKEN_TTL',
    DEFAULT_API_KEY_TOKEN_TTL,
    1,
    MAX_ACCESS_TOKEN_LIFETIME,
    s,
  );
  const refreshAbsoluteTtl = parseWhole(
    env,
    'TOKEN_KIT_REFRESH_ABSOLUTE_TTL',
    DEFAULT_REFRESH_ABSOLUTE_TTL,
    1,
    DEMO_MAX_REFRESH_TTL,
    s,
  );
  const refreshIdleTtl = parseWhole(
    env,
    'TOKEN_KIT_REFRESH_IDLE_TTL',
    Math.min(DEFAULT_REFRESH_IDLE_TTL, refreshAbsoluteTtl),
    1,
    DEMO_MAX_REFRESH_TTL,
    s,
  );
  if (refreshIdleTtl > refreshAbsoluteTtl) {
    throw new DemoConfigError(
      `TOKEN_KIT_REFRESH_IDLE_TTL (${refreshIdleTtl}) must not exceed TOKEN_KIT_REFRESH_ABSOLUTE_TTL (${refreshAbsoluteTtl})`,
    );
  }
  return { accessTokenTtl, refreshAbsoluteTtl, refreshIdleTtl, apiKeyTokenTtl };
}

/** Password hashing of the seed users: hashes at once, and hashes allowed to wait. */
function parseHashQueue(env: NodeJS.ProcessEnv): HashQueue {
  const threads = uvThreadpoolSize(env);
  const concurrency = parseWhole(
    env,
    'TOKEN_KIT_HASH_CONCURRENCY',
    defaultHashConcurrency(threads),
    1,
    1024,
    'hashes',
  );
  const maxQueue = parseWhole(env, 'TOKEN_KIT_HASH_QUEUE', 256, 0, 100_000, 'waiting hashes');
  return new HashQueue({ concurrency, maxQueue });
}

/** Generated demo credentials: one of each, random, never persisted. */
export function generateDemoSeed(): Seed {
  return parseSeed({
    apiKeys: [{ key: `demo_ak_${randomBase62(32)}`, name: 'Demo API key' }],
    employers: [{ id: `empr_${randomBase62(12)}`, employees: [`empl_${randomBase62(12)}`] }],
    applications: [
      {
        id: randomUUID(),
        name: 'DemoApp',
        organization: 'demo',
        clientId: randomBase62(24),
        clientSecret: `demo_cs_${randomBase62(32)}`,
        applicationTypes: ['API'],
        grantTypes: [...GRANT_TYPES],
      },
    ],
    users: [{ username: 'demo', password: randomBase62(16), sub: `user_${randomBase62(12)}` }],
    providers: [
      {
        id: randomUUID(),
        domain: null,
        apiKeys: [`demo_pk_${randomBase62(32)}`],
        clients: [{ id: randomUUID(), audience: 'https://api.example.test' }],
      },
    ],
  });
}

/** Single-quotes a value for a POSIX shell. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const EXTRACT = (field: string): string =>
  `node -pe ${sh(`JSON.parse(require("fs").readFileSync(0, "utf8")).${field}`)}`;

/**
 * Ready-to-paste `curl` lines for generated credentials. Lines starting with `curl` run on their
 * own; `VAR=$(…)` lines keep a token for the lines after them.
 */
export function demoCurlLines(url: string, seed: Seed): string[] {
  const apiKey = seed.apiKeys[0]!;
  const employer = seed.employers[0]!;
  const employee = employer.employees[0]!;
  const app = seed.applications[0]!;
  const user = seed.users[0]!;
  const provider = seed.providers[0]!;
  const client = provider.clients[0]!;
  const json = "-H 'Content-Type: application/json'";
  const routerA = `curl -sS -X POST ${sh(`${url}/v1/auth/access-tokens`)} -H ${sh(`Authorization: Bearer ${apiKey.key}`)} ${json} -d ${sh(
    JSON.stringify({ grant_type: 'client_credentials', bound_entity: { id: employer.id, type: 'employer' } }),
  )}`;
  const clientCredentials = `curl -sS -X POST ${sh(`${url}/api/auth/tokens/`)} ${json} -d ${sh(
    JSON.stringify({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.clientSecret,
    }),
  )}`;
  const password = `curl -sS -X POST ${sh(`${url}/api/auth/tokens/`)} ${json} -d ${sh(
    JSON.stringify({ grant_type: 'password', username: user.username, password: user.password }),
  )}`;
  const routerB = `curl -sS -X POST ${sh(`${url}/v1/providers/${provider.id}/clients/${client.id}/tokens`)} -H ${sh(
    `Authorization: Bearer ${provider.apiKeys[0]!}`,
  )} ${json} -d ${sh(JSON.stringify({ expiresIn: 600, audienceAsArray: true }))}`;
  // The JSON around the subject token, single-quoted, with "$AT" between (docs/token-exchange.md).
  const [exchangeHead, exchangeTail] = JSON.stringify({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    client_id: app.clientId,
    client_secret: app.clientSecret,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    bound_entity_id: employee,
    bound_entity_type: 'employee',
    subject_token: '$AT',
  }).split('$AT') as [string, string];
  const tokenExchange = `curl -sS -X POST ${sh(`${url}/oauth/token`)} ${json} -d ${sh(exchangeHead)}"$AT"${sh(exchangeTail)}`;
  return [
    '# createApiKeyRouter: exchange the API key for an employer-bound access token (vit_at_…)',
    routerA,
    '# …keep one, and read the employer and its employee with it (both 200; another employer is 403)',
    `AT=$(${routerA} | ${EXTRACT('access_token')})`,
    `curl -sS ${sh(`${url}/v1/employers/${employer.id}`)} -H "Authorization: Bearer $AT"`,
    `curl -sS ${sh(`${url}/v1/employees/${employee}`)} -H "Authorization: Bearer $AT"`,
    '# createOAuthRouter: token exchange (RFC 8693), the employer token for one bound to its employee',
    tokenExchange,
    '',
    '# createAuthRouter: client credentials grant',
    clientCredentials,
    '# createAuthRouter: password grant (id_token, access_token, refresh_token, sub)',
    password,
    '# …keep its tokens, then refresh, validate and call a guarded route',
    `PW=$(${password})`,
    `TOKEN=$(echo "$PW" | ${EXTRACT('access_token')}); REFRESH=$(echo "$PW" | ${EXTRACT('refresh_token')})`,
    `curl -sS -X POST ${sh(`${url}/api/auth/tokens/refresh/`)} -H "Authorization: Bearer $TOKEN" ${json} -d "{\\"refresh_token\\":\\"$REFRESH\\"}"`,
    `curl -sS ${sh(`${url}/api/auth/tokens/validate/`)} -H "Authorization: Bearer $TOKEN"`,
    `curl -sS ${sh(`${url}/api/plans/`)} -H "Authorization: Bearer $TOKEN"`,
    '',
    '# createProviderRouter: a provider client JWT (verify it with /.well-known/jwks.json)',
    routerB,
  ];
}

interface StoreHandle {
  readonly store: TokenStore;
  readonly description: string;
  readonly connection: RedisConnection | undefined;
  /** The pub/sub revocation view, on Redis. */
  readonly view: RedisRevocationView | undefined;
  /** The shared key store, on Redis with a key-encryption key. */
  readonly keyStore: KeyStore | undefined;
}

/** Default prefix of the demo's Redis keys (the token store's default). */
const DEFAULT_KEY_PREFIX = 'etk:';

async function warnAboutEviction(connection: RedisConnection, warn: (line: string) => void): Promise<void> {
  // On a Cluster every primary is asked; the first policy other than noeviction is reported.
  const where = connection.kind === 'cluster' ? 'a Redis Cluster primary' : 'Redis';
  const policy = await checkEvictionPolicy(connection.client);
  if (policy === null) {
    warn(
      `express-token-kit: warning: could not read the maxmemory-policy of ${where} (CONFIG disabled?); make sure it is noeviction`,
    );
  } else if (policy !== 'noeviction') {
    warn(
      `express-token-kit: warning: ${where} has maxmemory-policy ${policy}; an evicted revocation brings a token back to life. ` +
        'Set maxmemory-policy noeviction.',
    );
  }
}

function describeConnection(env: NodeJS.ProcessEnv, connection: RedisConnection): string {
  if (connection.kind === 'cluster') {
    return `redis cluster (${(connection.client as Cluster).nodes('master').length} primaries)`;
  }
  if (connection.kind === 'sentinel') return `redis sentinel ${env.REDIS_SENTINEL_NAME?.trim() ?? ''}`;
  return 'redis';
}

async function openStore(
  env: NodeJS.ProcessEnv,
  keyConfig: DemoKeyConfig,
  warn: (line: string) => void,
): Promise<StoreHandle> {
  let connection: RedisConnection | null;
  try {
    // REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS + REDIS_SENTINEL_NAME (docs/operations.md).
    connection = createRedisConnectionFromEnv(env, {
      onError: (err) => warn(`express-token-kit: redis: ${err.message}`),
    });
  } catch (err) {
    throw err instanceof TypeError ? new DemoConfigError(err.message) : err;
  }
  if (connection === null) {
    return {
      store: new MemoryTokenStore(),
      description: 'memory (tokens and credentials are lost on restart)',
      connection: undefined,
      view: undefined,
      keyStore: undefined,
    };
  }
  const keyPrefix = env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX;
  // Before any command: the store defines its scripts on the client, and an auto-pipeline already
  // queued (e.g. the view's first heartbeat) would lack them.
  const store = new RedisTokenStore({ client: connection.client, keyPrefix });
  const keyStore = sharesKeys(keyConfig)
    ? new RedisKeyStore({ client: connection.client, keyPrefix })
    : undefined;
  let view: RedisRevocationView | undefined;
  try {
    await waitForReady(connection.client, REDIS_READY_TIMEOUT_MS);
    await warnAboutEviction(connection, warn);
    // Its own subscriber connection; every instance on this Redis and prefix shares the channel, so
    // repeat checks skip the Redis round trip and a revocation anywhere clears every instance's view.
    view = await RedisRevocationView.start({
      client: connection.client,
      channel: revocationChannel(keyPrefix),
      readyTimeoutMs: REDIS_READY_TIMEOUT_MS,
    });
  } catch (err) {
    await store.close();
    await connection.close();
    throw err;
  }
  return {
    store,
    description: describeConnection(env, connection),
    connection,
    view,
    keyStore,
  };
}

/** Requests of each kind the warm-up sends. */
const WARM_UP_ROUNDS = 20;

/**
 * Runs the code of the first requests once before the server answers any (it answers 503 until
 * then): a JWT signed and verified with the generated key (the store's revocation read included,
 * on Redis its scripts), a `requireToken` route and the JWKS through Express on a private loopback
 * listener. Without it the first requests under load pay for compiling this code and queue behind
 * each other. Nothing is written to the store; the warm-up token lives 30 s and never leaves the
 * process.
 */
async function warmUp(
  demoApp: (req: IncomingMessage, res: ServerResponse) => void,
  kit: TokenKit,
  warn: (line: string) => void,
): Promise<void> {
  const issued = await kit.tokens.issueAccessToken({
    subject: 'etk-warm-up',
    clientId: 'etk-warm-up',
    ttl: 30,
  });
  await kit.tokens.verifyAccessToken(issued.token);
  const guarded = express();
  guarded.get('/guarded', requireToken({ kit }), (_req, res) => {
    res.json({ ok: true });
  });
  const probe = createServer((req, res) => (req.url === '/guarded' ? guarded : demoApp)(req, res));
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  const get = (path: string, headers: Record<string, string> = {}): Promise<number> =>
    new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      })
        .once('error', reject)
        .end();
    });
  try {
    for (let i = 0; i < WARM_UP_ROUNDS; i++) {
      const statuses = [
        await get('/.well-known/jwks.json'),
        await get('/guarded', { Authorization: `Bearer ${issued.token}` }),
      ];
      if (statuses.some((status) => status !== 200)) {
        warn(`express-token-kit: warning: warm-up requests answered ${statuses.join(', ')}`);
        break;
      }
    }
  } finally {
    probe.closeAllConnections();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/**
 * Starts the demo server from environment variables (`PORT`, `HOST`, `REDIS_URL`,
 * `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS`/`REDIS_SENTINEL_NAME`, `REDIS_KEY_PREFIX`, `TOKEN_KIT_SEED`,
 * `TOKEN_KIT_ISSUER`, the lifetimes `TOKEN_KIT_*_TTL`, the HTTP limits `TOKEN_KIT_*_TIMEOUT_MS`,
 * `TOKEN_KIT_MAX_CONNECTIONS`, `TOKEN_KIT_MAX_REQUESTS_PER_SOCKET`, and `TOKEN_KIT_HASH_CONCURRENCY`/
 * `TOKEN_KIT_HASH_QUEUE`, the signing keys' `TOKEN_KIT_KEK`/`TOKEN_KIT_KEK_FILE`, `TOKEN_KIT_KEYS_FILE` and
 * schedule `TOKEN_KIT_KEY_ALG`, `TOKEN_KIT_ROTATE_EVERY`, `TOKEN_KIT_PUBLISH_AHEAD`,
 * `TOKEN_KIT_KEY_LEEWAY`; see docs/getting-started.md and docs/keys.md). It reads and decrypts its
 * signing keys before it listens (a wrong key-encryption key rejects with a `KeyEncryptionKeyError`
 * and never opens the port), and warms up before it serves. A malformed seed file rejects with a {@link SeedError}, a malformed variable
 * with a {@link DemoConfigError} naming it, before anything listens. On Redis the token store, the
 * rate limits and a pub/sub revocation view (channel `<REDIS_KEY_PREFIX>revocations`) share it.
 *
 * @example
 * ```ts
 * const server = await startDemoServer({ PORT: '0' });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function startDemoServer(
  env: NodeJS.ProcessEnv = process.env,
  io: DemoServerIo = {},
): Promise<DemoServer> {
  const log = io.log ?? ((line: string) => console.log(line));
  const warn = io.warn ?? ((line: string) => console.error(line));
  const port = parsePort(env.PORT);
  const trustProxyHops = parseTrustProxy(env.TOKEN_KIT_TRUST_PROXY);
  const limits = parseServerLimits(env);
  const lifetimes = parseTokenLifetimes(env);
  const hashQueue = parseHashQueue(env);
  const metrics =
    env.TOKEN_KIT_METRICS === '1' || env.TOKEN_KIT_METRICS === 'true' ? createMetrics() : undefined;
  const audit = createJsonLineLogger(io.audit ?? process.stdout);
  const host = env.HOST || '127.0.0.1';
  const seedPath = env.TOKEN_KIT_SEED || undefined;
  const generated = seedPath === undefined;
  const seed = seedPath === undefined ? generateDemoSeed() : await loadSeedFile(seedPath);
  const verifyUser = await createSeedUserVerifier(seed.users, { queue: hashQueue });
  let keyConfig: DemoKeyConfig;
  try {
    keyConfig = readDemoKeyConfig(env);
  } catch (err) {
    throw err instanceof TypeError || err instanceof RangeError ? new DemoConfigError(err.message) : err;
  }
  let credentialStore: ReturnType<typeof credentialStoreFromEnv>;
  try {
    credentialStore = credentialStoreFromEnv(env);
  } catch (err) {
    throw new DemoConfigError((err as Error).message);
  }
  if (credentialStore !== undefined) {
    // The demo creates (or updates) its schema itself; production deploys run `db migrate` first.
    try {
      await migrateCredentialStore(credentialStore.pool, { schema: credentialSchema(env) });
    } catch (err) {
      await credentialStore.close().catch(() => undefined);
      throw new DemoConfigError(
        `DATABASE_URL: cannot prepare the credential schema (${(err as Error).message})`,
      );
    }
  }
  const { store, description, connection, view, keyStore } = await openStore(env, keyConfig, warn);
  // Keys are read and decrypted before the port opens: a wrong key-encryption key never listens.
  let demoKeys: DemoKeys;
  try {
    demoKeys = await openDemoKeys(keyConfig, {
      ...(keyStore === undefined ? {} : { store: keyStore }),
      redis: connection !== undefined,
      warn,
    });
  } catch (err) {
    await view?.close();
    await store.close();
    await credentialStore?.close();
    await connection?.close();
    throw err instanceof TypeError || err instanceof RangeError ? new DemoConfigError(err.message) : err;
  }

  let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this interval (30 s by default), so it bounds how late
      // a slow client is cut.
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    },
    (req, res) => {
      if (app) {
        app(req, res);
        return;
      }
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      res.end(
        JSON.stringify({
          errors: [{ errorType: 'service_unavailable', message: 'Starting, retry shortly' }],
        }),
      );
    },
  );
  // Beyond the cap new connections are closed at once, so slow clients cannot use up file descriptors.
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await demoKeys.close();
      await view?.close();
      await store.close();
      await credentialStore?.close();
      await connection?.close();
    })();
    return closed;
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const actualPort = (server.address() as AddressInfo).port;
    const url = `http://${urlHost(host)}:${actualPort}`;
    const issuer = env.TOKEN_KIT_ISSUER || `http://${urlHost(host)}:${actualPort}`;
    const events = composeEventListeners(audit, metrics?.onEvent);
    let warming = true;
    // client_secret_jwt secrets are sealed under the KEK (docs/client-auth.md); with nothing persisted
    // (memory store, no PostgreSQL), a process-local one will do, as for the signing keys.
    const secretKek =
      keyConfig.kek?.kek ??
      (connection === undefined && credentialStore === undefined ? randomBytes(32) : undefined);
    const kit = createTokenKit({
      store,
      ...(credentialStore === undefined ? {} : { credentialStore }),
      ...(secretKek === undefined ? {} : { kek: secretKek }),
      keys: demoKeys.keys,
      issuer,
      verifyUser,
      tokenExchange: seedTokenExchange(seed),
      accessTokenTtl: lifetimes.accessTokenTtl,
      refreshAbsoluteTtl: lifetimes.refreshAbsoluteTtl,
      refreshIdleTtl: lifetimes.refreshIdleTtl,
      // The warm-up below is not an event of the service: keep it out of the audit log and metrics.
      onEvent: (event) => {
        if (!warming) events(event);
      },
      ...(view ? { revocationView: view } : {}),
    });
    // On Redis the limits count in the same Redis (a Cluster too), so every instance shares one budget.
    const rateLimit = createRateLimits(
      connection
        ? { store: connection.client, keyPrefix: `${env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX}rl:` }
        : {},
    );
    const applied = await applySeed(kit, seed);
    const demoApp = createDemoApp({
      kit,
      seed,
      rateLimit,
      trustProxyHops,
      apiKeyTokenTtl: lifetimes.apiKeyTokenTtl,
      ...(metrics ? { metrics } : {}),
      onError: (err) =>
        warn(
          `express-token-kit: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        ),
    });
    await warmUp(demoApp, kit, warn);
    warming = false;
    app = demoApp;

    log(`express-token-kit demo server listening on ${url}`);
    log(`  store: ${description}; issuer: ${issuer}; JWKS: ${url}/.well-known/jwks.json`);
    if (credentialStore !== undefined) log(`  credentials: PostgreSQL, schema ${credentialSchema(env)}`);
    if (view) {
      log(
        `  revocation view: redis pub/sub on ${revocationChannel(env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX)} (repeat checks skip Redis)`,
      );
    }
    log(
      `  rate limits: ${connection ? 'redis' : 'memory'}; audit events: JSON lines on stdout${metrics ? `; metrics: ${url}/metrics` : ''}`,
    );
    log(`  ${demoKeys.description}`);
    if (generated) {
      log('');
      log('No TOKEN_KIT_SEED: generated demo credentials (new on every start):');
      log(`  API key (createApiKeyRouter):   ${seed.apiKeys[0]!.key}`);
      log(`  employer / employee:  ${seed.employers[0]!.id} / ${seed.employers[0]!.employees[0]!}`);
      log(`  application:          id ${seed.applications[0]!.id}`);
      log(
        `                        client_id ${seed.applications[0]!.clientId}, client_secret ${seed.applications[0]!.clientSecret}`,
      );
      log(`  user:                 ${seed.users[0]!.username} / ${seed.users[0]!.password}`);
      log(
        `  provider (createProviderRouter):  id ${seed.providers[0]!.id}, API key ${seed.providers[0]!.apiKeys[0]!}`,
      );
      log(`                        client ${seed.providers[0]!.clients[0]!.id}`);
      log('');
      log('Try it (paste into a shell):');
      log('');
      for (const line of demoCurlLines(url, seed)) log(line);
    } else {
      log(`  seed: ${seedPath} (${applied.created} credentials created, ${applied.skipped} already present)`);
    }
    return { url, seed, generated, kit, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The CLI: starts the server, exits 1 on a bad configuration, 0 after SIGTERM/SIGINT. */
export async function main(): Promise<void> {
  // Handlers go in first: a signal that arrives while the server starts still stops it cleanly.
  const starting = startDemoServer(process.env);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.error(`express-token-kit: ${signal}, shutting down`);
    starting
      .then((server) => server.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(
            `express-token-kit: shutdown failed: ${err instanceof Error ? err.message : String(err)}`,
          );
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await starting;
  } catch (err) {
    if (err instanceof SeedError) {
      console.error(`express-token-kit: invalid seed file: ${err.message}`);
    } else {
      console.error(`express-token-kit: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    }
    process.exit(1);
  }
}

if (require.main === module) void main();
