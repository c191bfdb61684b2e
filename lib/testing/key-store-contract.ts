/**
 * The one conformance suite of the KeyStore contract (the shared signing keys), run against every
 * key store: memory, Redis (standalone and Cluster) and PostgreSQL.
 */
import type { KeyStore, StoredKey } from '../keys/key-store';
import { contractGlobals } from './jest-globals';

/** A fresh, empty key store and the means to drive it. */
export interface KeyStoreHarness {
  readonly store: KeyStore;
  /** A second store over the same data through its own connection, when the backend has connections. */
  readonly twin?: KeyStore;
  cleanup(): Promise<void>;
}

/** Builds a fresh harness per test. */
export type KeyStoreHarnessFactory = () => Promise<KeyStoreHarness>;

function record(kid: string, state: StoredKey['state'], extra: Partial<StoredKey> = {}): StoredKey {
  return {
    kid,
    alg: 'ES256',
    state,
    publicJwk: { kty: 'EC', kid, alg: 'ES256', use: 'sig', crv: 'P-256', x: 'x', y: 'y' },
    sealedPrivateKey: `etk-kek-v1.iv.${kid}.tag`,
    createdAtMs: 1_700_000_000_000,
    publishAtMs: 1_700_000_000_000,
    ...extra,
  };
}

/**
 * Registers the KeyStore conformance suite under `describe(name)`. `factory` runs before every
 * test; the harness' `cleanup` after it.
 */
export function describeKeyStoreContract(name: string, factory: KeyStoreHarnessFactory): void {
  const { describe, it, expect, beforeEach, afterEach } = contractGlobals();
  describe(name, () => {
    let h: KeyStoreHarness;
    let store: KeyStore;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });

    afterEach(() => h.cleanup());

    describe('load', () => {
      it('reads an empty store as version 0 without keys', async () => {
        await expect(store.load()).resolves.toEqual({ version: 0, keys: [] });
        await expect(store.version()).resolves.toBe(0);
      });
    });

    describe('commit', () => {
      it('writes every key and bumps the version when the version is the expected one', async () => {
        const a = record('a', 'active', { activateAtMs: 1_700_000_000_000 });
        const b = record('b', 'next', { activateAtMs: 1_700_000_600_000 });
        await expect(store.commit(0, [a, b])).resolves.toBe(1);
        const snapshot = await store.load();
        expect(snapshot.version).toBe(1);
        expect([...snapshot.keys].sort((x, y) => (x.kid < y.kid ? -1 : 1))).toEqual([a, b]);
        await expect(store.version()).resolves.toBe(1);
      });

      it('replaces a key by kid, keeping the others', async () => {
        await store.commit(0, [record('a', 'active'), record('b', 'next')]);
        const { sealedPrivateKey: _, ...rest } = record('a', 'retired', { retiredAtMs: 1_700_000_900_000 });
        await expect(store.commit(1, [rest])).resolves.toBe(2);
        const keys = (await store.load()).keys;
        expect(keys).toHaveLength(2);
        expect(keys.find((k) => k.kid === 'a')).toEqual(rest);
        expect(keys.find((k) => k.kid === 'b')).toEqual(record('b', 'next'));
      });

      it('resolves null and writes nothing when the version moved', async () => {
        await store.commit(0, [record('a', 'active')]);
        await expect(store.commit(0, [record('b', 'active')])).resolves.toBeNull();
        await expect(store.load()).resolves.toEqual({ version: 1, keys: [record('a', 'active')] });
      });

      it('lets exactly one of concurrent commits from one version win', async () => {
        const stores = [store, h.twin ?? store];
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => stores[i % 2]!.commit(0, [record(`k${i}`, 'active')])),
        );
        expect(results.filter((r) => r !== null)).toEqual([1]);
        const snapshot = await (h.twin ?? store).load();
        expect(snapshot.version).toBe(1);
        expect(snapshot.keys).toHaveLength(1);
      });
    });

    describe('acquireLock / releaseLock', () => {
      it('grants the lock to one caller at a time, and again once released', async () => {
        const other = h.twin ?? store;
        const token = await store.acquireLock(10_000);
        expect(typeof token).toBe('string');
        await expect(other.acquireLock(10_000)).resolves.toBeNull();
        await other.releaseLock('not-the-token');
        await expect(other.acquireLock(10_000)).resolves.toBeNull();
        await store.releaseLock(token!);
        const again = await other.acquireLock(10_000);
        expect(typeof again).toBe('string');
        await other.releaseLock(again!);
      });

      it('grants one lock among concurrent callers', async () => {
        const stores = [store, h.twin ?? store];
        const tokens = await Promise.all(
          Array.from({ length: 10 }, (_, i) => stores[i % 2]!.acquireLock(10_000)),
        );
        expect(tokens.filter((t) => t !== null)).toHaveLength(1);
      });
    });

    describe('publish / subscribe', () => {
      it('calls every subscriber on a publish, when the store offers notifications', async () => {
        const other = h.twin ?? store;
        if (store.subscribe === undefined || store.publish === undefined || other.subscribe === undefined) {
          expect(store.publish).toBe(store.subscribe === undefined ? undefined : store.publish);
          return;
        }
        let heard = 0;
        const unsubscribe = await other.subscribe(() => {
          heard += 1;
        });
        try {
          const deadline = Date.now() + 5000;
          while (heard === 0 && Date.now() < deadline) {
            await store.publish();
            await new Promise((r) => setTimeout(r, 50));
          }
          expect(heard > 0).toBe(true);
        } finally {
          await unsubscribe();
        }
      });
    });
  });
}
