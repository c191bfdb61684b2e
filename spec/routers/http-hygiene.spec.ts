import express, { type Express } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit } from '../helpers/kit';
import { routersAtDemoMounts } from '../helpers/apps';
import { expectCleanJson, expectNoStore } from '../helpers/http';

interface Setup {
  readonly apiKey: string;
  readonly providerKey: string;
  readonly providerPath: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** One token endpoint: how to call it well, and how its error bodies name a code. */
interface Endpoint {
  readonly name: string;
  readonly path: (s: Setup) => string;
  /** Headers of a well-authenticated request. */
  readonly headers: (s: Setup) => Record<string, string>;
  /** A body of a successful request, as an object of strings. */
  readonly body: (s: Setup) => Record<string, string>;
  readonly form: boolean;
  readonly okStatus: number;
  readonly code: (body: unknown) => string | undefined;
}

const f1 = (b: unknown): string | undefined =>
  (b as { errors?: { errorType: string }[] }).errors?.[0]?.errorType;
const f2 = (b: unknown): string | undefined => (b as { code?: string }).code;
const f3 = (b: unknown): string | undefined => (b as { error?: string }).error;
const basic = (s: Setup): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${s.clientId}:${s.clientSecret}`).toString('base64')}`,
});

const endpoints: readonly Endpoint[] = [
  {
    name: 'router A POST /v1/auth/access-tokens',
    path: () => '/v1/auth/access-tokens',
    headers: (s) => ({ Authorization: `Bearer ${s.apiKey}` }),
    body: () => ({ grant_type: 'client_credentials' }),
    form: false,
    okStatus: 200,
    code: f1,
  },
  {
    name: 'router B POST /v1/providers/…/tokens',
    path: (s) => s.providerPath,
    headers: (s) => ({ Authorization: `Bearer ${s.providerKey}` }),
    body: () => ({}),
    form: false,
    okStatus: 201,
    code: f2,
  },
  {
    name: 'router C POST /api/auth/tokens/',
    path: () => '/api/auth/tokens/',
    headers: () => ({}),
    body: (s) => ({ grant_type: 'client_credentials', client_id: s.clientId, client_secret: s.clientSecret }),
    form: false,
    okStatus: 200,
    code: f1,
  },
  {
    name: 'router D POST /oauth/token',
    path: () => '/oauth/token',
    headers: basic,
    body: () => ({ grant_type: 'client_credentials' }),
    form: true,
    okStatus: 200,
    code: f3,
  },
  {
    name: 'router D POST /oauth/introspect',
    path: () => '/oauth/introspect',
    headers: basic,
    body: () => ({ token: 'x' }),
    form: true,
    okStatus: 200,
    code: f3,
  },
  {
    name: 'router D POST /oauth/revoke',
    path: () => '/oauth/revoke',
    headers: basic,
    body: () => ({ token: 'x' }),
    form: true,
    okStatus: 200,
    code: f3,
  },
];

/** The headers every router response carries: helmet's, and no X-Powered-By. */
function expectHelmet(res: request.Response): void {
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['content-security-policy']).toBeDefined();
  expect(res.headers['strict-transport-security']).toBeDefined();
  expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
}

describe('HTTP hygiene of routers A–D', () => {
  let kit: TokenKit;
  let setup: Setup;
  let app: Express;

  beforeAll(async () => {
    ({ kit } = await makeKit({ store: new MemoryTokenStore() }));
    const apiKey = (await kit.credentials.createApiKey({ name: 'k' })).key;
    const provider = await kit.credentials.createProvider();
    const client = await kit.credentials.createProviderClient(provider.id, { audience: 'https://api.test' });
    const application = await kit.credentials.createApplication({ name: 'App' });
    setup = {
      apiKey,
      providerKey: provider.apiKeys[0]!,
      providerPath: `/v1/providers/${provider.id}/clients/${client.id}/tokens`,
      clientId: application.clientId,
      clientSecret: application.clientSecret,
    };
    // Deliberately without app.disable('x-powered-by'): helmet in each router removes it.
    app = routersAtDemoMounts(kit);
  });

  function send(
    e: Endpoint,
    body: Record<string, string> | string,
    headers = e.headers(setup),
  ): request.Test {
    const req = request(app).post(e.path(setup)).set(headers);
    if (typeof body === 'string') return req.send(body);
    return e.form ? req.type('form').send(new URLSearchParams(body).toString()) : req.send(body);
  }

  it("sets exactly helmet's own headers, with helmet's values, on every router's responses", async () => {
    // what helmet() itself sets on a plain app, run per request
    const plain = express();
    plain.use(helmet());
    plain.get('/', (_req, res) => res.json({}));
    const reference = (await request(plain).get('/')).headers;
    const names = Object.keys(reference).filter(
      (name) =>
        !['content-type', 'content-length', 'etag', 'date', 'connection', 'keep-alive'].includes(name),
    );
    expect(names.length).toBeGreaterThan(8);
    for (const e of endpoints) {
      const res = await send(e, e.body(setup));
      expect(res.status).toBe(e.okStatus);
      for (const name of names)
        expect([e.name, name, res.headers[name]]).toEqual([e.name, name, reference[name]]);
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  describe.each(endpoints)('$name', (e) => {
    it('answers success with helmet headers, no X-Powered-By, no-store and UTF-8 JSON', async () => {
      const res = await send(e, e.body(setup));
      expect(res.status).toBe(e.okStatus);
      expectHelmet(res);
      expectNoStore(res);
      if (res.text !== '') expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    });

    it('answers an authentication error the same way', async () => {
      const headers = e.form
        ? { Authorization: `Basic ${Buffer.from(`${setup.clientId}:wrong`).toString('base64')}` }
        : { Authorization: 'Bearer wrong-credential' };
      const body = e.name.startsWith('router C')
        ? { ...e.body(setup), client_secret: 'wrong' }
        : e.body(setup);
      const res = await send(e, body, headers);
      expect(res.status).toBe(401);
      expectHelmet(res);
      expectNoStore(res);
      expectCleanJson(res);
    });

    it('answers 413 for a body over 16 KB', async () => {
      const big = { ...e.body(setup), padding: 'x'.repeat(17 * 1024) };
      const res = await send(e, big);
      expect(res.status).toBe(413);
      expectHelmet(res);
      expectNoStore(res);
      expectCleanJson(res);
    });

    it('answers 400 invalid_request for more than 64 parameters', async () => {
      const many: Record<string, string> = { ...e.body(setup) };
      for (let i = 0; i < 70; i++) many[`p${i}`] = '1';
      const res = await send(e, many);
      expect(res.status).toBe(400);
      expect(e.code(res.body)).toBe('invalid_request');
      expectNoStore(res);
    });

    it('accepts 64 parameters', async () => {
      const body: Record<string, string> = { ...e.body(setup) };
      for (let i = Object.keys(body).length; i < 64; i++) body[`p${i}`] = '1';
      expect((await send(e, body)).status).toBe(e.okStatus);
    });

    it.each(['text/plain', 'multipart/form-data; boundary=x', 'application/xml'])(
      'refuses a %s body without a 500',
      async (type) => {
        const res = await request(app)
          .post(e.path(setup))
          .set(e.headers(setup))
          .set('Content-Type', type)
          .send('a=b');
        expect([400, 415]).toContain(res.status);
        expect(['invalid_request', 'unsupported_media_type']).toContain(e.code(res.body));
        expectHelmet(res);
        expectNoStore(res);
        expectCleanJson(res);
      },
    );

    it('answers 405 with Allow, helmet headers and no-store for GET', async () => {
      const res = await request(app).get(e.path(setup)).set(e.headers(setup));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expectHelmet(res);
      expectNoStore(res);
    });
  });

  it('router C refresh and validate answer with helmet headers and no-store', async () => {
    for (const res of [
      await request(app).post('/api/auth/tokens/refresh/').send({ refresh_token: 'nope' }),
      await request(app).get('/api/auth/tokens/validate/'),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expectHelmet(res);
      expectNoStore(res);
    }
  });
});
