/**
 * Test kits: `makeKit()` builds a {@link TokenKit} on a given store with a generated RS256 key set,
 * the issuer `https://issuer.test` and a clock the test moves by hand; `storeFactories` lets a spec
 * run the same cases against the memory store and the run's Redis (see global-setup.ts).
 *
 * @example
 * ```ts
 * describe.each(storeFactories)('with the %s store', (_name, factory) => {
 *   let stores: StoreHarness;
 *   beforeAll(async () => { stores = await factory('my-spec'); });
 *   afterAll(() => stores.cleanup());
 *   it('…', async () => {
 *     const clock = createClock();
 *     const { kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock });
 *   });
 * });
 * ```
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createTokenKit, type TokenKit, type TokenKitOptions } from '../../lib/core/token-kit';
import { KeySet } from '../../lib/keys/key-set';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { CredentialStore } from '../../lib/stores/credential-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { connectTestRedis } from './redis';

/** The issuer of every test kit. */
export const TEST_ISSUER = 'https://issuer.test';

/** A clock in milliseconds that moves only when told to. */
export interface TestClock {
  /** Now, in milliseconds since the epoch (pass this as a kit's or store's `now`). */
  readonly now: () => number;
  /** Now, in whole seconds since the epoch. */
  seconds(): number;
  /** Moves the clock forward by `seconds` (may be fractional). */
  advance(seconds: number): void;
  /** Sets the clock to `ms` milliseconds since the epoch. */
  set(ms: number): void;
}

/**
 * A controllable clock starting at `startMs` (default: the current second). It starts near the real
 * time because Redis expires family keys at absolute times (`PEXPIREAT`) derived from it.
 */
export function createClock(startMs: number = Math.floor(Date.now() / 1000) * 1000): TestClock {
  let current = startMs;
  return {
    now: () => current,
    seconds: () => Math.floor(current / 1000),
    advance(seconds: number) {
      current += Math.round(seconds * 1000);
    },
    set(ms: number) {
      current = ms;
    },
  };
}

let sharedKeys: Promise<KeySet> | undefined;

/**
 * One RS256 key set per test process (RSA generation is slow). Never mutate it; a spec that rotates
 * or retires keys passes its own `keys` to {@link makeKit}.
 */
export function testKeySet(): Promise<KeySet> {
  sharedKeys ??= KeySet.generate('RS256', 'test-rs256');
  return sharedKeys;
}

/** The public keys of a key set, by `kid`, read back from its public JWKS. */
export function publicKeysOf(keys: KeySet): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const jwk of keys.jwks().keys) {
    out.set(jwk.kid, createPublicKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' }));
  }
  return out;
}

/** Options of {@link makeKit}: a store, an optional clock and any other kit option. */
export type MakeKitOptions = Omit<TokenKitOptions, 'store' | 'keys' | 'issuer' | 'now'> & {
  readonly store: TokenStore;
  /** A {@link TestClock}, or a plain millisecond clock; @default a new {@link createClock}. */
  readonly now?: TestClock | (() => number);
  /** @default the shared {@link testKeySet} */
  readonly keys?: KeySet;
  /** @default {@link TEST_ISSUER} */
  readonly issuer?: string;
};

/** What {@link makeKit} builds. */
export interface TestKit {
  readonly kit: TokenKit;
  readonly keys: KeySet;
  readonly store: TokenStore;
  /** The kit's clock; only a {@link TestClock} when one was passed or none was. */
  readonly clock: TestClock;
}

/** Builds a token kit for tests (see the module comment). */
export async function makeKit(options: MakeKitOptions): Promise<TestKit> {
  const { store, now, keys: givenKeys, issuer, ...rest } = options;
  const clock: TestClock =
    now === undefined ? createClock() : typeof now === 'function' ? wrapClock(now) : now;
  const keys = givenKeys ?? (await testKeySet());
  const kit = createTokenKit({ ...rest, store, keys, issuer: issuer ?? TEST_ISSUER, now: clock.now });
  return { kit, keys, store, clock };
}

function wrapClock(now: () => number): TestClock {
  return {
    now,
    seconds: () => Math.floor(now() / 1000),
    advance() {
      throw new TypeError('this kit was given a plain clock function; move that clock instead');
    },
    set() {
      throw new TypeError('this kit was given a plain clock function; move that clock instead');
    },
  };
}

/** A store made by a {@link StoreHarness}: a token store that keeps credentials too. */
export interface TestStore {
  readonly store: TokenStore & CredentialStore;
  /**
   * The same data through another store object, as a second app instance sees it: on Redis a new
   * RedisTokenStore over a separate ioredis connection and the same key prefix; in memory the same
   * store (one process).
   */
  twin(now?: () => number): Promise<TokenStore>;
}

/** Makes empty stores of one kind; `cleanup()` releases everything it made. */
export interface StoreHarness {
  readonly name: 'memory' | 'redis';
  /** A fresh, empty store on `now` (memory uses it for expiry; Redis expires keys on its own clock). */
  create(now?: () => number): Promise<TestStore>;
  /** Closes the stores and connections it made; on Redis deletes only keys under its own prefix. */
  cleanup(): Promise<void>;
}

/** Opens a {@link StoreHarness}; `hint` names the spec file in Redis key prefixes. */
export type StoreFactory = (hint: string) => Promise<StoreHarness>;

async function memoryHarness(): Promise<StoreHarness> {
  const made: MemoryTokenStore[] = [];
  return {
    name: 'memory',
    async create(now) {
      const store = new MemoryTokenStore(now === undefined ? {} : { now });
      made.push(store);
      return { store, twin: async () => store };
    },
    async cleanup() {
      await Promise.all(made.splice(0).map((s) => s.close()));
    },
  };
}

async function redisHarness(hint: string): Promise<StoreHarness> {
  const redis = await connectTestRedis(hint);
  let count = 0;
  return {
    name: 'redis',
    async create() {
      // One sub-prefix per store so cases never see each other's keys; all under the file's prefix.
      const keyPrefix = `${redis.prefix}${++count}:`;
      const store = new RedisTokenStore({ client: redis.client, keyPrefix });
      return {
        store,
        twin: async () => new RedisTokenStore({ client: await redis.connect(), keyPrefix }),
      };
    },
    cleanup: () => redis.cleanup(),
  };
}

/** The stores a spec can run on. */
export type StoreName = 'memory' | 'redis';

const ALL_STORES: ReadonlyArray<readonly [name: StoreName, factory: StoreFactory]> = [
  ['memory', memoryHarness],
  ['redis', redisHarness],
];

/**
 * The stores this test file runs on: `ETK_TEST_STORES` (comma-separated, set per jest project and
 * file by project-setup.ts), or both when it is unset.
 */
export function selectedStores(): readonly StoreName[] {
  const raw = process.env.ETK_TEST_STORES;
  if (raw === undefined || raw.trim() === '') return ALL_STORES.map(([name]) => name);
  const names = raw.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!ALL_STORES.some(([known]) => known === name)) {
      throw new Error(`ETK_TEST_STORES names an unknown store: ${JSON.stringify(name)}`);
    }
  }
  return names as StoreName[];
}

/**
 * The selected stores (see {@link selectedStores}), for
 * `describe.each(storeFactories)('with the %s store', (name, factory) => …)`: in the `unit` jest
 * project only the memory store, in `integration` Redis (and memory too for files that run only there).
 */
export const storeFactories: ReadonlyArray<readonly [name: StoreName, factory: StoreFactory]> =
  ALL_STORES.filter(([name]) => selectedStores().includes(name));

/**
 * `describe` when this file runs on `store` (see {@link selectedStores}), else a no-op that registers
 * nothing, so a group outside `describe.each(storeFactories)` in a file of both jest projects runs
 * exactly once: memory-only and store-less groups with `'memory'`, Redis-only groups with `'redis'`.
 */
export function describeOnStore(store: StoreName): (name: string, fn: () => void) => void {
  return selectedStores().includes(store) ? describe : () => undefined;
}

/** Calls per method of a {@link countingStore}. */
export interface StoreCalls {
  /** Calls of each method so far. */
  readonly byMethod: ReadonlyMap<string, number>;
  /** All calls so far. */
  total(): number;
  /** Forgets the calls so far. */
  reset(): void;
}

/**
 * Wraps a real store in a proxy that counts calls of its methods (`close` excluded), for assertions
 * such as "a checksum failure makes no store call". The real store still answers every call.
 */
export function countingStore(store: TokenStore): { store: TokenStore; calls: StoreCalls } {
  const byMethod = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
      return (...args: unknown[]) => {
        byMethod.set(property, (byMethod.get(property) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    calls: {
      byMethod,
      total: () => [...byMethod.values()].reduce((a, b) => a + b, 0),
      reset: () => byMethod.clear(),
    },
  };
}

/** What {@link makeCountedKit} builds: a {@link TestKit} whose store counts its calls. */
export interface CountedTestKit extends TestKit {
  readonly calls: StoreCalls;
}

/**
 * A kit on a fresh store of `stores`, wrapped by {@link countingStore}, on a new {@link createClock}
 * that both the store and the kit read: the set-up the router specs repeat before each case.
 * `options` are any other kit options (`verifyUser`, `onEvent`…).
 */
export async function makeCountedKit(
  stores: StoreHarness,
  options: Omit<MakeKitOptions, 'store' | 'now'> = {},
): Promise<CountedTestKit> {
  const clock = createClock();
  const counted = countingStore((await stores.create(clock.now)).store);
  const made = await makeKit({ ...options, store: counted.store, now: clock });
  return { ...made, calls: counted.calls };
}
