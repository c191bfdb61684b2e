/**
 * What a credential rotation kills (docs/router-c-auth-tokens.md, "What a rotation kills"): the old
 * client id and secret at once, and by default the tokens the application holds for itself
 * (client_credentials). Users' sessions belong to the application's stable id: they survive, and
 * refresh only with the new credentials. `revokeUserTokens` kills them too.
 *
 * Two app instances share one store and one clock; the rotation runs on the first, everything else
 * on the second. The clock moves 1 s after each rotation, so no case depends on sub-second cut-offs.
 */
import type { Express } from 'express';
import request, { type Test } from 'supertest';
import { createAuthRouter, type AuthRouterOptions } from '../../lib/routers/auth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import { createClock, makeKit, storeFactories, type StoreHarness, type TestClock } from '../helpers/kit';
import { authAndOAuthRoutersApp, mountProbe, subjectAndClient } from '../helpers/apps';
import { basic, basicOf, form, seedClients, USER, verifyUser, type TestClient } from '../helpers/oauth';

const C_TOKENS = '/api/auth/tokens/';
const C_REFRESH = '/api/auth/tokens/refresh/';
const C_ROTATE = '/api/applications/rotate_credentials/';

interface TokenBody {
  readonly access_token: string;
  readonly refresh_token: string;
}

/** Routers C (at /api) and D (at the root) and a probe that reports what requireToken saw. */
function buildApp(kit: TokenKit, options: Partial<AuthRouterOptions> = {}): Express {
  return mountProbe(authAndOAuthRoutersApp(kit, options), requireToken({ kit }), subjectAndClient);
}

/** Drives one app instance. */
function driver(app: Express) {
  const tokenD = (body: Record<string, string>, authorization: string): Test =>
    request(app).post('/oauth/token').set('Authorization', authorization).type('form').send(form(body));
  return {
    app,
    clientCredentialsD: (authorization: string) =>
      tokenD({ grant_type: 'client_credentials' }, authorization),
    clientCredentialsC: (clientId: string, clientSecret: string) =>
      request(app)
        .post(C_TOKENS)
        .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
    loginD: (authorization: string) =>
      tokenD(
        { grant_type: 'password', username: USER.username, password: USER.password, scope: 'read' },
        authorization,
      ),
    loginC: (clientId: string, clientSecret: string) =>
      request(app).post(C_TOKENS).send({
        grant_type: 'password',
        username: USER.username,
        password: USER.password,
        client_id: clientId,
        client_secret: clientSecret,
      }),
    refreshD: (rt: string, authorization: string) =>
      tokenD({ grant_type: 'refresh_token', refresh_token: rt }, authorization),
    refreshC: (rt: string, bearer?: string) => {
      const req = request(app).post(C_REFRESH);
      if (bearer !== undefined) req.set('Authorization', `Bearer ${bearer}`);
      return req.send({ refresh_token: rt });
    },
    revoke: (token: string, authorization: string) =>
      request(app)
        .post('/oauth/revoke')
        .set('Authorization', authorization)
        .type('form')
        .send(form({ token })),
    introspect: (token: string, authorization: string) =>
      request(app)
        .post('/oauth/introspect')
        .set('Authorization', authorization)
        .type('form')
        .send(form({ token })),
    rotate: (applicationId: string, bearer: string) =>
      request(app)
        .post(C_ROTATE)
        .set('Authorization', `Bearer ${bearer}`)
        .send({ application_id: applicationId }),
    probe: (accessToken: string) => request(app).get('/probe').set('Authorization', `Bearer ${accessToken}`),
  };
}

type Driver = ReturnType<typeof driver>;

describe('credential rotation and the sessions of an application', () => {
  describe.each(storeFactories)('on the %s store, with two app instances', (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let kitA: TokenKit;
    let kitB: TokenKit;
    let a: Driver;
    let b: Driver;
    let full: TestClient;
    let other: TestClient;
    /** Tokens issued before the rotation. */
    let cc: string;
    let userD: TokenBody;
    let userC: TokenBody;

    beforeAll(async () => {
      stores = await factory('rotation-sessions');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      clock = createClock();
      const made = await stores.create(clock.now);
      ({ kit: kitA } = await makeKit({ store: made.store, now: clock, verifyUser }));
      ({ kit: kitB } = await makeKit({ store: await made.twin(clock.now), now: clock, verifyUser }));
      ({ full, other } = await seedClients(kitA));
      a = driver(buildApp(kitA));
      b = driver(buildApp(kitB));
      const issued = await a.clientCredentialsD(basicOf(full));
      expect(issued.status).toBe(200);
      cc = (issued.body as TokenBody).access_token;
      const d = await a.loginD(basicOf(full));
      expect(d.status).toBe(200);
      userD = d.body as TokenBody;
      const c = await a.loginC(full.clientId, full.clientSecret);
      expect(c.status).toBe(200);
      userC = c.body as TokenBody;
      clock.advance(1);
    });

    /** Rotates `full` on instance A and moves the clock 1 s on; returns the new credentials. */
    async function rotate(
      options: Parameters<TokenKit['credentials']['rotateApplication']>[1] = {},
    ): Promise<TestClient> {
      const rotated = await kitA.credentials.rotateApplication(full.id, options);
      expect(rotated).not.toBeNull();
      clock.advance(1);
      return { ...full, clientId: rotated!.clientId, clientSecret: rotated!.clientSecret };
    }

    describe('by default', () => {
      it('answers the old client id and secret with 401 invalid_client on routers C and D', async () => {
        const fresh = await rotate();
        expect((await b.clientCredentialsD(basicOf(full))).status).toBe(401);
        expect((await b.clientCredentialsD(basic(fresh.clientId, full.clientSecret))).status).toBe(401);
        expect((await b.clientCredentialsC(full.clientId, full.clientSecret)).status).toBe(401);
        expect((await b.loginD(basicOf(full))).status).toBe(401);
        expect((await b.clientCredentialsD(basicOf(fresh))).status).toBe(200);
      });

      it('revokes the client_credentials token minted before the rotation', async () => {
        expect((await b.probe(cc)).status).toBe(200);
        await rotate();
        expect((await b.probe(cc)).status).toBe(401);
      });

      it("keeps the users' access tokens from before the rotation working", async () => {
        await rotate();
        expect((await b.probe(userD.access_token)).status).toBe(200);
        expect((await b.probe(userC.access_token)).status).toBe(200);
      });

      it("refreshes a user's session on router D with the new credentials, and never with the old", async () => {
        const fresh = await rotate();
        const old = await b.refreshD(userD.refresh_token, basicOf(full));
        expect(old.status).toBe(401);
        expect((old.body as { error: string }).error).toBe('invalid_client');
        const res = await b.refreshD(userD.refresh_token, basicOf(fresh));
        expect(res.status).toBe(200);
        const next = res.body as TokenBody;
        const probe = await b.probe(next.access_token);
        expect(probe.status).toBe(200);
        // Issued to the application's current client id.
        expect(probe.body).toEqual({ sub: USER.sub, clientId: fresh.clientId });
        expect((await b.refreshD(next.refresh_token, basicOf(fresh))).status).toBe(200);
      });

      it("refreshes a user's session on router C, issuing to the new client id", async () => {
        const fresh = await rotate();
        const res = await b.refreshC(userC.refresh_token, userC.access_token);
        expect(res.status).toBe(200);
        const probe = await b.probe((res.body as TokenBody).access_token);
        expect(probe.body).toEqual({ sub: USER.sub, clientId: fresh.clientId });
      });

      it("still refuses another application's credentials for the user's refresh token", async () => {
        await rotate();
        expect((await b.refreshD(userD.refresh_token, basicOf(other))).status).toBe(400);
        expect((await b.probe(userD.access_token)).status).toBe(200);
      });

      it('keeps sessions across several rotations, refreshing with the newest credentials only', async () => {
        const first = await rotate();
        const second = await rotate();
        expect((await b.refreshD(userD.refresh_token, basicOf(first))).status).toBe(401);
        const res = await b.refreshD(userD.refresh_token, basicOf(second));
        expect(res.status).toBe(200);
        expect((await b.probe(userC.access_token)).status).toBe(200);
      });

      it('lets RFC 7662 introspection with the new credentials see a user token from before', async () => {
        const fresh = await rotate();
        const access = await b.introspect(userD.access_token, basicOf(fresh));
        expect(access.body).toMatchObject({ active: true, sub: USER.sub, client_id: full.clientId });
        const refresh = await b.introspect(userD.refresh_token, basicOf(fresh));
        expect(refresh.body).toMatchObject({ active: true, sub: USER.sub, token_type: 'refresh_token' });
        expect((await b.introspect(userD.access_token, basicOf(other))).body).toEqual({ active: false });
      });

      it('lets RFC 7009 revocation with the new credentials revoke a user access token from before, and its family', async () => {
        const fresh = await rotate();
        expect((await b.revoke(userD.access_token, basicOf(other))).status).toBe(200);
        expect((await b.probe(userD.access_token)).status).toBe(200);
        expect((await b.revoke(userD.access_token, basicOf(full))).status).toBe(401);
        expect((await b.probe(userD.access_token)).status).toBe(200);

        expect((await b.revoke(userD.access_token, basicOf(fresh))).status).toBe(200);
        expect((await b.probe(userD.access_token)).status).toBe(401);
        expect((await b.refreshD(userD.refresh_token, basicOf(fresh))).status).toBe(400);
      });

      it('lets RFC 7009 revocation with the new credentials revoke a refresh family from before', async () => {
        const fresh = await rotate();
        expect((await b.revoke(userC.refresh_token, basicOf(fresh))).status).toBe(200);
        expect((await b.refreshC(userC.refresh_token)).status).toBe(401);
        expect((await b.probe(userC.access_token)).status).toBe(401);
      });
    });

    describe('with revokeUserTokens (a full revocation)', () => {
      it("kills the users' access tokens and refresh families too", async () => {
        const fresh = await rotate({ revokeUserTokens: true });
        expect((await b.probe(cc)).status).toBe(401);
        expect((await b.probe(userD.access_token)).status).toBe(401);
        expect((await b.probe(userC.access_token)).status).toBe(401);
        const d = await b.refreshD(userD.refresh_token, basicOf(fresh));
        expect(d.status).toBe(400);
        expect((d.body as { error: string }).error).toBe('invalid_grant');
        expect((await b.refreshC(userC.refresh_token)).status).toBe(401);
        // Users log in again with the new credentials.
        const again = await b.loginD(basicOf(fresh));
        expect(again.status).toBe(200);
        expect((await b.probe((again.body as TokenBody).access_token)).status).toBe(200);
      });

      it('kills sessions and tokens issued under every client id the application held', async () => {
        const first = await rotate();
        const refreshed = (await b.refreshD(userD.refresh_token, basicOf(first))).body as TokenBody;
        const cc1 = ((await b.clientCredentialsD(basicOf(first))).body as TokenBody).access_token;
        clock.advance(1);
        const second = await rotate({ revokeUserTokens: true });
        expect((await b.probe(refreshed.access_token)).status).toBe(401);
        expect((await b.probe(cc1)).status).toBe(401);
        expect((await b.refreshD(refreshed.refresh_token, basicOf(second))).status).toBe(400);
        expect((await b.refreshC(userC.refresh_token)).status).toBe(401);
      });

      it('leaves the tokens of other applications alone', async () => {
        const otherUser = (await a.loginD(basicOf(other))).body as TokenBody;
        clock.advance(1);
        await rotate({ revokeUserTokens: true });
        expect((await b.probe(otherUser.access_token)).status).toBe(200);
        expect((await b.refreshD(otherUser.refresh_token, basicOf(other))).status).toBe(200);
      });

      it('refuses revokeUserTokens without revokeTokens, and changes nothing', async () => {
        await expect(
          kitA.credentials.rotateApplication(full.id, { revokeTokens: false, revokeUserTokens: true }),
        ).rejects.toThrow(TypeError);
        await expect(
          kitA.credentials.rotateApplication(full.id, { revokeUserTokens: 'yes' as unknown as boolean }),
        ).rejects.toThrow(TypeError);
        expect((await b.clientCredentialsD(basicOf(full))).status).toBe(200);
      });
    });

    describe('with revokeTokens: false', () => {
      it("keeps the application's own tokens and the users' sessions", async () => {
        const fresh = await rotate({ revokeTokens: false });
        expect((await b.probe(cc)).status).toBe(200);
        expect((await b.probe(userD.access_token)).status).toBe(200);
        expect((await b.refreshD(userD.refresh_token, basicOf(fresh))).status).toBe(200);
        expect((await b.clientCredentialsD(basicOf(full))).status).toBe(401);
      });
    });

    describe("through router C's rotate endpoint", () => {
      it("kills the client token and keeps the users' sessions by default", async () => {
        const res = await a.rotate(full.id, cc);
        expect(res.status).toBe(200);
        clock.advance(1);
        const fresh = res.body as { client_id: string; client_secret: string };
        expect((await b.probe(cc)).status).toBe(401);
        expect((await b.probe(userC.access_token)).status).toBe(200);
        expect((await b.refreshC(userC.refresh_token)).status).toBe(200);
        expect(
          (await b.refreshD(userD.refresh_token, basic(fresh.client_id, fresh.client_secret))).status,
        ).toBe(200);
      });

      it("kills the users' sessions too with revokeUserTokensOnRotation", async () => {
        const strict = driver(buildApp(kitA, { revokeUserTokensOnRotation: true }));
        expect((await strict.rotate(full.id, cc)).status).toBe(200);
        clock.advance(1);
        expect((await b.probe(userC.access_token)).status).toBe(401);
        expect((await b.refreshC(userC.refresh_token)).status).toBe(401);
      });

      it('still refuses a user token of the application after a rotation (403)', async () => {
        await rotate();
        const res = await b.rotate(full.id, userC.access_token);
        expect(res.status).toBe(403);
        expect((res.body as { errors: { errorType: string }[] }).errors[0]!.errorType).toBe(
          'insufficient_scope',
        );
      });

      it('knows a client token kept across a rotation (revokeTokensOnRotation false) as one of the application, but it cannot rotate credentials already rotated (409)', async () => {
        const lenient = driver(buildApp(kitA, { revokeTokensOnRotation: false }));
        expect((await lenient.rotate(full.id, cc)).status).toBe(200);
        clock.advance(1);
        // Rotation is tied to the credentials the caller authenticated with: these were replaced.
        const again = await lenient.rotate(full.id, cc);
        expect(again.status).toBe(409);
        expect((again.body as { errors: { errorType: string }[] }).errors[0]!.errorType).toBe('conflict');
        expect((await lenient.rotate(other.id, cc)).status).toBe(403);
      });

      it('refuses contradictory router options at factory time', () => {
        expect(() =>
          createAuthRouter({ kit: kitA, revokeTokensOnRotation: false, revokeUserTokensOnRotation: true }),
        ).toThrow(TypeError);
      });
    });

    describe('client ids', () => {
      it('never gives a client id an application held to another application', async () => {
        await rotate();
        await expect(
          kitA.credentials.createApplication({ name: 'Squatter', clientId: full.clientId }),
        ).rejects.toThrow(TypeError);
        expect(await kitA.credentials.findApplicationByClientId(full.clientId)).toBeNull();
      });

      it('revokes every token of a deleted application, under every client id it held', async () => {
        const first = await rotate();
        const refreshed = (await b.refreshD(userD.refresh_token, basicOf(first))).body as TokenBody;
        clock.advance(1);
        expect(await kitA.credentials.revokeApplication(full.id)).toBe(true);
        clock.advance(1);
        expect((await b.probe(userC.access_token)).status).toBe(401);
        expect((await b.probe(refreshed.access_token)).status).toBe(401);
        expect((await b.refreshC(userC.refresh_token)).status).toBe(401);
      });
    });
  });
});
