/**
 * A fail-fast Redis connection built from environment variables: a single Redis
 * (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`) or a primary found through Sentinel
 * (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`).
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { failFastRedisOptions, reconnectDelay, reportErrors, resolveFailFast } from './redis-client';
import type { RedisClientOptions } from './redis-client';
import { objectOption } from '../util/options';

/** How the connection reaches Redis. */
export type RedisConnectionKind = 'standalone' | 'cluster' | 'sentinel';

/** A connection made by {@link createRedisConnectionFromEnv}. */
export interface RedisConnection {
  /** The ioredis client: a `Cluster` for `cluster`, a `Redis` otherwise. Pass it to `RedisTokenStore`. */
  readonly client: Redis | Cluster;
  readonly kind: RedisConnectionKind;
  /** Closes the connection (QUIT, then a hard disconnect if Redis does not answer). Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createRedisConnectionFromEnv}: the fail-fast settings of `createRedisClient`. */
export type RedisConnectionOptions = Omit<RedisClientOptions, 'url'>;

/** A `host:port` pair. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Where {@link parseRedisEnv} says to connect; null when no variable is set. */
export type RedisEnvConfig =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisEndpoint[]; readonly url?: URL }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisEndpoint[];
      readonly name: string;
      readonly url?: URL;
    };

const ENDPOINT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/;
const SENTINEL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** Parses `host:port,host:port` (IPv6 as `[::1]:6379`); throws a TypeError naming `variable`. */
export function parseEndpoints(variable: string, raw: string): RedisEndpoint[] {
  const endpoints = raw.split(',').map((entry, i) => {
    const item = entry.trim();
    const match = ENDPOINT.exec(item);
    const port = match === null ? NaN : Number(match[3]);
    if (match === null || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new TypeError(
        `${variable} must be a comma-separated list of host:port, entry ${i + 1} is ${JSON.stringify(item)}`,
      );
    }
    return { host: match[1] ?? match[2] ?? '', port };
  });
  if (endpoints.length === 0) throw new TypeError(`${variable} must list at least one host:port`);
  return endpoints;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError(`REDIS_URL must be a redis:// or rediss:// URL, got the scheme ${url.protocol}`);
  }
  if (url.hostname === '') throw new TypeError('REDIS_URL must name a host');
  return url;
}

/**
 * Reads `REDIS_URL`, `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` and `REDIS_SENTINEL_NAME` (empty =
 * unset). Cluster and Sentinel exclude each other; with either, a `REDIS_URL` only contributes its
 * username, password, TLS (`rediss:`) and, for Sentinel, database number. Throws a TypeError naming
 * the variable for a malformed value.
 */
export function parseRedisEnv(env: NodeJS.ProcessEnv): RedisEnvConfig | null {
  const urlRaw = value(env, 'REDIS_URL');
  const clusterRaw = value(env, 'REDIS_CLUSTER_NODES');
  const sentinelsRaw = value(env, 'REDIS_SENTINELS');
  const name = value(env, 'REDIS_SENTINEL_NAME');
  const url = urlRaw === undefined ? undefined : parseUrl(urlRaw);
  if (clusterRaw !== undefined && sentinelsRaw !== undefined) {
    throw new TypeError('REDIS_CLUSTER_NODES and REDIS_SENTINELS cannot both be set');
  }
  if (name !== undefined && sentinelsRaw === undefined) {
    throw new TypeError('REDIS_SENTINEL_NAME is set but REDIS_SENTINELS is not');
  }
  if (clusterRaw !== undefined) {
    const nodes = parseEndpoints('REDIS_CLUSTER_NODES', clusterRaw);
    return { kind: 'cluster', nodes, ...(url === undefined ? {} : { url }) };
  }
  if (sentinelsRaw !== undefined) {
    const sentinels = parseEndpoints('REDIS_SENTINELS', sentinelsRaw);
    if (name === undefined) throw new TypeError('REDIS_SENTINELS is set but REDIS_SENTINEL_NAME is not');
    if (!SENTINEL_NAME.test(name)) {
      throw new TypeError(`REDIS_SENTINEL_NAME must be a Sentinel master name, got ${JSON.stringify(name)}`);
    }
    return { kind: 'sentinel', sentinels, name, ...(url === undefined ? {} : { url }) };
  }
  if (url === undefined) return null;
  return { kind: 'standalone', url: url.href };
}

/** Username, password, TLS and database from a URL, for Cluster and Sentinel nodes. */
function credentialsOf(url: URL | undefined, withDb: boolean): RedisOptions {
  if (url === undefined) return {};
  const out: RedisOptions = {};
  if (url.username !== '') out.username = decodeURIComponent(url.username);
  if (url.password !== '') out.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') out.tls = {};
  const db = url.pathname.replace(/^\//, '');
  if (withDb && db !== '') {
    const n = Number(db);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new TypeError(`REDIS_URL database must be a whole number, got ${JSON.stringify(db)}`);
    }
    out.db = n;
  }
  return out;
}

function closer(client: Redis | Cluster, timeoutMs: number): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.quit(),
          new Promise((resolve) => {
            timer = setTimeout(resolve, timeoutMs);
          }),
        ]);
      } catch {
        // a dead connection cannot QUIT; disconnect below
      } finally {
        clearTimeout(timer);
      }
      if (client.status !== 'end') {
        const ended = new Promise<void>((resolve) => {
          const done = setTimeout(resolve, timeoutMs);
          client.once('end', () => {
            clearTimeout(done);
            resolve();
          });
        });
        client.disconnect();
        await ended;
      }
    })();
    return closing;
  };
}

/**
 * Builds a fail-fast ioredis connection from the environment, or returns null when none of
 * `REDIS_URL`, `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` is set (use the memory store then).
 *
 * - `REDIS_URL` (`redis://…`, `rediss://…`) → `kind: 'standalone'`, a `Redis` from `createRedisClient`.
 * - `REDIS_CLUSTER_NODES` (`host:port,host:port`) → `kind: 'cluster'`, an ioredis `Cluster`: offline
 *   queue off, `clusterRetryStrategy` reconnecting forever with a bounded backoff, few redirections,
 *   and the fail-fast options on every node (`redisOptions`: command timeout, no retries).
 * - `REDIS_SENTINELS` (`host:port,…`) + `REDIS_SENTINEL_NAME` → `kind: 'sentinel'`, a `Redis` that
 *   asks the sentinels for the current primary, follows failovers and reconnects on `READONLY`.
 *
 * Every kind gets the same fail-fast settings as `createRedisClient` (command timeout, no offline
 * queue, `maxRetriesPerRequest: 0`, a rate-limited error listener). Malformed values throw a
 * TypeError naming the variable; bad options a RangeError. Await `waitForReady(client, ms)` before
 * serving.
 *
 * @example
 * const connection = createRedisConnectionFromEnv(process.env, { onError: (e) => log.warn(e.message) });
 * const store = connection === null ? new MemoryTokenStore() : new RedisTokenStore({ client: connection.client });
 * process.on('SIGTERM', () => void connection?.close());
 */
export function createRedisConnectionFromEnv(
  env: NodeJS.ProcessEnv,
  options: Readonly<RedisConnectionOptions> = {},
): RedisConnection | null {
  objectOption(env, 'createRedisConnectionFromEnv: env (such as process.env)');
  const config = parseRedisEnv(env);
  if (config === null) return null;
  const settings = resolveFailFast(options, 'createRedisConnectionFromEnv');
  const closeTimeout = settings.commandTimeout;

  if (config.kind === 'standalone') {
    const client = new Redis(config.url, {
      ...options.redisOptions,
      ...failFastRedisOptions(settings),
      lazyConnect: false,
    });
    reportErrors(client, settings);
    return { client, kind: 'standalone', close: closer(client, closeTimeout) };
  }

  if (config.kind === 'sentinel') {
    const auth = credentialsOf(config.url, true);
    const client = new Redis({
      ...options.redisOptions,
      ...auth,
      ...failFastRedisOptions(settings),
      sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: config.name,
      role: 'master',
      sentinelRetryStrategy: (attempt: number) => reconnectDelay(attempt, settings.maxReconnectDelay),
      sentinelCommandTimeout: settings.connectTimeout,
      // No `failoverDetector`: in ioredis 5.11 it can end a client that is reconnecting when
      // +switch-master arrives. A dead primary is noticed by its connection, a demoted one by READONLY.
      ...(auth.tls === undefined ? {} : { enableTLSForSentinelMode: true }),
      lazyConnect: false,
    });
    reportErrors(client, settings);
    return { client, kind: 'sentinel', close: closer(client, closeTimeout) };
  }

  const perNode = failFastRedisOptions(settings);
  const { retryStrategy: _perNodeRetry, enableOfflineQueue: _queue, ...nodeOptions } = perNode;
  const clusterOptions: ClusterOptions = {
    clusterRetryStrategy: (attempt: number) => reconnectDelay(attempt, settings.maxReconnectDelay),
    enableOfflineQueue: false,
    enableReadyCheck: true,
    // MOVED/ASK during a slot migration are followed; CLUSTERDOWN/TRYAGAIN retried briefly, so a
    // command costs at most a few command timeouts, never an unbounded wait.
    maxRedirections: 6,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: settings.connectTimeout,
    lazyConnect: false,
    redisOptions: {
      ...options.redisOptions,
      ...credentialsOf(config.url, false),
      ...nodeOptions,
    },
  };
  const client = new Cluster(
    config.nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
  reportErrors(client, settings, ['error', 'node error']);
  return { client, kind: 'cluster', close: closer(client, closeTimeout) };
}
