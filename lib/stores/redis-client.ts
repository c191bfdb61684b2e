/**
 * A fail-fast ioredis client for the token store: a dead or slow Redis costs a request
 * at most the command timeout, and the client reconnects by itself forever.
 */
import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import { optionalFunction, positiveNumber } from '../util/options';

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  /** Redis URL (`redis://`, `rediss://`). @default 'redis://127.0.0.1:6379' */
  readonly url?: string;
  /** Milliseconds a command may take before it fails. @default 500 */
  readonly commandTimeoutMs?: number;
  /** Milliseconds one connection attempt may take. @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Upper bound of the delay between reconnection attempts, in milliseconds. @default 2000 */
  readonly maxReconnectDelayMs?: number;
  /**
   * Called with connection errors, at most once per `errorIntervalMs`. Errors are always listened
   * to, so none is reported as unhandled. @default no reporting
   */
  readonly onError?: (err: Error) => void;
  /** Minimum milliseconds between two `onError` calls. @default 10000 */
  readonly errorIntervalMs?: number;
  /** Further ioredis options; they cannot override the fail-fast settings above. */
  readonly redisOptions?: Readonly<RedisOptions>;
}

/** Delay before the `attempt`-th reconnection: 50·2^(attempt−1) ms, capped. Never gives up. */
export function reconnectDelay(attempt: number, maxDelayMs = 2000): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), maxDelayMs);
}

/** The fail-fast settings shared by every connection the library builds. */
export interface FailFastSettings {
  readonly commandTimeout: number;
  readonly connectTimeout: number;
  readonly maxReconnectDelay: number;
  readonly errorInterval: number;
  readonly onError: ((err: Error) => void) | undefined;
}

/** Validates the fail-fast options of `createRedisClient` and `createRedisConnectionFromEnv`. */
export function resolveFailFast(
  options: Readonly<Omit<RedisClientOptions, 'url' | 'redisOptions'>>,
  factory = 'createRedisClient',
): FailFastSettings {
  const check = (name: string, value: number | undefined, fallback: number): number =>
    positiveNumber(value, fallback, `${factory}: ${name}`);
  optionalFunction(options.onError, `${factory}: onError`);
  return {
    commandTimeout: check('commandTimeoutMs', options.commandTimeoutMs, 500),
    connectTimeout: check('connectTimeoutMs', options.connectTimeoutMs, 2000),
    maxReconnectDelay: check('maxReconnectDelayMs', options.maxReconnectDelayMs, 2000),
    errorInterval: check('errorIntervalMs', options.errorIntervalMs, 10_000),
    onError: options.onError,
  };
}

/**
 * The per-connection ioredis options that make a dead or slow Redis cost at most the command
 * timeout: no offline queue, no retries or resends of a command in flight, reconnection forever
 * with a bounded backoff, reconnect on `READONLY` (a demoted primary after failover).
 */
export function failFastRedisOptions(settings: FailFastSettings): RedisOptions {
  return {
    commandTimeout: settings.commandTimeout,
    connectTimeout: settings.connectTimeout,
    enableOfflineQueue: false,
    // No auto-pipelining: with ioredis 5 a script defined (by RedisTokenStore) after a command was
    // queued in the same tick makes the pipeline throw outside any promise, killing the process.
    enableAutoPipelining: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt: number) => reconnectDelay(attempt, settings.maxReconnectDelay),
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 1 : false),
  };
}

/** Listens to `events` of `emitter`, reporting through `onError` at most once per interval. */
export function reportErrors(
  emitter: { on(event: string, listener: (err: Error) => void): unknown },
  settings: FailFastSettings,
  events: readonly string[] = ['error'],
): void {
  const onError = settings.onError;
  let lastReport = -Infinity;
  const listener = (err: Error): void => {
    const now = Date.now();
    if (onError === undefined || now - lastReport < settings.errorInterval) return;
    lastReport = now;
    onError(err);
  };
  for (const event of events) emitter.on(event, listener);
}

/**
 * Builds an ioredis client configured to fail closed and fast:
 * - `commandTimeout` bounds every command;
 * - the offline queue is off, so commands fail at once while disconnected instead of piling up;
 * - a command in flight when the connection drops is neither retried nor resent, since a refresh
 *   rotation must not run twice;
 * - reconnection goes on forever with a bounded backoff; a `READONLY` reply (failover) reconnects;
 * - an `error` listener is attached, reporting through `onError` with a rate limit.
 *
 * Connection starts at once; await {@link waitForReady} before serving. For Cluster and Sentinel,
 * see `createRedisConnectionFromEnv` (redis-connection.ts).
 *
 * @example
 * const client = createRedisClient({ url: process.env.REDIS_URL, onError: (e) => log.warn(e.message) });
 * await waitForReady(client, 5000);
 * const store = new RedisTokenStore({ client });
 */
export function createRedisClient(options: Readonly<RedisClientOptions> = {}): Redis {
  const settings = resolveFailFast(options);
  const client = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
    ...options.redisOptions,
    ...failFastRedisOptions(settings),
    lazyConnect: false,
  });
  reportErrors(client, settings);
  return client;
}

/**
 * Resolves once the client is ready to take commands; rejects with `StoreUnavailableError` after
 * `timeoutMs`, or at once when the client was closed.
 */
export function waitForReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') {
    return Promise.reject(new StoreUnavailableError('redis client is closed'));
  }
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = (): void => done();
    const onEnd = (): void => done(new StoreUnavailableError('redis client is closed'));
    const timer = setTimeout(
      () =>
        done(new StoreUnavailableError(`redis not ready after ${timeoutMs} ms (status ${client.status})`)),
      timeoutMs,
    );
    client.on('ready', onReady);
    client.on('end', onEnd);
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}

/**
 * Reads Redis' `maxmemory-policy`, so the application can warn when it is not `noeviction` (an
 * evicted revocation brings a token back to life). On a Cluster every primary is asked and the first
 * policy other than `noeviction` is returned. Resolves null when `CONFIG` is disabled or renamed;
 * rejects with `StoreUnavailableError` when Redis cannot answer.
 */
export async function checkEvictionPolicy(client: Pick<Redis, 'config'> | Cluster): Promise<string | null> {
  if ((client as { isCluster?: boolean }).isCluster === true) {
    const masters = (client as Cluster).nodes('master');
    if (masters.length === 0) throw new StoreUnavailableError('redis token store: no cluster primaries');
    let result: string | null = null;
    for (const node of masters) {
      const policy = await checkEvictionPolicy(node);
      if (policy === null) return null;
      result = policy;
      if (policy !== 'noeviction') return policy;
    }
    return result;
  }
  let reply: unknown;
  try {
    reply = await (client as Pick<Redis, 'config'>).config('GET', 'maxmemory-policy');
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError') return null;
    throw new StoreUnavailableError('redis token store: CONFIG GET failed', { cause: err });
  }
  if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1];
  return null;
}
