/**
 * What the two Redis stores (`RedisTokenStore`, `RedisCredentialStore`) share: their options and
 * how they are checked, running the Lua scripts of redis-scripts.ts (with `WAIT` behind writes when
 * asked), failing closed with `StoreUnavailableError`, retrying a read-then-script that went stale,
 * and parsing what Redis returns.
 */
import {
  matchingString,
  objectOption,
  objectWith,
  positiveInteger,
  stringOption,
  wholeMilliseconds,
} from '../util/options';
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { StoreScript } from './redis-scripts';

/** Replica acknowledgement required after revocation, rotation and credential writes (Redis `WAIT`). */
export interface WaitForReplicasOptions {
  /** Replicas that must acknowledge each write; at least 1. */
  readonly replicas: number;
  /**
   * Milliseconds to wait for them (1 or more; `WAIT` with 0 would block forever). Keep it below the
   * client's command timeout.
   */
  readonly timeoutMs: number;
}

/** Options of a Redis store (`RedisTokenStore` and `RedisCredentialStore` take the same ones). */
export interface RedisStoreOptions {
  /**
   * An ioredis client (`Redis`, also for Sentinel) or `Cluster`, ideally from `createRedisClient()`
   * or `createRedisConnectionFromEnv()` (command timeout, no offline queue). The store never closes
   * it. A single Redis or a Cluster is told apart by the client itself.
   */
  readonly client: Redis | Cluster;
  /** Prefix of every key the store writes; no `{` or `}` (they would break cluster hash tags). @default 'etk:' */
  readonly keyPrefix?: string;
  /**
   * When set, every revocation, rotation and credential write is followed by `WAIT replicas
   * timeoutMs` on the same connection, and fails closed (`StoreUnavailableError`) unless that many
   * replicas acknowledged it, so a failover cannot lose an acknowledged revocation. The write itself
   * may still have happened on the primary; revocation writes are idempotent and a retried refresh
   * is covered by the grace window. @default off (asynchronous replication)
   */
  readonly waitForReplicas?: Readonly<WaitForReplicasOptions>;
}

/** An error for a value Redis holds that is not what the store wrote. */
export function corrupt(what: string): StoreUnavailableError {
  return new StoreUnavailableError(`redis store: corrupt ${what}`);
}

/** True for a plain (non-array) object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses stored JSON; anything else is corrupt. */
export function parseJson(raw: unknown, what: string): unknown {
  if (typeof raw !== 'string') throw corrupt(what);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw corrupt(what);
  }
}

/** Parses a stored number; anything else is corrupt. */
export function parseNumber(raw: unknown, what: string): number {
  const n = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  if (raw === '' || !Number.isFinite(n)) throw corrupt(what);
  return n;
}

/** A script reply that must be an array of at least `length` values. */
export function asArray(reply: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(reply) || reply.length < length) throw corrupt(what);
  return reply as unknown[];
}

/** How many times an optimistic read-then-script is retried when the data moved on in between. */
const STALE_ATTEMPTS = 5;

/** The answer of an optimistic attempt whose script found the data it was given out of date. */
export const STALE: unique symbol = Symbol('stale');

type ScriptCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

/** A pipeline (single Redis or Cluster) that knows the store's scripts by name. */
interface ScriptPipeline {
  call(command: string, ...args: (string | number)[]): ScriptPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

function assertNoBraces(owner: string, what: string, value: string): void {
  matchingString(value, '', `${owner}: ${what}`, /^[^{}]*$/, "free of '{' and '}' (cluster hash tags)");
}

function checkWaitOptions(
  owner: string,
  options: Readonly<WaitForReplicasOptions> | undefined,
): WaitForReplicasOptions | null {
  if (options === undefined) return null;
  objectOption(options, `${owner}: waitForReplicas ({ replicas, timeoutMs })`);
  const replicas = positiveInteger(options.replicas, Number.NaN, `${owner}: waitForReplicas.replicas`);
  const timeoutMs = wholeMilliseconds(options.timeoutMs, Number.NaN, `${owner}: waitForReplicas.timeoutMs`);
  return Object.freeze({ replicas, timeoutMs });
}

/**
 * One Redis store's connection: its options checked once, its scripts defined on the client, and
 * the ways it talks to Redis. `owner` names the store in configuration errors (`RedisTokenStore`),
 * `label` in `StoreUnavailableError` messages (`redis token store`).
 */
export class RedisStoreCore {
  readonly client: Redis | Cluster;
  /** Our prefix, as given; ioredis adds the client's own `keyPrefix` to every key, KEYS included. */
  readonly prefix: string;
  readonly #wait: WaitForReplicasOptions | null;
  readonly #label: string;

  constructor(
    owner: string,
    label: string,
    options: Readonly<RedisStoreOptions>,
    scripts: readonly StoreScript[],
  ) {
    const client = objectWith(
      (options as Partial<RedisStoreOptions> | undefined)?.client as Redis | Cluster | undefined,
      ['defineCommand', 'get', 'pipeline'],
      `${owner}: options.client`,
      'an ioredis Redis or Cluster client',
    );
    const prefix = stringOption(options.keyPrefix, 'etk:', `${owner}: keyPrefix`);
    assertNoBraces(owner, 'keyPrefix', prefix);
    const clientPrefix = (client.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
    assertNoBraces(owner, "the client's keyPrefix", clientPrefix);
    this.client = client;
    this.prefix = prefix;
    this.#wait = checkWaitOptions(owner, options.waitForReplicas);
    this.#label = label;
    for (const s of scripts) client.defineCommand(s.name, { lua: s.lua });
  }

  /** True when the client is a Redis Cluster. */
  get isCluster(): boolean {
    return (this.client as { isCluster?: boolean }).isCluster === true;
  }

  /** Runs `fn`; any failure becomes a `StoreUnavailableError` (fail closed). */
  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`${this.#label}: ${operation} failed`, { cause: err });
    }
  }

  /** Runs one of the store's scripts with its KEYS and ARGV. */
  script(s: StoreScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const command = (this.client as unknown as Record<string, ScriptCommand | undefined>)[s.name];
    if (command === undefined) throw new StoreUnavailableError(`${this.#label}: script ${s.name} missing`);
    return command.call(this.client, keys.length, ...keys, ...args);
  }

  /**
   * Runs a writing script; with `waitForReplicas`, pipelines `WAIT` behind it on the same
   * connection (on a Cluster, the node owning the script's slot) and fails closed when too few
   * replicas acknowledged. `mustReplicate(reply)` says whether the reply means something was written.
   */
  async writeScript(
    s: StoreScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    mustReplicate: (reply: unknown) => boolean = () => true,
  ): Promise<unknown> {
    const wait = this.#wait;
    if (wait === null) return this.script(s, keys, args);
    const pipeline = this.client.pipeline() as unknown as ScriptPipeline &
      Record<string, (...a: (string | number)[]) => ScriptPipeline>;
    const command = pipeline[s.name];
    if (command === undefined) throw new StoreUnavailableError(`${this.#label}: script ${s.name} missing`);
    command.call(pipeline, keys.length, ...keys, ...args);
    pipeline.call('WAIT', wait.replicas, wait.timeoutMs);
    const results = await pipeline.exec();
    if (results === null || results.length < 2)
      throw new StoreUnavailableError(`${this.#label}: pipeline aborted`);
    const [[scriptErr, reply], [waitErr, acked]] = results as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    if (scriptErr !== null) throw scriptErr;
    if (!mustReplicate(reply)) return reply;
    if (waitErr !== null) throw waitErr;
    if (typeof acked !== 'number' || acked < wait.replicas) {
      throw new StoreUnavailableError(
        `${this.#label}: write acknowledged by ${String(acked)} of ${wait.replicas} replicas`,
      );
    }
    return reply;
  }

  /**
   * Runs `attempt` until it does not answer {@link STALE} (the data it read before its script moved
   * on), at most a few times; then fails closed.
   */
  async untilFresh<T>(what: string, attempt: (n: number) => Promise<T | typeof STALE>): Promise<T> {
    for (let i = 0; i < STALE_ATTEMPTS; i++) {
      const result = await attempt(i);
      if (result !== STALE) return result;
    }
    throw new StoreUnavailableError(`${this.#label}: ${what} kept changing, gave up`);
  }
}
