import type { Express } from 'express';
import request from 'supertest';
import type { ApiKeyRouterOptions } from '../../lib/routers/api-key-router';
import { requireToken } from '../../lib/middleware/require-token';
import { requireBinding } from '../../lib/middleware/guards';
import type { TokenKit } from '../../lib/core/token-kit';
import {
  makeCountedKit,
  storeFactories,
  type StoreCalls,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { apiKeyRouterApp, mountProbe } from '../helpers/apps';
import { expectCleanJson, expectErrorsBody, expectNoStore, paddedJson } from '../helpers/http';

const PATH = '/v1/auth/access-tokens';
const EMPLOYER = 'empr_SGVsbG8gV29ybGQ';
const EMPLOYEE = 'empl_4Kq9ZpX2';
const OTHER_EMPLOYER = 'empr_Other42';
const OTHER_EMPLOYEE = 'empl_Stranger7';
/** The demo's employer → employees relation. */
const EMPLOYEES: Readonly<Record<string, readonly string[]>> = { [EMPLOYER]: [EMPLOYEE] };
/** The entities keys may bind to, as the demo allows those of its seed file. */
const KNOWN_ENTITIES: ReadonlySet<string> = new Set([EMPLOYER, EMPLOYEE, OTHER_EMPLOYER, OTHER_EMPLOYEE]);

/** Router A at the demo mount, a requireToken probe and the demo's bound resources. */
function buildApp(kit: TokenKit, options: Partial<ApiKeyRouterOptions> = {}): Express {
  const app = apiKeyRouterApp(kit, {
    authorizeBinding: (_key, entity) => KNOWN_ENTITIES.has(entity.id),
    ...options,
  });
  const guard = requireToken({ kit });
  mountProbe(app, guard, (auth) => ({
    sub: auth.subject,
    boundEntity: auth.boundEntity,
    scopes: auth.scopes,
    claims: { ...auth.claims },
  }));
  app.get(
    '/v1/employers/:employerId',
    guard,
    requireBinding({ param: 'employerId', type: 'employer' }),
    (req, res) => {
      res.json({ id: req.params.employerId });
    },
  );
  app.get(
    '/v1/employees/:employeeId',
    guard,
    requireBinding({
      param: 'employeeId',
      type: 'employee',
      allowUnbound: true,
      employerOf: (employerId, employeeId) => EMPLOYEES[employerId]?.includes(employeeId) ?? false,
    }),
    (req, res) => {
      res.json({ id: req.params.employeeId });
    },
  );
  return app;
}

describe('createApiKeyRouter', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let kit: TokenKit;
    let calls: StoreCalls;
    let app: Express;
    let apiKey: string;
    let apiKeyId: string;

    beforeAll(async () => {
      stores = await factory('api-key-router');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      ({ kit, clock, calls } = await makeCountedKit(stores));
      const created = await kit.credentials.createApiKey({ name: 'Acme Platform' });
      apiKey = created.key;
      apiKeyId = created.id;
      app = buildApp(kit);
      calls.reset();
    });

    function issue(body: unknown, key: string | null = apiKey): request.Test {
      const req = request(app).post(PATH);
      if (key !== null) req.set('Authorization', `Bearer ${key}`);
      return typeof body === 'string'
        ? req.set('Content-Type', 'application/json').send(body)
        : req.send(body as object);
    }

    async function tokenFor(boundEntity?: unknown): Promise<string> {
      const res = await issue(
        boundEntity === undefined
          ? { grant_type: 'client_credentials' }
          : { grant_type: 'client_credentials', bound_entity: boundEntity },
      );
      expect(res.status).toBe(200);
      return (res.body as { access_token: string }).access_token;
    }

    describe('when the API key is valid and bound_entity is absent', () => {
      it('responds 200 with an unbound vit_at_ token for 900 seconds', async () => {
        const res = await issue({ grant_type: 'client_credentials' });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          access_token: expect.stringMatching(/^vit_at_[0-9A-Za-z]{49}$/),
          token_type: 'Bearer',
          expires_in: 900,
          bound_entity: null,
        });
        expectNoStore(res);
        expectCleanJson(res);
      });

      it('responds 200 with bound_entity null when bound_entity is null', async () => {
        const res = await issue({ grant_type: 'client_credentials', bound_entity: null });
        expect(res.status).toBe(200);
        expect((res.body as { bound_entity: unknown }).bound_entity).toBeNull();
      });

      it('issues a different token on every request', async () => {
        const first = await tokenFor();
        const second = await tokenFor();
        expect(second).not.toBe(first);
      });

      it('issues a token that requireToken accepts, with the API key as subject', async () => {
        const token = await tokenFor();
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ sub: apiKeyId, boundEntity: null, scopes: [] });
      });
    });

    describe('when bound_entity names an employer', () => {
      it('responds 200 echoing the binding', async () => {
        const res = await issue({
          grant_type: 'client_credentials',
          bound_entity: { id: EMPLOYER, type: 'employer' },
        });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          access_token: expect.stringMatching(/^vit_at_/),
          token_type: 'Bearer',
          expires_in: 900,
          bound_entity: { id: EMPLOYER, type: 'employer' },
        });
        expectNoStore(res);
      });

      it('issues a token that carries the binding on requireToken routes', async () => {
        const token = await tokenFor({ id: EMPLOYER, type: 'employer' });
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ boundEntity: { id: EMPLOYER, type: 'employer' } });
      });

      it.each([
        ['its own employer', `/v1/employers/${EMPLOYER}`, 200],
        ['one of its employees (per the resolver)', `/v1/employees/${EMPLOYEE}`, 200],
        ['another employer', `/v1/employers/${OTHER_EMPLOYER}`, 403],
        ['an employer whose id extends its own', `/v1/employers/${EMPLOYER}x`, 403],
        ['an employer whose id is its own in upper case', `/v1/employers/${EMPLOYER.toUpperCase()}`, 403],
        ['an employee of another employer', `/v1/employees/${OTHER_EMPLOYEE}`, 403],
      ])('answers %s with %i', async (_what, path, status) => {
        const token = await tokenFor({ id: EMPLOYER, type: 'employer' });
        const res = await request(app).get(path).set('Authorization', `Bearer ${token}`);
        if (status === 200) {
          expect(res.status).toBe(200);
        } else {
          expectErrorsBody(res, 403, 'insufficient_scope');
          expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="insufficient_scope"');
        }
      });
    });

    describe('when bound_entity names an employee', () => {
      it('responds 200 echoing the binding', async () => {
        const res = await issue({
          grant_type: 'client_credentials',
          bound_entity: { id: EMPLOYEE, type: 'employee' },
        });
        expect(res.status).toBe(200);
        expect((res.body as { bound_entity: unknown }).bound_entity).toEqual({
          id: EMPLOYEE,
          type: 'employee',
        });
      });

      it.each([
        ['itself', `/v1/employees/${EMPLOYEE}`, 200],
        ['another employee', `/v1/employees/${OTHER_EMPLOYEE}`, 403],
        ['an employee whose id extends its own', `/v1/employees/${EMPLOYEE}2`, 403],
        ['its own employer', `/v1/employers/${EMPLOYER}`, 403],
        ['another employer', `/v1/employers/${OTHER_EMPLOYER}`, 403],
      ])('answers %s with %i', async (_what, path, status) => {
        const token = await tokenFor({ id: EMPLOYEE, type: 'employee' });
        const res = await request(app).get(path).set('Authorization', `Bearer ${token}`);
        if (status === 200) expect(res.status).toBe(200);
        else expectErrorsBody(res, 403, 'insufficient_scope');
      });
    });

    describe('when the token is unbound', () => {
      it('responds 403 insufficient_scope on an employer route (deny by default)', async () => {
        const token = await tokenFor();
        expectErrorsBody(
          await request(app).get(`/v1/employers/${EMPLOYER}`).set('Authorization', `Bearer ${token}`),
          403,
          'insufficient_scope',
        );
      });

      it('responds 200 on an employee route that opts in with allowUnbound', async () => {
        const token = await tokenFor();
        const res = await request(app)
          .get(`/v1/employees/${EMPLOYEE}`)
          .set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(200);
      });
    });

    describe('when the token is past its lifetime', () => {
      it('is still accepted one second before expiry', async () => {
        const token = await tokenFor();
        clock.advance(899);
        expect((await request(app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      });

      it('responds 401 expired_token with the expired_token body once 900 seconds have passed', async () => {
        const token = await tokenFor();
        clock.advance(900);
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        expectErrorsBody(res, 401, 'expired_token', 'Access token expired');
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="api", error="invalid_token", error_description="Access token expired"',
        );
      });
    });

    describe('when the router is configured with another prefix and lifetime', () => {
      it('responds 200 with that prefix and expires_in, and requireToken accepts the token', async () => {
        const custom = buildApp(kit, { tokenPrefix: 'acme_at_', ttl: 60 });
        const res = await request(custom)
          .post(PATH)
          .set('Authorization', `Bearer ${apiKey}`)
          .send({ grant_type: 'client_credentials' });
        expect(res.status).toBe(200);
        const body = res.body as { access_token: string; expires_in: number };
        expect(body.access_token).toMatch(/^acme_at_/);
        expect(body.expires_in).toBe(60);
        const probe = await request(custom).get('/probe').set('Authorization', `Bearer ${body.access_token}`);
        expect(probe.status).toBe(200);
      });
    });

    describe('when the API key is missing, unknown or revoked', () => {
      it.each([
        ['no Authorization header', null],
        ['a Basic scheme', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'],
        ['a Bearer scheme without a key', 'Bearer'],
        ['a Bearer value with characters outside b64token', 'Bearer k"e,y'],
        ['an unknown well-formed key', 'Bearer etk_ak_0000000000000000000000000000000000000000000000000'],
        ['garbage', 'Bearer not-a-key'],
      ])('responds 401 invalid_api_key for %s', async (_what, header) => {
        const req = request(app).post(PATH);
        if (header !== null) req.set('Authorization', header);
        expectErrorsBody(await req.send({ grant_type: 'client_credentials' }), 401, 'invalid_api_key');
      });

      it('responds 401 invalid_api_key for the key with one character changed', async () => {
        const tampered = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');
        expectErrorsBody(await issue({ grant_type: 'client_credentials' }, tampered), 401, 'invalid_api_key');
      });

      it('responds 401 invalid_api_key for a revoked key, and its tokens stop working', async () => {
        const token = await tokenFor();
        await kit.credentials.revokeApiKey(apiKeyId);
        expectErrorsBody(await issue({ grant_type: 'client_credentials' }), 401, 'invalid_api_key');
        expectErrorsBody(
          await request(app).get('/probe').set('Authorization', `Bearer ${token}`),
          401,
          'invalid_token',
        );
      });

      it('responds 401 invalid_api_key for the old key after a rotation, and 200 for the new one', async () => {
        const rotated = await kit.credentials.rotateApiKey(apiKeyId);
        expectErrorsBody(await issue({ grant_type: 'client_credentials' }), 401, 'invalid_api_key');
        expect((await issue({ grant_type: 'client_credentials' }, rotated!.key)).status).toBe(200);
      });

      it('responds 401 invalid_api_key for two Authorization headers', async () => {
        const res = await request(app)
          .post(PATH)
          .set('Authorization', [`Bearer ${apiKey}`, `Bearer ${apiKey}`] as unknown as string)
          .send({ grant_type: 'client_credentials' });
        expectErrorsBody(res, 401, 'invalid_api_key');
      });

      it('does not accept an issued access token as an API key', async () => {
        const token = await tokenFor();
        expectErrorsBody(await issue({ grant_type: 'client_credentials' }, token), 401, 'invalid_api_key');
      });
    });

    describe('when grant_type is missing or not client_credentials', () => {
      it.each([
        ['missing', {}],
        ['empty', { grant_type: '' }],
        ['null', { grant_type: null }],
      ])('responds 400 invalid_request when grant_type is %s', async (_what, body) => {
        expectErrorsBody(await issue(body), 400, 'invalid_request');
        expect(calls.total()).toBe(0);
      });

      it.each([
        ['password', 'password'],
        ['refresh_token', 'refresh_token'],
        ['upper case', 'CLIENT_CREDENTIALS'],
        ['a URN', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
        ['markup', '<script>alert(1)</script>'],
      ])('responds 400 unsupported_grant_type for %s', async (_what, grantType) => {
        const res = await issue({ grant_type: grantType });
        expectErrorsBody(res, 400, 'unsupported_grant_type');
        expect(res.text).not.toContain('script');
      });
    });

    describe('when grant_type has another JSON type', () => {
      it.each([
        ['an array', ['client_credentials']],
        ['an object', { $ne: null }],
        ['a number', 1],
        ['a boolean', true],
      ])('responds 400 invalid_request for %s without a store call', async (_what, grantType) => {
        expectErrorsBody(await issue({ grant_type: grantType }), 400, 'invalid_request');
        expect(calls.total()).toBe(0);
      });
    });

    describe('when bound_entity is malformed', () => {
      it.each([
        ['an employer type with an empl_ id', { id: EMPLOYEE, type: 'employer' }],
        ['an employee type with an empr_ id', { id: EMPLOYER, type: 'employee' }],
        ['an EMPL_ id in upper case', { id: 'EMPL_4Kq9ZpX2', type: 'employee' }],
        ['an Empr_ id in mixed case', { id: 'Empr_SGVsbG8', type: 'employer' }],
        ['a Cyrillic е in the prefix', { id: 'empl_4Kq9'.replace('e', '\u0435'), type: 'employee' }],
        ['a prefix without an id', { id: 'empl_', type: 'employee' }],
        ['an id with a space', { id: 'empl_4Kq 9', type: 'employee' }],
        ['an id with a slash', { id: 'empl_A/../empl_B', type: 'employee' }],
        ['an id of 200 characters', { id: `empl_${'a'.repeat(195)}`, type: 'employee' }],
        ['an unknown type', { id: EMPLOYER, type: 'company' }],
        ['a type in upper case', { id: EMPLOYER, type: 'Employer' }],
        ['a missing type', { id: EMPLOYER }],
        ['a missing id', { type: 'employer' }],
        ['a numeric id', { id: 42, type: 'employer' }],
        ['an array id', { id: [EMPLOYER], type: 'employer' }],
        ['an extra field', { id: EMPLOYER, type: 'employer', name: 'Acme' }],
        ['an extra scope field', { id: EMPLOYER, type: 'employer', scope: 'admin' }],
        ['a bare string', EMPLOYER],
        ['an array', [{ id: EMPLOYER, type: 'employer' }]],
        ['a number', 7],
        ['a boolean', true],
        ['an empty object', {}],
      ])('responds 400 invalid_request for %s without a store call', async (_what, boundEntity) => {
        expectErrorsBody(
          await issue({ grant_type: 'client_credentials', bound_entity: boundEntity }),
          400,
          'invalid_request',
        );
        expect(calls.total()).toBe(0);
      });

      it('responds 400 invalid_request for an own __proto__ key inside bound_entity', async () => {
        const body = `{"grant_type":"client_credentials","bound_entity":{"id":"${EMPLOYER}","type":"employer","__proto__":{"id":"${OTHER_EMPLOYER}"}}}`;
        expectErrorsBody(await issue(body), 400, 'invalid_request');
      });
    });

    describe('when the body is hostile', () => {
      it('responds 400 invalid_request in {"errors":[…]} for malformed JSON, without HTML or a stack', async () => {
        expectErrorsBody(await issue('{"grant_type":'), 400, 'invalid_request');
      });

      it.each([
        ['a top-level array', '[{"grant_type":"client_credentials"}]'],
        ['a top-level string', '"client_credentials"'],
        ['a top-level number', '1'],
        ['a top-level null', 'null'],
      ])('responds 400 invalid_request for %s', async (_what, body) => {
        expectErrorsBody(await issue(body), 400, 'invalid_request');
      });

      it('responds 400 invalid_request for a text/plain body', async () => {
        const res = await request(app)
          .post(PATH)
          .set('Authorization', `Bearer ${apiKey}`)
          .set('Content-Type', 'text/plain')
          .send('grant_type=client_credentials');
        expectErrorsBody(res, 400, 'invalid_request');
      });

      it('responds 400 invalid_request for a form-encoded body', async () => {
        const res = await request(app)
          .post(PATH)
          .set('Authorization', `Bearer ${apiKey}`)
          .type('form')
          .send('grant_type=client_credentials');
        expectErrorsBody(res, 400, 'invalid_request');
      });

      it('responds 400 invalid_request without a body', async () => {
        expectErrorsBody(
          await request(app).post(PATH).set('Authorization', `Bearer ${apiKey}`),
          400,
          'invalid_request',
        );
      });

      it('responds 413 payload_too_large for a 200 KB body', async () => {
        expectErrorsBody(
          await issue(paddedJson(200, { grant_type: 'client_credentials' })),
          413,
          'payload_too_large',
        );
      });

      it.each([
        ['__proto__', '{"grant_type":"client_credentials","__proto__":{"isAdmin":true,"scope":"admin"}}'],
        [
          'constructor.prototype',
          '{"grant_type":"client_credentials","constructor":{"prototype":{"isAdmin":true}}}',
        ],
      ])('ignores a %s pollution attempt and injects no claim', async (_what, body) => {
        const res = await issue(body);
        expect(res.status).toBe(200);
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('isAdmin');
        const probe = await request(app)
          .get('/probe')
          .set('Authorization', `Bearer ${(res.body as { access_token: string }).access_token}`);
        expect(probe.status).toBe(200);
        const seen = probe.body as { scopes: string[]; claims: Record<string, unknown> };
        expect(seen.scopes).toEqual([]);
        expect(seen.claims).not.toHaveProperty('isAdmin');
        expect(seen.claims).not.toHaveProperty('scope');
      });

      it('ignores unknown fields and never copies them into the token', async () => {
        const res = await issue({
          grant_type: 'client_credentials',
          sub: EMPLOYEE,
          employee_id: EMPLOYEE,
          scope: 'admin',
          expires_in: 999_999,
          claims: { isAdmin: true },
        });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ expires_in: 900, bound_entity: null });
        const probe = await request(app)
          .get('/probe')
          .set('Authorization', `Bearer ${(res.body as { access_token: string }).access_token}`);
        expect(probe.body).toMatchObject({ sub: apiKeyId, boundEntity: null, scopes: [] });
        expect((probe.body as { claims: object }).claims).not.toHaveProperty('isAdmin');
      });
    });

    describe('when the method is not POST', () => {
      it.each(['get', 'put', 'patch', 'delete'] as const)(
        'responds 405 method_not_allowed to %s',
        async (method) => {
          const res = await request(app)[method](PATH).set('Authorization', `Bearer ${apiKey}`);
          expectErrorsBody(res, 405, 'method_not_allowed');
          expect(res.headers.allow).toBe('POST');
        },
      );
    });
  });
});
