/**
 * The Redis half of the package for the demo server and the CLI, loaded on first use: `ioredis` is
 * an optional peer dependency, so `express-token-kit --version`, `keys generate` and the demo on
 * the memory store run without it, and a Redis setting without it is a clear configuration error.
 */
import type * as RedisEntry from '../redis';

export type { RedisConnection } from '../redis';

/** The variables that name a Redis (docs/operations.md); with none of them set there is no Redis. */
const REDIS_VARIABLES = [
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
] as const;

let loaded: typeof RedisEntry | undefined;

/** `express-token-kit/redis`, loaded once; a TypeError naming the fix when ioredis is missing. */
function redis(): typeof RedisEntry {
  if (loaded === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require('../redis') as typeof RedisEntry;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'MODULE_NOT_FOUND' && /['"]ioredis['"]/.test(e.message)) {
        throw new TypeError(
          'Redis is configured but the ioredis package is not installed: npm install ioredis ' +
            '(an optional peer dependency of express-token-kit)',
          { cause: err },
        );
      }
      throw err;
    }
  }
  return loaded;
}

/** A class of `express-token-kit/redis`, loaded when first constructed or used. */
function lazyClass<K extends 'RedisTokenStore' | 'RedisRevocationView' | 'RedisKeyStore'>(
  name: K,
): (typeof RedisEntry)[K] {
  // A constructible stand-in: every construction and property read goes to the loaded class.
  const standIn = function () {
    // never called: the proxy constructs the loaded class
  };
  return new Proxy(standIn as unknown as (typeof RedisEntry)[K], {
    construct: (_target, args) => Reflect.construct(redis()[name], args) as object,
    get: (_target, property) => Reflect.get(redis()[name], property) as unknown,
  });
}

/** `createRedisConnectionFromEnv`, or null without loading ioredis when no variable names a Redis. */
export const createRedisConnectionFromEnv: typeof RedisEntry.createRedisConnectionFromEnv = (
  env,
  options,
) => {
  if (REDIS_VARIABLES.every((name) => (env[name] ?? '').trim() === '')) return null;
  return redis().createRedisConnectionFromEnv(env, options);
};
/** See {@link RedisEntry.waitForReady}. */
export const waitForReady: typeof RedisEntry.waitForReady = (...args) => redis().waitForReady(...args);
/** See {@link RedisEntry.checkEvictionPolicy}. */
export const checkEvictionPolicy: typeof RedisEntry.checkEvictionPolicy = (...args) =>
  redis().checkEvictionPolicy(...args);
/** See {@link RedisEntry.revocationChannel}. */
export const revocationChannel: typeof RedisEntry.revocationChannel = (...args) =>
  redis().revocationChannel(...args);
/** See {@link RedisEntry.createRevocationAnnouncer}. */
export const createRevocationAnnouncer: typeof RedisEntry.createRevocationAnnouncer = (...args) =>
  redis().createRevocationAnnouncer(...args);
/** See {@link RedisEntry.RedisTokenStore}. */
export const RedisTokenStore = lazyClass('RedisTokenStore');
/** See {@link RedisEntry.RedisTokenStore}. */
export type RedisTokenStore = RedisEntry.RedisTokenStore;
/** See {@link RedisEntry.RedisRevocationView}. */
export const RedisRevocationView = lazyClass('RedisRevocationView');
/** See {@link RedisEntry.RedisRevocationView}. */
export type RedisRevocationView = RedisEntry.RedisRevocationView;
/** See {@link RedisEntry.RedisKeyStore}. */
export const RedisKeyStore = lazyClass('RedisKeyStore');
/** See {@link RedisEntry.RedisKeyStore}. */
export type RedisKeyStore = RedisEntry.RedisKeyStore;
