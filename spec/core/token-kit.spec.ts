import type { TokenEvent } from '../../lib/core/events';
import type { TokenService } from '../../lib/core/token-service';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { AuthInfo } from '../../lib/types';
import { createClock, makeKit } from '../helpers/kit';

/** A memory store that counts its `close()` calls and, when told to, fails them. */
class CountingStore extends MemoryTokenStore {
  closed = 0;
  failClose = false;

  override async close(): Promise<void> {
    this.closed++;
    await super.close();
    if (this.failClose) throw new Error('close failed');
  }
}

describe('createTokenKit', () => {
  describe('close()', () => {
    it('closes the token store once when it also holds the credentials', async () => {
      const store = new CountingStore();
      const { kit } = await makeKit({ store });
      await kit.close();
      expect(store.closed).toBe(1);
    });

    it('closes the token store and a separate credential store', async () => {
      const store = new CountingStore();
      const credentialStore = new CountingStore();
      const { kit } = await makeKit({ store, credentialStore });
      await kit.close();
      expect([store.closed, credentialStore.closed]).toEqual([1, 1]);
    });

    it('still closes the credential store when the token store fails to close, then throws', async () => {
      const store = new CountingStore();
      const credentialStore = new CountingStore();
      store.failClose = true;
      const { kit } = await makeKit({ store, credentialStore });
      await expect(kit.close()).rejects.toThrow('close failed');
      expect([store.closed, credentialStore.closed]).toEqual([1, 1]);
    });

    it('throws the credential store failure when only that one fails', async () => {
      const store = new CountingStore();
      const credentialStore = new CountingStore();
      credentialStore.failClose = true;
      const { kit } = await makeKit({ store, credentialStore });
      await expect(kit.close()).rejects.toThrow('close failed');
      expect(store.closed).toBe(1);
    });
  });
});

describe('TokenService', () => {
  const auth: AuthInfo = {
    format: 'jwt',
    jti: 'jti-1',
    subject: 'user-1',
    clientId: 'app-1',
    scopes: [],
    boundEntity: { type: 'employer', id: 'empr_acme' },
    issuer: 'https://issuer.test',
    audience: [],
    issuedAt: 1_700_000_000,
    expiresAt: 1_700_000_300,
    claims: {},
  };

  async function recordingKit(): Promise<{ events: TokenEvent[]; tokens: TokenService; at: number }> {
    const events: TokenEvent[] = [];
    const clock = createClock(1_700_000_000_500);
    const { kit } = await makeKit({
      store: new MemoryTokenStore(),
      now: clock,
      onEvent: (e) => events.push(e),
    });
    return { events, tokens: kit.tokens, at: 1_700_000_000 };
  }

  describe('reportAuthFailure', () => {
    it('emits auth_failed with the reason, the ip and the clock second', async () => {
      const { events, tokens, at } = await recordingKit();
      tokens.reportAuthFailure('expired_token', '203.0.113.7');
      tokens.reportAuthFailure('invalid_token');
      expect(events).toEqual([
        { type: 'auth_failed', at, reason: 'expired_token', ip: '203.0.113.7' },
        { type: 'auth_failed', at, reason: 'invalid_token' },
      ]);
    });
  });

  describe('reportStoreOutage', () => {
    it('emits store_unavailable with the reason and no ip when there is none', async () => {
      const { events, tokens, at } = await recordingKit();
      tokens.reportStoreOutage('rate_limit_store', '');
      tokens.reportStoreOutage('rate_limit_store', '198.51.100.1');
      expect(events).toEqual([
        { type: 'store_unavailable', at, reason: 'rate_limit_store' },
        { type: 'store_unavailable', at, reason: 'rate_limit_store', ip: '198.51.100.1' },
      ]);
    });
  });

  describe('reportBindingDenied', () => {
    it('emits binding_denied naming the token by ids, never carrying it', async () => {
      const { events, tokens, at } = await recordingKit();
      tokens.reportBindingDenied(auth, 'not_owner', '192.0.2.9');
      expect(events).toEqual([
        {
          type: 'binding_denied',
          at,
          jti: 'jti-1',
          clientId: 'app-1',
          subject: 'user-1',
          boundEntity: { type: 'employer', id: 'empr_acme' },
          ip: '192.0.2.9',
          reason: 'not_owner',
        },
      ]);
    });
  });

  describe('jwks()', () => {
    it('is the public JWK Set of the key set', async () => {
      const { kit, keys } = await makeKit({ store: new MemoryTokenStore() });
      expect(kit.tokens.jwks()).toEqual(keys.jwks());
      expect(kit.tokens.jwks().keys.length).toBeGreaterThan(0);
    });
  });
});
