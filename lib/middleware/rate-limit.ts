/**
 * Brute-force protection for every credential-checking endpoint: failed attempts per
 * (credential, IP), per credential from any IP (addresses that recently authenticated the credential
 * are exempt) and per IP, plus an overall request budget per IP. Built on express-rate-limit;
 * counters in memory or in Redis (rate-limit-redis), shared by every router given the same
 * {@link RateLimits}.
 */
import { createHash } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { serviceUnavailable, TokenError, type TokenErrorCode } from '../errors';
import { DEFAULT_RETRY_AFTER } from '../defaults';
import { tokenErrorCodeOf } from './error-response';
import {
  booleanOption,
  invalidOption,
  objectOption,
  objectWith,
  positiveInteger,
  stringOption,
  wholeNumber,
} from '../util/options';

/** Failed attempts allowed per (credential, IP) in a failure window. */
export const DEFAULT_FAILURES_PER_CREDENTIAL_AND_IP = 10;
/**
 * Failed attempts allowed per credential, from all addresses together, in a failure window; addresses
 * that authenticated the credential within {@link DEFAULT_TRUSTED_ADDRESS_MS} are exempt.
 */
export const DEFAULT_FAILURES_PER_CREDENTIAL = 50;
/**
 * How long a successful authentication from an address exempts that (credential, address) from the
 * per-credential failure budget, in milliseconds (7 days).
 */
export const DEFAULT_TRUSTED_ADDRESS_MS = 7 * 24 * 60 * 60 * 1000;
/** Failed attempts allowed per IP, over all credentials, in a failure window. */
export const DEFAULT_FAILURES_PER_IP = 100;
/** Length of the failure window, in milliseconds (15 minutes). */
export const DEFAULT_FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** Requests to credential-checking endpoints allowed per IP in a request window. */
export const DEFAULT_REQUESTS_PER_IP = 300;
/** Length of the request window, in milliseconds (1 minute). */
export const DEFAULT_REQUEST_WINDOW_MS = 60 * 1000;
/** Prefix of the Redis keys of the counters. */
export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'etk:rl:';

/**
 * The counters a {@link RateLimits} keeps: failures per (credential, IP), per credential and per IP,
 * requests per IP, and the (credential, IP) pairs that authenticated recently.
 */
export type RateLimiterName =
  'failures-credential-ip' | 'failures-credential' | 'failures-ip' | 'requests-ip' | 'trusted-credential-ip';

/** Longest window a counter can have, in milliseconds: Node's largest timer delay (about 24.8 days). */
const MAX_WINDOW_MS = 2_147_483_647;

/**
 * Makes the counter store of one limiter (called once per limiter; each call must return a new
 * store). `windowMs` is that limiter's window.
 */
export type RateLimitStoreFactory = (name: RateLimiterName, windowMs: number) => Store;

/** A Redis client that sends raw commands: node-redis' `sendCommand`, or anything shaped like it. */
export interface RedisCommandSender {
  sendCommand(args: string[]): Promise<unknown>;
}

/** An ioredis client (`Redis`, also for Sentinel): raw commands through `call`. */
export interface RedisCommandCaller {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** An ioredis `Pipeline`, as far as the counters use it. */
interface CommandPipeline {
  call(command: string, ...args: string[]): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * An ioredis `Cluster` (`isCluster: true`): commands with a key go to the key's primary, and the
 * rate-limit scripts are loaded on every primary.
 */
export interface RedisClusterCommandCaller extends RedisCommandCaller {
  /** True for a Cluster (ioredis sets it on every client). */
  readonly isCluster: boolean;
  nodes(role: 'master'): readonly RedisCommandCaller[];
}

/** Where the counters live. */
export type RateLimitStoreOption =
  'memory' | RedisCommandCaller | RedisClusterCommandCaller | RedisCommandSender | RateLimitStoreFactory;

/** Options of {@link createRateLimits}. */
export interface RateLimitOptions {
  /** Turn every limit off (for tests that flood on purpose); @default true. */
  readonly enabled?: boolean;
  /**
   * Counter store: `'memory'` (one process only), an ioredis client (`call`), a node-redis client
   * (`sendCommand`) — use the token store's Redis so that every app instance shares the counts — or
   * a {@link RateLimitStoreFactory}. An ioredis `Cluster` works as is (see
   * {@link RedisClusterCommandCaller}). @default `'memory'`
   */
  readonly store?: RateLimitStoreOption;
  /** Failed attempts per (credential, IP) per failure window before 429; @default 10. */
  readonly failuresPerCredentialAndIp?: number;
  /**
   * Failed attempts per credential (client id, username, API key or provider key), from all
   * addresses together, per failure window before 429. Addresses that authenticated that credential
   * successfully within `trustedAddressMs` are exempt, so a distributed attack cannot lock the real
   * client out of the addresses it uses; see docs/production.md. @default 50.
   */
  readonly failuresPerCredential?: number;
  /**
   * How long, in milliseconds, a successful authentication of a credential from an address exempts
   * that (credential, address) from the `failuresPerCredential` budget; at most 2147483647 (about
   * 24.8 days). @default 604800000 (7 days).
   */
  readonly trustedAddressMs?: number;
  /** Failed attempts per IP (any credential) per failure window before 429; @default 100. */
  readonly failuresPerIp?: number;
  /** Failure window in milliseconds; @default 900000 (15 minutes). */
  readonly failureWindowMs?: number;
  /** Requests per IP per request window on credential-checking endpoints; @default 300. */
  readonly requestsPerIp?: number;
  /** Request window in milliseconds; @default 60000 (1 minute). */
  readonly requestWindowMs?: number;
  /** Prefix of the Redis keys (ignored by `'memory'` and factories); @default `etk:rl:`. */
  readonly keyPrefix?: string;
}

/** The resolved limits, frozen. */
export interface ResolvedRateLimitOptions {
  readonly enabled: boolean;
  readonly failuresPerCredentialAndIp: number;
  readonly failuresPerCredential: number;
  readonly trustedAddressMs: number;
  readonly failuresPerIp: number;
  readonly failureWindowMs: number;
  readonly requestsPerIp: number;
  readonly requestWindowMs: number;
  readonly keyPrefix: string;
}

/**
 * Rate limits shared by routers: pass one object to every router (and app instance, when the store
 * is Redis) so that one budget per IP and per credential holds across all of them.
 */
export interface RateLimits {
  readonly options: ResolvedRateLimitOptions;
  /**
   * The two stages a credential-checking route mounts after its body parser and
   * {@link identifyCredential}:
   *
   * 1. counts the request against the IP's request budget and checks the failure budgets of the
   *    request's (credential, IP), credential (unless this address authenticated it recently) and
   *    IP — all at once, one Redis round trip — then 429 once any is spent; failed credential checks
   *    are counted, and successful ones remembered per (credential, IP), once the answer is known;
   * 2. an error handler for requests whose body could not be parsed: they still spend the request
   *    budget (429 over it), else their error goes on.
   *
   * @example
   * ```ts
   * router.post('/token', express.json(), identifyCredential('my_token', (req) => req.body.client_id),
   *   ...rateLimits.stages, handler);
   * ```
   */
  readonly stages: readonly [RequestHandler, ErrorRequestHandler];
}

/** Codes that mean "a credential was checked and was wrong": these count as failures. */
const CREDENTIAL_FAILURE_CODES: ReadonlySet<TokenErrorCode> = new Set([
  'invalid_client',
  'invalid_grant',
  'invalid_api_key',
  'unauthorized',
]);

const RATE_LIMITS = Symbol('express-token-kit.rateLimits');
const CREDENTIAL = 'tokenKitCredential';
const REQUEST_PROPERTY = 'tokenKitRateLimit';
const REQUEST_COUNTED = 'tokenKitRequestCounted';

function positive(value: unknown, fallback: number, option: string, max = Number.MAX_SAFE_INTEGER): number {
  return max === Number.MAX_SAFE_INTEGER
    ? positiveInteger(value, fallback, option)
    : wholeNumber(value, fallback, option, 1, max);
}

function isClusterCaller(store: unknown): store is RedisClusterCommandCaller {
  const candidate = store as Partial<RedisClusterCommandCaller> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.isCluster === true &&
    typeof candidate.call === 'function' &&
    typeof candidate.nodes === 'function'
  );
}

/**
 * Sends rate-limit-redis' commands to a Cluster. `SCRIPT LOAD` names no key, so ioredis would send it
 * to one random node while `EVALSHA` goes to the key's primary (NOSCRIPT on the others): load the
 * script on every primary instead. It is answered when at least one primary loaded it; a primary
 * that missed it answers NOSCRIPT, and rate-limit-redis loads it again.
 */
function clusterSender(cluster: RedisClusterCommandCaller) {
  return async ({ command }: { command: string[] }): Promise<RedisReply> => {
    const [name = '', ...args] = command;
    if (name.toUpperCase() !== 'SCRIPT' || args[0]?.toUpperCase() !== 'LOAD') {
      return cluster.call(name, ...args) as Promise<RedisReply>;
    }
    const results = await Promise.allSettled(cluster.nodes('master').map((node) => node.call(name, ...args)));
    const loaded = results.find((r) => r.status === 'fulfilled');
    if (loaded === undefined) {
      const failed = results.find((r) => r.status === 'rejected');
      throw failed?.reason ?? new Error('rate limit store: no cluster primaries');
    }
    return loaded.value as RedisReply;
  };
}

interface QueuedCommand {
  readonly command: string;
  readonly args: string[];
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/**
 * Sends the counters' commands through one ioredis client, writing every command asked for in the
 * same turn of the event loop as one pipeline: a request's three counter commands (and those of
 * other requests arriving together) cost one write and one round trip instead of three. Each
 * command still gets its own reply or error (a NOSCRIPT reaches rate-limit-redis, which reloads).
 * Not for a Cluster, whose pipelines must stay within one slot.
 */
function batchingSender(client: RedisCommandCaller & { pipeline(): CommandPipeline }) {
  let queue: QueuedCommand[] | undefined;
  const flush = (): void => {
    const batch = queue ?? [];
    queue = undefined;
    if (batch.length === 1) {
      const only = batch[0]!;
      client.call(only.command, ...only.args).then(only.resolve, only.reject);
      return;
    }
    let pipeline: CommandPipeline;
    try {
      pipeline = client.pipeline();
      for (const queued of batch) pipeline.call(queued.command, ...queued.args);
    } catch (err) {
      for (const queued of batch) queued.reject(err);
      return;
    }
    pipeline.exec().then(
      (results) => {
        batch.forEach((queued, i) => {
          const [err, value] = results?.[i] ?? [new Error('rate limit store: no reply'), undefined];
          if (err) queued.reject(err);
          else queued.resolve(value);
        });
      },
      (err: unknown) => {
        for (const queued of batch) queued.reject(err);
      },
    );
  };
  return (command: string, ...args: string[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (queue === undefined) {
        queue = [];
        setImmediate(flush);
      }
      queue.push({ command, args, resolve, reject });
    });
}

function storeFactory(store: RateLimitStoreOption, keyPrefix: string): RateLimitStoreFactory {
  if (store === 'memory') return () => new MemoryStore();
  if (typeof store === 'function') return store;
  if (isClusterCaller(store)) {
    const sendCommandCluster = clusterSender(store);
    return (name) => new RedisStore({ prefix: `${keyPrefix}${name}:`, sendCommandCluster });
  }
  if (store && typeof (store as RedisCommandCaller).call === 'function') {
    const client = store as RedisCommandCaller & { pipeline?: unknown };
    const send =
      typeof client.pipeline === 'function'
        ? batchingSender(client as RedisCommandCaller & { pipeline(): CommandPipeline })
        : (command: string, ...args: string[]) => client.call(command, ...args);
    return (name) =>
      new RedisStore({
        prefix: `${keyPrefix}${name}:`,
        sendCommand: (command: string, ...args: string[]) =>
          send(command, ...args) as Promise<number | string>,
      });
  }
  if (store && typeof (store as RedisCommandSender).sendCommand === 'function') {
    const client = store as RedisCommandSender;
    return (name) =>
      new RedisStore({
        prefix: `${keyPrefix}${name}:`,
        sendCommand: (...args: string[]) => client.sendCommand(args) as Promise<number | string>,
      });
  }
  throw invalidOption(
    "rateLimit store must be 'memory', an ioredis client or Cluster, a node-redis client or a store factory",
  );
}

/**
 * Wraps a counter store so that its failures fail closed: a 503 `service_unavailable` with
 * `Retry-After`, never a request let through uncounted.
 */
function failClosed(store: Store, name: RateLimiterName): Store {
  const unavailable = (err: unknown): never => {
    throw serviceUnavailable(err, DEFAULT_RETRY_AFTER);
  };
  // rate-limit-redis loads its script once, at init: after an outage (or a start before Redis was
  // ready) that promise stays rejected. After a failure, load it again on the next increment, so the
  // limiter recovers as soon as Redis does.
  let reload = false;
  const reloadScripts = (): void => {
    if (reload && store instanceof RedisStore) {
      store.incrementScriptSha = store.loadIncrementScript();
      store.getScriptSha = store.loadGetScript();
      // whichever of the two the next call does not await must not become an unhandled rejection
      store.incrementScriptSha.catch(() => undefined);
      store.getScriptSha.catch(() => undefined);
    }
    reload = false;
  };
  const getter = store.get?.bind(store);
  const ownPrefix = (store as { prefix?: unknown }).prefix;
  const wrapped: Store & { prefix: string } = {
    increment: async (key) => {
      try {
        reloadScripts();
        return await store.increment(key);
      } catch (err) {
        reload = true;
        return unavailable(err);
      }
    },
    ...(getter
      ? {
          get: async (key: string) => {
            try {
              reloadScripts();
              return await getter(key);
            } catch (err) {
              reload = true;
              return unavailable(err);
            }
          },
        }
      : {}),
    decrement: (key) => store.decrement(key),
    // express-rate-limit's double-count check tells non-local stores apart by `prefix`.
    prefix: typeof ownPrefix === 'string' ? ownPrefix : name,
    resetKey: (key) => store.resetKey(key),
    ...(store.localKeys === undefined ? {} : { localKeys: store.localKeys }),
    // An init failure (Redis not reachable yet) is not fatal: increments fail closed until it is.
    ...(store.init
      ? {
          init: async (options) => {
            try {
              await store.init!(options);
            } catch {
              // answered by increment()
            }
          },
        }
      : {}),
    ...(store.resetAll ? { resetAll: store.resetAll.bind(store) } : {}),
    ...(store.shutdown ? { shutdown: store.shutdown.bind(store) } : {}),
  };
  return wrapped;
}

/** The client's address (IPv6 grouped per /56), `unknown` when the socket has none. */
function clientIp(req: Request): string {
  return ipKeyGenerator(req.ip ?? 'unknown');
}

/**
 * Which failed checks count against a credential: every credential failure; only client
 * authentication's `invalid_client` (a refresh grant, whose `invalid_grant` is about an unguessable
 * refresh token); or every one but `invalid_client` (the user of a password grant whose client
 * authenticates too, and is counted as a credential of its own).
 */
export type FailureScope = 'any' | 'client-auth' | 'not-client-auth';

/** A credential named by {@link identifyCredential}: its hash, never the value. */
interface NamedCredential {
  readonly hash: string;
  readonly failures: FailureScope;
}

/** The credentials set by {@link identifyCredential}, if any. */
function credentialsOf(res: Response): readonly NamedCredential[] {
  const value: unknown = res.locals[CREDENTIAL];
  return Array.isArray(value) ? (value as NamedCredential[]) : [];
}

function tooManyRequests(req: Request, _res: Response, next: NextFunction): void {
  const info = (req as unknown as Record<string, { resetTime?: Date } | undefined>)[REQUEST_PROPERTY];
  const resetAt = info?.resetTime?.getTime();
  const seconds = resetAt === undefined ? 60 : Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
  next(new TokenError('too_many_requests', undefined, { headers: { 'Retry-After': String(seconds) } }));
}

function isCredentialFailure(code: TokenErrorCode | undefined, scope: FailureScope): boolean {
  if (code === undefined || !CREDENTIAL_FAILURE_CODES.has(code)) return false;
  if (scope === 'client-auth') return code === 'invalid_client';
  if (scope === 'not-client-auth') return code !== 'invalid_client';
  return true;
}

/** Whether an answer spends the IP's failure budget: a failed check of any credential it named. */
function isIpFailure(code: TokenErrorCode | undefined, credentials: readonly NamedCredential[]): boolean {
  if (!isCredentialFailure(code, 'any')) return false;
  // A refresh grant's invalid_grant is about an unguessable refresh token, not a guessed secret.
  return (
    code === 'invalid_client' ||
    credentials.length === 0 ||
    credentials.some((c) => c.failures !== 'client-auth')
  );
}

/** A counter's state for one key: hits in the current window and when that window ends. */
interface Reading {
  readonly key: string;
  readonly hits: number;
  readonly resetAt: number | undefined;
}

/**
 * One counter: `read` a key's state, `count` one hit, `restart` its window with one hit (`fresh`:
 * the key has no window yet, so there is nothing to reset).
 */
interface Counter {
  read(key: string): Promise<Reading>;
  count(key: string): void;
  restart(key: string, fresh: boolean): void;
}

function counter(store: Store, windowMs: number): Counter {
  objectWith(store, ['get'], 'rateLimit store', 'a store implementing get()');
  const get = store.get as NonNullable<Store['get']>;
  // express-rate-limit initialises its stores with the middleware's options; only windowMs is read.
  void Promise.resolve(store.init?.({ windowMs } as Parameters<NonNullable<Store['init']>>[0]));
  return {
    read: async (key) => {
      const info = await get(key);
      // rate-limit-redis reads a missing key as NaN hits
      const hits = info !== undefined && Number.isFinite(info.totalHits) ? Math.max(0, info.totalHits) : 0;
      return { key, hits, resetAt: hits > 0 ? info?.resetTime?.getTime() : undefined };
    },
    // After the response: a store failure here is answered by the next read, which fails closed.
    count(key) {
      Promise.resolve()
        .then(() => store.increment(key))
        .catch(() => undefined);
    },
    restart(key, fresh) {
      Promise.resolve()
        .then(() => (fresh ? undefined : store.resetKey(key)))
        .then(() => store.increment(key))
        .catch(() => undefined);
    },
  };
}

/** A 429 whose `Retry-After` is the end of the spent counter's window. */
function tooMany(reading: Reading, windowMs: number): TokenError {
  const seconds =
    reading.resetAt === undefined
      ? Math.ceil(windowMs / 1000)
      : Math.max(1, Math.ceil((reading.resetAt - Date.now()) / 1000));
  return new TokenError('too_many_requests', undefined, { headers: { 'Retry-After': String(seconds) } });
}

function passThrough(_req: Request, _res: Response, next: NextFunction): void {
  next();
}

function passErrorThrough(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(err);
}

const PASS_THROUGH_STAGES = [passThrough, passErrorThrough] as const;

/**
 * Builds the rate limits that all four routers apply to their credential-checking endpoints. Every
 * router given the same object shares its budgets; give every app instance the same Redis.
 *
 * - requests per IP (all requests, default 300/min; a body that does not parse counts too);
 * - failed credential checks per (credential, IP) (default 10 per 15 min): a flood of wrong secrets
 *   for one client from one IP is answered 429, while the same client from another IP still works;
 * - failed credential checks per credential from all IPs (default 50 per 15 min): a guessing attack
 *   spread over many addresses is answered 429 too, except from the addresses that authenticated
 *   that credential successfully in the last `trustedAddressMs` (default 7 days), so the real client
 *   keeps working from its usual addresses;
 * - failed credential checks per IP, any credential (default 100 per 15 min).
 *
 * A credential is one budget on every surface: a client id counts the same on createAuthRouter and
 * createOAuthRouter, a username the same on either password grant. Credentials are hashed (SHA-256) before they
 * become counter keys; secrets never do. The client IP is `req.ip`: set Express's `trust proxy` to
 * the real hop count behind a proxy, never `true`. A counter store that cannot answer fails closed
 * (503 `service_unavailable` with `Retry-After`).
 *
 * @example
 * ```ts
 * const rateLimit = createRateLimits({ store: redis }); // the token store's ioredis client
 * app.use('/api', createAuthRouter({ kit, rateLimit }));
 * app.use(createOAuthRouter({ kit, rateLimit }));
 * ```
 */
export function createRateLimits(options: Readonly<RateLimitOptions> = {}): RateLimits {
  objectOption(options, 'createRateLimits options');
  const enabled = booleanOption(options.enabled, true, 'rateLimit.enabled');
  const keyPrefix = stringOption(options.keyPrefix, DEFAULT_RATE_LIMIT_KEY_PREFIX, 'rateLimit.keyPrefix');
  const resolved: ResolvedRateLimitOptions = Object.freeze({
    enabled,
    failuresPerCredentialAndIp: positive(
      options.failuresPerCredentialAndIp,
      DEFAULT_FAILURES_PER_CREDENTIAL_AND_IP,
      'rateLimit.failuresPerCredentialAndIp',
    ),
    failuresPerCredential: positive(
      options.failuresPerCredential,
      DEFAULT_FAILURES_PER_CREDENTIAL,
      'rateLimit.failuresPerCredential',
    ),
    trustedAddressMs: positive(
      options.trustedAddressMs,
      DEFAULT_TRUSTED_ADDRESS_MS,
      'rateLimit.trustedAddressMs',
      MAX_WINDOW_MS,
    ),
    failuresPerIp: positive(options.failuresPerIp, DEFAULT_FAILURES_PER_IP, 'rateLimit.failuresPerIp'),
    failureWindowMs: positive(
      options.failureWindowMs,
      DEFAULT_FAILURE_WINDOW_MS,
      'rateLimit.failureWindowMs',
    ),
    requestsPerIp: positive(options.requestsPerIp, DEFAULT_REQUESTS_PER_IP, 'rateLimit.requestsPerIp'),
    requestWindowMs: positive(
      options.requestWindowMs,
      DEFAULT_REQUEST_WINDOW_MS,
      'rateLimit.requestWindowMs',
    ),
    keyPrefix,
  });
  if (!enabled) {
    return Object.freeze({ options: resolved, stages: PASS_THROUGH_STAGES, [RATE_LIMITS]: true });
  }
  const makeStore = storeFactory(options.store ?? 'memory', keyPrefix);
  const common = {
    standardHeaders: false,
    legacyHeaders: false,
    passOnStoreError: false,
    requestPropertyName: REQUEST_PROPERTY,
    handler: tooManyRequests,
  } as const;

  const requests = rateLimit({
    ...common,
    windowMs: resolved.requestWindowMs,
    limit: resolved.requestsPerIp,
    store: failClosed(makeStore('requests-ip', resolved.requestWindowMs), 'requests-ip'),
    keyGenerator: (req) => clientIp(req),
  });
  const windowMs = resolved.failureWindowMs;
  const failureStore = (name: RateLimiterName, ms: number): Counter =>
    counter(failClosed(makeStore(name, ms), name), ms);
  const perCredentialIp = failureStore('failures-credential-ip', windowMs);
  const perCredential = failureStore('failures-credential', windowMs);
  const perIp = failureStore('failures-ip', windowMs);
  const trusted = failureStore('trusted-credential-ip', resolved.trustedAddressMs);

  /** Counts the request against the IP's request budget; resolves to the refusal, if any. */
  const countRequest = (req: Request, res: Response): Promise<unknown> =>
    new Promise((resolve) => {
      void requests(req, res, resolve);
    });
  /** The budgets of one credential from one address: failures there, failures anywhere, trust. */
  const readCredential = (hash: string, ip: string): Promise<readonly [Reading, Reading, Reading]> =>
    Promise.all([
      perCredentialIp.read(`${hash}:${ip}`),
      perCredential.read(hash),
      trusted.read(`${hash}:${ip}`),
    ]);
  /** The first spent budget's 429, if any. */
  const refusalOf = (ip: Reading, credentials: readonly (readonly [Reading, Reading, Reading])[]) => {
    if (ip.hits >= resolved.failuresPerIp) return tooMany(ip, windowMs);
    for (const [here, anywhere, trust] of credentials) {
      if (here.hits >= resolved.failuresPerCredentialAndIp) return tooMany(here, windowMs);
      // an address that authenticated this credential recently is not refused for others' failures
      if (anywhere.hits >= resolved.failuresPerCredential && trust.hits === 0)
        return tooMany(anywhere, windowMs);
    }
    return undefined;
  };
  /** After a success: remember the address, unless it is remembered for another half window. */
  const rememberAddress = (trust: Reading): void => {
    const left = trust.resetAt === undefined ? 0 : trust.resetAt - Date.now();
    if (trust.hits === 0 || left < resolved.trustedAddressMs / 2)
      trusted.restart(trust.key, trust.hits === 0);
  };
  const check = function rateLimitCheck(req: Request, res: Response, next: NextFunction): void {
    res.locals[REQUEST_COUNTED] = true;
    const ip = clientIp(req);
    const credentials = credentialsOf(res);
    // One round trip: the request count, every failure budget and the trust markers, together.
    Promise.all([
      countRequest(req, res),
      perIp.read(ip),
      Promise.all(credentials.map((credential) => readCredential(credential.hash, ip))),
    ]).then(
      ([refused, ipReading, readings]) => {
        const refusal = refused ?? refusalOf(ipReading, readings);
        if (refusal !== undefined) {
          next(refusal);
          return;
        }
        // Count once the answer is known: successes never touch the failure counters, so a burst of
        // parallel good requests is never refused.
        res.once('finish', () => {
          const code = tokenErrorCodeOf(res);
          if (code === undefined && res.statusCode < 400) {
            for (const [, , trust] of readings) rememberAddress(trust);
            return;
          }
          if (!isIpFailure(code, credentials)) return;
          perIp.count(ipReading.key);
          credentials.forEach((credential, i) => {
            if (!isCredentialFailure(code, credential.failures)) return;
            const [here, anywhere] = readings[i]!;
            perCredentialIp.count(here.key);
            perCredential.count(anywhere.key);
          });
        });
        next();
      },
      (err: unknown) => next(err),
    );
  };
  const countUnparsed = function rateLimitUnparsed(
    err: unknown,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    // an error of the check itself (429, 503) comes here too: that request was counted already
    if (res.locals[REQUEST_COUNTED] === true) {
      next(err);
      return;
    }
    res.locals[REQUEST_COUNTED] = true;
    void countRequest(req, res).then((refused) => next(refused ?? err));
  };
  return Object.freeze({ options: resolved, stages: [check, countUnparsed] as const, [RATE_LIMITS]: true });
}

/** True when `value` was made by {@link createRateLimits}. */
export function isRateLimits(value: unknown): value is RateLimits {
  return typeof value === 'object' && value !== null && RATE_LIMITS in value;
}

/** How a router takes its `rateLimit` option: shared limits, or options for limits of its own. */
export type RouterRateLimitOption = RateLimits | RateLimitOptions;

/**
 * A router's rate-limit stages (see {@link RateLimits.stages}), reporting counter-store outages as
 * `store_unavailable` audit events through `reportStoreOutage` (the kit's
 * `TokenService.reportStoreOutage`).
 * @internal
 */
export function routerRateLimits(
  option: RouterRateLimitOption | undefined,
  reportStoreOutage: (reason: string, ip?: string) => void,
): readonly [RequestHandler, ErrorRequestHandler] {
  const limits = isRateLimits(option) ? option : createRateLimits(option ?? {});
  if (!limits.options.enabled) return PASS_THROUGH_STAGES;
  const reported =
    (req: Request, next: NextFunction) =>
    (err?: unknown): void => {
      if (err instanceof TokenError && err.code === 'service_unavailable') {
        reportStoreOutage('rate_limit_store', req.ip);
      }
      next(err);
    };
  const [check, countUnparsed] = limits.stages;
  return [
    function rateLimitStage(req: Request, res: Response, next: NextFunction): void {
      void check(req, res, reported(req, next));
    },
    function rateLimitUnparsedStage(err: unknown, req: Request, res: Response, next: NextFunction): void {
      void countUnparsed(err, req, res, reported(req, next));
    },
  ];
}

/**
 * What a credential names. The kit's routers use one kind per credential whatever the surface — a
 * client id is a `client` on createAuthRouter and on createOAuthRouter, a username a `user` on either password grant
 * — so that one credential has one failure budget across the kit.
 */
export type CredentialKind = 'client' | 'user' | 'api_key' | 'provider_key';

/** What {@link identifyCredential}'s callback answers: the credential, and what counts as its failure. */
export interface IdentifiedCredential {
  /** The client id, username or key; hashed before use. */
  readonly id: string;
  /** What `id` names, when not the `kind` given to {@link identifyCredential}. */
  readonly kind?: CredentialKind;
  /**
   * Which failed checks count against this credential: `'any'` (default); `'client-auth'`, only
   * `invalid_client` (client authentication), e.g. for a refresh grant, whose `invalid_grant` is
   * about the refresh token; `'not-client-auth'`, all but `invalid_client`, e.g. for the user of a
   * password grant whose client is named as a credential of its own.
   */
  readonly failures?: FailureScope;
}

/** Most credentials one request may name (a password grant names two: its client and its user). */
const MAX_CREDENTIALS_PER_REQUEST = 2;

/**
 * Middleware that names the credentials a request presents, for the per-(credential, IP) and
 * per-credential limits. `identify` gets the request after body parsing and returns e.g. the client
 * id, the username or the API key (or a list, for a request that checks two); each value is hashed
 * with its kind (SHA-256, so a long or hostile value becomes a fixed-length key) and never kept in
 * clear. It must not throw; requests it cannot identify are only counted per IP.
 */
export function identifyCredential(
  kind: CredentialKind,
  identify: (
    req: Request,
  ) => string | IdentifiedCredential | readonly (string | IdentifiedCredential)[] | undefined,
): RequestHandler {
  return function identifyCredentialMiddleware(req: Request, res: Response, next: NextFunction): void {
    let found: ReturnType<typeof identify>;
    try {
      found = identify(req);
    } catch {
      found = undefined;
    }
    const list = found === undefined ? [] : Array.isArray(found) ? found : [found];
    const named: NamedCredential[] = [];
    for (const entry of list.slice(0, MAX_CREDENTIALS_PER_REQUEST) as (string | IdentifiedCredential)[]) {
      const credential = typeof entry === 'string' ? { id: entry } : entry;
      if (typeof credential?.id !== 'string' || credential.id === '') continue;
      named.push({
        hash: createHash('sha256')
          .update(`${credential.kind ?? kind}\0${credential.id}`)
          .digest('hex')
          .slice(0, 32),
        failures: credential.failures ?? 'any',
      });
    }
    if (named.length > 0) res.locals[CREDENTIAL] = named;
    next();
  };
}
