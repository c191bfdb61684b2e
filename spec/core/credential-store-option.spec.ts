/**
 * Which credential store a kit uses: the `credentialStore` option, else a token store that is a
 * credential store too, else a TypeError naming the option, decided once when the kit is built.
 */
import { createTokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants/types';
import type { CredentialStore } from '../../lib/stores/credential-store';
import { MemoryCredentialStore } from '../../lib/stores/memory-credential-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit, testKeySet, TEST_ISSUER } from '../helpers/kit';
import { tokenOnlyStore } from '../helpers/token-only-store';

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === 'alice-password' ? { sub: 'user-alice', boundEntity: null } : null;

async function kitOptions() {
  return { keys: await testKeySet(), issuer: TEST_ISSUER };
}

describe('createTokenKit credential store', () => {
  let tokens: MemoryTokenStore;

  beforeEach(() => {
    tokens = new MemoryTokenStore();
  });

  afterEach(() => tokens.close());

  describe('when credentialStore is given', () => {
    it('keeps every credential there and none in the token store', async () => {
      const credentialStore = new MemoryCredentialStore();
      const { kit } = await makeKit({ store: tokens, credentialStore });
      const key = await kit.credentials.createApiKey({ name: 'k' });
      await kit.credentials.createApplication({ name: 'a' });
      await kit.credentials.createProvider({ apiKeys: ['provider-key-0123456789'] });
      for (const kind of ['api_key', 'application', 'provider'] as const) {
        await expect(credentialStore.listCredentials(kind)).resolves.toHaveLength(1);
        await expect(tokens.listCredentials(kind)).resolves.toEqual([]);
      }
      const issued = await kit.grants.exchangeApiKey({
        apiKey: key.key,
        boundEntity: null,
        ttl: 60,
        prefix: 'etk_at_',
      });
      await expect(kit.tokens.verifyAccessToken(issued.token)).resolves.toMatchObject({
        clientId: key.id,
      });
    });

    it('finds the application of a refresh family there, so a password session refreshes', async () => {
      const credentialStore = new MemoryCredentialStore();
      const { kit } = await makeKit({ store: tokens, credentialStore, verifyUser });
      const app = await kit.credentials.createApplication({
        name: 'a',
        grantTypes: ['password', 'refresh_token'],
      });
      const login = await kit.grants.password({ username: 'alice', password: 'alice-password', client: app });
      expect(login.refreshToken).toEqual(expect.any(String));
      await expect(
        kit.credentials.findApplicationOf({ clientId: app.clientId, applicationId: app.id }),
      ).resolves.toMatchObject({ id: app.id });
      await expect(
        kit.grants.refresh({ refreshToken: login.refreshToken, client: app }),
      ).resolves.toMatchObject({ subject: 'user-alice', client: { id: app.id } });
    });

    it('is used beside a token store that implements only TokenStore', async () => {
      const credentialStore = new MemoryCredentialStore();
      const { kit } = await makeKit({ store: tokenOnlyStore(tokens), credentialStore });
      const key = await kit.credentials.createApiKey({ name: 'k' });
      await expect(kit.credentials.authenticateApiKey(key.key)).resolves.toMatchObject({ id: key.id });
      await expect(credentialStore.listCredentials('api_key')).resolves.toHaveLength(1);
    });

    it.each<[string, unknown]>([
      ['an object without credential methods', {}],
      ['a token store without credential methods', 'token-only'],
      ['null', null],
      ['a string', 'postgres://localhost/db'],
    ])('throws a TypeError naming credentialStore when it is %s', async (_, given) => {
      const credentialStore = given === 'token-only' ? tokenOnlyStore(tokens) : given;
      const options = await kitOptions();
      expect(() =>
        createTokenKit({ ...options, store: tokens, credentialStore: credentialStore as CredentialStore }),
      ).toThrow(/^credentialStore must implement CredentialStore/);
      expect(() =>
        createTokenKit({ ...options, store: tokens, credentialStore: credentialStore as CredentialStore }),
      ).toThrow(TypeError);
    });
  });

  describe('when only a token store that is also a credential store is given', () => {
    it('keeps credentials in that store, where existing ones are found', async () => {
      const first = (await makeKit({ store: tokens })).kit;
      const key = await first.credentials.createApiKey({ name: 'k' });
      await expect(tokens.listCredentials('api_key')).resolves.toMatchObject([{ id: key.id }]);
      const second = (await makeKit({ store: tokens })).kit;
      await expect(second.credentials.authenticateApiKey(key.key)).resolves.toMatchObject({ id: key.id });
    });
  });

  describe('when a token store without credential methods is given and no credentialStore', () => {
    it('throws a TypeError naming the credentialStore option when the kit is built', async () => {
      const options = await kitOptions();
      expect(() => createTokenKit({ ...options, store: tokenOnlyStore(tokens) })).toThrow(TypeError);
      expect(() => createTokenKit({ ...options, store: tokenOnlyStore(tokens) })).toThrow(
        /pass the credentialStore option/,
      );
    });
  });
});
