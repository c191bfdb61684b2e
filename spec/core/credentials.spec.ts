import type { CredentialStore } from '../../lib/stores/credential-store';
import { makeKit, storeFactories, type StoreHarness, type TestKit } from '../helpers/kit';

/** Every credential record's data, serialised: what an attacker with a store dump would see. */
async function dump(store: CredentialStore): Promise<string> {
  const kinds = ['api_key', 'application', 'provider', 'provider_client'] as const;
  const all = await Promise.all(kinds.map((k) => store.listCredentials(k)));
  return JSON.stringify(all);
}

describe.each(storeFactories)('CredentialService with the %s store', (name, factory) => {
  let harness: StoreHarness;
  let t: TestKit;
  let credentialStore: CredentialStore;

  beforeAll(async () => {
    harness = await factory(`credentials-${name}`);
  });

  beforeEach(async () => {
    const { store } = await harness.create();
    credentialStore = store;
    t = await makeKit({ store });
  });

  afterAll(async () => {
    await harness.cleanup();
  });

  describe('when API keys are managed', () => {
    it('creates, reads, lists, rotates and revokes a key, showing the secret only once', async () => {
      const created = await t.kit.credentials.createApiKey({ name: 'Acme Platform' });
      expect(created.key).toMatch(/^etk_ak_[0-9A-Za-z]{49}$/);
      expect(await t.kit.credentials.authenticateApiKey(created.key)).toMatchObject({
        id: created.id,
        name: 'Acme Platform',
      });
      const read = await t.kit.credentials.getApiKey(created.id);
      expect(read).toEqual({
        id: created.id,
        name: 'Acme Platform',
        hint: created.hint,
        createdAt: created.createdAt,
      });
      expect(JSON.stringify(read)).not.toContain(created.key);
      expect((await t.kit.credentials.listApiKeys()).map((k) => k.id)).toEqual([created.id]);

      const rotated = await t.kit.credentials.rotateApiKey(created.id);
      expect(rotated?.key).toBeDefined();
      expect(rotated?.key).not.toBe(created.key);
      expect(await t.kit.credentials.authenticateApiKey(created.key)).toBeNull();
      expect(await t.kit.credentials.authenticateApiKey(rotated!.key)).toMatchObject({ id: created.id });

      expect(await t.kit.credentials.revokeApiKey(created.id)).toBe(true);
      expect(await t.kit.credentials.authenticateApiKey(rotated!.key)).toBeNull();
      expect(await t.kit.credentials.getApiKey(created.id)).toBeNull();
      expect(await t.kit.credentials.revokeApiKey(created.id)).toBe(false);
    });

    it('revokes the tokens a key issued when the key is rotated', async () => {
      const created = await t.kit.credentials.createApiKey({ name: 'k' });
      const issued = await t.kit.grants.exchangeApiKey({
        apiKey: created.key,
        boundEntity: null,
        ttl: 900,
        prefix: 'vit_at_',
      });
      await t.kit.tokens.verifyAccessToken(issued.token);
      await t.kit.credentials.rotateApiKey(created.id);
      await expect(t.kit.tokens.verifyAccessToken(issued.token)).rejects.toMatchObject({
        code: 'invalid_token',
      });
    });

    it('refuses a bound token without an authorizer, and issues nothing (fail closed)', async () => {
      const created = await t.kit.credentials.createApiKey({ name: 'k' });
      await expect(
        t.kit.grants.exchangeApiKey({
          apiKey: created.key,
          boundEntity: { id: 'empr_SGVsbG8', type: 'employer' },
          ttl: 900,
          prefix: 'vit_at_',
        }),
      ).rejects.toMatchObject({ code: 'insufficient_scope', status: 403 });
      const allowed = await t.kit.grants.exchangeApiKey({
        apiKey: created.key,
        boundEntity: { id: 'empr_SGVsbG8', type: 'employer' },
        ttl: 900,
        prefix: 'vit_at_',
        authorizeBinding: () => true,
      });
      await expect(t.kit.tokens.verifyAccessToken(allowed.token)).resolves.toMatchObject({
        boundEntity: { id: 'empr_SGVsbG8', type: 'employer' },
      });
    });

    it.each([[''], [42], [null], ['x'.repeat(2000)], [['a']]])(
      'refuses to authenticate %p',
      async (value) => {
        expect(await t.kit.credentials.authenticateApiKey(value)).toBeNull();
      },
    );
  });

  describe('when applications are managed', () => {
    it('creates, authenticates, lists, rotates and revokes an application', async () => {
      const app = await t.kit.credentials.createApplication({ name: 'TestApp', organization: '123' });
      expect(app).toMatchObject({
        name: 'TestApp',
        organization: '123',
        applicationTypes: ['API'],
        grantTypes: ['client_credentials'],
      });
      expect(await t.kit.credentials.authenticateClient(app.clientId, app.clientSecret)).toMatchObject({
        id: app.id,
      });
      expect(await t.kit.credentials.authenticateClient(app.clientId, `${app.clientSecret}x`)).toBeNull();
      expect(await t.kit.credentials.authenticateClient('unknown', app.clientSecret)).toBeNull();
      expect(await t.kit.credentials.authenticateClient(app.clientId, 'x'.repeat(1_000_000))).toBeNull();
      expect((await t.kit.credentials.listApplications()).map((a) => a.id)).toEqual([app.id]);
      expect(await t.kit.credentials.getApplication(app.id.toUpperCase())).toMatchObject({ id: app.id });

      const rotated = await t.kit.credentials.rotateApplication(app.id);
      expect(rotated!.clientId).not.toBe(app.clientId);
      expect(await t.kit.credentials.authenticateClient(app.clientId, app.clientSecret)).toBeNull();
      expect(
        await t.kit.credentials.authenticateClient(rotated!.clientId, rotated!.clientSecret),
      ).toMatchObject({ id: app.id });
      expect(await t.kit.credentials.findApplicationByClientId(app.clientId)).toBeNull();

      expect(await t.kit.credentials.revokeApplication(app.id)).toBe(true);
      expect(await t.kit.credentials.authenticateClient(rotated!.clientId, rotated!.clientSecret)).toBeNull();
      expect(await t.kit.credentials.getApplication(app.id)).toBeNull();
    });

    it('revokes tokens issued under the old client id on rotation by default, and keeps them when asked', async () => {
      const app = await t.kit.credentials.createApplication({ name: 'A' });
      const first = await t.kit.grants.clientCredentials({
        clientId: app.clientId,
        clientSecret: app.clientSecret,
      });
      const rotated = await t.kit.credentials.rotateApplication(app.id);
      await expect(t.kit.tokens.verifyAccessToken(first.accessToken.token)).rejects.toMatchObject({
        code: 'invalid_token',
      });

      const second = await t.kit.grants.clientCredentials({
        clientId: rotated!.clientId,
        clientSecret: rotated!.clientSecret,
      });
      await t.kit.credentials.rotateApplication(app.id, { revokeTokens: false });
      await expect(t.kit.tokens.verifyAccessToken(second.accessToken.token)).resolves.toMatchObject({
        clientId: rotated!.clientId,
      });
    });

    it('lets exactly one of concurrent rotations win and answers the others 409 conflict', async () => {
      const app = await t.kit.credentials.createApplication({ name: 'A' });
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, () => t.kit.credentials.rotateApplication(app.id)),
      );
      const won = results.filter((r) => r.status === 'fulfilled').map((r) => r.value!);
      const lost = results
        .filter((r) => r.status === 'rejected')
        .map((r) => r.reason as { code: string; status: number });
      expect(won.length).toBeGreaterThanOrEqual(1);
      expect(lost.every((e) => e.code === 'conflict' && e.status === 409)).toBe(true);
      const working = [];
      for (const r of won) {
        if (await t.kit.credentials.authenticateClient(r.clientId, r.clientSecret)) working.push(r);
      }
      expect(working).toHaveLength(1);
    });

    it.each([
      [{ name: '' }],
      [{ name: 'x', id: 'not-a-uuid' }],
      [{ name: 'x', grantTypes: ['implicit'] }],
      [{ name: 'x', scopes: [''] }],
    ])('refuses the configuration %j', async (input) => {
      await expect(t.kit.credentials.createApplication(input as never)).rejects.toThrow(TypeError);
    });
  });

  describe('when providers and their clients are managed', () => {
    it('creates, authenticates, rotates and revokes a provider and lists its clients', async () => {
      const provider = await t.kit.credentials.createProvider({ domain: 'auth.example.test' });
      const client = await t.kit.credentials.createProviderClient(provider.id.toUpperCase(), {
        audience: 'https://api.example.test',
      });
      expect(client.providerId).toBe(provider.id);
      expect(await t.kit.credentials.authenticateProviderKey(provider.apiKeys[0])).toMatchObject({
        id: provider.id,
        domain: 'auth.example.test',
      });
      expect((await t.kit.credentials.listProviderClients(provider.id)).map((c) => c.id)).toEqual([
        client.id,
      ]);
      expect((await t.kit.credentials.listProviders()).map((p) => p.id)).toEqual([provider.id]);

      const rotated = await t.kit.credentials.rotateProviderKey(provider.id);
      expect(await t.kit.credentials.authenticateProviderKey(provider.apiKeys[0])).toBeNull();
      expect(await t.kit.credentials.authenticateProviderKey(rotated!.apiKeys[0])).toMatchObject({
        id: provider.id,
      });

      expect(await t.kit.credentials.revokeProviderClient(client.id)).toBe(true);
      expect(await t.kit.credentials.getProviderClient(client.id)).toBeNull();
      expect(await t.kit.credentials.revokeProvider(provider.id)).toBe(true);
      expect(await t.kit.credentials.authenticateProviderKey(rotated!.apiKeys[0])).toBeNull();
    });

    it('refuses a malformed domain and a client of an unknown provider', async () => {
      await expect(t.kit.credentials.createProvider({ domain: 'https://evil/x' })).rejects.toThrow(TypeError);
      await expect(
        t.kit.credentials.createProviderClient('00000000-0000-4000-8000-000000000000', { audience: 'a' }),
      ).rejects.toThrow(TypeError);
    });
  });

  describe('when the store is dumped', () => {
    it('holds no secret, only hashes', async () => {
      const key = await t.kit.credentials.createApiKey({ name: 'k', key: 'canary-api-key-123456789' });
      const app = await t.kit.credentials.createApplication({
        name: 'a',
        clientSecret: 'canary-client-secret-987654321',
      });
      const provider = await t.kit.credentials.createProvider({ apiKeys: ['canary-provider-key-555555555'] });
      const text = await dump(credentialStore);
      for (const secret of [key.key, app.clientSecret, provider.apiKeys[0]!]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secret.slice(0, 16));
      }
    });
  });
});
