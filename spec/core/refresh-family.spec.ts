import type { Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenEvent } from '../../lib/core/events';
import type { BoundEntity } from '../../lib/types';
import {
  countingStore,
  createClock,
  makeKit,
  storeFactories,
  type StoreCalls,
  type StoreHarness,
  type TestClock,
  type TestStore,
} from '../helpers/kit';
import { authRouterApp, mountProbe } from '../helpers/apps';
import { expectErrorsBody, expectNoStore } from '../helpers/http';

const LOGIN = '/api/auth/tokens/';
const REFRESH = '/api/auth/tokens/refresh/';
const DAY = 24 * 3600;
const INVALID_GRANT = { errors: [{ errorType: 'invalid_grant', message: 'The grant is invalid' }] };
const BINDING: BoundEntity = { id: 'empl_Alice01', type: 'employee' };

const USERS: Readonly<Record<string, { password: string; sub: string; boundEntity?: BoundEntity }>> = {
  alice: { password: 'alice-password', sub: 'user-alice', boundEntity: BINDING },
  bob: { password: 'bob-password', sub: 'user-bob' },
};

const verifyUser: UserVerifier = async (username, password) => {
  const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
  if (user === undefined || user.password !== password) return null;
  return { sub: user.sub, boundEntity: user.boundEntity ?? null };
};

interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
}

/** Router C and a guarded probe that reports what requireToken saw. */
function buildApp(kit: TokenKit): Express {
  return mountProbe(
    authRouterApp(kit),
    requireToken({ kit }),
    (auth) => ({ sub: auth.subject, familyId: auth.familyId ?? null, boundEntity: auth.boundEntity }),
    '/api/plans/',
  );
}

/** One app instance: its kit, its Express app and the helpers to drive it. */
function instance(kit: TokenKit) {
  const app = buildApp(kit);
  return {
    app,
    async login(username = 'alice'): Promise<Tokens> {
      const res = await request(app)
        .post(LOGIN)
        .send({ grant_type: 'password', username, password: USERS[username]!.password });
      expect(res.status).toBe(200);
      return res.body as Tokens;
    },
    refresh(refreshToken: unknown, bearer?: string, extra: Record<string, unknown> = {}): request.Test {
      const req = request(app).post(REFRESH);
      if (bearer !== undefined) req.set('Authorization', `Bearer ${bearer}`);
      return req.send({ refresh_token: refreshToken, ...extra });
    },
    plans(accessToken: string): request.Test {
      return request(app).get('/api/plans/').set('Authorization', `Bearer ${accessToken}`);
    },
  };
}

/** Replaces the last character of an opaque token's checksum, keeping it base62. */
function breakChecksum(token: string): string {
  return token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
}

describe('TokenService.refresh', () => {
  describe.each(storeFactories)('on the %s store', (name, factory) => {
    let stores: StoreHarness;
    let testStore: TestStore;
    let clock: TestClock;
    let kit: TokenKit;
    let calls: StoreCalls;
    let events: TokenEvent[];
    let one: ReturnType<typeof instance>;

    beforeAll(async () => {
      stores = await factory('refresh-family');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      clock = createClock();
      testStore = await stores.create(clock.now);
      const counted = countingStore(testStore.store);
      calls = counted.calls;
      events = [];
      ({ kit } = await makeKit({
        store: counted.store,
        now: clock,
        verifyUser,
        onEvent: (e) => events.push(e),
      }));
      one = instance(kit);
    });

    async function rotate(refreshToken: string): Promise<Tokens> {
      const res = await one.refresh(refreshToken);
      expect(res.status).toBe(200);
      return res.body as Tokens;
    }

    describe('when the current refresh token is presented', () => {
      it('responds 200 with a new access token and a different refresh token', async () => {
        const first = await one.login();
        const res = await one.refresh(first.refresh_token, first.access_token);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          access_token: expect.any(String),
          refresh_token: expect.stringMatching(/^etk_rt_[0-9A-Za-z]+$/),
          sub: 'user-alice',
          token_type: 'Bearer',
          expires_in: 3600,
        });
        const next = res.body as Tokens;
        expect(next.refresh_token).not.toBe(first.refresh_token);
        expect(next.access_token).not.toBe(first.access_token);
        expectNoStore(res);
      });

      it('issues an access token of the same family that requireToken accepts', async () => {
        const first = await one.login();
        const next = await rotate(first.refresh_token);
        const before = await one.plans(first.access_token);
        const after = await one.plans(next.access_token);
        expect(after.status).toBe(200);
        expect(after.body).toMatchObject({ sub: 'user-alice', familyId: expect.any(String) });
        expect((after.body as { familyId: string }).familyId).toBe(
          (before.body as { familyId: string }).familyId,
        );
      });

      it('keeps rotating along the chain', async () => {
        let tokens = await one.login();
        const seen = new Set([tokens.refresh_token]);
        for (let i = 0; i < 5; i++) {
          tokens = await rotate(tokens.refresh_token);
          expect(seen.has(tokens.refresh_token)).toBe(false);
          seen.add(tokens.refresh_token);
        }
        expect((await one.plans(tokens.access_token)).status).toBe(200);
      });

      it("keeps the family's binding and ignores binding fields in the request", async () => {
        const first = await one.login();
        const res = await one.refresh(first.refresh_token, undefined, {
          bound_entity: { id: 'empr_Takeover', type: 'employer' },
          sub: 'user-bob',
          scope: undefined,
        });
        expect(res.status).toBe(200);
        const probe = await one.plans((res.body as Tokens).access_token);
        expect(probe.body).toMatchObject({ sub: 'user-alice', boundEntity: BINDING });
      });

      it('emits a refreshed event that carries no token', async () => {
        const first = await one.login();
        await rotate(first.refresh_token);
        const refreshed = events.filter((e) => e.type === 'refreshed');
        expect(refreshed).toEqual([
          expect.objectContaining({ subject: 'user-alice', familyId: expect.any(String) }),
        ]);
        expect(JSON.stringify(events)).not.toContain(first.refresh_token);
      });
    });

    describe('when a rotated-out refresh token is presented again', () => {
      it('responds 401 invalid_grant', async () => {
        const first = await one.login();
        await rotate(first.refresh_token);
        const res = await one.refresh(first.refresh_token);
        expectErrorsBody(res, 401, 'invalid_grant');
        expect(res.body).toEqual(INVALID_GRANT);
      });

      it('revokes the newest refresh token of the family', async () => {
        const first = await one.login();
        const second = await rotate(first.refresh_token);
        await one.refresh(first.refresh_token);
        expectErrorsBody(await one.refresh(second.refresh_token), 401, 'invalid_grant');
      });

      it('makes requireToken reject every access token of the family at once', async () => {
        const first = await one.login();
        const second = await rotate(first.refresh_token);
        const third = await rotate(second.refresh_token);
        expect((await one.plans(third.access_token)).status).toBe(200);
        await one.refresh(first.refresh_token);
        for (const token of [first.access_token, second.access_token, third.access_token]) {
          expectErrorsBody(await one.plans(token), 401, 'invalid_token');
        }
      });

      it('leaves other families of the same user alive', async () => {
        const phone = await one.login();
        const laptop = await one.login();
        await rotate(phone.refresh_token);
        await one.refresh(phone.refresh_token);
        expect((await one.plans(laptop.access_token)).status).toBe(200);
        expect((await one.refresh(laptop.refresh_token)).status).toBe(200);
      });

      it('emits refresh_reuse_detected with the family id and no token value', async () => {
        const first = await one.login();
        const second = await rotate(first.refresh_token);
        await one.refresh(first.refresh_token);
        const reuse = events.filter((e) => e.type === 'refresh_reuse_detected');
        expect(reuse).toEqual([
          expect.objectContaining({ familyId: expect.any(String), subject: 'user-alice' }),
        ]);
        const text = JSON.stringify(events);
        for (const secret of [first.refresh_token, second.refresh_token, first.access_token]) {
          expect(text).not.toContain(secret);
        }
      });

      it('responds 401 invalid_grant to a replay after the family has also expired', async () => {
        const first = await one.login();
        await rotate(first.refresh_token);
        clock.advance(31 * DAY);
        expectErrorsBody(await one.refresh(first.refresh_token), 401, 'invalid_grant');
      });
    });

    describe('when the family is revoked through the API', () => {
      it('rejects its refresh token and its access tokens', async () => {
        const first = await one.login();
        expect(await kit.tokens.revokeToken(first.refresh_token)).toBe(true);
        expectErrorsBody(await one.refresh(first.refresh_token), 401, 'invalid_grant');
        expectErrorsBody(await one.plans(first.access_token), 401, 'invalid_token');
      });

      it('rejects the refresh token after every token of the subject is revoked', async () => {
        const first = await one.login();
        await kit.tokens.revokeSubject('user-alice');
        expectErrorsBody(await one.refresh(first.refresh_token), 401, 'invalid_grant');
        expectErrorsBody(await one.plans(first.access_token), 401, 'invalid_token');
      });
    });

    describe('when an access token is sent in the Authorization header', () => {
      it('responds 200 for a valid access token of the same subject', async () => {
        const first = await one.login();
        expect((await one.refresh(first.refresh_token, first.access_token)).status).toBe(200);
      });

      it('responds 200 for an expired access token of the same subject', async () => {
        const first = await one.login();
        clock.advance(3600 + 60);
        expectErrorsBody(await one.plans(first.access_token), 401, 'expired_token', 'Access token expired');
        expect((await one.refresh(first.refresh_token, first.access_token)).status).toBe(200);
      });

      it('responds 401 invalid_grant for an access token of another subject, and consumes nothing', async () => {
        const alice = await one.login('alice');
        const bob = await one.login('bob');
        expectErrorsBody(await one.refresh(alice.refresh_token, bob.access_token), 401, 'invalid_grant');
        expect((await one.plans(alice.access_token)).status).toBe(200);
        expect((await one.refresh(alice.refresh_token, alice.access_token)).status).toBe(200);
      });

      it('responds 401 invalid_grant for an expired access token of another subject', async () => {
        const alice = await one.login('alice');
        const bob = await one.login('bob');
        clock.advance(3600 + 60);
        expectErrorsBody(await one.refresh(alice.refresh_token, bob.access_token), 401, 'invalid_grant');
        expect((await one.refresh(alice.refresh_token)).status).toBe(200);
      });

      it('responds 401 invalid_token for a garbage bearer, and consumes nothing', async () => {
        const first = await one.login();
        expectErrorsBody(await one.refresh(first.refresh_token, 'garbage'), 401, 'invalid_token');
        expect((await one.refresh(first.refresh_token)).status).toBe(200);
      });

      it('responds 401 invalid_token for a refresh token sent as the bearer', async () => {
        const first = await one.login();
        expectErrorsBody(await one.refresh(first.refresh_token, first.refresh_token), 401, 'invalid_token');
      });
    });

    describe('when 20 refreshes of one refresh token race', () => {
      it('answers exactly one with 200 and the others with 401 invalid_grant', async () => {
        const first = await one.login();
        const results = await Promise.all(Array.from({ length: 20 }, () => one.refresh(first.refresh_token)));
        expect(results.filter((r) => r.status === 200)).toHaveLength(1);
        const losers = results.filter((r) => r.status !== 200);
        expect(losers).toHaveLength(19);
        for (const loser of losers)
          expect({ status: loser.status, body: loser.body as unknown }).toEqual({
            status: 401,
            body: INVALID_GRANT,
          });
      });

      it("revokes the family, so the winner's refresh and access tokens die too", async () => {
        const first = await one.login();
        const results = await Promise.all(Array.from({ length: 20 }, () => one.refresh(first.refresh_token)));
        const winner = results.find((r) => r.status === 200)!.body as Tokens;
        expectErrorsBody(await one.refresh(winner.refresh_token), 401, 'invalid_grant');
        expectErrorsBody(await one.plans(winner.access_token), 401, 'invalid_token');
      });

      it(`answers exactly one with 200 across two app instances sharing the ${name} store`, async () => {
        const twin = await testStore.twin(clock.now);
        const two = instance((await makeKit({ store: twin, now: clock, verifyUser })).kit);
        const first = await one.login();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? one : two).refresh(first.refresh_token)),
        );
        expect(results.filter((r) => r.status === 200)).toHaveLength(1);
        expect(results.filter((r) => r.status === 401)).toHaveLength(19);
        const winner = results.find((r) => r.status === 200)!.body as Tokens;
        expectErrorsBody(await two.plans(winner.access_token), 401, 'invalid_token');
        expectErrorsBody(await one.plans(winner.access_token), 401, 'invalid_token');
      });
    });

    describe('when the family reaches its idle lifetime (7 days without use)', () => {
      it('responds 200 one second before the idle lifetime', async () => {
        const first = await one.login();
        clock.advance(7 * DAY - 1);
        expect((await one.refresh(first.refresh_token)).status).toBe(200);
      });

      it('responds 401 invalid_grant once 7 days have passed without a refresh', async () => {
        const first = await one.login();
        clock.advance(7 * DAY);
        expectErrorsBody(await one.refresh(first.refresh_token), 401, 'invalid_grant');
      });

      it('counts the idle lifetime from the last refresh', async () => {
        const first = await one.login();
        clock.advance(6 * DAY);
        const second = await rotate(first.refresh_token);
        clock.advance(6 * DAY);
        const third = await rotate(second.refresh_token);
        clock.advance(7 * DAY);
        expectErrorsBody(await one.refresh(third.refresh_token), 401, 'invalid_grant');
      });
    });

    describe('when the family reaches its absolute lifetime (30 days)', () => {
      it('responds 401 invalid_grant even though every refresh token was fresh', async () => {
        let tokens = await one.login();
        // Refreshed on days 6, 12, 18, 24 and 29: never idle for 7 days.
        for (const step of [6, 6, 6, 6, 5]) {
          clock.advance(step * DAY);
          tokens = await rotate(tokens.refresh_token);
        }
        clock.advance(DAY);
        expectErrorsBody(await one.refresh(tokens.refresh_token), 401, 'invalid_grant');
      });

      it('responds 200 one second before the absolute lifetime', async () => {
        let tokens = await one.login();
        for (let i = 0; i < 4; i++) {
          clock.advance(6 * DAY);
          tokens = await rotate(tokens.refresh_token);
        }
        clock.advance(6 * DAY - 1);
        expect((await one.refresh(tokens.refresh_token)).status).toBe(200);
      });
    });

    describe('when the refresh token is malformed', () => {
      it.each([
        ['an access-token prefix', (rt: string) => rt.replace(/^etk_rt_/, 'etk_at_')],
        ['a router A prefix', (rt: string) => rt.replace(/^etk_rt_/, 'vit_at_')],
        ['no prefix', (rt: string) => rt.replace(/^etk_rt_/, '')],
        ['an upper-case prefix', (rt: string) => rt.replace(/^etk_rt_/, 'ETK_RT_')],
        ['a bad checksum', breakChecksum],
        [
          'one body character changed',
          (rt: string) => rt.slice(0, 10) + (rt[10] === 'x' ? 'y' : 'x') + rt.slice(11),
        ],
        ['a character dropped', (rt: string) => rt.slice(0, 20) + rt.slice(21)],
        ['a character added', (rt: string) => `${rt.slice(0, 20)}Q${rt.slice(20)}`],
        ['trailing whitespace', (rt: string) => `${rt} `],
        ['10 KB of characters', () => `etk_rt_${'A'.repeat(10 * 1024)}`],
        ['non-ASCII characters', (rt: string) => `${rt.slice(0, 10)}Ä${rt.slice(11)}`],
        ['a JWT', () => 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
      ])('responds 401 invalid_grant for %s without a store call', async (_what, mangle) => {
        const first = await one.login();
        calls.reset();
        const res = await one.refresh(mangle(first.refresh_token));
        expectErrorsBody(res, 401, 'invalid_grant');
        expect(calls.total()).toBe(0);
      });

      it('responds 400 invalid_request for an array without a store call', async () => {
        const first = await one.login();
        calls.reset();
        expectErrorsBody(await one.refresh([first.refresh_token]), 400, 'invalid_request');
        expect(calls.total()).toBe(0);
      });

      it('responds 401 invalid_grant for an access token presented as the refresh token', async () => {
        const first = await one.login();
        calls.reset();
        expectErrorsBody(await one.refresh(first.access_token), 401, 'invalid_grant');
        expect(calls.total()).toBe(0);
      });

      it('leaves the real refresh token usable', async () => {
        const first = await one.login();
        await one.refresh(breakChecksum(first.refresh_token));
        expect((await one.refresh(first.refresh_token)).status).toBe(200);
      });

      it('responds 401 invalid_grant for a well-formed token of an unknown family', async () => {
        const first = await one.login();
        const foreign = (
          await instance(
            (await makeKit({ store: (await stores.create(clock.now)).store, now: clock, verifyUser })).kit,
          ).login()
        ).refresh_token;
        expectErrorsBody(await one.refresh(foreign), 401, 'invalid_grant');
        expect((await one.refresh(first.refresh_token)).status).toBe(200);
      });
    });
  });
});
