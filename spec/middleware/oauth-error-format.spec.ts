/**
 * `errorFormat: 'oauth'` for bearer authentication: a request without any authentication
 * information gets its 401 and `WWW-Authenticate: Bearer realm=…` but no error code (RFC 6750
 * §3.1); every other outcome keeps its code, and the other formats keep `missing_token`.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenKit } from '../../lib/core/token-kit';
import type { ErrorFormat } from '../../lib/errors';
import { requireBinding } from '../../lib/middleware/guards';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { expectCleanJson, expectErrorsBody, expectCodeBody, expectNoStore } from '../helpers/http';
import { createClock, makeKit, storeFactories, type StoreHarness } from '../helpers/kit';

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === 'correct horse battery staple' ? { sub: 'user-alice' } : null;

/** The headers of a request that carries no bearer credentials. */
const WITHOUT_CREDENTIALS: readonly (readonly [what: string, headers: Record<string, string>])[] = [
  ['no Authorization header', {}],
  ['a Basic Authorization header', { Authorization: 'Basic YTpi' }],
  ['a Digest Authorization header', { Authorization: 'Digest username="a"' }],
];

function buildApp(kit: TokenKit, errorFormat: ErrorFormat): Express {
  const app = express();
  app.get('/me', requireToken({ kit, errorFormat }), (req, res) => {
    res.json({ sub: req.auth?.subject });
  });
  // A guard reached without requireToken answers as if no token was sent.
  app.get(
    '/employers/:employerId',
    requireBinding({ param: 'employerId', type: 'employer', errorFormat }),
    (req, res) => {
      res.json({ id: req.params.employerId });
    },
  );
  app.use('/api', createAuthRouter({ kit, errorFormat }));
  return app;
}

describe("errorFormat: 'oauth'", () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let kit: TokenKit;
    let app: Express;
    let application: { id: string; clientId: string; clientSecret: string };

    beforeAll(async () => {
      stores = await factory('oauth-error-format');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      const clock = createClock();
      ({ kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock, verifyUser }));
      application = await kit.credentials.createApplication({ name: 'App' });
      app = buildApp(kit, 'oauth');
    });

    async function clientToken(): Promise<string> {
      return (
        await kit.grants.clientCredentials({
          clientId: application.clientId,
          clientSecret: application.clientSecret,
        })
      ).accessToken.token;
    }

    /** RFC 6750 §3.1: status and challenge only. */
    function expectBareChallenge(res: request.Response): void {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(res.body).toEqual({});
      expect(res.text).not.toMatch(/missing_token|error/);
      expectCleanJson(res);
      expectNoStore(res);
    }

    describe.each([
      ['requireToken', 'get', '/me'],
      ['requireBinding without requireToken', 'get', '/employers/empr_Acme'],
      ['router C rotate_credentials', 'post', '/api/applications/rotate_credentials/'],
    ] as const)('%s', (_what, method, path) => {
      it.each(WITHOUT_CREDENTIALS)(
        'responds 401 with a bare challenge and no error code for %s',
        async (_how, headers) => {
          const res = await request(app)[method](path).set(headers).send({ application_id: application.id });
          expectBareChallenge(res);
        },
      );
    });

    describe('requireToken', () => {
      it('passes a valid token on', async () => {
        const res = await request(app)
          .get('/me')
          .set('Authorization', `Bearer ${await clientToken()}`);
        expect(res.status).toBe(200);
      });

      it('keeps invalid_token for garbage', async () => {
        const res = await request(app).get('/me').set('Authorization', 'Bearer garbage');
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'invalid_token', error_description: 'Access token invalid' });
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="api", error="invalid_token", error_description="Access token invalid"',
        );
      });

      it('keeps invalid_token for a revoked token', async () => {
        const token = await clientToken();
        await kit.tokens.revokeToken(token);
        const res = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: 'invalid_token' });
      });

      it('keeps 400 invalid_request for a malformed header', async () => {
        const res = await request(app).get('/me').set('Authorization', 'Bearer a b');
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: 'invalid_request' });
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_request"/);
      });
    });

    describe('the other formats', () => {
      it.each(WITHOUT_CREDENTIALS)('keep missing_token for %s', async (_how, headers) => {
        const errors = await request(buildApp(kit, 'errors')).get('/me').set(headers);
        expectErrorsBody(errors, 401, 'missing_token', 'Access token missing');
        expect(errors.headers['www-authenticate']).toBe('Bearer realm="api"');
        const code = await request(buildApp(kit, 'code')).get('/me').set(headers);
        expectCodeBody(code, 401, 'missing_token', 'Access token missing');
        expect(code.headers['www-authenticate']).toBe('Bearer realm="api"');
      });
    });

    describe('router C refresh with a revoked access token in Authorization', () => {
      it('responds 401 invalid_token with a challenge (docs/router-c-auth-tokens.md)', async () => {
        const defaultApp = buildApp(kit, 'errors');
        const login = await request(defaultApp)
          .post('/api/auth/tokens/')
          .send({ grant_type: 'password', username: 'alice', password: 'correct horse battery staple' });
        expect(login.status).toBe(200);
        const { access_token: accessToken, refresh_token: refreshToken } = login.body as {
          access_token: string;
          refresh_token: string;
        };
        const other = await clientToken();
        await kit.tokens.revokeToken(other);
        const res = await request(defaultApp)
          .post('/api/auth/tokens/refresh/')
          .set('Authorization', `Bearer ${other}`)
          .send({ refresh_token: refreshToken });
        expectErrorsBody(res, 401, 'invalid_token');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
        // The refresh token was not spent by the refused request.
        const ok = await request(defaultApp)
          .post('/api/auth/tokens/refresh/')
          .set('Authorization', `Bearer ${accessToken}`)
          .send({ refresh_token: refreshToken });
        expect(ok.status).toBe(200);
      });
    });
  });
});
