/**
 * The one conformance suite of the CredentialStore contract (docs/stores.md), run against every
 * credential store: `MemoryCredentialStore`, `RedisCredentialStore` (single Redis and Cluster),
 * `PostgresCredentialStore`, the two token stores used as credential stores (`MemoryTokenStore`,
 * `RedisTokenStore`), and any credential store of your own under jest. It calls only
 * CredentialStore methods.
 */
import type { CredentialStore } from '../stores/credential-store';
import { contractGlobals } from './jest-globals';

/** A fresh, empty credential store and the means to drive it. */
export interface CredentialStoreHarness {
  readonly store: CredentialStore;
  /** A second store over the same data through its own connection, when the backend has connections. */
  readonly twin?: CredentialStore;
  cleanup(): Promise<void>;
}

/** Builds a fresh harness per test. */
export type CredentialStoreHarnessFactory = () => Promise<CredentialStoreHarness>;

/**
 * Registers the CredentialStore conformance suite under `describe(name)`. `factory` runs before
 * every test; the harness' `cleanup` after it.
 */
export function describeCredentialStoreContract(name: string, factory: CredentialStoreHarnessFactory): void {
  const { describe, it, expect, beforeEach, afterEach } = contractGlobals();
  describe(name, () => {
    let h: CredentialStoreHarness;
    let store: CredentialStore;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });

    afterEach(() => h.cleanup());

    describe('createCredential', () => {
      describe('when id and index keys are free', () => {
        it('stores version 1, readable by id and by every index key', async () => {
          await expect(store.createCredential('api_key', 'key-1', { name: 'a' }, ['h1', 'h2'])).resolves.toBe(
            true,
          );
          const expected = { id: 'key-1', version: 1, data: { name: 'a' } };
          await expect(store.getCredential('api_key', 'key-1')).resolves.toEqual(expected);
          await expect(store.findCredential('api_key', 'h1')).resolves.toEqual(expected);
          await expect(store.findCredential('api_key', 'h2')).resolves.toEqual(expected);
        });
      });

      describe('when the id is taken', () => {
        it('resolves false and writes nothing', async () => {
          await store.createCredential('api_key', 'key-1', { name: 'a' }, ['h1']);
          await expect(store.createCredential('api_key', 'key-1', { name: 'b' }, ['h2'])).resolves.toBe(
            false,
          );
          await expect(store.getCredential('api_key', 'key-1')).resolves.toMatchObject({
            data: { name: 'a' },
          });
          await expect(store.findCredential('api_key', 'h2')).resolves.toBeNull();
        });
      });

      describe('when an index key is taken', () => {
        it('resolves false and writes nothing', async () => {
          await store.createCredential('api_key', 'key-1', { name: 'a' }, ['h1']);
          await expect(store.createCredential('api_key', 'key-2', { name: 'b' }, ['h2', 'h1'])).resolves.toBe(
            false,
          );
          await expect(store.getCredential('api_key', 'key-2')).resolves.toBeNull();
          await expect(store.findCredential('api_key', 'h1')).resolves.toMatchObject({ id: 'key-1' });
          await expect(store.findCredential('api_key', 'h2')).resolves.toBeNull();
        });
      });

      describe('when the same id and index key are used by another kind', () => {
        it('keeps the kinds apart', async () => {
          await store.createCredential('api_key', 'id-1', { kind: 'key' }, ['h1']);
          await expect(store.createCredential('application', 'id-1', { kind: 'app' }, ['h1'])).resolves.toBe(
            true,
          );
          await expect(store.findCredential('api_key', 'h1')).resolves.toMatchObject({
            data: { kind: 'key' },
          });
          await expect(store.findCredential('application', 'h1')).resolves.toMatchObject({
            data: { kind: 'app' },
          });
        });
      });

      describe('when the data nests objects and arrays (an application JWK Set)', () => {
        it('reads it back member for member', async () => {
          const jwks = {
            keys: [
              {
                kty: 'EC',
                crv: 'P-256',
                x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
                y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
                kid: 'k1',
                alg: 'ES256',
              },
            ],
          };
          const data = {
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks,
            n: 0,
            ok: true,
          };
          await store.createCredential('application', 'app-jwks', data, []);
          const read = await store.getCredential('application', 'app-jwks');
          expect(read?.data).toMatchObject({
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks,
            n: 0,
            ok: true,
          });
        });
      });

      describe('when the caller mutates the data afterwards', () => {
        it('keeps the stored data unchanged', async () => {
          const data = { scopes: ['read'] };
          await store.createCredential('application', 'app-1', data, []);
          data.scopes.push('admin');
          const read = await store.getCredential('application', 'app-1');
          (read?.data.scopes as string[]).push('admin');
          await expect(store.getCredential('application', 'app-1')).resolves.toMatchObject({
            data: { scopes: ['read'] },
          });
        });
      });
    });

    describe('listCredentials', () => {
      describe('when credentials of several kinds exist', () => {
        it('lists those of the kind asked for', async () => {
          await store.createCredential('provider', 'p1', { n: 1 }, []);
          await store.createCredential('provider', 'p2', { n: 2 }, ['x']);
          await store.createCredential('user', 'u1', { n: 3 }, []);
          const listed = await store.listCredentials('provider');
          expect(listed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
            { id: 'p1', version: 1, data: { n: 1 } },
            { id: 'p2', version: 1, data: { n: 2 } },
          ]);
          await expect(store.listCredentials('provider_client')).resolves.toEqual([]);
        });
      });
    });

    describe('replaceCredential', () => {
      beforeEach(async () => {
        await store.createCredential('api_key', 'key-1', { name: 'a' }, ['old']);
        await store.createCredential('api_key', 'key-2', { name: 'b' }, ['other']);
      });

      describe('when the version matches', () => {
        it('replaces the data, bumps the version and swaps the index keys', async () => {
          const next = { id: 'key-1', version: 2, data: { name: 'a2' } };
          await expect(
            store.replaceCredential('api_key', 'key-1', 1, { name: 'a2' }, ['old'], ['new']),
          ).resolves.toEqual(next);
          await expect(store.getCredential('api_key', 'key-1')).resolves.toEqual(next);
          await expect(store.findCredential('api_key', 'new')).resolves.toEqual(next);
          await expect(store.findCredential('api_key', 'old')).resolves.toBeNull();
        });
      });

      describe('when the version moved on', () => {
        it('resolves null and changes nothing', async () => {
          await store.replaceCredential('api_key', 'key-1', 1, { name: 'a2' }, [], []);
          await expect(
            store.replaceCredential('api_key', 'key-1', 1, { name: 'a3' }, ['old'], ['new']),
          ).resolves.toBeNull();
          await expect(store.findCredential('api_key', 'old')).resolves.toMatchObject({
            version: 2,
            data: { name: 'a2' },
          });
          await expect(store.findCredential('api_key', 'new')).resolves.toBeNull();
        });
      });

      describe('when the record is gone', () => {
        it('resolves null', async () => {
          await expect(
            store.replaceCredential('api_key', 'key-9', 1, { name: 'x' }, [], ['new']),
          ).resolves.toBeNull();
          await expect(store.findCredential('api_key', 'new')).resolves.toBeNull();
        });
      });

      describe("when an added index key is already the credential's own", () => {
        it('replaces the data and keeps the key', async () => {
          await expect(
            store.replaceCredential('api_key', 'key-1', 1, { name: 'a2' }, [], ['old', 'new', 'new']),
          ).resolves.toMatchObject({ version: 2 });
          await expect(store.findCredential('api_key', 'old')).resolves.toMatchObject({
            id: 'key-1',
            version: 2,
          });
          await expect(store.findCredential('api_key', 'new')).resolves.toMatchObject({
            id: 'key-1',
            version: 2,
          });
        });
      });

      describe('when an added index key belongs to another credential', () => {
        it('resolves null and changes nothing', async () => {
          await expect(
            store.replaceCredential('api_key', 'key-1', 1, { name: 'a2' }, ['old'], ['other']),
          ).resolves.toBeNull();
          await expect(store.findCredential('api_key', 'old')).resolves.toMatchObject({
            id: 'key-1',
            version: 1,
          });
          await expect(store.findCredential('api_key', 'other')).resolves.toMatchObject({ id: 'key-2' });
        });
      });

      describe('when 10 replaces of one version race', () => {
        it('lets exactly one win', async () => {
          const stores = h.twin === undefined ? [store] : [store, h.twin];
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              stores[i % stores.length]!.replaceCredential(
                'api_key',
                'key-1',
                1,
                { name: `v${i}` },
                ['old'],
                [`n${i}`],
              ),
            ),
          );
          const winners = results.filter((r) => r !== null);
          expect(winners).toHaveLength(1);
          await expect(store.getCredential('api_key', 'key-1')).resolves.toEqual(winners[0]);
        });
      });
    });

    describe('deleteCredential', () => {
      describe('when the credential exists', () => {
        it('deletes it with its index keys', async () => {
          await store.createCredential('provider_client', 'pc-1', { a: 1 }, ['h1']);
          await expect(store.deleteCredential('provider_client', 'pc-1', ['h1'])).resolves.toBe(true);
          await expect(store.getCredential('provider_client', 'pc-1')).resolves.toBeNull();
          await expect(store.findCredential('provider_client', 'h1')).resolves.toBeNull();
          await expect(store.listCredentials('provider_client')).resolves.toEqual([]);
          await expect(store.createCredential('provider_client', 'pc-2', { a: 2 }, ['h1'])).resolves.toBe(
            true,
          );
        });
      });

      describe('when the credential does not exist', () => {
        it('resolves false', async () => {
          await expect(store.deleteCredential('provider_client', 'pc-1', ['h1'])).resolves.toBe(false);
        });
      });

      describe('when a listed index key now belongs to another credential', () => {
        it('leaves that index key alone', async () => {
          await store.createCredential('user', 'u1', {}, ['h1']);
          await store.createCredential('user', 'u2', {}, ['h2']);
          await store.deleteCredential('user', 'u1', ['h1', 'h2']);
          await expect(store.findCredential('user', 'h2')).resolves.toMatchObject({ id: 'u2' });
        });
      });
    });

    describe('when 20 replaces of one version race over two connections', () => {
      it('lets exactly one win, and only its index key resolves', async () => {
        await store.createCredential('application', 'app-1', { secret: 's0' }, ['c0']);
        const stores = h.twin === undefined ? [store] : [store, h.twin];
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            stores[i % stores.length]!.replaceCredential(
              'application',
              'app-1',
              1,
              { secret: `s${i + 1}` },
              ['c0'],
              [`c${i + 1}`],
            ),
          ),
        );
        const winners = results.flatMap((r, i) => (r === null ? [] : [i + 1]));
        expect(winners).toHaveLength(1);
        const won = winners[0]!;
        await expect(store.findCredential('application', `c${won}`)).resolves.toMatchObject({
          version: 2,
          data: { secret: `s${won}` },
        });
        for (let i = 1; i <= 20; i++) {
          if (i !== won) await expect(store.findCredential('application', `c${i}`)).resolves.toBeNull();
        }
        await expect(store.findCredential('application', 'c0')).resolves.toBeNull();
      });
    });
  });
}
