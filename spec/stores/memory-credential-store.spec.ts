import { MemoryCredentialStore } from '../../lib/stores/memory-credential-store';
import { describeCredentialStoreContract } from '../../lib/testing';

describeCredentialStoreContract('MemoryCredentialStore', async () => {
  const store = new MemoryCredentialStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryCredentialStore', () => {
  describe('when credentials are created, replaced and deleted', () => {
    it('counts each credential and each index key it keeps in size()', async () => {
      const store = new MemoryCredentialStore();
      expect(store.size()).toBe(0);
      await store.createCredential('api_key', 'k1', {}, ['h1', 'h2']);
      await store.createCredential('application', 'a1', {}, ['c1']);
      expect(store.size()).toBe(5);
      await store.replaceCredential('api_key', 'k1', 1, {}, ['h1', 'h2'], ['h3']);
      expect(store.size()).toBe(4);
      await store.deleteCredential('api_key', 'k1', ['h3']);
      await store.deleteCredential('application', 'a1', ['c1']);
      expect(store.size()).toBe(0);
      await store.close();
    });
  });

  describe('when two stores are made', () => {
    it('keeps their credentials apart', async () => {
      const a = new MemoryCredentialStore();
      const b = new MemoryCredentialStore();
      await a.createCredential('api_key', 'k1', { n: 1 }, ['h1']);
      await expect(b.findCredential('api_key', 'h1')).resolves.toBeNull();
      await expect(b.createCredential('api_key', 'k1', { n: 2 }, ['h1'])).resolves.toBe(true);
      await expect(a.getCredential('api_key', 'k1')).resolves.toMatchObject({ data: { n: 1 } });
    });
  });
});
