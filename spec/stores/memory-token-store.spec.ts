import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import {
  describeCredentialStoreContract,
  describeTokenStoreContract,
  type StoreHarnessFactory,
} from '../../lib/testing';
import { tokenOnlyStore } from '../helpers/token-only-store';

const harness: StoreHarnessFactory = async () => {
  let clock = Date.UTC(2026, 0, 1);
  const store = new MemoryTokenStore({ now: () => clock });
  return {
    store,
    now: () => clock / 1000,
    async advance(seconds) {
      clock += seconds * 1000;
    },
    cleanup: () => store.close(),
  };
};

describeTokenStoreContract('MemoryTokenStore', harness);
describeTokenStoreContract('a TokenStore without credential methods', async () => {
  const h = await harness();
  return { ...h, store: tokenOnlyStore(h.store) };
});
describeCredentialStoreContract('MemoryTokenStore as a CredentialStore', async () => {
  const store = new MemoryTokenStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryTokenStore', () => {
  let clock: number;
  let store: MemoryTokenStore;

  beforeEach(() => {
    clock = Date.UTC(2026, 0, 1);
    store = new MemoryTokenStore({ now: () => clock });
  });

  afterEach(() => store.close());

  describe('when every token entry has expired', () => {
    it('returns to its baseline size, credentials only', async () => {
      const now = clock / 1000;
      await store.createCredential('api_key', 'k1', {}, ['h1']);
      const baseline = store.size();
      for (let i = 0; i < 50; i++) {
        await store.saveAccessToken(`at-${i}`, accessRecord(`jti-${i}`), 60);
        await store.revokeJti(`jti-${i}`, 120);
        await store.setCutoff('subject', `user-${i}`, clock, 300);
        await store.revokeFamily(`fam-${i}`, 90);
        await store.createRefreshFamily(
          {
            familyId: `fam-r${i}`,
            sub: 'u',
            clientId: 'c',
            scope: '',
            boundEntity: null,
            createdAt: now,
            expiresAt: now + 600,
            lastUsedAt: now,
          },
          `rt-${i}`,
        );
      }
      expect(store.size()).toBe(baseline + 250);
      clock += 600_000;
      expect(store.size()).toBe(baseline);
    });
  });

  describe('when a rotation sets an idle deadline', () => {
    it('drops the family at the idle deadline, before the absolute expiry', async () => {
      const now = clock / 1000;
      await store.createRefreshFamily(
        {
          familyId: 'f',
          sub: 'u',
          clientId: 'c',
          scope: '',
          boundEntity: null,
          createdAt: now,
          expiresAt: now + 3600,
          lastUsedAt: now,
        },
        'rt-1',
      );
      await store.rotateRefreshToken({
        familyId: 'f',
        presentedHash: 'rt-1',
        nextHash: 'rt-2',
        now,
        idleSeconds: 60,
      });
      clock += 60_000;
      await expect(store.inspectRefreshToken('f', 'rt-2', now + 60)).resolves.toBeNull();
      expect(store.size()).toBe(0);
    });
  });

  describe('when closed', () => {
    it('clears its sweep timer', async () => {
      jest.useFakeTimers();
      try {
        const timed = new MemoryTokenStore({ sweepIntervalMs: 1000 });
        expect(jest.getTimerCount()).toBe(1);
        await timed.close();
        expect(jest.getTimerCount()).toBe(0);
      } finally {
        jest.useRealTimers();
      }
    });
  });

  describe('when the sweep runs', () => {
    it('drops expired entries without a read', async () => {
      jest.useFakeTimers();
      try {
        let now = 0;
        const swept = new MemoryTokenStore({ sweepIntervalMs: 1000, now: () => now });
        await swept.revokeJti('j', 1);
        now = 5000;
        jest.advanceTimersByTime(1000);
        now = 0; // a size() read would no longer expire the entry by itself
        expect(swept.size()).toBe(0);
        await swept.close();
      } finally {
        jest.useRealTimers();
      }
    });
  });

  describe('when given bad options', () => {
    it.each([0, -1, Number.NaN, Infinity])('throws a RangeError for sweepIntervalMs %p', (ms) => {
      expect(() => new MemoryTokenStore({ sweepIntervalMs: ms })).toThrow(RangeError);
    });
  });
});

function accessRecord(jti: string) {
  return {
    jti,
    sub: 'u',
    clientId: 'c',
    iss: 'i',
    aud: ['a'],
    scope: '',
    boundEntity: null,
    iat: 1,
    exp: 2,
  };
}
