/**
 * Brute-force protection for every credential-checking endpoint: failed attempts per
 * (credential, IP) and per IP, plus an overall request budget per IP. Built on express-rate-limit;
 * counters in memory or in Redis (rate-limit-redis), shared by every router given the same
 * {@link RateLimits}.
 */
import { createHash } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { TokenError, type TokenErrorCode } from '../errors';
import type { TokenEvent } from '../core/events';
import { DEFAULT_RETRY_AFTER } from '../defaults';
import { tokenErrorCodeOf } from './error-response';

/** Failed attempts allowed per (credential, IP) in a failure window. */
export const DEFAULT_FAILURES_PER_CREDENTIAL_AND_IP = 10;
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

/** The three counters a {@link RateLimits} keeps. */
export type RateLimiterName = 'failures-credential-ip' | 'failures-ip' | 'requests-ip';

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
   *    request's (credential, IP) and IP — all three at once, one Redis round trip — then 429 once
   *    any is spent; failed credential checks are counted once the answer is known;
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
const CLIENT_AUTH_ONLY = 'tokenKitClientAuthOnly';
const REQUEST_PROPERTY = 'tokenKitRateLimit';
const REQUEST_COUNTED = 'tokenKitRequestCounted';

function positive(value: unknown, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${option} must be a positive whole number, got ${JSON.stringify(value)}`);
  }
  return value;
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
  throw new TypeError(
    "rateLimit store must be 'memory', an ioredis client or Cluster, a node-redis client or a store factory",
  );
}

/**
 * Wraps a counter store so that its failures fail closed: a 503 `service_unavailable` with
 * `Retry-After`, never a request let through uncounted.
 */
function failClosed(store: Store, name: RateLimiterName): Store {
  const unavailable = (err: unknown): never => {
    throw new TokenError('service_unavailable', undefined, {
      cause: err,
      headers: { 'Retry-After': String(DEFAULT_RETRY_AFTER) },
    });
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

/** The hashed credential identifier set by {@link identifyCredential}, if any. */
function credentialOf(res: Response): string | undefined {
  const value: unknown = res.locals[CREDENTIAL];
  return typeof value === 'string' ? value : undefined;
}

function tooManyRequests(req: Request, _res: Response, next: NextFunction): void {
  const info = (req as unknown as Record<string, { resetTime?: Date } | undefined>)[REQUEST_PROPERTY];
  const resetAt = info?.resetTime?.getTime();
  const seconds = resetAt === undefined ? 60 : Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
  next(new TokenError('too_many_requests', undefined, { headers: { 'Retry-After': String(seconds) } }));
}

function wasNotCredentialFailure(_req: Request, res: Response): boolean {
  const code = tokenErrorCodeOf(res);
  if (code === undefined) return true;
  // A refresh grant's invalid_grant is about an unguessable refresh token, not a guessed secret.
  if (res.locals[CLIENT_AUTH_ONLY] === true) return code !== 'invalid_client';
  return !CREDENTIAL_FAILURE_CODES.has(code);
}

/** A failure budget: `check` refuses once the key is at the limit; `count` records one failure. */
interface FailureCounter {
  /** Resolves the key (undefined when the request is not counted), or rejects with 429 or 503. */
  (req: Request, res: Response): Promise<string | undefined>;
  count(key: string): void;
}

function failureCounter(
  store: Store,
  limit: number,
  windowMs: number,
  keyOf: (req: Request, res: Response) => string | undefined,
): FailureCounter {
  const get = store.get;
  if (typeof get !== 'function') throw new TypeError('rate-limit stores must implement get()');
  // express-rate-limit initialises its stores with the middleware's options; only windowMs is read.
  void Promise.resolve(store.init?.({ windowMs } as Parameters<NonNullable<Store['init']>>[0]));
  const check = async function checkFailures(req: Request, res: Response): Promise<string | undefined> {
    const key = keyOf(req, res);
    if (key === undefined) return undefined;
    const info = await get(key);
    if (info !== undefined && info.totalHits >= limit) {
      const resetAt = info.resetTime?.getTime();
      const seconds =
        resetAt === undefined
          ? Math.ceil(windowMs / 1000)
          : Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
      throw new TokenError('too_many_requests', undefined, { headers: { 'Retry-After': String(seconds) } });
    }
    return key;
  };
  return Object.assign(check, {
    count(key: string): void {
      // After the response: a store failure here is answered by the next check, which fails closed.
      Promise.resolve()
        .then(() => store.increment(key))
        .catch(() => undefined);
    },
  });
}

function passThrough(_req: Request, _res: Response, next: NextFunction): void {
  next();
}

function passErrorThrough(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(err);
}

const PASS_THROUGH_STAGES = [passThrough, passErrorThrough] as const;

/**
 * Builds the rate limits that routers A–D apply to their credential-checking endpoints. Every
 * router given the same object shares its budgets; give every app instance the same Redis.
 *
 * - requests per IP (all requests, default 300/min; a body that does not parse counts too);
 * - failed credential checks per (credential, IP) (default 10 per 15 min): a flood of wrong secrets
 *   for one client from one IP is answered 429, while the same client from another IP still works;
 * - failed credential checks per IP, any credential (default 100 per 15 min).
 *
 * Credentials are hashed (SHA-256) before they become counter keys. The client IP is `req.ip`: set
 * Express's `trust proxy` to the real hop count behind a proxy, never `true`. A counter store that
 * cannot answer fails closed (503 `service_unavailable` with `Retry-After`).
 *
 * @example
 * ```ts
 * const rateLimit = createRateLimits({ store: redis }); // the token store's ioredis client
 * app.use('/api', createAuthRouter({ kit, rateLimit }));
 * app.use(createOAuthRouter({ kit, rateLimit }));
 * ```
 */
export function createRateLimits(options: Readonly<RateLimitOptions> = {}): RateLimits {
  if (options === null || typeof options !== 'object')
    throw new TypeError('createRateLimits options must be an object');
  const enabled = options.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new TypeError('rateLimit.enabled must be a boolean');
  const keyPrefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw new TypeError('rateLimit.keyPrefix must be a string');
  const resolved: ResolvedRateLimitOptions = Object.freeze({
    enabled,
    failuresPerCredentialAndIp: positive(
      options.failuresPerCredentialAndIp,
      DEFAULT_FAILURES_PER_CREDENTIAL_AND_IP,
      'rateLimit.failuresPerCredentialAndIp',
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
  const perCredential = failureCounter(
    failClosed(makeStore('failures-credential-ip', resolved.failureWindowMs), 'failures-credential-ip'),
    resolved.failuresPerCredentialAndIp,
    resolved.failureWindowMs,
    (req, res) => {
      const credential = credentialOf(res);
      return credential === undefined ? undefined : `${credential}:${clientIp(req)}`;
    },
  );
  const perIp = failureCounter(
    failClosed(makeStore('failures-ip', resolved.failureWindowMs), 'failures-ip'),
    resolved.failuresPerIp,
    resolved.failureWindowMs,
    (req) => clientIp(req),
  );
  /** Counts the request against the IP's request budget; resolves to the refusal, if any. */
  const countRequest = (req: Request, res: Response): Promise<unknown> =>
    new Promise((resolve) => {
      void requests(req, res, resolve);
    });
  const check = function rateLimitCheck(req: Request, res: Response, next: NextFunction): void {
    res.locals[REQUEST_COUNTED] = true;
    // One round trip: the request count and both failure budgets are asked for together.
    Promise.all([countRequest(req, res), perIp(req, res), perCredential(req, res)]).then(
      ([refused, ipKey, credentialKey]) => {
        if (refused !== undefined) {
          next(refused);
          return;
        }
        // Count failures once the answer is known: successes never touch the counters, so a burst
        // of parallel good requests is never refused.
        res.once('finish', () => {
          if (wasNotCredentialFailure(req, res)) return;
          if (ipKey !== undefined) perIp.count(ipKey);
          if (credentialKey !== undefined) perCredential.count(credentialKey);
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
 * `store_unavailable` audit events through `emit`.
 * @internal
 */
export function routerRateLimits(
  option: RouterRateLimitOption | undefined,
  emit: (event: Omit<TokenEvent, 'at'>) => void,
): readonly [RequestHandler, ErrorRequestHandler] {
  const limits = isRateLimits(option) ? option : createRateLimits(option ?? {});
  if (!limits.options.enabled) return PASS_THROUGH_STAGES;
  const reported =
    (req: Request, next: NextFunction) =>
    (err?: unknown): void => {
      if (err instanceof TokenError && err.code === 'service_unavailable') {
        emit({ type: 'store_unavailable', reason: 'rate_limit_store', ...(req.ip ? { ip: req.ip } : {}) });
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

/** What {@link identifyCredential}'s callback answers: the credential, and what counts as its failure. */
export interface IdentifiedCredential {
  /** The client id, username or key; hashed before use. */
  readonly id: string;
  /** Count only `invalid_client` (client authentication) as a failure, e.g. for a refresh grant. */
  readonly clientAuthOnly?: boolean;
}

/**
 * Middleware that names the credential a request presents, for the per-(credential, IP) limit.
 * `identify` gets the request after body parsing and returns e.g. the client id, the username or
 * the API key; the value is hashed with `kind` and never kept in clear. It must not throw; requests
 * it cannot identify are only counted per IP.
 */
export function identifyCredential(
  kind: string,
  identify: (req: Request) => string | IdentifiedCredential | undefined,
): RequestHandler {
  return function identifyCredentialMiddleware(req: Request, res: Response, next: NextFunction): void {
    let found: string | IdentifiedCredential | undefined;
    try {
      found = identify(req);
    } catch {
      found = undefined;
    }
    const id = typeof found === 'string' ? found : found?.id;
    if (typeof found === 'object' && found.clientAuthOnly) res.locals[CLIENT_AUTH_ONLY] = true;
    if (id !== undefined && id !== '') {
      res.locals[CREDENTIAL] = createHash('sha256').update(`${kind}\0${id}`).digest('hex').slice(0, 32);
    }
    next();
  };
}
