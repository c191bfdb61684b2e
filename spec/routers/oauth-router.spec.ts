import { PRIVATE_KEY_JWT_ALGORITHMS } from '../../lib/core/client-auth-method';
import express, { type Express } from 'express';
import request, { type Response as TestResponse, type Test } from 'supertest';
import { createOAuthRouter, type OAuthRouterOptions } from '../../lib/routers/oauth-router';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import {
  createClock,
  makeKit,
  describeOnStore,
  storeFactories,
  TEST_ISSUER,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { mountProbe, oauthRouterApp } from '../helpers/apps';
import { expectErrorsBody, expectNoStore, expectOAuthErrorBody, paddedJson } from '../helpers/http';
import {
  basic,
  basicOf,
  decodeJwt,
  failingStore,
  form,
  seedClients,
  USER,
  verifyUser,
  type TestClient,
  type TestClients,
} from '../helpers/oauth';

/** Router D at the root, and a requireToken probe. */
function buildApp(kit: TokenKit, options: Partial<OAuthRouterOptions> = {}): Express {
  return mountProbe(oauthRouterApp(kit, options), requireToken({ kit }), (auth) => ({
    sub: auth.subject,
    clientId: auth.clientId,
    scopes: auth.scopes,
  }));
}

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
}

describe('createOAuthRouter', () => {
  describeOnStore('memory')('when given bad options', () => {
    it.each([
      ['no kit', {}, TypeError],
      ['a bad errorFormat', { errorFormat: 'xml' }, TypeError],
      ['a negative jwksMaxAge', { jwksMaxAge: -1 }, RangeError],
      ['a fractional jwksMaxAge', { jwksMaxAge: 1.5 }, RangeError],
      ['a relative baseUrl', { baseUrl: '/auth' }, TypeError],
      ['a baseUrl with a query', { baseUrl: 'https://a.test/?x=1' }, TypeError],
      ['a realm with a quote', { realm: 'a"b' }, TypeError],
    ])('throws at factory time for %s', async (_case, extra, type) => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      const options = { ...(_case === 'no kit' ? {} : { kit }), ...extra } as unknown as OAuthRouterOptions;
      expect(() => createOAuthRouter(options)).toThrow(type);
    });
  });

  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let kit: TokenKit;
    let clients: TestClients;
    let fail: (on: boolean, methods?: Parameters<ReturnType<typeof failingStore>['fail']>[1]) => void;
    let app: Express;

    beforeAll(async () => {
      stores = await factory('oauth-router');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      clock = createClock();
      const failing = failingStore((await stores.create(clock.now)).store);
      fail = failing.fail;
      ({ kit } = await makeKit({ store: failing.store, now: clock, verifyUser }));
      clients = await seedClients(kit);
      app = buildApp(kit);
    });

    /** POST to `path` with a form (string) or JSON (object) body and an optional Authorization. */
    function post(path: string, body: string | object, authorization?: string): Test {
      let req = request(app).post(path);
      if (authorization !== undefined) req = req.set('Authorization', authorization);
      return typeof body === 'string' ? req.type('form').send(body) : req.send(body);
    }
    const token = (body: string | object, authorization?: string): Test =>
      post('/oauth/token', body, authorization);

    async function passwordGrant(client: TestClient = clients.full, scope?: string): Promise<TokenBody> {
      const res = await token(
        form({
          grant_type: 'password',
          username: USER.username,
          password: USER.password,
          ...(scope ? { scope } : {}),
        }),
        basicOf(client),
      );
      expect(res.status).toBe(200);
      return res.body as TokenBody;
    }

    async function clientCredentials(client: TestClient = clients.full): Promise<TokenBody> {
      const res = await token(form({ grant_type: 'client_credentials' }), basicOf(client));
      expect(res.status).toBe(200);
      return res.body as TokenBody;
    }

    const probe = (accessToken: string): Test =>
      request(app).get('/probe').set('Authorization', `Bearer ${accessToken}`);
    const introspect = (value: string, client: TestClient = clients.full): Test =>
      post('/oauth/introspect', form({ token: value }), basicOf(client));
    const revoke = (value: string, client: TestClient = clients.full): Test =>
      post('/oauth/revoke', form({ token: value }), basicOf(client));

    describe('POST /oauth/token', () => {
      describe('with grant_type=client_credentials', () => {
        it('issues an RFC 6749 §5.1 response without a refresh token to a client using client_secret_basic', async () => {
          const res = await token(form({ grant_type: 'client_credentials' }), basicOf(clients.full));
          expect(res.status).toBe(200);
          expect(res.body).toEqual({
            access_token: expect.any(String),
            token_type: 'Bearer',
            expires_in: 3600,
          });
          expect(res.headers['content-type']).toMatch(/^application\/json; charset=utf-8/i);
          expectNoStore(res);
          const { header, payload } = decodeJwt((res.body as TokenBody).access_token);
          expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
          expect(payload).toMatchObject({
            iss: TEST_ISSUER,
            sub: clients.full.clientId,
            client_id: clients.full.clientId,
          });
          const me = await probe((res.body as TokenBody).access_token);
          expect(me.body).toEqual({
            sub: clients.full.clientId,
            clientId: clients.full.clientId,
            scopes: [],
          });
        });

        it('accepts client_secret_post in a form body', async () => {
          const res = await token(
            form({
              grant_type: 'client_credentials',
              client_id: clients.full.clientId,
              client_secret: clients.full.clientSecret,
            }),
          );
          expect(res.status).toBe(200);
          expect(res.body).not.toHaveProperty('refresh_token');
        });

        it('accepts a JSON body', async () => {
          const res = await token({
            grant_type: 'client_credentials',
            client_id: clients.full.clientId,
            client_secret: clients.full.clientSecret,
            scope: 'read',
          });
          expect(res.status).toBe(200);
          expect(res.body).toEqual({
            access_token: expect.any(String),
            token_type: 'Bearer',
            expires_in: 3600,
            scope: 'read',
          });
        });

        it('form-decodes the Basic id and secret (RFC 6749 §2.3.1)', async () => {
          const res = await token(form({ grant_type: 'client_credentials' }), basicOf(clients.odd));
          expect(res.status).toBe(200);
          expect(decodeJwt((res.body as TokenBody).access_token).payload.client_id).toBe('odd:client id+1');
        });

        it('narrows the scope and answers 400 invalid_scope for a scope outside the client’s set', async () => {
          const narrowed = await token(
            form({ grant_type: 'client_credentials', scope: 'write' }),
            basicOf(clients.full),
          );
          expect(narrowed.body).toMatchObject({ scope: 'write' });
          expect(decodeJwt((narrowed.body as TokenBody).access_token).payload.scope).toBe('write');
          const res = await token(
            form({ grant_type: 'client_credentials', scope: 'read admin' }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(res, 400, 'invalid_scope');
        });

        it('answers 400 unauthorized_client to a client without the grant', async () => {
          const res = await token(form({ grant_type: 'client_credentials' }), basicOf(clients.userOnly));
          expectOAuthErrorBody(res, 400, 'unauthorized_client');
        });

        it('keeps ignored parameters out of the token', async () => {
          const res = await token(
            form({
              grant_type: 'client_credentials',
              aud: 'https://evil.test',
              exp: '99999999999',
              sub: 'root',
            }),
            basicOf(clients.full),
          );
          expect(res.status).toBe(200);
          const { payload } = decodeJwt((res.body as TokenBody).access_token);
          expect(payload).toMatchObject({ aud: TEST_ISSUER, sub: clients.full.clientId });
          expect(payload.exp).toBe(clock.seconds() + 3600);
        });
      });

      describe('with grant_type=password', () => {
        it('issues access and refresh tokens to a client allowed to use the grant', async () => {
          const body = await passwordGrant(clients.full, 'read');
          expect(body).toEqual({
            access_token: expect.any(String),
            token_type: 'Bearer',
            expires_in: 3600,
            scope: 'read',
            refresh_token: expect.stringMatching(/^etk_rt_/),
          });
          expect((await probe(body.access_token)).body).toEqual({
            sub: USER.sub,
            clientId: clients.full.clientId,
            scopes: ['read'],
          });
        });

        it('answers 400 unauthorized_client to a client without the grant', async () => {
          const res = await token(
            form({ grant_type: 'password', username: USER.username, password: USER.password }),
            basicOf(clients.ccOnly),
          );
          expectOAuthErrorBody(res, 400, 'unauthorized_client');
        });

        it('answers 400 invalid_grant for a wrong password and for an unknown user, identically', async () => {
          const wrong = await token(
            form({ grant_type: 'password', username: USER.username, password: 'nope' }),
            basicOf(clients.full),
          );
          const unknown = await token(
            form({ grant_type: 'password', username: 'mallory', password: 'x' }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(wrong, 400, 'invalid_grant');
          expect(unknown.status).toBe(400);
          expect(unknown.body).toEqual(wrong.body);
        });

        it('answers 400 invalid_request without a username or password', async () => {
          expectOAuthErrorBody(
            await token(form({ grant_type: 'password', username: USER.username }), basicOf(clients.full)),
            400,
            'invalid_request',
          );
          expectOAuthErrorBody(
            await token(form({ grant_type: 'password', password: USER.password }), basicOf(clients.full)),
            400,
            'invalid_request',
          );
        });

        it('answers 401 invalid_client before checking the user', async () => {
          const res = await token(
            form({ grant_type: 'password', username: USER.username, password: USER.password }),
            basic(clients.full.clientId, 'wrong'),
          );
          expectOAuthErrorBody(res, 401, 'invalid_client');
        });

        it('answers 400 unsupported_grant_type when the kit has no user verifier', async () => {
          const { kit: bare } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock });
          const bareClients = await seedClients(bare);
          const res = await request(buildApp(bare))
            .post('/oauth/token')
            .set('Authorization', basicOf(bareClients.full))
            .type('form')
            .send(form({ grant_type: 'password', username: USER.username, password: USER.password }));
          expectOAuthErrorBody(res, 400, 'unsupported_grant_type');
        });
      });

      describe('with grant_type=refresh_token', () => {
        const refresh = (
          rt: string,
          client: TestClient = clients.full,
          extra: Record<string, string> = {},
        ): Test => token(form({ grant_type: 'refresh_token', refresh_token: rt, ...extra }), basicOf(client));

        it('rotates the refresh token and issues a new access token of the same family', async () => {
          const first = await passwordGrant(clients.full, 'read write');
          const res = await refresh(first.refresh_token!);
          expect(res.status).toBe(200);
          const second = res.body as TokenBody;
          expect(second).toEqual({
            access_token: expect.any(String),
            token_type: 'Bearer',
            expires_in: 3600,
            scope: 'read write',
            refresh_token: expect.stringMatching(/^etk_rt_/),
          });
          expect(second.refresh_token).not.toBe(first.refresh_token);
          expect((await probe(second.access_token)).status).toBe(200);
        });

        it('narrows the scope of the new access token and refuses to widen it', async () => {
          const first = await passwordGrant(clients.full, 'read');
          expectOAuthErrorBody(
            await refresh(first.refresh_token!, clients.full, { scope: 'read write' }),
            400,
            'invalid_scope',
          );
          const first2 = await passwordGrant(clients.full, 'read write');
          const res = await refresh(first2.refresh_token!, clients.full, { scope: 'write' });
          expect(res.body).toMatchObject({ scope: 'write' });
        });

        it('answers 400 invalid_grant to a replayed refresh token and revokes the whole family', async () => {
          const first = await passwordGrant();
          const second = (await refresh(first.refresh_token!)).body as TokenBody;
          expect((await probe(second.access_token)).status).toBe(200);

          expectOAuthErrorBody(await refresh(first.refresh_token!), 400, 'invalid_grant');

          expectOAuthErrorBody(await refresh(second.refresh_token!), 400, 'invalid_grant');
          expectErrorsBody(await probe(second.access_token), 401, 'invalid_token');
          expectErrorsBody(await probe(first.access_token), 401, 'invalid_token');
        });

        it('answers 400 invalid_grant to another client and does not consume the token', async () => {
          const first = await passwordGrant();
          expectOAuthErrorBody(await refresh(first.refresh_token!, clients.other), 400, 'invalid_grant');
          expect((await probe(first.access_token)).status).toBe(200);
          const res = await refresh(first.refresh_token!);
          expect(res.status).toBe(200);
        });

        it('answers 400 unauthorized_client to a client without the refresh_token grant', async () => {
          const noRefresh = await kit.credentials.createApplication({
            name: 'NoRefresh',
            grantTypes: ['password'],
          });
          const first = await passwordGrant({ ...noRefresh, grantTypes: noRefresh.grantTypes });
          const res = await token(
            form({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }),
            basic(noRefresh.clientId, noRefresh.clientSecret),
          );
          expectOAuthErrorBody(res, 400, 'unauthorized_client');
        });

        it('answers 400 invalid_request without a refresh_token and invalid_grant for garbage', async () => {
          expectOAuthErrorBody(
            await token(form({ grant_type: 'refresh_token' }), basicOf(clients.full)),
            400,
            'invalid_request',
          );
          expectOAuthErrorBody(await refresh('etk_rt_garbage'), 400, 'invalid_grant');
          const access = await clientCredentials();
          expectOAuthErrorBody(await refresh(access.access_token), 400, 'invalid_grant');
        });
      });

      describe('when the grant_type is missing or unknown', () => {
        it('answers 400 invalid_request without grant_type', async () => {
          expectOAuthErrorBody(await token(form({}), basicOf(clients.full)), 400, 'invalid_request');
        });

        it.each(['foo', 'urn:x', 'authorization_code', 'implicit'])(
          'answers 400 unsupported_grant_type for %s',
          async (grantType) => {
            expectOAuthErrorBody(
              await token(form({ grant_type: grantType }), basicOf(clients.full)),
              400,
              'unsupported_grant_type',
            );
          },
        );

        it('never echoes the grant_type', async () => {
          const res = await token(
            form({ grant_type: '<script>alert(1)</script>\r\nX: y' }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(res, 400, 'unsupported_grant_type');
          expect(res.text).not.toMatch(/<script|alert|\r|X: y/);
        });
      });

      describe('when client authentication fails', () => {
        it('answers 401 invalid_client with a Basic challenge when Basic was used', async () => {
          const res = await token(
            form({ grant_type: 'client_credentials' }),
            basic(clients.full.clientId, 'wrong'),
          );
          expectOAuthErrorBody(res, 401, 'invalid_client');
          expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
        });

        it('answers 401 invalid_client without a challenge for client_secret_post', async () => {
          const res = await token(
            form({
              grant_type: 'client_credentials',
              client_id: clients.full.clientId,
              client_secret: 'wrong',
            }),
          );
          expectOAuthErrorBody(res, 401, 'invalid_client');
          expect(res.headers['www-authenticate']).toBeUndefined();
        });

        it('answers an unknown client and a wrong secret identically', async () => {
          const wrong = await token(
            form({ grant_type: 'client_credentials' }),
            basic(clients.full.clientId, 'wrong'),
          );
          const unknown = await token(
            form({ grant_type: 'client_credentials' }),
            basic('no-such-client', 'wrong'),
          );
          expect({
            status: unknown.status,
            body: unknown.body as unknown,
            challenge: unknown.headers['www-authenticate'],
          }).toEqual({
            status: wrong.status,
            body: wrong.body as unknown,
            challenge: wrong.headers['www-authenticate'],
          });
        });

        it.each([
          ['no credentials at all', {}],
          ['a client_id without a secret', { client_id: 'x' }],
          ['an empty secret', { client_id: 'x', client_secret: '' }],
        ])('answers 401 invalid_client for %s', async (_case, params) => {
          expectOAuthErrorBody(
            await token(form({ grant_type: 'client_credentials', ...params })),
            401,
            'invalid_client',
          );
        });

        it('answers 401 invalid_client for secrets of 1, 1000 and 10000 characters', async () => {
          for (const length of [1, 1000, 10_000]) {
            const res = await token(
              form({ grant_type: 'client_credentials' }),
              basic(clients.full.clientId, 'x'.repeat(length)),
            );
            expectOAuthErrorBody(res, 401, 'invalid_client');
          }
        });
      });

      describe('when the request is hostile or malformed', () => {
        it.each([
          ['grant_type twice', 'grant_type=password&grant_type=client_credentials'],
          ['client_id twice', 'grant_type=client_credentials&client_id=a&client_id=b&client_secret=s'],
          ['scope twice', 'grant_type=client_credentials&scope=read&scope=read'],
        ])('answers 400 invalid_request to %s', async (_case, body) => {
          expectOAuthErrorBody(await token(body, basicOf(clients.full)), 400, 'invalid_request');
        });

        it('answers 400 invalid_request to a repeated parameter even with good credentials in the body', async () => {
          const body = `${form({ client_id: clients.full.clientId, client_secret: clients.full.clientSecret })}&grant_type=client_credentials&grant_type=client_credentials`;
          expectOAuthErrorBody(await token(body), 400, 'invalid_request');
        });

        it('answers 400 invalid_request to Basic plus client_secret in the body', async () => {
          const res = await token(
            form({
              grant_type: 'client_credentials',
              client_id: clients.full.clientId,
              client_secret: clients.full.clientSecret,
            }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it('answers 400 invalid_request to a body client_id that differs from the Basic one', async () => {
          const res = await token(
            form({ grant_type: 'client_credentials', client_id: clients.other.clientId }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it('accepts a body client_id equal to the Basic one', async () => {
          const res = await token(
            form({ grant_type: 'client_credentials', client_id: clients.full.clientId }),
            basicOf(clients.full),
          );
          expect(res.status).toBe(200);
        });

        it.each([
          ['Basic with nothing after it', 'Basic'],
          ['Basic with a space only', 'Basic '],
          ['non-base64 characters', 'Basic !!!!****'],
          ['base64 without a colon', `Basic ${Buffer.from('just-an-id').toString('base64')}`],
          ['bad percent-encoding', `Basic ${Buffer.from('id%zz:secret').toString('base64')}`],
          ['bytes that are not UTF-8', `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString('base64')}`],
          ['two tokens after Basic', 'Basic YTpi YTpi'],
          ['another scheme', 'Bearer abc'],
        ])('answers 400 invalid_request to %s, never 500', async (_case, header) => {
          expectOAuthErrorBody(
            await token(form({ grant_type: 'client_credentials' }), header),
            400,
            'invalid_request',
          );
        });

        it('answers 401 invalid_client to Basic with an empty secret', async () => {
          const res = await token(
            form({ grant_type: 'client_credentials' }),
            `Basic ${Buffer.from(`${clients.full.clientId}:`).toString('base64')}`,
          );
          expectOAuthErrorBody(res, 401, 'invalid_client');
          expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
        });

        it('answers 400 invalid_request to two Authorization headers', async () => {
          const res = await request(app)
            .post('/oauth/token')
            .set('Authorization', [basicOf(clients.full), basicOf(clients.other)] as unknown as string)
            .type('form')
            .send(form({ grant_type: 'client_credentials' }));
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it.each(['client_secret', 'password', 'grant_type', 'client_id'])(
          'answers 400 invalid_request to %s in the query string',
          async (name) => {
            const res = await request(app)
              .post(`/oauth/token?${name}=x`)
              .set('Authorization', basicOf(clients.full))
              .type('form')
              .send(form({ grant_type: 'client_credentials' }));
            expectOAuthErrorBody(res, 400, 'invalid_request');
          },
        );

        const confusion: [string, unknown][] = [
          ['an array', ['a']],
          ['an object', { $ne: null }],
          ['a number', 1],
          ['a boolean', true],
        ];
        describe.each([
          'client_id',
          'client_secret',
          'grant_type',
          'scope',
          'username',
          'password',
          'refresh_token',
        ])('when %s has another JSON type', (field) => {
          it.each(confusion)('answers 400 invalid_request to %s', async (_case, value) => {
            const body = {
              grant_type:
                field === 'refresh_token'
                  ? 'refresh_token'
                  : field === 'username' || field === 'password'
                    ? 'password'
                    : 'client_credentials',
              client_id: clients.full.clientId,
              client_secret: clients.full.clientSecret,
              username: USER.username,
              password: USER.password,
              refresh_token: 'etk_rt_x',
              [field]: value,
            };
            expectOAuthErrorBody(await token(body), 400, 'invalid_request');
          });
        });

        it('ignores a JSON __proto__ member and pollutes nothing', async () => {
          const raw = `{"__proto__":{"grant_type":"client_credentials","isAdmin":true,"scope":"admin"},"client_id":${JSON.stringify(clients.full.clientId)},"client_secret":${JSON.stringify(clients.full.clientSecret)}}`;
          const res = await request(app).post('/oauth/token').type('json').send(raw);
          expectOAuthErrorBody(res, 400, 'invalid_request');
          expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
          const ok = await request(app)
            .post('/oauth/token')
            .type('json')
            .send(raw.replace('{"__proto__"', '{"grant_type":"client_credentials","__proto__"'));
          expect(ok.status).toBe(200);
          expect(ok.body).not.toHaveProperty('scope');
          expect(decodeJwt((ok.body as TokenBody).access_token).payload).not.toHaveProperty('isAdmin');
          expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        });

        it('ignores constructor.prototype in JSON and __proto__ keys in a form', async () => {
          const json = await token({
            grant_type: 'client_credentials',
            client_id: clients.full.clientId,
            client_secret: clients.full.clientSecret,
            constructor: { prototype: { isAdmin: true } },
          });
          expect(json.status).toBe(200);
          const formRes = await token(
            `grant_type=client_credentials&__proto__[isAdmin]=1&__proto__=x&constructor[prototype][isAdmin]=1`,
            basicOf(clients.full),
          );
          expect(formRes.status).toBe(200);
          expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('isAdmin');
        });

        it.each([
          ['text/plain', 'grant_type=client_credentials'],
          [
            'multipart/form-data; boundary=x',
            '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--x--',
          ],
          ['application/xml', '<grant_type>client_credentials</grant_type>'],
          ['application/x-www-form-urlencoded; charset=x-unknown', 'grant_type=client_credentials'],
        ])('answers 400 invalid_request to a %s body', async (type, body) => {
          const res = await request(app)
            .post('/oauth/token')
            .set('Authorization', basicOf(clients.full))
            .set('Content-Type', type)
            .send(body);
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it('answers 400 invalid_request to a request without a body', async () => {
          const res = await request(app).post('/oauth/token').set('Authorization', basicOf(clients.full));
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it.each([
          ['a top-level array', '[{"grant_type":"client_credentials"}]'],
          ['a top-level string', '"client_credentials"'],
          ['a top-level number', '1'],
          ['malformed JSON', '{"grant_type":'],
        ])('answers 400 invalid_request to %s', async (_case, raw) => {
          const res = await request(app)
            .post('/oauth/token')
            .set('Authorization', basicOf(clients.full))
            .type('json')
            .send(raw);
          expectOAuthErrorBody(res, 400, 'invalid_request');
        });

        it('answers 413 payload_too_large to 200 KB bodies, JSON or form', async () => {
          const json = await request(app)
            .post('/oauth/token')
            .type('json')
            .send(paddedJson(200, { grant_type: 'client_credentials' }));
          expectOAuthErrorBody(json, 413, 'payload_too_large');
          const big = await token(
            `grant_type=client_credentials&padding=${'x'.repeat(200 * 1024)}`,
            basicOf(clients.full),
          );
          expectOAuthErrorBody(big, 413, 'payload_too_large');
        });

        it.each(['GET', 'PUT', 'DELETE', 'PATCH'] as const)(
          'answers 405 to %s with Allow: POST',
          async (method) => {
            const res =
              await request(app)[method.toLowerCase() as 'get' | 'put' | 'delete' | 'patch']('/oauth/token');
            expectOAuthErrorBody(res, 405, 'method_not_allowed');
            expect(res.headers.allow).toBe('POST');
          },
        );

        it('answers 503 service_unavailable with Retry-After when the store fails, and mints nothing', async () => {
          fail(true);
          const res = await token(form({ grant_type: 'client_credentials' }), basicOf(clients.full));
          expectOAuthErrorBody(res, 503, 'service_unavailable');
          expect(res.headers['retry-after']).toMatch(/^\d+$/);
          fail(false);
          const first = await passwordGrant();
          fail(true, ['rotateRefreshToken']);
          const refreshRes = await token(
            form({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }),
            basicOf(clients.full),
          );
          expectOAuthErrorBody(refreshRes, 503, 'service_unavailable');
          fail(false);
        });
      });
    });

    describe('POST /oauth/revoke', () => {
      /** RFC 7009 §2.2's 200, as a JSON `{}` that JSON-parsing clients can read. */
      function expectRevokedAnswer(res: TestResponse): void {
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(res.text).toBe('{}');
        expectNoStore(res);
      }

      it('answers 200 application/json {} for known, unknown, foreign and already revoked tokens', async () => {
        const own = await passwordGrant(clients.full);
        const foreign = await passwordGrant(clients.full);
        const { access_token: foreignAt } = await clientCredentials(clients.full);
        const cases: readonly (readonly [string, string, TestClient])[] = [
          ['a known access token', own.access_token, clients.full],
          ['a known refresh token', own.refresh_token!, clients.full],
          ['the same access token again', own.access_token, clients.full],
          ['another client’s access token', foreignAt, clients.other],
          ['another client’s refresh token', foreign.refresh_token!, clients.other],
          ['an unknown refresh token', `etk_rt_${'A'.repeat(60)}`, clients.full],
          ['garbage', 'not-a-token', clients.full],
        ];
        for (const [what, value, client] of cases) {
          const res = await revoke(value, client);
          expect({ what, status: res.status }).toEqual({ what, status: 200 });
          expectRevokedAnswer(res);
        }
      });

      it('revokes an access token at once: requireToken rejects it and introspection says inactive', async () => {
        const { access_token: at } = await clientCredentials();
        expect((await probe(at)).status).toBe(200);
        const res = await revoke(at);
        expectRevokedAnswer(res);
        expectErrorsBody(await probe(at), 401, 'invalid_token');
        expect((await introspect(at)).body).toEqual({ active: false });
      });

      it('revokes a refresh token and the access tokens of its family', async () => {
        const first = await passwordGrant();
        expect(
          (
            await post(
              '/oauth/revoke',
              form({ token: first.refresh_token!, token_type_hint: 'refresh_token' }),
              basicOf(clients.full),
            )
          ).status,
        ).toBe(200);
        const res = await token(
          form({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }),
          basicOf(clients.full),
        );
        expectOAuthErrorBody(res, 400, 'invalid_grant');
        expectErrorsBody(await probe(first.access_token), 401, 'invalid_token');
        expect((await introspect(first.refresh_token!)).body).toEqual({ active: false });
      });

      it('leaves another client’s token alone and still answers 200', async () => {
        const { access_token: at } = await clientCredentials(clients.full);
        const other = await passwordGrant(clients.full);
        expect((await revoke(at, clients.other)).status).toBe(200);
        expect((await revoke(other.refresh_token!, clients.other)).status).toBe(200);
        expect((await probe(at)).status).toBe(200);
        expect((await introspect(at)).body).toMatchObject({ active: true });
        expect(
          (
            await token(
              form({ grant_type: 'refresh_token', refresh_token: other.refresh_token! }),
              basicOf(clients.full),
            )
          ).status,
        ).toBe(200);
      });

      it.each([
        ['garbage', 'not-a-token'],
        ['an unknown refresh token', `etk_rt_${'A'.repeat(60)}`],
        ['a JWT signed by nobody', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
      ])('answers 200 to %s', async (_case, value) => {
        const res = await revoke(value);
        expect(res.status).toBe(200);
      });

      it('answers 200 to a token revoked twice', async () => {
        const { access_token: at } = await clientCredentials();
        expect((await revoke(at)).status).toBe(200);
        expect((await revoke(at)).status).toBe(200);
      });

      it('answers 400 invalid_request without a token', async () => {
        expectOAuthErrorBody(
          await post('/oauth/revoke', form({ token_type_hint: 'access_token' }), basicOf(clients.full)),
          400,
          'invalid_request',
        );
      });

      it('answers 400 unsupported_token_type to an unknown token_type_hint', async () => {
        const { access_token: at } = await clientCredentials();
        const res = await post(
          '/oauth/revoke',
          form({ token: at, token_type_hint: 'id_token' }),
          basicOf(clients.full),
        );
        expectOAuthErrorBody(res, 400, 'unsupported_token_type');
        expect((await probe(at)).status).toBe(200);
        const ok = await post(
          '/oauth/revoke',
          form({ token: at, token_type_hint: 'access_token' }),
          basicOf(clients.full),
        );
        expect(ok.status).toBe(200);
      });

      it('answers 401 invalid_client with a Basic challenge to a bad client, and revokes nothing', async () => {
        const { access_token: at } = await clientCredentials();
        const res = await post('/oauth/revoke', form({ token: at }), basic(clients.full.clientId, 'wrong'));
        expectOAuthErrorBody(res, 401, 'invalid_client');
        expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
        expectOAuthErrorBody(await post('/oauth/revoke', form({ token: at })), 401, 'invalid_client');
        expect((await probe(at)).status).toBe(200);
      });

      it('accepts client_secret_post and JSON', async () => {
        const { access_token: at } = await clientCredentials();
        const res = await post('/oauth/revoke', {
          token: at,
          client_id: clients.full.clientId,
          client_secret: clients.full.clientSecret,
        });
        expect(res.status).toBe(200);
        expect((await probe(at)).status).toBe(401);
      });

      it('applies the same hostile-input rules as the token endpoint', async () => {
        expectOAuthErrorBody(
          await post('/oauth/revoke', 'token=a&token=b', basicOf(clients.full)),
          400,
          'invalid_request',
        );
        expectOAuthErrorBody(
          await post('/oauth/revoke', {
            token: ['a'],
            client_id: clients.full.clientId,
            client_secret: clients.full.clientSecret,
          }),
          400,
          'invalid_request',
        );
        expectOAuthErrorBody(
          await request(app)
            .post('/oauth/revoke')
            .set('Authorization', basicOf(clients.full))
            .set('Content-Type', 'text/plain')
            .send('token=a'),
          400,
          'invalid_request',
        );
      });

      it('answers 503 when the store fails, never 200', async () => {
        const { access_token: at } = await clientCredentials();
        fail(true, ['revokeJti', 'checkRevocation']);
        const res = await revoke(at);
        expectOAuthErrorBody(res, 503, 'service_unavailable');
        fail(false);
        expect((await probe(at)).status).toBe(200);
      });

      it('answers 405 to GET', async () => {
        const res = await request(app).get('/oauth/revoke');
        expectOAuthErrorBody(res, 405, 'method_not_allowed');
        expect(res.headers.allow).toBe('POST');
      });
    });

    describe('POST /oauth/introspect', () => {
      it('describes an active access token of the calling client', async () => {
        const { access_token: at } = await token(
          form({ grant_type: 'client_credentials', scope: 'read' }),
          basicOf(clients.full),
        ).then((r) => r.body as TokenBody);
        const { payload } = decodeJwt(at);
        const res = await introspect(at);
        expect(res.status).toBe(200);
        expectNoStore(res);
        expect(res.body).toEqual({
          active: true,
          scope: 'read',
          client_id: clients.full.clientId,
          sub: clients.full.clientId,
          exp: clock.seconds() + 3600,
          iat: clock.seconds(),
          iss: TEST_ISSUER,
          aud: TEST_ISSUER,
          jti: payload.jti,
          token_type: 'Bearer',
        });
      });

      it('describes an active refresh token', async () => {
        const { refresh_token: rt } = await passwordGrant(clients.full, 'write');
        const res = await introspect(rt!);
        expect(res.body).toEqual({
          active: true,
          scope: 'write',
          client_id: clients.full.clientId,
          sub: USER.sub,
          exp: expect.any(Number),
          iat: clock.seconds(),
          iss: TEST_ISSUER,
          token_type: 'refresh_token',
        });
        expect((res.body as { exp: number }).exp).toBeGreaterThan(clock.seconds());
      });

      it('answers exactly {active:false} for unknown, expired, revoked, rotated-out and foreign tokens', async () => {
        const { access_token: expired } = await clientCredentials();
        const { access_token: foreign } = await clientCredentials(clients.other);
        const { access_token: revoked } = await clientCredentials();
        await revoke(revoked);
        const first = await passwordGrant();
        await token(
          form({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }),
          basicOf(clients.full),
        );
        clock.advance(3601);
        for (const value of [
          'garbage',
          `etk_rt_${'A'.repeat(60)}`,
          expired,
          foreign,
          revoked,
          first.refresh_token!,
        ]) {
          const res = await introspect(value);
          expect({ value, status: res.status, body: res.body as unknown }).toEqual({
            value,
            status: 200,
            body: { active: false },
          });
          expectNoStore(res);
        }
      });

      it('answers 401 invalid_client to an unauthenticated caller', async () => {
        const { access_token: at } = await clientCredentials();
        expectOAuthErrorBody(await post('/oauth/introspect', form({ token: at })), 401, 'invalid_client');
        const res = await post('/oauth/introspect', form({ token: at }), basic('nobody', 'x'));
        expectOAuthErrorBody(res, 401, 'invalid_client');
        expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
      });

      it('answers 400 invalid_request without a token and unsupported_token_type to a bad hint', async () => {
        expectOAuthErrorBody(
          await post('/oauth/introspect', form({}), basicOf(clients.full)),
          400,
          'invalid_request',
        );
        expectOAuthErrorBody(
          await post(
            '/oauth/introspect',
            form({ token: 'x', token_type_hint: 'foo' }),
            basicOf(clients.full),
          ),
          400,
          'unsupported_token_type',
        );
      });

      it('answers 503 when the store fails', async () => {
        const { access_token: at } = await clientCredentials();
        fail(true, ['checkRevocation']);
        expectOAuthErrorBody(await introspect(at), 503, 'service_unavailable');
        fail(false);
      });

      it('answers 405 to GET', async () => {
        expectOAuthErrorBody(await request(app).get('/oauth/introspect'), 405, 'method_not_allowed');
      });
    });

    describe('GET /.well-known/jwks.json', () => {
      it('serves the public keys, cacheable for jwksMaxAge seconds', async () => {
        const res = await request(app).get('/.well-known/jwks.json');
        expect(res.status).toBe(200);
        expect(res.headers['cache-control']).toBe('public, max-age=300');
        expect(res.headers.pragma).toBeUndefined();
        expect(res.body).toEqual(kit.tokens.keys.jwks());
        for (const jwk of (res.body as { keys: Record<string, unknown>[] }).keys) {
          expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
        }
        const custom = await request(buildApp(kit, { jwksMaxAge: 60 })).get('/.well-known/jwks.json');
        expect(custom.headers['cache-control']).toBe('public, max-age=60');
      });

      it('answers 405 to POST', async () => {
        const res = await request(app).post('/.well-known/jwks.json');
        expectOAuthErrorBody(res, 405, 'method_not_allowed');
        expect(res.headers.allow).toBe('GET, HEAD');
      });
    });
  });

  describeOnStore('memory')('GET /.well-known/oauth-authorization-server', () => {
    let kit: TokenKit;
    beforeAll(async () => {
      ({ kit } = await makeKit({ store: new MemoryTokenStore(), verifyUser }));
    });

    it('publishes RFC 8414 metadata with absolute endpoints under the issuer', async () => {
      const res = await request(buildApp(kit)).get('/.well-known/oauth-authorization-server');
      expect(res.status).toBe(200);
      expectNoStore(res);
      expect(res.body).toEqual({
        issuer: TEST_ISSUER,
        token_endpoint: `${TEST_ISSUER}/oauth/token`,
        revocation_endpoint: `${TEST_ISSUER}/oauth/revoke`,
        introspection_endpoint: `${TEST_ISSUER}/oauth/introspect`,
        jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json`,
        grant_types_supported: [
          'client_credentials',
          'password',
          'refresh_token',
          'urn:ietf:params:oauth:grant-type:token-exchange',
        ],
        response_types_supported: [],
        // private_key_jwt: the memory store has a replay cache; client_secret_jwt needs a kek.
        token_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
        ],
        token_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGORITHMS,
        revocation_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
        ],
        revocation_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGORITHMS,
        introspection_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
        ],
        introspection_endpoint_auth_signing_alg_values_supported: PRIVATE_KEY_JWT_ALGORITHMS,
        dpop_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'],
      });
    });

    it('builds endpoints from baseUrl and leaves password out without a user verifier', async () => {
      const { kit: bare } = await makeKit({ store: new MemoryTokenStore() });
      const res = await request(buildApp(bare, { baseUrl: 'https://api.example.test/auth/' })).get(
        '/.well-known/oauth-authorization-server',
      );
      expect(res.body).toMatchObject({
        issuer: TEST_ISSUER,
        token_endpoint: 'https://api.example.test/auth/oauth/token',
        jwks_uri: 'https://api.example.test/auth/.well-known/jwks.json',
        grant_types_supported: [
          'client_credentials',
          'refresh_token',
          'urn:ietf:params:oauth:grant-type:token-exchange',
        ],
      });
    });

    it('answers 405 to POST', async () => {
      expectOAuthErrorBody(
        await request(buildApp(kit)).post('/.well-known/oauth-authorization-server'),
        405,
        'method_not_allowed',
      );
    });
  });

  describeOnStore('memory')('when mounted at the root of an app with other routes', () => {
    it('leaves the errors of other routes to the app', async () => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      const app = express();
      app.get('/before', (_req, _res, next) => next(new Error('boom')));
      app.use(createOAuthRouter({ kit }));
      app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        void _next;
        res.status(418).json({ handledBy: 'app' });
      });
      const res = await request(app).get('/before');
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 418,
        body: { handledBy: 'app' },
      });
      expectOAuthErrorBody(
        await request(app).post('/oauth/token/').type('json').send('[1]'),
        400,
        'invalid_request',
      );
    });
  });

  describeOnStore('memory')('when errorFormat is errors', () => {
    it('formats errors as {"errors":[…]}', async () => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      const res = await request(buildApp(kit, { errorFormat: 'errors' }))
        .post('/oauth/token')
        .type('form')
        .send('grant_type=foo');
      expectErrorsBody(res, 400, 'unsupported_grant_type');
    });
  });
});
