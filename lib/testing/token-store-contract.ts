/**
 * The one conformance suite of the TokenStore contract (docs/stores.md), run against every token
 * store: the memory and Redis stores here, and any store of your own under jest. It calls only
 * TokenStore methods: a token store need not keep credentials (see the CredentialStore suite).
 */
import { MAX_REFRESH_GRACE_RETRIES, MAX_REFRESH_GRACE_SECONDS } from '../stores/token-store';
import { contractGlobals } from './jest-globals';
import type {
  AccessTokenRecord,
  RefreshFamily,
  RotateRefreshInput,
  RotateRefreshResult,
  TokenStore,
} from '../stores/token-store';

/** A fresh, empty store and the means to drive it. */
export interface StoreHarness {
  readonly store: TokenStore;
  /** A second store over the same data through its own connection, when the backend has connections. */
  readonly twin?: TokenStore;
  /** The store's clock, in seconds since the epoch. */
  now(): number;
  /** Lets `seconds` pass on the store's clock: the memory store's clock jumps, Redis is waited for. */
  advance(seconds: number): Promise<void>;
  /** Keys of token data that have no TTL; the suite expects none after every test. */
  keysWithoutTtl?(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** Builds a fresh harness per test. */
export type StoreHarnessFactory = () => Promise<StoreHarness>;

const HOUR = 3600;
/** An instant in milliseconds, for cut-offs. */
const T0 = 1_700_000_000_000;
const IDLE = 600;

function accessRecord(overrides: Partial<AccessTokenRecord> = {}): AccessTokenRecord {
  return {
    jti: 'jti-1',
    sub: 'user-1',
    clientId: 'client-1',
    iss: 'https://issuer.test',
    aud: ['api'],
    scope: 'read write',
    boundEntity: { id: 'empr_1', type: 'employer' },
    iat: 1_700_000_000,
    exp: 1_700_000_900,
    familyId: 'fam-1',
    ...overrides,
  };
}

/** The family proof hash every contract family is created with, and a token carrying it at generation 1. */
const PROOF = 'proof-1';
const PROVEN = { generation: 1, proofHash: PROOF } as const;
/** A forgery: the right family id, a wrong proof. */
const FORGED = { generation: 1, proofHash: 'wrong-proof' } as const;

const CLEAR = { jtiRevoked: false, familyRevoked: false, subjectCutoffMs: null, clientCutoffMs: null };

/**
 * Registers the TokenStore conformance suite under `describe(name)`. `factory` runs before every
 * test; the harness' `cleanup` after it.
 */
export function describeTokenStoreContract(name: string, factory: StoreHarnessFactory): void {
  const { describe, it, expect, beforeEach, afterEach } = contractGlobals();
  describe(name, () => {
    let h: StoreHarness;
    let store: TokenStore;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });

    afterEach(async () => {
      try {
        if (h.keysWithoutTtl !== undefined) expect(await h.keysWithoutTtl()).toEqual([]);
      } finally {
        await h.cleanup();
      }
    });

    function family(overrides: Partial<RefreshFamily> = {}): RefreshFamily {
      const now = h.now();
      return {
        familyId: 'fam-1',
        sub: 'user-1',
        clientId: 'client-1',
        scope: 'read',
        boundEntity: { id: 'empl_7', type: 'employee' },
        createdAt: now,
        expiresAt: now + HOUR,
        lastUsedAt: now,
        data: { aud: ['api'], nested: { list: [], n: 1.5 } },
        ...overrides,
      };
    }

    function rotate(
      input: Partial<RotateRefreshInput> = {},
      on: TokenStore = store,
    ): Promise<RotateRefreshResult> {
      return on.rotateRefreshToken({
        familyId: 'fam-1',
        presentedHash: 'rt-1',
        nextHash: 'rt-2',
        now: h.now(),
        idleSeconds: IDLE,
        proof: PROVEN,
        ...input,
      });
    }

    describe('lookupAccessToken', () => {
      describe('when the hash is unknown', () => {
        it('returns a null record and a clear state', async () => {
          await expect(store.lookupAccessToken('nope')).resolves.toEqual({ record: null, state: CLEAR });
        });
      });

      describe('when the token was saved', () => {
        it('returns the record and a clear state', async () => {
          await store.saveAccessToken('at-1', accessRecord(), HOUR);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({
            record: accessRecord(),
            state: CLEAR,
          });
        });

        it('keeps the DPoP key thumbprint (jkt) of a bound token (RFC 9449 §6)', async () => {
          const bound = accessRecord({ jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' });
          await store.saveAccessToken('at-1', bound, HOUR);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({ record: bound, state: CLEAR });
        });

        it('returns a record without familyId when it had none', async () => {
          const { familyId: _omit, ...unbound } = accessRecord({ boundEntity: null });
          await store.saveAccessToken('at-1', unbound, HOUR);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({ record: unbound, state: CLEAR });
        });

        it('keeps the act of an exchanged token (RFC 8693 §4.1), nested actors included', async () => {
          const exchanged = accessRecord({ act: { sub: 'gateway', act: { sub: 'first-actor' } } });
          await store.saveAccessToken('at-1', exchanged, HOUR);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({ record: exchanged, state: CLEAR });
        });
      });

      describe('when its jti, family, subject and client are revoked', () => {
        it('reports each of them with the record', async () => {
          await store.saveAccessToken('at-1', accessRecord(), HOUR);
          await store.revokeJti('jti-1', HOUR);
          await store.revokeFamily('fam-1', HOUR);
          await store.setCutoff('subject', 'user-1', 1_700_000_100_000, HOUR);
          await store.setCutoff('client', 'client-1', 1_700_000_200_000, HOUR);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({
            record: accessRecord(),
            state: {
              jtiRevoked: true,
              familyRevoked: true,
              subjectCutoffMs: 1_700_000_100_000,
              clientCutoffMs: 1_700_000_200_000,
            },
          });
        });
      });

      describe('when the token has outlived its ttl', () => {
        it('returns a null record', async () => {
          await store.saveAccessToken('at-1', accessRecord(), 1);
          await h.advance(1);
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({ record: null, state: CLEAR });
        });
      });

      describe('when the caller mutates the saved or the returned record', () => {
        it('keeps the stored record unchanged', async () => {
          const saved = {
            ...accessRecord(),
            aud: ['api'],
            boundEntity: { id: 'empr_1', type: 'employer' as const },
          };
          await store.saveAccessToken('at-1', saved, HOUR);
          saved.aud.push('evil');
          saved.boundEntity.id = 'empr_2';
          const first = await store.lookupAccessToken('at-1');
          (first.record?.aud as string[]).push('evil');
          await expect(store.lookupAccessToken('at-1')).resolves.toEqual({
            record: accessRecord(),
            state: CLEAR,
          });
        });
      });
    });

    describe('checkRevocation', () => {
      const query = { jti: 'jti-1', subject: 'user-1', clientId: 'client-1', familyId: 'fam-1' };

      describe('when nothing is revoked', () => {
        it('reports a clear state', async () => {
          await expect(store.checkRevocation(query)).resolves.toEqual(CLEAR);
        });
      });

      describe('when the jti is revoked', () => {
        it('reports that jti only', async () => {
          await store.revokeJti('jti-1', HOUR);
          await expect(store.checkRevocation(query)).resolves.toEqual({ ...CLEAR, jtiRevoked: true });
          await expect(store.checkRevocation({ ...query, jti: 'jti-2' })).resolves.toEqual(CLEAR);
        });
      });

      describe('when the family is revoked', () => {
        it('reports it for queries naming that family only', async () => {
          await store.revokeFamily('fam-1', HOUR);
          await expect(store.checkRevocation(query)).resolves.toEqual({ ...CLEAR, familyRevoked: true });
          const { familyId: _omit, ...withoutFamily } = query;
          await expect(store.checkRevocation(withoutFamily)).resolves.toEqual(CLEAR);
          await expect(store.checkRevocation({ ...query, familyId: 'fam-2' })).resolves.toEqual(CLEAR);
        });
      });

      describe('when subject and client cut-offs are set', () => {
        it('reports both cut-offs', async () => {
          await store.setCutoff('subject', 'user-1', 1_700_000_100_000, HOUR);
          await store.setCutoff('client', 'client-1', 1_700_000_200_000, HOUR);
          await expect(store.checkRevocation(query)).resolves.toEqual({
            ...CLEAR,
            subjectCutoffMs: 1_700_000_100_000,
            clientCutoffMs: 1_700_000_200_000,
          });
          await expect(
            store.checkRevocation({ ...query, subject: 'user-2', clientId: 'client-2' }),
          ).resolves.toEqual(CLEAR);
        });
      });

      describe('when the revocations have outlived their ttl', () => {
        it('reports a clear state again', async () => {
          await store.revokeJti('jti-1', 1);
          await store.revokeFamily('fam-1', 1);
          await store.setCutoff('subject', 'user-1', 1_700_000_100_000, 1);
          await store.setCutoff('client', 'client-1', 1_700_000_200_000, 1);
          await h.advance(1);
          await expect(store.checkRevocation(query)).resolves.toEqual(CLEAR);
        });
      });
    });

    describe('revokeJti', () => {
      describe('when repeated with a shorter ttl', () => {
        it('keeps the jti revoked for the longer ttl', async () => {
          await store.revokeJti('jti-1', HOUR);
          await store.revokeJti('jti-1', 1);
          await h.advance(1);
          const state = await store.checkRevocation({ jti: 'jti-1', subject: 's', clientId: 'c' });
          expect(state.jtiRevoked).toBe(true);
        });
      });
    });

    describe('markUsed', () => {
      const markUsed = (key: string, ttl: number) => {
        if (store.markUsed === undefined) throw new Error('this store has no markUsed (the replay cache)');
        return store.markUsed(key, ttl);
      };

      describe('when a key is marked for the first time', () => {
        it('answers true', async () => {
          await expect(markUsed('dpop:jkt-1:jti-1', 60)).resolves.toBe(true);
        });
      });

      describe('when the same key is marked again within its ttl', () => {
        it('answers false, however often', async () => {
          await markUsed('dpop:jkt-1:jti-1', 60);
          await expect(markUsed('dpop:jkt-1:jti-1', 60)).resolves.toBe(false);
          await expect(markUsed('dpop:jkt-1:jti-1', 3600)).resolves.toBe(false);
        });
      });

      describe('when other keys are marked', () => {
        it('keeps each key apart (namespace, case)', async () => {
          await markUsed('dpop:jkt-1:jti-1', 60);
          await expect(markUsed('ca:jkt-1:jti-1', 60)).resolves.toBe(true);
          await expect(markUsed('dpop:jkt-1:JTI-1', 60)).resolves.toBe(true);
          await expect(markUsed('dpop:jkt-2:jti-1', 60)).resolves.toBe(true);
        });
      });

      describe('when the ttl has passed', () => {
        it('answers true again', async () => {
          await markUsed('dpop:jkt-1:jti-1', 1);
          await h.advance(1);
          await expect(markUsed('dpop:jkt-1:jti-1', 1)).resolves.toBe(true);
        });
      });

      describe('when many callers mark one key at once', () => {
        it('answers true exactly once', async () => {
          const other = h.twin ?? store;
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              i % 2 === 0
                ? markUsed('ca:client-1:same-jti', 60)
                : other.markUsed!('ca:client-1:same-jti', 60),
            ),
          );
          expect(answers.filter((a) => a)).toHaveLength(1);
        });
      });

      describe('when the key is empty or too long', () => {
        it('rejects with a RangeError and records nothing', async () => {
          await expect(markUsed('', 60)).rejects.toBeInstanceOf(RangeError);
          await expect(markUsed('k'.repeat(513), 60)).rejects.toBeInstanceOf(RangeError);
          await expect(markUsed('k'.repeat(512), 60)).resolves.toBe(true);
        });
      });
    });

    describe('setCutoff', () => {
      const query = { jti: 'jti-1', subject: 'user-1', clientId: 'client-1' };

      describe('when an earlier cut-off follows a later one', () => {
        it('keeps the later cut-off', async () => {
          await store.setCutoff('subject', 'user-1', T0 + 2000, HOUR);
          await store.setCutoff('subject', 'user-1', T0 + 1000, HOUR);
          await store.setCutoff('client', 'client-1', T0 + 4000, HOUR);
          await store.setCutoff('client', 'client-1', T0 + 3000, HOUR);
          await expect(store.checkRevocation(query)).resolves.toMatchObject({
            subjectCutoffMs: T0 + 2000,
            clientCutoffMs: T0 + 4000,
          });
        });
      });

      describe('when a later cut-off follows an earlier one', () => {
        it('replaces the earlier cut-off', async () => {
          await store.setCutoff('subject', 'user-1', T0 + 1000, HOUR);
          await store.setCutoff('subject', 'user-1', T0 + 2000, HOUR);
          await expect(store.checkRevocation(query)).resolves.toMatchObject({ subjectCutoffMs: T0 + 2000 });
        });
      });

      describe('when a cut-off is set again with a shorter ttl', () => {
        it('keeps it for the longer ttl', async () => {
          await store.setCutoff('client', 'client-1', T0 + 1000, HOUR);
          await store.setCutoff('client', 'client-1', T0 + 2000, 1);
          await h.advance(1);
          await expect(store.checkRevocation(query)).resolves.toMatchObject({ clientCutoffMs: T0 + 2000 });
        });
      });

      describe('when two cut-offs fall in the same second', () => {
        it('keeps the later millisecond', async () => {
          await store.setCutoff('subject', 'user-1', T0 + 900, HOUR);
          await store.setCutoff('subject', 'user-1', T0 + 100, HOUR);
          await store.setCutoff('client', 'client-1', T0 + 100, HOUR);
          await store.setCutoff('client', 'client-1', T0 + 950, HOUR);
          await expect(store.checkRevocation(query)).resolves.toMatchObject({
            subjectCutoffMs: T0 + 900,
            clientCutoffMs: T0 + 950,
          });
        });
      });

      describe('when the instant is not in milliseconds', () => {
        for (const at of [1_700_000_000, Number.NaN, Number.POSITIVE_INFINITY]) {
          it(`rejects ${String(at)} with a RangeError and writes nothing`, async () => {
            await expect(store.setCutoff('subject', 'user-1', at, HOUR)).rejects.toBeInstanceOf(RangeError);
            await expect(store.checkRevocation(query)).resolves.toMatchObject({ subjectCutoffMs: null });
          });
        }
      });
    });

    describe('inspectRefreshToken', () => {
      describe('when the hash is the current token of a live family', () => {
        it('returns the family as active', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toEqual({
            family: fam,
            active: true,
          });
        });
      });

      describe('when the family is bound to a DPoP key', () => {
        it('returns its jkt, before and after a rotation (RFC 9449 §5)', async () => {
          const fam = family({ jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' });
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toEqual({
            family: fam,
            active: true,
          });
          await rotate();
          await expect(store.inspectRefreshToken('fam-1', 'rt-2', h.now(), PROVEN)).resolves.toMatchObject({
            family: { jkt: fam.jkt },
            active: true,
          });
        });
      });

      describe('when the hash or the family is unknown', () => {
        it('returns null', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await expect(store.inspectRefreshToken('fam-1', 'forged', h.now(), FORGED)).resolves.toBeNull();
          await expect(store.inspectRefreshToken('fam-2', 'rt-1', h.now(), PROVEN)).resolves.toBeNull();
        });
      });

      describe('when the hash was rotated out', () => {
        it('returns the family as inactive', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await rotate();
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toMatchObject({
            active: false,
          });
          await expect(store.inspectRefreshToken('fam-1', 'rt-2', h.now(), PROVEN)).resolves.toMatchObject({
            active: true,
          });
        });
      });

      describe('when the family is revoked or covered by a cut-off', () => {
        it('returns the family as inactive', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await store.createRefreshFamily({ ...fam, familyId: 'fam-2', sub: 'user-2' }, 'rt-9', PROOF);
          await store.revokeFamily('fam-1', HOUR);
          await store.setCutoff('subject', 'user-2', fam.createdAt * 1000, HOUR);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toEqual({
            family: fam,
            active: false,
          });
          await expect(store.inspectRefreshToken('fam-2', 'rt-9', h.now(), PROVEN)).resolves.toMatchObject({
            active: false,
          });
        });
      });

      describe('when now is past the absolute expiry', () => {
        it('returns the family as inactive', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await expect(
            store.inspectRefreshToken('fam-1', 'rt-1', fam.expiresAt, PROVEN),
          ).resolves.toMatchObject({
            active: false,
          });
        });
      });

      describe('when the store clock passes the family expiry', () => {
        it('returns null, the family being gone', async () => {
          await store.createRefreshFamily(family({ expiresAt: h.now() + 1 }), 'rt-1', PROOF);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toMatchObject({
            active: true,
          });
          await h.advance(1);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toBeNull();
        });
      });
    });

    describe('rotateRefreshToken', () => {
      describe('when the presented token is current', () => {
        it('rotates to the successor and returns the family', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          const now = fam.createdAt + 10;
          await expect(rotate({ now })).resolves.toEqual({
            status: 'rotated',
            family: { ...fam, lastUsedAt: now },
          });
          await expect(store.inspectRefreshToken('fam-1', 'rt-2', now, PROVEN)).resolves.toEqual({
            family: { ...fam, lastUsedAt: now },
            active: true,
          });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: now + 10 }),
          ).resolves.toMatchObject({
            status: 'rotated',
          });
        });
      });

      describe('when a rotated-out token is presented again', () => {
        it('reports reuse and revokes the family, successor included', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await rotate();
          await expect(rotate({ nextHash: 'rt-x' })).resolves.toEqual({
            status: 'reused',
            family: expect.objectContaining({ familyId: 'fam-1', sub: 'user-1', clientId: 'client-1' }),
          });
          await expect(rotate({ presentedHash: 'rt-2', nextHash: 'rt-3' })).resolves.toEqual({
            status: 'revoked',
          });
          await expect(store.inspectRefreshToken('fam-1', 'rt-2', h.now(), PROVEN)).resolves.toMatchObject({
            active: false,
          });
          // rt-x was never installed: it is not the current token
          expect((await store.inspectRefreshToken('fam-1', 'rt-x', h.now(), PROVEN))?.active).not.toBe(true);
          const state = await store.checkRevocation({
            jti: 'j',
            subject: 'user-1',
            clientId: 'client-1',
            familyId: 'fam-1',
          });
          expect(state.familyRevoked).toBe(true);
        });
      });

      describe('when the expected client or subject does not match', () => {
        it('answers mismatch and consumes nothing', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await expect(rotate({ expectedClientId: 'client-2' })).resolves.toEqual({ status: 'mismatch' });
          await expect(rotate({ expectedSubject: 'user-2' })).resolves.toEqual({ status: 'mismatch' });
          await expect(
            rotate({ expectedClientId: 'client-1', expectedSubject: 'user-1' }),
          ).resolves.toMatchObject({
            status: 'rotated',
          });
        });

        it('does not revoke the family for a rotated-out token of another client', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await rotate();
          await expect(rotate({ nextHash: 'rt-x', expectedClientId: 'client-2' })).resolves.toEqual({
            status: 'mismatch',
          });
          await expect(rotate({ presentedHash: 'rt-2', nextHash: 'rt-3' })).resolves.toMatchObject({
            status: 'rotated',
          });
        });
      });

      describe('when the hash was never part of a known family', () => {
        it('answers not_found and leaves the family working', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await expect(rotate({ presentedHash: 'forged', proof: FORGED })).resolves.toEqual({
            status: 'not_found',
          });
          await expect(rotate()).resolves.toMatchObject({ status: 'rotated' });
          const state = await store.checkRevocation({
            jti: 'j',
            subject: 'user-1',
            clientId: 'client-1',
            familyId: 'fam-1',
          });
          expect(state.familyRevoked).toBe(false);
        });
      });

      describe('when a token carries the wrong proof or a generation ahead of the family', () => {
        it('answers not_found and leaves the family working', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await rotate({ nextHash: 'rt-2' });
          await expect(rotate({ presentedHash: 'old-1', proof: FORGED })).resolves.toEqual({
            status: 'not_found',
          });
          await expect(
            rotate({ presentedHash: 'ahead', proof: { ...PROVEN, generation: 3 } }),
          ).resolves.toEqual({ status: 'not_found' });
          await expect(store.inspectRefreshToken('fam-1', 'old-1', h.now(), FORGED)).resolves.toBeNull();
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', proof: { ...PROVEN, generation: 2 } }),
          ).resolves.toMatchObject({ status: 'rotated' });
        });
      });

      describe('when any earlier generation is presented, long after it was rotated out', () => {
        it('recognises it by its proof and generation, reports reuse and revokes the family', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          for (let g = 1; g <= 5; g++) {
            await expect(
              rotate({
                presentedHash: `rt-${g}`,
                nextHash: `rt-${g + 1}`,
                proof: { ...PROVEN, generation: g },
              }),
            ).resolves.toMatchObject({ status: 'rotated' });
          }
          await expect(
            store.inspectRefreshToken('fam-1', 'rt-2', h.now(), { ...PROVEN, generation: 2 }),
          ).resolves.toMatchObject({
            active: false,
          });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-x', proof: { ...PROVEN, generation: 2 } }),
          ).resolves.toMatchObject({ status: 'reused' });
          await expect(
            rotate({ presentedHash: 'rt-6', nextHash: 'rt-7', proof: { ...PROVEN, generation: 6 } }),
          ).resolves.toEqual({ status: 'revoked' });
        });
      });

      describe('when a token without a proof is presented', () => {
        it('recognises only the current and the previous token', async () => {
          await store.createRefreshFamily(family(), 'rt-1');
          await rotate({ proof: undefined });
          await rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', proof: undefined });
          await expect(
            rotate({ presentedHash: 'rt-1', nextHash: 'rt-x', proof: undefined }),
          ).resolves.toEqual({
            status: 'not_found',
          });
          await expect(store.inspectRefreshToken('fam-1', 'rt-2', h.now())).resolves.toMatchObject({
            active: false,
          });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-x', proof: undefined }),
          ).resolves.toMatchObject({
            status: 'reused',
          });
        });
      });

      describe('when the family is unknown', () => {
        it('answers not_found', async () => {
          await expect(rotate()).resolves.toEqual({ status: 'not_found' });
        });
      });

      describe('when the family was revoked', () => {
        it('answers revoked and installs no successor', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          await store.revokeFamily('fam-1', HOUR);
          await expect(rotate()).resolves.toEqual({ status: 'revoked' });
          // rt-2 would have been generation 2
          await expect(
            store.inspectRefreshToken('fam-1', 'rt-2', h.now(), { ...PROVEN, generation: 2 }),
          ).resolves.toBeNull();
        });
      });

      describe('when a subject or client cut-off covers the family creation', () => {
        it('answers revoked', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await store.createRefreshFamily({ ...fam, familyId: 'fam-2', clientId: 'client-2' }, 'rt-1', PROOF);
          await store.setCutoff('subject', 'user-1', fam.createdAt * 1000, HOUR);
          await store.setCutoff('client', 'client-2', (fam.createdAt + 1) * 1000, HOUR);
          await expect(rotate()).resolves.toEqual({ status: 'revoked' });
          await expect(rotate({ familyId: 'fam-2' })).resolves.toEqual({ status: 'revoked' });
        });
      });

      describe('when cut-offs fall in the second of the family creation', () => {
        // The family was created at …000.950 ms; cut-offs at …000.900 (before) and …000.950 (the
        // same instant: covered, fail closed) and …001.100 (after).
        it('compares milliseconds: earlier cut-offs leave it working, later or equal ones revoke it', async () => {
          const createdAt = Math.floor(h.now());
          const fam = family({ createdAt, createdAtMs: createdAt * 1000 + 950 });
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await store.createRefreshFamily({ ...fam, familyId: 'fam-2', sub: 'user-2' }, 'rt-1', PROOF);
          await store.createRefreshFamily({ ...fam, familyId: 'fam-3', clientId: 'client-3' }, 'rt-1', PROOF);
          await store.setCutoff('subject', 'user-1', createdAt * 1000 + 900, HOUR);
          await store.setCutoff('client', 'client-1', createdAt * 1000 + 900, HOUR);
          await store.setCutoff('subject', 'user-2', createdAt * 1000 + 950, HOUR);
          await store.setCutoff('client', 'client-3', createdAt * 1000 + 1100, HOUR);
          await expect(store.inspectRefreshToken('fam-1', 'rt-1', h.now(), PROVEN)).resolves.toMatchObject({
            active: true,
          });
          await expect(store.inspectRefreshToken('fam-2', 'rt-1', h.now(), PROVEN)).resolves.toMatchObject({
            active: false,
          });
          await expect(store.inspectRefreshToken('fam-3', 'rt-1', h.now(), PROVEN)).resolves.toMatchObject({
            active: false,
          });
          await expect(rotate()).resolves.toMatchObject({ status: 'rotated' });
          await expect(rotate({ familyId: 'fam-2' })).resolves.toEqual({ status: 'revoked' });
          await expect(rotate({ familyId: 'fam-3' })).resolves.toEqual({ status: 'revoked' });
        });

        it('treats a family without a creation millisecond as created at the start of its second', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await store.setCutoff('subject', 'user-1', fam.createdAt * 1000 + 1, HOUR);
          await expect(rotate()).resolves.toEqual({ status: 'revoked' });
        });
      });

      describe('when the cut-offs predate the family creation', () => {
        it('rotates', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await store.setCutoff('subject', 'user-1', fam.createdAt * 1000 - 1, HOUR);
          await store.setCutoff('client', 'client-1', fam.createdAt * 1000 - 1, HOUR);
          await expect(rotate()).resolves.toMatchObject({ status: 'rotated' });
        });
      });

      describe('when now is past the absolute expiry', () => {
        it('answers expired and revokes the family', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await rotate({ now: fam.createdAt + 1 });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: fam.expiresAt }),
          ).resolves.toEqual({
            status: 'expired',
          });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: fam.createdAt + 2 }),
          ).resolves.toEqual({
            status: 'revoked',
          });
        });
      });

      describe('when the family was idle for the idle lifetime', () => {
        it('answers expired and revokes the family', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await expect(rotate({ now: fam.lastUsedAt + IDLE })).resolves.toEqual({ status: 'expired' });
          await expect(rotate({ now: fam.lastUsedAt + 1 })).resolves.toEqual({ status: 'revoked' });
        });

        it('measures idleness from the last rotation', async () => {
          const fam = family();
          await store.createRefreshFamily(fam, 'rt-1', PROOF);
          await rotate({ now: fam.createdAt + IDLE - 1 });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: fam.createdAt + 2 * IDLE - 2 }),
          ).resolves.toMatchObject({ status: 'rotated' });
        });
      });

      describe('when 20 rotations of one token race', () => {
        it('rotates exactly once and leaves no usable successor', async () => {
          await store.createRefreshFamily(family(), 'rt-1', PROOF);
          const stores = h.twin === undefined ? [store] : [store, h.twin];
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              rotate({ nextHash: `next-${i}` }, stores[i % stores.length]),
            ),
          );
          const count = (status: string): number => results.filter((r) => r.status === status).length;
          expect({ rotated: count('rotated'), reused: count('reused'), revoked: count('revoked') }).toEqual({
            rotated: 1,
            reused: 1,
            revoked: 18,
          });
          for (let i = 0; i < 20; i++) {
            const next = await rotate({ presentedHash: `next-${i}`, nextHash: `after-${i}` });
            expect(next.status).not.toBe('rotated');
          }
        });
      });
    });

    describe('rotateRefreshToken with a grace window', () => {
      const GRACE = 30;

      /** rt-1 rotated to rt-2 at `at`; returns `at`. */
      async function rotatedOnce(): Promise<number> {
        const fam = family();
        await store.createRefreshFamily(fam, 'rt-1', PROOF);
        const at = fam.createdAt + 1;
        await expect(rotate({ now: at, graceSeconds: GRACE })).resolves.toMatchObject({ status: 'rotated' });
        return at;
      }

      async function active(hash: string, now: number): Promise<boolean | null> {
        const state = await store.inspectRefreshToken('fam-1', hash, now, PROVEN);
        return state === null ? null : state.active;
      }

      describe('when the previous token is presented again while its successor is unused', () => {
        it('replaces the successor, leaving exactly one live token', async () => {
          const at = await rotatedOnce();
          await expect(rotate({ nextHash: 'rt-3', now: at + 5, graceSeconds: GRACE })).resolves.toEqual({
            status: 'rotated',
            retried: true,
            family: expect.objectContaining({ familyId: 'fam-1', lastUsedAt: at + 5 }),
          });
          expect(await active('rt-3', at + 5)).toBe(true);
          expect(await active('rt-2', at + 5)).toBe(false);
          expect(await active('rt-1', at + 5)).toBe(false);
          await expect(
            rotate({ presentedHash: 'rt-3', nextHash: 'rt-4', now: at + 6, graceSeconds: GRACE }),
          ).resolves.toMatchObject({ status: 'rotated' });
        });

        it('treats the replaced successor as reuse later on', async () => {
          const at = await rotatedOnce();
          await rotate({ nextHash: 'rt-3', now: at + 5, graceSeconds: GRACE });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-x', now: at + 6, graceSeconds: GRACE }),
          ).resolves.toMatchObject({ status: 'reused' });
          expect(await active('rt-3', at + 6)).toBe(false);
        });
      });

      describe('when the successor was already used', () => {
        it('reports reuse and revokes the family', async () => {
          const at = await rotatedOnce();
          await rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: at + 1, graceSeconds: GRACE });
          await expect(rotate({ nextHash: 'rt-x', now: at + 2, graceSeconds: GRACE })).resolves.toMatchObject(
            {
              status: 'reused',
            },
          );
          expect(await active('rt-3', at + 2)).toBe(false);
        });
      });

      describe('when a token two generations back is presented', () => {
        it('reports reuse even inside the window', async () => {
          const at = await rotatedOnce();
          await rotate({ presentedHash: 'rt-2', nextHash: 'rt-3', now: at, graceSeconds: GRACE });
          await rotate({ presentedHash: 'rt-3', nextHash: 'rt-4', now: at, graceSeconds: GRACE });
          await expect(
            rotate({ presentedHash: 'rt-2', nextHash: 'rt-x', now: at + 1, graceSeconds: GRACE }),
          ).resolves.toMatchObject({ status: 'reused' });
          expect(await active('rt-4', at + 1)).toBe(false);
        });
      });

      describe('when the window has passed', () => {
        it('reports reuse', async () => {
          const at = await rotatedOnce();
          await expect(
            rotate({ nextHash: 'rt-3', now: at + GRACE, graceSeconds: GRACE }),
          ).resolves.toMatchObject({
            status: 'reused',
          });
        });
      });

      describe('when the grace window is off', () => {
        it('reports reuse of the previous token', async () => {
          const at = await rotatedOnce();
          await expect(rotate({ nextHash: 'rt-3', now: at + 1, graceSeconds: 0 })).resolves.toMatchObject({
            status: 'reused',
          });
        });
      });

      describe('when the previous token is retried more often than allowed', () => {
        it(`grants ${MAX_REFRESH_GRACE_RETRIES} retries, then reports reuse`, async () => {
          const at = await rotatedOnce();
          for (let i = 0; i < MAX_REFRESH_GRACE_RETRIES; i++) {
            await expect(
              rotate({ nextHash: `retry-${i}`, now: at + 1, graceSeconds: GRACE }),
            ).resolves.toMatchObject({ status: 'rotated', retried: true });
          }
          await expect(
            rotate({ nextHash: 'one-more', now: at + 1, graceSeconds: GRACE }),
          ).resolves.toMatchObject({
            status: 'reused',
          });
        });
      });

      describe('when the family was revoked', () => {
        it('answers revoked to a retry', async () => {
          const at = await rotatedOnce();
          await store.revokeFamily('fam-1', HOUR);
          await expect(rotate({ nextHash: 'rt-3', now: at + 1, graceSeconds: GRACE })).resolves.toEqual({
            status: 'revoked',
          });
        });
      });

      describe('when 20 presentations of the previous token race', () => {
        it('never leaves two live successors', async () => {
          const at = await rotatedOnce();
          const stores = h.twin === undefined ? [store] : [store, h.twin];
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              rotate({ nextHash: `next-${i}`, now: at + 1, graceSeconds: GRACE }, stores[i % stores.length]),
            ),
          );
          const retried = results.filter((r) => r.status === 'rotated').length;
          expect(retried).toBeLessThanOrEqual(MAX_REFRESH_GRACE_RETRIES);
          const live: string[] = [];
          for (const hash of ['rt-2', ...results.map((_, i) => `next-${i}`)]) {
            if ((await active(hash, at + 1)) === true) live.push(hash);
          }
          expect(live).toEqual([]);
        });
      });

      describe('when the window is out of range', () => {
        for (const g of [-1, MAX_REFRESH_GRACE_SECONDS + 1, Number.NaN]) {
          it(`rejects graceSeconds ${String(g)} with a RangeError`, async () => {
            await store.createRefreshFamily(family(), 'rt-1', PROOF);
            await expect(rotate({ graceSeconds: g })).rejects.toBeInstanceOf(RangeError);
          });
        }
      });
    });
  });
}
