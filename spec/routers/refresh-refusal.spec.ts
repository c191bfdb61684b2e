/**
 * A refused refresh leaves no trace (RFC 6749 §6): whatever check refuses it — client
 * authentication, the client's grant types, scope, the family's client, router C's bearer subject —
 * the refresh token is not consumed, its family is not revoked, and no `refreshed`,
 * `refresh_reuse_detected` or `revoked` event (nor any store write) is made. The same refresh token
 * then refreshes with 200, and reuse detection still works.
 */
import type { Express } from 'express';
import request, { type Response as TestResponse, type Test } from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { TokenEvent } from '../../lib/core/events';
import { makeCountedKit, storeFactories, type StoreCalls, type StoreHarness } from '../helpers/kit';
import { authAndOAuthRoutersApp, mountProbe } from '../helpers/apps';
import { basic, basicOf, form, seedClients, USER, verifyUser, type TestClients } from '../helpers/oauth';

const C_LOGIN = '/api/auth/tokens/';
const C_REFRESH = '/api/auth/tokens/refresh/';

/** Store methods that change state; a refused refresh calls none of them. */
const WRITES = ['rotateRefreshToken', 'revokeFamily', 'revokeJti', 'setCutoff', 'saveAccessToken'];
/** Events a refused refresh must not emit. */
const MISLEADING = new Set(['refreshed', 'refresh_reuse_detected', 'revoked', 'issued']);

interface TokenBody {
  readonly access_token: string;
  readonly refresh_token: string;
}

/** Routers C (at /api) and D (at the root) on one kit, and a requireToken probe. */
function buildApp(kit: TokenKit): Express {
  return mountProbe(authAndOAuthRoutersApp(kit), requireToken({ kit }), (auth) => ({ sub: auth.subject }));
}

describe('a refused refresh', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let kit: TokenKit;
    let calls: StoreCalls;
    let events: TokenEvent[];
    let clients: TestClients;
    let app: Express;

    beforeAll(async () => {
      stores = await factory('refresh-refusal');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      events = [];
      ({ kit, calls } = await makeCountedKit(stores, { verifyUser, onEvent: (e) => events.push(e) }));
      clients = await seedClients(kit);
      app = buildApp(kit);
    });

    const tokenD = (body: Record<string, string>, authorization?: string): Test => {
      const req = request(app).post('/oauth/token');
      if (authorization !== undefined) req.set('Authorization', authorization);
      return req.type('form').send(form(body));
    };
    const refreshD = (rt: string, authorization: string, extra: Record<string, string> = {}): Test =>
      tokenD({ grant_type: 'refresh_token', refresh_token: rt, ...extra }, authorization);
    const refreshC = (rt: string, bearer?: string): Test => {
      const req = request(app).post(C_REFRESH);
      if (bearer !== undefined) req.set('Authorization', `Bearer ${bearer}`);
      return req.send({ refresh_token: rt });
    };
    const probe = (accessToken: string): Test =>
      request(app).get('/probe').set('Authorization', `Bearer ${accessToken}`);

    async function loginD(authorization = basicOf(clients.full), scope = 'read'): Promise<TokenBody> {
      const res = await tokenD(
        { grant_type: 'password', username: USER.username, password: USER.password, scope },
        authorization,
      );
      expect(res.status).toBe(200);
      return res.body as TokenBody;
    }

    async function loginC(body: Record<string, string> = {}): Promise<TokenBody> {
      const res = await request(app)
        .post(C_LOGIN)
        .send({ grant_type: 'password', username: USER.username, password: USER.password, ...body });
      expect(res.status).toBe(200);
      return res.body as TokenBody;
    }

    /** Sends the refused request and checks that it left no trace. */
    async function expectNoTrace(
      send: () => Test,
      status: number,
      code: string,
      format: 'oauth' | 'errors',
    ): Promise<void> {
      calls.reset();
      events.length = 0;
      const res: TestResponse = await send();
      expect(res.status).toBe(status);
      if (format === 'oauth') expect((res.body as { error: string }).error).toBe(code);
      else expect((res.body as { errors: { errorType: string }[] }).errors[0]!.errorType).toBe(code);
      for (const method of WRITES) expect([method, calls.byMethod.get(method) ?? 0]).toEqual([method, 0]);
      expect(events.filter((e) => MISLEADING.has(e.type))).toEqual([]);
    }

    /** The family still works: its access token is accepted, and the same refresh token refreshes. */
    async function expectStillRefreshes(first: TokenBody, send: () => Test): Promise<void> {
      expect((await probe(first.access_token)).status).toBe(200);
      const res = await send();
      expect(res.status).toBe(200);
      const next = res.body as TokenBody;
      expect(next.refresh_token).not.toBe(first.refresh_token);
      expect((await probe(next.access_token)).status).toBe(200);
      expect((await probe(first.access_token)).status).toBe(200);
    }

    describe('on router D (POST /oauth/token)', () => {
      it('answers 400 invalid_scope to a wider scope and leaves the refresh token usable', async () => {
        const first = await loginD();
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.full), { scope: 'admin' }),
          400,
          'invalid_scope',
          'oauth',
        );
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.full), { scope: 'read write' }),
          400,
          'invalid_scope',
          'oauth',
        );
        await expectStillRefreshes(first, () => refreshD(first.refresh_token, basicOf(clients.full)));
      });

      it.each([
        ['two spaces', 'read  write'],
        ['a quote', 'read"'],
        ['a backslash', 'read\\'],
        ['a leading space', ' read'],
      ])('answers 400 invalid_request to a scope with %s and leaves the token usable', async (_c, scope) => {
        const first = await loginD();
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.full), { scope }),
          400,
          'invalid_request',
          'oauth',
        );
        await expectStillRefreshes(first, () => refreshD(first.refresh_token, basicOf(clients.full)));
      });

      it("answers 400 invalid_grant to another client's refresh token and leaves it usable", async () => {
        const first = await loginD();
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.other)),
          400,
          'invalid_grant',
          'oauth',
        );
        await expectStillRefreshes(first, () => refreshD(first.refresh_token, basicOf(clients.full)));
      });

      it('answers 401 invalid_client to a wrong secret and leaves the token usable', async () => {
        const first = await loginD();
        await expectNoTrace(
          () => refreshD(first.refresh_token, basic(clients.full.clientId, `${clients.full.clientSecret}x`)),
          401,
          'invalid_client',
          'oauth',
        );
        await expectStillRefreshes(first, () => refreshD(first.refresh_token, basicOf(clients.full)));
      });

      it('answers 400 unauthorized_client to a client without the refresh grant and leaves the token usable', async () => {
        const noRefresh = await kit.credentials.createApplication({
          name: 'NoRefresh',
          grantTypes: ['password'],
          scopes: ['read'],
        });
        const first = await loginC({ client_id: noRefresh.clientId, client_secret: noRefresh.clientSecret });
        await expectNoTrace(
          () => refreshD(first.refresh_token, basic(noRefresh.clientId, noRefresh.clientSecret)),
          400,
          'unauthorized_client',
          'oauth',
        );
        // Router C does not apply router D's grant types: the family is intact and refreshes there.
        await expectStillRefreshes(first, () => refreshC(first.refresh_token));
      });

      it('answers a refusal of a rotated-out refresh token without revoking the family', async () => {
        const first = await loginD();
        const second = (await refreshD(first.refresh_token, basicOf(clients.full))).body as TokenBody;
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.full), { scope: 'admin' }),
          400,
          'invalid_scope',
          'oauth',
        );
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.other)),
          400,
          'invalid_grant',
          'oauth',
        );
        await expectStillRefreshes(second, () => refreshD(second.refresh_token, basicOf(clients.full)));
      });

      it('still detects reuse: a replayed token is 400 invalid_grant and revokes the family', async () => {
        const first = await loginD();
        expect((await refreshD(first.refresh_token, basicOf(clients.full), { scope: 'admin' })).status).toBe(
          400,
        );
        const second = (await refreshD(first.refresh_token, basicOf(clients.full))).body as TokenBody;
        events.length = 0;
        const replay = await refreshD(first.refresh_token, basicOf(clients.full));
        expect(replay.status).toBe(400);
        expect((replay.body as { error: string }).error).toBe('invalid_grant');
        expect(events.map((e) => e.type)).toContain('refresh_reuse_detected');
        expect((await refreshD(second.refresh_token, basicOf(clients.full))).status).toBe(400);
        expect((await probe(second.access_token)).status).toBe(401);
        expect((await probe(first.access_token)).status).toBe(401);
      });

      it('narrows the scope after the checks: the new access token carries the narrower scope', async () => {
        const first = await loginD(basicOf(clients.full), 'read write');
        const res = await refreshD(first.refresh_token, basicOf(clients.full), { scope: 'write' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ scope: 'write' });
      });
    });

    describe('on router C (POST /api/auth/tokens/refresh/)', () => {
      it('answers 401 invalid_grant to a bearer of another subject and leaves the token usable', async () => {
        const first = await loginC();
        const stranger = await kit.tokens.issueAccessToken({
          subject: 'user-bob',
          clientId: 'password-grant',
        });
        await expectNoTrace(
          () => refreshC(first.refresh_token, stranger.token),
          401,
          'invalid_grant',
          'errors',
        );
        await expectStillRefreshes(first, () => refreshC(first.refresh_token, first.access_token));
      });

      it('answers 401 invalid_token to a garbage bearer and leaves the token usable', async () => {
        const first = await loginC();
        await expectNoTrace(() => refreshC(first.refresh_token, 'garbage'), 401, 'invalid_token', 'errors');
        await expectStillRefreshes(first, () => refreshC(first.refresh_token));
      });

      it("answers a refusal on router D without spoiling router C's refresh of the same token", async () => {
        const first = await loginD();
        await expectNoTrace(
          () => refreshD(first.refresh_token, basicOf(clients.full), { scope: 'admin' }),
          400,
          'invalid_scope',
          'oauth',
        );
        await expectStillRefreshes(first, () => refreshC(first.refresh_token, first.access_token));
      });

      it('still detects reuse: a replayed token is 401 invalid_grant and revokes the family', async () => {
        const first = await loginC();
        const stranger = await kit.tokens.issueAccessToken({
          subject: 'user-bob',
          clientId: 'password-grant',
        });
        expect((await refreshC(first.refresh_token, stranger.token)).status).toBe(401);
        const second = (await refreshC(first.refresh_token)).body as TokenBody;
        expect((await refreshC(first.refresh_token)).status).toBe(401);
        expect((await refreshC(second.refresh_token)).status).toBe(401);
        expect((await probe(second.access_token)).status).toBe(401);
      });
    });
  });
});
