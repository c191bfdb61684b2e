import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import jwt, { type JwtHeader, type JwtPayload } from 'jsonwebtoken';
import request from 'supertest';
import type { AuthRouterOptions } from '../../lib/routers/auth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenStore } from '../../lib/stores/token-store';
import {
  makeCountedKit,
  makeKit,
  storeFactories,
  TEST_ISSUER,
  type StoreCalls,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { authRouterApp, mountProbe } from '../helpers/apps';
import { expectCleanJson, expectErrorsBody, expectNoStore, paddedJson } from '../helpers/http';

const TOKENS = '/api/auth/tokens/';
const REFRESH = '/api/auth/tokens/refresh/';
const VALIDATE = '/api/auth/tokens/validate/';
const ROTATE = '/api/applications/rotate_credentials/';
const EXPIRED_BODY = { errors: [{ errorType: 'expired_token', message: 'Access token expired' }] };

const USERS: Readonly<Record<string, { password: string; sub: string }>> = {
  alice: { password: 'correct horse battery staple', sub: 'user-alice' },
  bob: { password: 'hunter2-hunter2', sub: 'user-bob' },
};

/** The application's user check: null for any failure. */
const verifyUser: UserVerifier = async (username, password) => {
  const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
  return user !== undefined && user.password === password ? { sub: user.sub } : null;
};

/** Router C at the demo mount and the demo's guarded `/api/plans/`. */
function buildApp(kit: TokenKit, options: Partial<AuthRouterOptions> = {}): Express {
  return mountProbe(
    authRouterApp(kit, options),
    requireToken({ kit }),
    (auth) => ({ sub: auth.subject, clientId: auth.clientId, claims: { ...auth.claims } }),
    '/api/plans/',
  );
}

function decode(token: string): { header: JwtHeader; payload: JwtPayload } {
  const out = jwt.decode(token, { complete: true });
  if (out === null || typeof out.payload === 'string') throw new Error('not a JWT with a JSON payload');
  return { header: out.header, payload: out.payload };
}

interface App {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

describe('createAuthRouter', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let store: TokenStore;
    let kit: TokenKit;
    let calls: StoreCalls;
    let app: Express;
    let testApp: App;
    let otherApp: App;

    beforeAll(async () => {
      stores = await factory('auth-router');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      ({ kit, store, clock, calls } = await makeCountedKit(stores, { verifyUser }));
      testApp = await kit.credentials.createApplication({
        name: 'TestApp',
        organization: '123',
        applicationTypes: ['API'],
        grantTypes: ['client_credentials', 'password', 'refresh_token'],
      });
      otherApp = await kit.credentials.createApplication({ name: 'OtherApp', organization: '456' });
      app = buildApp(kit);
      calls.reset();
    });

    function post(path: string, body: unknown, bearer?: string): request.Test {
      const req = request(app).post(path);
      if (bearer !== undefined) req.set('Authorization', `Bearer ${bearer}`);
      return typeof body === 'string'
        ? req.set('Content-Type', 'application/json').send(body)
        : req.send(body as object);
    }

    async function clientToken(client: App = testApp): Promise<string> {
      const res = await post(TOKENS, {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: client.clientSecret,
      });
      expect(res.status).toBe(200);
      return (res.body as { access_token: string }).access_token;
    }

    async function login(
      username = 'alice',
    ): Promise<{ access_token: string; refresh_token: string; id_token: string }> {
      const res = await post(TOKENS, {
        grant_type: 'password',
        username,
        password: USERS[username]!.password,
      });
      expect(res.status).toBe(200);
      return res.body as { access_token: string; refresh_token: string; id_token: string };
    }

    function plans(token: string): request.Test {
      return request(app).get('/api/plans/').set('Authorization', `Bearer ${token}`);
    }

    describe('POST /api/auth/tokens/', () => {
      describe('when client_credentials comes with valid credentials', () => {
        it('responds 200 with exactly access_token, token_type and expires_in 3600', async () => {
          const res = await post(TOKENS, {
            grant_type: 'client_credentials',
            client_id: testApp.clientId,
            client_secret: testApp.clientSecret,
          });
          expect(res.status).toBe(200);
          expect(res.body).toEqual({
            access_token: expect.any(String),
            token_type: 'Bearer',
            expires_in: 3600,
          });
          expectNoStore(res);
          expectCleanJson(res);
        });

        it('issues an at+jwt access token for the client itself', async () => {
          const { header, payload } = decode(await clientToken());
          expect(header.typ).toBe('at+jwt');
          expect(payload).toMatchObject({
            iss: TEST_ISSUER,
            sub: testApp.clientId,
            client_id: testApp.clientId,
            exp: clock.seconds() + 3600,
            iat: clock.seconds(),
          });
        });

        it('issues a token that works on a requireToken route', async () => {
          const res = await plans(await clientToken());
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ sub: testApp.clientId, clientId: testApp.clientId });
        });
      });

      describe('when client_credentials comes with bad credentials', () => {
        it.each([
          ['a wrong secret', (a: App) => ({ client_id: a.clientId, client_secret: `${a.clientSecret}x` })],
          ['an unknown client', () => ({ client_id: 'no-such-client', client_secret: 'whatever' })],
          [
            'the secret of another application',
            (_a: App, b: App) => ({ client_id: _a.clientId, client_secret: b.clientSecret }),
          ],
          [
            'a 10000-character secret',
            (a: App) => ({ client_id: a.clientId, client_secret: 's'.repeat(10_000) }),
          ],
          ['a one-character secret', (a: App) => ({ client_id: a.clientId, client_secret: 's' })],
          ['the client id as secret', (a: App) => ({ client_id: a.clientId, client_secret: a.clientId })],
        ])('responds 401 invalid_client for %s', async (_what, make) => {
          const res = await post(TOKENS, { grant_type: 'client_credentials', ...make(testApp, otherApp) });
          expectErrorsBody(res, 401, 'invalid_client');
        });

        it('answers an unknown client and a wrong secret with the same body', async () => {
          const unknown = await post(TOKENS, {
            grant_type: 'client_credentials',
            client_id: 'nobody',
            client_secret: 'x',
          });
          const wrong = await post(TOKENS, {
            grant_type: 'client_credentials',
            client_id: testApp.clientId,
            client_secret: 'x',
          });
          expect(unknown.body).toEqual(wrong.body);
        });
      });

      describe('when client_credentials lacks a field', () => {
        it.each([
          ['client_id', { client_secret: 'x' }],
          ['client_secret', { client_id: 'x' }],
          ['both', {}],
          ['an empty client_secret', { client_id: 'x', client_secret: '' }],
          ['a null client_id', { client_id: null, client_secret: 'x' }],
        ])('responds 400 invalid_request without %s', async (_what, fields) => {
          expectErrorsBody(
            await post(TOKENS, { grant_type: 'client_credentials', ...fields }),
            400,
            'invalid_request',
          );
          expect(calls.total()).toBe(0);
        });
      });

      describe('when a field has another JSON type', () => {
        const values: readonly (readonly [string, unknown])[] = [
          ['an array', ['x']],
          ['an object', { $ne: null }],
          ['a number', 12345],
          ['a boolean', true],
        ];
        const cases = [
          ...['grant_type'].flatMap((f) => values.map(([w, v]) => [f, w, { [f]: v }] as const)),
          ...['client_id', 'client_secret'].flatMap((f) =>
            values.map(
              ([w, v]) =>
                [
                  f,
                  w,
                  { grant_type: 'client_credentials', client_id: 'id', client_secret: 'secret', [f]: v },
                ] as const,
            ),
          ),
          ...['username', 'password'].flatMap((f) =>
            values.map(
              ([w, v]) =>
                [f, w, { grant_type: 'password', username: 'alice', password: 'pw', [f]: v }] as const,
            ),
          ),
        ];
        it.each(cases)(
          'responds 400 invalid_request when %s is %s, without a store call',
          async (_f, _w, body) => {
            expectErrorsBody(await post(TOKENS, body), 400, 'invalid_request');
            expect(calls.total()).toBe(0);
          },
        );
      });

      describe('when grant_type is missing or unsupported', () => {
        it.each([
          ['missing', {}],
          ['empty', { grant_type: '' }],
          ['null', { grant_type: null }],
        ])('responds 400 invalid_request when grant_type is %s', async (_what, body) => {
          expectErrorsBody(await post(TOKENS, body), 400, 'invalid_request');
        });

        it.each(['authorization_code', 'refresh_token', 'CLIENT_CREDENTIALS', 'urn:x', 'foo'])(
          'responds 400 unsupported_grant_type for %s',
          async (grantType) => {
            expectErrorsBody(await post(TOKENS, { grant_type: grantType }), 400, 'unsupported_grant_type');
          },
        );
      });

      describe('when password comes with valid user credentials', () => {
        it('responds 200 with id_token, access_token, refresh_token and sub', async () => {
          const res = await post(TOKENS, {
            grant_type: 'password',
            username: 'alice',
            password: USERS.alice!.password,
          });
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({
            id_token: expect.any(String),
            access_token: expect.any(String),
            refresh_token: expect.stringMatching(/^etk_rt_[0-9A-Za-z]+$/),
            sub: 'user-alice',
          });
          expectNoStore(res);
        });

        it('issues an access token for the user that works on a requireToken route', async () => {
          const tokens = await login();
          const res = await plans(tokens.access_token);
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ sub: 'user-alice', clientId: 'password-grant' });
        });

        it('issues an ID token (typ JWT, aud the client) that requireToken rejects', async () => {
          const tokens = await login();
          const { header, payload } = decode(tokens.id_token);
          expect(header.typ).toBe('JWT');
          expect(payload).toMatchObject({ iss: TEST_ISSUER, sub: 'user-alice', aud: 'password-grant' });
          expectErrorsBody(await plans(tokens.id_token), 401, 'invalid_token');
        });

        it('issues the tokens to the application when the request carries its credentials', async () => {
          const res = await post(TOKENS, {
            grant_type: 'password',
            username: 'alice',
            password: USERS.alice!.password,
            client_id: testApp.clientId,
            client_secret: testApp.clientSecret,
          });
          expect(res.status).toBe(200);
          expect(decode((res.body as { access_token: string }).access_token).payload.client_id).toBe(
            testApp.clientId,
          );
        });

        it('responds 401 invalid_client when the request carries a wrong client secret', async () => {
          const res = await post(TOKENS, {
            grant_type: 'password',
            username: 'alice',
            password: USERS.alice!.password,
            client_id: testApp.clientId,
            client_secret: 'wrong',
          });
          expectErrorsBody(res, 401, 'invalid_client');
        });
      });

      describe('when password comes with bad user credentials', () => {
        it.each([
          ['a wrong password', { username: 'alice', password: 'wrong' }],
          ['an unknown user', { username: 'mallory', password: 'wrong' }],
          ["another user's password", { username: 'alice', password: 'hunter2-hunter2' }],
          ['a 2000-byte password', { username: 'alice', password: 'p'.repeat(2000) }],
          [
            'the password with a trailing NUL',
            { username: 'alice', password: 'correct horse battery staple\u0000' },
          ],
          ['a __proto__ username', { username: '__proto__', password: 'x' }],
        ])('responds 401 invalid_grant for %s', async (_what, fields) => {
          const res = await post(TOKENS, { grant_type: 'password', ...fields });
          expectErrorsBody(res, 401, 'invalid_grant');
          expect(res.body).toEqual({
            errors: [{ errorType: 'invalid_grant', message: 'The grant is invalid' }],
          });
        });
      });

      describe('when password lacks a field', () => {
        it.each([
          ['username', { password: 'x' }],
          ['password', { username: 'alice' }],
          ['an empty password', { username: 'alice', password: '' }],
        ])('responds 400 invalid_request without %s', async (_what, fields) => {
          expectErrorsBody(await post(TOKENS, { grant_type: 'password', ...fields }), 400, 'invalid_request');
        });
      });

      describe('when the application supplies no user verifier', () => {
        it('responds 400 unsupported_grant_type to the password grant', async () => {
          const bare = buildApp((await makeKit({ store, now: clock })).kit);
          const res = await request(bare)
            .post(TOKENS)
            .send({ grant_type: 'password', username: 'alice', password: USERS.alice!.password });
          expectErrorsBody(res, 400, 'unsupported_grant_type');
        });
      });

      describe('when the body is hostile', () => {
        it('responds 400 invalid_request in {"errors":[…]} for malformed JSON, without HTML or a stack', async () => {
          expectErrorsBody(await post(TOKENS, '{"grant_type":"client_credentials",'), 400, 'invalid_request');
        });

        it.each([
          ['a top-level array', '[{"grant_type":"client_credentials"}]'],
          ['a top-level string', '"client_credentials"'],
          ['a top-level number', '7'],
        ])('responds 400 invalid_request for %s', async (_what, body) => {
          expectErrorsBody(await post(TOKENS, body), 400, 'invalid_request');
        });

        it('responds 400 invalid_request for a text/plain body', async () => {
          const res = await request(app)
            .post(TOKENS)
            .set('Content-Type', 'text/plain')
            .send(
              `grant_type=client_credentials&client_id=${testApp.clientId}&client_secret=${testApp.clientSecret}`,
            );
          expectErrorsBody(res, 400, 'invalid_request');
        });

        it('responds 400 invalid_request for a form-encoded body', async () => {
          const res = await request(app).post(TOKENS).type('form').send({
            grant_type: 'client_credentials',
            client_id: testApp.clientId,
            client_secret: testApp.clientSecret,
          });
          expectErrorsBody(res, 400, 'invalid_request');
        });

        it('responds 400 invalid_request without a body', async () => {
          expectErrorsBody(await request(app).post(TOKENS), 400, 'invalid_request');
        });

        it('responds 413 payload_too_large for a 200 KB body', async () => {
          expectErrorsBody(
            await post(TOKENS, paddedJson(200, { grant_type: 'client_credentials' })),
            413,
            'payload_too_large',
          );
        });

        it.each([
          ['__proto__', '"__proto__":{"isAdmin":true,"scope":"admin","sub":"root"}'],
          ['constructor.prototype', '"constructor":{"prototype":{"isAdmin":true}}'],
        ])('ignores a %s pollution attempt and injects no claim', async (_what, fragment) => {
          const body = `{"grant_type":"client_credentials","client_id":"${testApp.clientId}","client_secret":"${testApp.clientSecret}",${fragment}}`;
          const res = await post(TOKENS, body);
          expect(res.status).toBe(200);
          expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
          const { payload } = decode((res.body as { access_token: string }).access_token);
          expect(payload).not.toHaveProperty('isAdmin');
          expect(payload).not.toHaveProperty('scope');
          expect(payload.sub).toBe(testApp.clientId);
        });

        it('ignores unknown fields and never copies them into the token', async () => {
          const res = await post(TOKENS, {
            grant_type: 'client_credentials',
            client_id: testApp.clientId,
            client_secret: testApp.clientSecret,
            sub: 'root',
            aud: 'https://evil.test',
            exp: 9_999_999_999,
            bound_entity: { id: 'empr_X', type: 'employer' },
          });
          expect(res.status).toBe(200);
          const { payload } = decode((res.body as { access_token: string }).access_token);
          expect(payload).toMatchObject({
            sub: testApp.clientId,
            aud: TEST_ISSUER,
            exp: clock.seconds() + 3600,
          });
          expect(payload).not.toHaveProperty('bound_entity');
        });
      });

      describe('when the method is not POST', () => {
        it.each(['get', 'put', 'patch', 'delete'] as const)(
          'responds 405 method_not_allowed to %s',
          async (method) => {
            const res = await request(app)[method](TOKENS);
            expectErrorsBody(res, 405, 'method_not_allowed');
            expect(res.headers.allow).toBe('POST');
          },
        );
      });
    });

    describe('POST /api/auth/tokens/refresh/', () => {
      describe('when a current refresh token is presented', () => {
        it('responds 200 with a new access token and a new refresh token', async () => {
          const tokens = await login();
          const res = await post(REFRESH, { refresh_token: tokens.refresh_token }, tokens.access_token);
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({
            access_token: expect.any(String),
            refresh_token: expect.stringMatching(/^etk_rt_/),
            sub: 'user-alice',
          });
          const body = res.body as { access_token: string; refresh_token: string };
          expect(body.refresh_token).not.toBe(tokens.refresh_token);
          expect(body.access_token).not.toBe(tokens.access_token);
          expectNoStore(res);
        });
      });

      describe('when refresh_token is missing or of another JSON type', () => {
        it.each([
          ['missing', {}],
          ['empty', { refresh_token: '' }],
          ['null', { refresh_token: null }],
          ['an array', { refresh_token: ['etk_rt_x'] }],
          ['an object', { refresh_token: { $ne: null } }],
          ['a number', { refresh_token: 42 }],
          ['a boolean', { refresh_token: true }],
        ])(
          'responds 400 invalid_request when refresh_token is %s, without a store call',
          async (_what, body) => {
            expectErrorsBody(await post(REFRESH, body), 400, 'invalid_request');
            expect(calls.total()).toBe(0);
          },
        );
      });

      describe('when the body is hostile', () => {
        it('responds 400 invalid_request for malformed JSON', async () => {
          expectErrorsBody(await post(REFRESH, '{"refresh_token":'), 400, 'invalid_request');
        });

        it('responds 400 invalid_request for a top-level array', async () => {
          expectErrorsBody(await post(REFRESH, '["etk_rt_x"]'), 400, 'invalid_request');
        });

        it('responds 413 payload_too_large for a 200 KB body', async () => {
          expectErrorsBody(
            await post(REFRESH, paddedJson(200, { refresh_token: 'etk_rt_x' })),
            413,
            'payload_too_large',
          );
        });
      });

      describe('when the method is not POST', () => {
        it.each(['get', 'put', 'delete'] as const)(
          'responds 405 method_not_allowed to %s',
          async (method) => {
            const res = await request(app)[method](REFRESH);
            expectErrorsBody(res, 405, 'method_not_allowed');
            expect(res.headers.allow).toBe('POST');
          },
        );
      });
    });

    describe('GET /api/auth/tokens/validate/', () => {
      function validate(header?: string): request.Test {
        const req = request(app).get(VALIDATE);
        return header === undefined ? req : req.set('Authorization', header);
      }

      describe('when the token is valid', () => {
        it('responds 200 with valid, sub and expires_in', async () => {
          const res = await validate(`Bearer ${await clientToken()}`);
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ valid: true, sub: testApp.clientId, expires_in: 3600 });
          expectNoStore(res);
        });

        it('counts expires_in down with the clock', async () => {
          const token = await clientToken();
          clock.advance(600);
          expect((await validate(`Bearer ${token}`)).body).toMatchObject({ valid: true, expires_in: 3000 });
        });

        it("answers a password-grant token with the user's sub", async () => {
          const tokens = await login('bob');
          expect((await validate(`Bearer ${tokens.access_token}`)).body).toMatchObject({
            valid: true,
            sub: 'user-bob',
          });
        });
      });

      describe('when the token is expired', () => {
        it('responds 401 expired_token with the seed body exactly', async () => {
          const token = await clientToken();
          clock.advance(3600);
          const res = await validate(`Bearer ${token}`);
          expect(res.status).toBe(401);
          expect(res.body).toEqual(EXPIRED_BODY);
          expect(res.headers['www-authenticate']).toBe(
            'Bearer realm="api", error="invalid_token", error_description="Access token expired"',
          );
          expectNoStore(res);
        });

        it('is still valid one second before expiry', async () => {
          const token = await clientToken();
          clock.advance(3599);
          expect((await validate(`Bearer ${token}`)).body).toMatchObject({ valid: true, expires_in: 1 });
        });
      });

      describe('when the token is not a valid access token', () => {
        it.each([
          ['garbage', 'Bearer garbage'],
          ['a JWT-shaped forgery', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
          ['a malformed header value', 'Bearer a"b'],
          ['no token', 'Bearer'],
          ['another scheme', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'],
        ])('responds 401 invalid_token for %s', async (_what, header) => {
          expectErrorsBody(await validate(header), 401, 'invalid_token');
        });

        it('responds 401 invalid_token without an Authorization header', async () => {
          expectErrorsBody(await validate(), 401, 'invalid_token');
        });

        it('responds 401 invalid_token for an ID token', async () => {
          expectErrorsBody(await validate(`Bearer ${(await login()).id_token}`), 401, 'invalid_token');
        });

        it('responds 401 invalid_token for a refresh token', async () => {
          expectErrorsBody(await validate(`Bearer ${(await login()).refresh_token}`), 401, 'invalid_token');
        });

        it('responds 401 invalid_token for a token with its signature altered', async () => {
          const token = await clientToken();
          const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
          expectErrorsBody(await validate(`Bearer ${tampered}`), 401, 'invalid_token');
        });

        it('responds 401 invalid_token for a revoked token', async () => {
          const token = await clientToken();
          await kit.tokens.revokeToken(token);
          expectErrorsBody(await validate(`Bearer ${token}`), 401, 'invalid_token');
        });
      });

      describe('when the method is not GET', () => {
        it.each(['post', 'put', 'delete'] as const)(
          'responds 405 method_not_allowed to %s',
          async (method) => {
            const res = await request(app)[method](VALIDATE);
            expectErrorsBody(res, 405, 'method_not_allowed');
            expect(res.headers.allow).toBe('GET');
          },
        );
      });
    });

    describe('POST /api/applications/rotate_credentials/', () => {
      function rotate(applicationId: unknown, bearer?: string): request.Test {
        return post(ROTATE, { application_id: applicationId }, bearer);
      }

      function clientCredentials(clientId: string, clientSecret: string): request.Test {
        return post(TOKENS, {
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
        });
      }

      describe("when the bearer token is the application's own", () => {
        it('responds 200 with id, name, organization, new client_id and secret, application_types', async () => {
          const res = await rotate(testApp.id, await clientToken());
          expect(res.status).toBe(200);
          expect(res.body).toEqual({
            id: testApp.id,
            name: 'TestApp',
            organization: '123',
            client_id: expect.any(String),
            client_secret: expect.any(String),
            application_types: ['API'],
          });
          const body = res.body as { client_id: string; client_secret: string };
          expect(body.client_id).not.toBe(testApp.clientId);
          expect(body.client_secret).not.toBe(testApp.clientSecret);
          expectNoStore(res);
        });

        it('makes the previous client_id and client_secret fail with 401 invalid_client at once', async () => {
          const res = await rotate(testApp.id, await clientToken());
          const fresh = res.body as { client_id: string; client_secret: string };
          expectErrorsBody(
            await clientCredentials(testApp.clientId, testApp.clientSecret),
            401,
            'invalid_client',
          );
          expectErrorsBody(
            await clientCredentials(testApp.clientId, fresh.client_secret),
            401,
            'invalid_client',
          );
          expectErrorsBody(
            await clientCredentials(fresh.client_id, testApp.clientSecret),
            401,
            'invalid_client',
          );
        });

        it('makes the new client_id and client_secret work', async () => {
          const res = await rotate(testApp.id, await clientToken());
          const fresh = res.body as { client_id: string; client_secret: string };
          const issued = await clientCredentials(fresh.client_id, fresh.client_secret);
          expect(issued.status).toBe(200);
          expect((await plans((issued.body as { access_token: string }).access_token)).status).toBe(200);
        });

        it('revokes the tokens of the old credentials by default', async () => {
          const token = await clientToken();
          const other = await clientToken(otherApp);
          expect((await rotate(testApp.id, token)).status).toBe(200);
          expectErrorsBody(await plans(token), 401, 'invalid_token');
          expect((await plans(other)).status).toBe(200);
        });

        it('keeps the old tokens working when revokeTokensOnRotation is false', async () => {
          const lenient = buildApp(kit, { revokeTokensOnRotation: false });
          const token = await clientToken();
          const res = await request(lenient)
            .post(ROTATE)
            .set('Authorization', `Bearer ${token}`)
            .send({ application_id: testApp.id });
          expect(res.status).toBe(200);
          expect((await plans(token)).status).toBe(200);
          expectErrorsBody(
            await clientCredentials(testApp.clientId, testApp.clientSecret),
            401,
            'invalid_client',
          );
        });

        it('rotates again with a token of the new credentials', async () => {
          const first = (await rotate(testApp.id, await clientToken())).body as {
            client_id: string;
            client_secret: string;
          };
          const issued = await clientCredentials(first.client_id, first.client_secret);
          const second = await rotate(testApp.id, (issued.body as { access_token: string }).access_token);
          expect(second.status).toBe(200);
          expect((second.body as { client_id: string }).client_id).not.toBe(first.client_id);
        });

        it('accepts the application id in upper case', async () => {
          expect((await rotate(testApp.id.toUpperCase(), await clientToken())).status).toBe(200);
        });
      });

      describe('when the bearer token belongs to another application', () => {
        it('responds 403 insufficient_scope and changes nothing', async () => {
          const res = await rotate(testApp.id, await clientToken(otherApp));
          expectErrorsBody(res, 403, 'insufficient_scope');
          expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="insufficient_scope"');
          expect((await clientCredentials(testApp.clientId, testApp.clientSecret)).status).toBe(200);
        });

        it('responds 403 insufficient_scope for a password-grant user token', async () => {
          expectErrorsBody(await rotate(testApp.id, (await login()).access_token), 403, 'insufficient_scope');
        });
      });

      describe('when the application does not exist', () => {
        it.each([
          ['an unknown UUID', randomUUID()],
          ['a non-UUID id', 'not-a-uuid'],
        ])('responds 404 not_found for %s', async (_what, id) => {
          expectErrorsBody(await rotate(id, await clientToken()), 404, 'not_found', 'Resource not found');
        });
      });

      describe('when application_id is missing or of another JSON type', () => {
        it.each([
          ['missing', undefined],
          ['an array', [randomUUID()]],
          ['an object', { $ne: null }],
          ['a number', 1],
        ])('responds 400 invalid_request when application_id is %s', async (_what, id) => {
          const token = await clientToken();
          const body = id === undefined ? {} : { application_id: id };
          expectErrorsBody(await post(ROTATE, body, token), 400, 'invalid_request');
        });
      });

      describe('when the bearer token is missing, expired or invalid', () => {
        it('responds 401 missing_token without a token', async () => {
          const res = await rotate(testApp.id);
          expectErrorsBody(res, 401, 'missing_token', 'Access token missing');
          expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
        });

        it('responds 401 expired_token for an expired token', async () => {
          const token = await clientToken();
          clock.advance(3600);
          expectErrorsBody(await rotate(testApp.id, token), 401, 'expired_token', 'Access token expired');
        });

        it('responds 401 invalid_token for garbage', async () => {
          expectErrorsBody(await rotate(testApp.id, 'garbage'), 401, 'invalid_token');
        });

        it('leaves the credentials unchanged', async () => {
          await rotate(testApp.id, 'garbage');
          expect((await clientCredentials(testApp.clientId, testApp.clientSecret)).status).toBe(200);
        });
      });

      describe('when the method is not POST', () => {
        it.each(['get', 'put', 'delete'] as const)(
          'responds 405 method_not_allowed to %s',
          async (method) => {
            const res = await request(app)[method](ROTATE);
            expectErrorsBody(res, 405, 'method_not_allowed');
            expect(res.headers.allow).toBe('POST');
          },
        );
      });
    });
  });
});
