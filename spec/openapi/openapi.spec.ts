/**
 * docs/openapi.yaml: valid OpenAPI 3.1, complete for the demo server's paths, and true — every
 * response below comes from the real demo app and must match the status, body schema and headers
 * the document gives for its operation.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import type { Express } from 'express';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { StoreUnavailableError } from '../../lib/errors';
import { KeySet } from '../../lib/keys/key-set';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { createDemoApp } from '../../lib/server/demo-app';
import { parseSeed } from '../../lib/server/seed';
import { applySeed, createSeedUserVerifier } from '../../lib/server/seed-kit';

const ROOT = path.join(__dirname, '..', '..');
const DOC_PATH = path.join(ROOT, 'docs', 'openapi.yaml');
/** The validator is ESM-only, so it runs in its own process (as `npm run lint` runs it). */
const LINT_OPENAPI = path.join(ROOT, 'scripts', 'lint-openapi.mjs');
const execFileAsync = promisify(execFile);
const DOC_TEXT = readFileSync(DOC_PATH, 'utf8');
const DOC_ID = 'https://express-token-kit.test/openapi.json';

type Json = Record<string, unknown>;
type Method = 'get' | 'post';

interface Operation {
  readonly responses: Record<string, Json>;
}
interface OpenApiDoc {
  readonly openapi: string;
  readonly paths: Record<string, Partial<Record<Method, Operation>>>;
  readonly components: Json;
}

const doc = parseYaml(DOC_TEXT) as OpenApiDoc;

const ISSUER = 'https://issuer.openapi.test';
const API_KEY = 'acme_ak_openapi_spec_key_0001';
const PROVIDER_ID = '497f6eca-6276-4993-bfeb-53cbbbba6f08';
const PROVIDER_KEY = 'grant_pk_openapi_spec_key_0001';
const CLIENT_ID = '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a';
const OTHER_PROVIDER_ID = '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
const OTHER_PROVIDER_KEY = 'grant_pk_openapi_spec_key_0002';
const APP_ID = '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b';
const ROTATING_APP_ID = '8d1e2f3a-4b5c-4d6e-9f0a-1b2c3d4e5f60';
const UNKNOWN_UUID = '11111111-2222-4333-8444-555555555555';

const SEED = parseSeed({
  apiKeys: [{ key: API_KEY, name: 'Acme Platform' }],
  employers: [
    { id: 'empr_1', employees: ['empl_1'] },
    { id: 'empr_2', employees: ['empl_2'] },
  ],
  applications: [
    {
      id: APP_ID,
      name: 'TestApp',
      organization: '123',
      clientId: 'testapp-client',
      clientSecret: 'testapp-secret',
      applicationTypes: ['API'],
      grantTypes: [
        'client_credentials',
        'password',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ],
    },
    {
      id: ROTATING_APP_ID,
      name: 'RotatingApp',
      organization: '456',
      clientId: 'rotating-client',
      clientSecret: 'rotating-secret',
      applicationTypes: ['API'],
    },
  ],
  users: [{ username: 'carmen', password: 'correct horse', sub: 'user_carmen' }],
  providers: [
    {
      id: PROVIDER_ID,
      domain: 'auth.example.test',
      apiKeys: [PROVIDER_KEY],
      clients: [{ id: CLIENT_ID, audience: 'https://api.example.test' }],
    },
    { id: OTHER_PROVIDER_ID, domain: null, apiKeys: [OTHER_PROVIDER_KEY], clients: [] },
  ],
});

/** A store that answers like `inner` until `down` is set, then fails every call like a dead Redis. */
function switchableStore(inner: TokenStore): { store: TokenStore; setDown(down: boolean): void } {
  let down = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]): unknown => {
        if (down) return Promise.reject(new StoreUnavailableError('switched off by the spec'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    setDown(value) {
      down = value;
    },
  };
}

/** Follows a local `$ref` (`#/components/…`) of the document; returns the target and its pointer. */
function deref(value: Json, pointer: string): { node: Json; pointer: string } {
  let node = value;
  let at = pointer;
  for (let hops = 0; typeof node.$ref === 'string' && hops < 10; hops++) {
    const ref = node.$ref;
    if (!ref.startsWith('#/')) throw new Error(`non-local $ref ${ref}`);
    at = ref.slice(1);
    node = ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<Json>(
        (n, key) => {
          const next = n[key];
          if (typeof next !== 'object' || next === null) throw new Error(`unresolved $ref ${ref}`);
          return next as Json;
        },
        doc as unknown as Json,
      );
  }
  return { node, pointer: at };
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...(doc as unknown as Json), $id: DOC_ID });
const validators = new Map<string, ValidateFunction>();

/** The ajv validator of the JSON schema at `pointer` in the document (compiled once). */
function schemaAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

/** What a response must look like per a documented response object. */
function checkAgainst(res: request.Response, response: Json, responsePointer: string, where: string): void {
  const content = response.content as Record<string, Json> | undefined;
  if (content === undefined) {
    expect({ where, body: res.text ?? '' }).toEqual({ where, body: '' });
  } else {
    const json = content['application/json'];
    if (json === undefined) throw new Error(`${where}: only application/json content is checked`);
    expect(res.headers['content-type']).toMatch(/^application\/json\b/);
    const validate = schemaAt(`${responsePointer}/content/application~1json/schema`);
    const ok = validate(res.body);
    // The errors in the failure message say which keyword failed where.
    expect({ where, body: res.body as unknown, errors: ok ? null : validate.errors }).toEqual({
      where,
      body: res.body as unknown,
      errors: null,
    });
  }
  const headers = (response.headers ?? {}) as Record<string, Json>;
  for (const [name, header] of Object.entries(headers)) {
    const { node } = deref(header, '');
    const schema = node.schema as Json | undefined;
    const actual = res.headers[name.toLowerCase()] as string | undefined;
    if (typeof schema?.const === 'string')
      expect({ where, [name]: actual }).toEqual({ where, [name]: schema.const });
    if (actual !== undefined && typeof schema?.pattern === 'string') {
      expect(actual).toMatch(new RegExp(schema.pattern));
    }
  }
  if (res.status === 503 || res.status === 429) expect(res.headers['retry-after']).toMatch(/^\d+$/);
  if (res.status === 405) expect(res.headers.allow).toEqual(expect.any(String));
}

/** Asserts that the status is documented for the operation and that the response matches it. */
function expectDocumented(res: request.Response, method: Method, docPath: string): void {
  const operation = doc.paths[docPath]?.[method];
  if (operation === undefined) throw new Error(`${method.toUpperCase()} ${docPath} is not in the document`);
  const where = `${method.toUpperCase()} ${docPath} → ${res.status}`;
  const documented = operation.responses[String(res.status)];
  expect({ where, documented: documented !== undefined }).toEqual({ where, documented: true });
  const base = `/paths/${escapePointer(docPath)}/${method}/responses/${res.status}`;
  const { node, pointer } = deref(documented!, base);
  checkAgainst(res, node, pointer, where);
}

/** Asserts that the response matches a named response of `components/responses`. */
function expectComponentResponse(res: request.Response, name: string): void {
  const pointer = `/components/responses/${name}`;
  const { node } = deref({ $ref: `#${pointer}` }, pointer);
  checkAgainst(res, node, pointer, `${name} → ${res.status}`);
}

describe('docs/openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const { stdout } = await execFileAsync(process.execPath, [LINT_OPENAPI, DOC_PATH]);
    expect(stdout).toContain('valid OpenAPI 3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('is rejected by the same validator when it breaks the OpenAPI schema', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'etk-openapi-'));
    try {
      const broken = path.join(dir, 'broken.yaml');
      await writeFile(broken, DOC_TEXT.replace(/^paths:/m, 'unknownTopLevel: 1\npaths:'));
      await expect(execFileAsync(process.execPath, [LINT_OPENAPI, broken])).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('unknownTopLevel'),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('resolves every $ref and compiles every response schema', () => {
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(() => deref({ $ref: ref }, '')).not.toThrow();
    for (const [docPath, item] of Object.entries(doc.paths)) {
      for (const method of ['get', 'post'] as const) {
        for (const [status, response] of Object.entries(item[method]?.responses ?? {})) {
          const { node, pointer } = deref(
            response,
            `/paths/${escapePointer(docPath)}/${method}/responses/${status}`,
          );
          if (node.content !== undefined) {
            expect(() => schemaAt(`${pointer}/content/application~1json/schema`)).not.toThrow();
          }
        }
      }
    }
  });

  it.each([
    ['post', '/v1/auth/access-tokens'],
    ['post', '/v1/providers/{providerId}/clients/{clientId}/tokens'],
    ['post', '/api/auth/tokens/'],
    ['post', '/api/auth/tokens/refresh/'],
    ['get', '/api/auth/tokens/validate/'],
    ['post', '/api/applications/rotate_credentials/'],
    ['post', '/oauth/token'],
    ['post', '/oauth/revoke'],
    ['post', '/oauth/introspect'],
    ['get', '/.well-known/jwks.json'],
    ['get', '/.well-known/oauth-authorization-server'],
    ['get', '/v1/employers/{employerId}'],
    ['get', '/v1/employees/{employeeId}'],
    ['get', '/api/plans/'],
  ] as const)('documents %s %s', (method, docPath) => {
    expect(doc.paths[docPath]?.[method]).toBeDefined();
  });

  it('documents no path the demo server does not serve', () => {
    expect(Object.keys(doc.paths)).toHaveLength(14);
  });
});

describe('the demo server answers as docs/openapi.yaml says', () => {
  const start = Date.now();
  let clock = start;
  let kit: TokenKit;
  let app: Express;
  let setDown: (down: boolean) => void;

  beforeAll(async () => {
    const switchable = switchableStore(new MemoryTokenStore({ now: () => clock }));
    setDown = switchable.setDown;
    kit = createTokenKit({
      store: switchable.store,
      keys: await KeySet.generate('RS256'),
      issuer: ISSUER,
      now: () => clock,
      verifyUser: await createSeedUserVerifier(SEED.users),
    });
    await applySeed(kit, SEED);
    app = createDemoApp({ kit, seed: SEED });
  });

  afterEach(() => {
    clock = start;
    setDown(false);
  });

  async function apiKeyToken(boundEntity: unknown = null): Promise<string> {
    const res = await request(app)
      .post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${API_KEY}`)
      .send({ grant_type: 'client_credentials', bound_entity: boundEntity });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  async function clientToken(clientId = 'testapp-client', clientSecret = 'testapp-secret'): Promise<string> {
    const res = await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  async function passwordTokens(): Promise<{ access_token: string; refresh_token: string }> {
    const res = await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'password', username: 'carmen', password: 'correct horse' });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  }

  const tooLarge = JSON.stringify({ grant_type: 'client_credentials', pad: 'x'.repeat(20_000) });

  describe('router A: POST /v1/auth/access-tokens', () => {
    const docPath = '/v1/auth/access-tokens';
    const post = () => request(app).post(docPath);

    it.each([
      ['200 unbound', API_KEY, { grant_type: 'client_credentials' }, 200],
      [
        '200 bound',
        API_KEY,
        { grant_type: 'client_credentials', bound_entity: { id: 'empr_1', type: 'employer' } },
        200,
      ],
      ['400 no grant_type', API_KEY, {}, 400],
      ['400 other grant', API_KEY, { grant_type: 'password' }, 400],
      [
        '400 bad bound_entity',
        API_KEY,
        { grant_type: 'client_credentials', bound_entity: { id: 'empl_1', type: 'employer' } },
        400,
      ],
      ['401 unknown key', 'nope_not_a_key', { grant_type: 'client_credentials' }, 401],
    ])('%s', async (_name, key, body, status) => {
      const res = await post().set('Authorization', `Bearer ${key}`).send(body);
      expect(res.status).toBe(status);
      expectDocumented(res, 'post', docPath);
    });

    it('403 for a binding to an entity the seed file does not know', async () => {
      const res = await post()
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ grant_type: 'client_credentials', bound_entity: { id: 'empr_unknown', type: 'employer' } });
      expect(res.status).toBe(403);
      expectDocumented(res, 'post', docPath);
    });

    it('401 without credentials', async () => {
      const res = await post().send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expectDocumented(res, 'post', docPath);
    });

    it('405 for GET', async () => {
      const res = await request(app).get(docPath);
      expect(res.status).toBe(405);
      expectDocumented(res, 'post', docPath);
    });

    it('413 for a body over 16 kB', async () => {
      const res = await post()
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('Content-Type', 'application/json')
        .send(tooLarge);
      expect(res.status).toBe(413);
      expectDocumented(res, 'post', docPath);
    });

    it('415 for an unsupported charset', async () => {
      const res = await post()
        .set('Authorization', `Bearer ${API_KEY}`)
        .set('Content-Type', 'application/json; charset=latin1')
        .send('{"grant_type":"client_credentials"}');
      expect(res.status).toBe(415);
      expectDocumented(res, 'post', docPath);
    });

    it('503 when the store is down', async () => {
      setDown(true);
      const res = await post()
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(503);
      expectDocumented(res, 'post', docPath);
    });
  });

  describe('router B: POST /v1/providers/{providerId}/clients/{clientId}/tokens', () => {
    const docPath = '/v1/providers/{providerId}/clients/{clientId}/tokens';
    const url = (providerId = PROVIDER_ID, clientId = CLIENT_ID): string =>
      `/v1/providers/${providerId}/clients/${clientId}/tokens`;

    it.each([
      ['201 without a body', url(), PROVIDER_KEY, undefined, 201],
      [
        '201 with every option',
        url(),
        PROVIDER_KEY,
        { expiresIn: 600, useJwtType: true, audienceAsArray: true, forceDefaultDomain: true },
        201,
      ],
      ['400 for a non-UUID id', url('not-a-uuid'), PROVIDER_KEY, undefined, 400],
      ['400 for expiresIn over 48 h', url(), PROVIDER_KEY, { expiresIn: 172_801 }, 400],
      ['400 for a non-boolean option', url(), PROVIDER_KEY, { useJwtType: 'yes' }, 400],
      ['401 for an unknown key', url(), 'nope_not_a_key', undefined, 401],
      ['404 for an unknown client', url(PROVIDER_ID, UNKNOWN_UUID), PROVIDER_KEY, undefined, 404],
      ['404 for another provider key', url(), OTHER_PROVIDER_KEY, undefined, 404],
    ])('%s', async (_name, target, key, body, status) => {
      const req = request(app).post(target).set('Authorization', `Bearer ${key}`);
      const res = body === undefined ? await req : await req.send(body);
      expect(res.status).toBe(status);
      expectDocumented(res, 'post', docPath);
    });

    it('401 without credentials, 405 for GET, 413 for a large body, 503 with the store down', async () => {
      const unauthenticated = await request(app).post(url());
      expect(unauthenticated.status).toBe(401);
      expectDocumented(unauthenticated, 'post', docPath);

      const get = await request(app).get(url()).set('Authorization', `Bearer ${PROVIDER_KEY}`);
      expect(get.status).toBe(405);
      expectDocumented(get, 'post', docPath);

      const large = await request(app)
        .post(url())
        .set('Authorization', `Bearer ${PROVIDER_KEY}`)
        .set('Content-Type', 'application/json')
        .send(tooLarge);
      expect(large.status).toBe(413);
      expectDocumented(large, 'post', docPath);

      setDown(true);
      const down = await request(app).post(url()).set('Authorization', `Bearer ${PROVIDER_KEY}`);
      expect(down.status).toBe(503);
      expectDocumented(down, 'post', docPath);
    });
  });

  describe('router C: POST /api/auth/tokens/', () => {
    const docPath = '/api/auth/tokens/';

    it.each([
      [
        '200 client_credentials',
        { grant_type: 'client_credentials', client_id: 'testapp-client', client_secret: 'testapp-secret' },
        200,
      ],
      ['200 password', { grant_type: 'password', username: 'carmen', password: 'correct horse' }, 200],
      ['400 without grant_type', { client_id: 'testapp-client' }, 400],
      ['400 without client_secret', { grant_type: 'client_credentials', client_id: 'testapp-client' }, 400],
      ['400 for another grant', { grant_type: 'authorization_code' }, 400],
      [
        '401 invalid_client',
        { grant_type: 'client_credentials', client_id: 'testapp-client', client_secret: 'wrong' },
        401,
      ],
      ['401 invalid_grant', { grant_type: 'password', username: 'carmen', password: 'wrong' }, 401],
    ])('%s', async (_name, body, status) => {
      const res = await request(app).post(docPath).send(body);
      expect(res.status).toBe(status);
      expectDocumented(res, 'post', docPath);
    });

    it('400 for a form body, 405 for GET, 413 for a large body, 503 with the store down', async () => {
      const form = await request(app).post(docPath).type('form').send({ grant_type: 'client_credentials' });
      expect(form.status).toBe(400);
      expectDocumented(form, 'post', docPath);

      const get = await request(app).get(docPath);
      expect(get.status).toBe(405);
      expectDocumented(get, 'post', docPath);

      const large = await request(app).post(docPath).set('Content-Type', 'application/json').send(tooLarge);
      expect(large.status).toBe(413);
      expectDocumented(large, 'post', docPath);

      setDown(true);
      const down = await request(app).post(docPath).send({
        grant_type: 'client_credentials',
        client_id: 'testapp-client',
        client_secret: 'testapp-secret',
      });
      expect(down.status).toBe(503);
      expectDocumented(down, 'post', docPath);
    });
  });

  describe('router C: refresh, validate, rotate_credentials', () => {
    it('POST /api/auth/tokens/refresh/: 200, then 401 on replay, 400 without refresh_token, 405', async () => {
      const docPath = '/api/auth/tokens/refresh/';
      const tokens = await passwordTokens();
      const first = await request(app)
        .post(docPath)
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .send({ refresh_token: tokens.refresh_token });
      expect(first.status).toBe(200);
      expectDocumented(first, 'post', docPath);

      const replay = await request(app).post(docPath).send({ refresh_token: tokens.refresh_token });
      expect(replay.status).toBe(401);
      expectDocumented(replay, 'post', docPath);

      const badBearer = await request(app)
        .post(docPath)
        .set('Authorization', 'Bearer not.a.token')
        .send({ refresh_token: 'whatever' });
      expect(badBearer.status).toBe(401);
      expectDocumented(badBearer, 'post', docPath);

      const missing = await request(app).post(docPath).send({});
      expect(missing.status).toBe(400);
      expectDocumented(missing, 'post', docPath);

      const get = await request(app).get(docPath);
      expect(get.status).toBe(405);
      expectDocumented(get, 'post', docPath);
    });

    it('GET /api/auth/tokens/validate/: 200 for JWT and opaque tokens, 401 invalid and expired, 405, 503', async () => {
      const docPath = '/api/auth/tokens/validate/';
      for (const token of [await clientToken(), await apiKeyToken({ id: 'empl_1', type: 'employee' })]) {
        const ok = await request(app).get(docPath).set('Authorization', `Bearer ${token}`);
        expect(ok.status).toBe(200);
        expectDocumented(ok, 'get', docPath);
      }

      for (const authorization of [undefined, 'Bearer garbage', 'Basic dXNlcjpwYXNz']) {
        const req = request(app).get(docPath);
        const res = authorization === undefined ? await req : await req.set('Authorization', authorization);
        expect(res.status).toBe(401);
        expectDocumented(res, 'get', docPath);
      }

      const token = await clientToken();
      clock += 3601_000;
      const expired = await request(app).get(docPath).set('Authorization', `Bearer ${token}`);
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({
        errors: [{ errorType: 'expired_token', message: 'Access token expired' }],
      });
      expectDocumented(expired, 'get', docPath);
      clock = start;

      const post = await request(app).post(docPath);
      expect(post.status).toBe(405);
      expectDocumented(post, 'get', docPath);

      const opaque = await apiKeyToken();
      setDown(true);
      const down = await request(app).get(docPath).set('Authorization', `Bearer ${opaque}`);
      expect(down.status).toBe(503);
      expectDocumented(down, 'get', docPath);
    });

    it('POST /api/applications/rotate_credentials/: 200, 400, 401, 403, 404, 405', async () => {
      const docPath = '/api/applications/rotate_credentials/';
      const token = await clientToken('rotating-client', 'rotating-secret');

      const missingId = await request(app).post(docPath).set('Authorization', `Bearer ${token}`).send({});
      expect(missingId.status).toBe(400);
      expectDocumented(missingId, 'post', docPath);

      const unknown = await request(app)
        .post(docPath)
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: UNKNOWN_UUID });
      expect(unknown.status).toBe(404);
      expectDocumented(unknown, 'post', docPath);

      const otherApp = await request(app)
        .post(docPath)
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: APP_ID });
      expect(otherApp.status).toBe(403);
      expectDocumented(otherApp, 'post', docPath);

      const anonymous = await request(app).post(docPath).send({ application_id: ROTATING_APP_ID });
      expect(anonymous.status).toBe(401);
      expectDocumented(anonymous, 'post', docPath);

      const get = await request(app).get(docPath);
      expect(get.status).toBe(405);
      expectDocumented(get, 'post', docPath);

      const rotated = await request(app)
        .post(docPath)
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: ROTATING_APP_ID });
      expect(rotated.status).toBe(200);
      expectDocumented(rotated, 'post', docPath);

      // The old token died with the old credentials.
      const stale = await request(app)
        .post(docPath)
        .set('Authorization', `Bearer ${token}`)
        .send({ application_id: ROTATING_APP_ID });
      expect(stale.status).toBe(401);
      expectDocumented(stale, 'post', docPath);
    });
  });

  describe('router D', () => {
    const basic = (id: string, secret: string): string =>
      `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    const testApp = basic('testapp-client', 'testapp-secret');

    it('POST /oauth/token: 200 for each grant, 400, 401 with a Basic challenge, 405, 413, 503', async () => {
      const docPath = '/oauth/token';
      const cc = await request(app)
        .post(docPath)
        .set('Authorization', testApp)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(cc.status).toBe(200);
      expectDocumented(cc, 'post', docPath);

      const password = await request(app).post(docPath).type('form').send({
        grant_type: 'password',
        username: 'carmen',
        password: 'correct horse',
        client_id: 'testapp-client',
        client_secret: 'testapp-secret',
      });
      expect(password.status).toBe(200);
      expectDocumented(password, 'post', docPath);

      const refreshed = await request(app)
        .post(docPath)
        .set('Authorization', testApp)
        .send({ grant_type: 'refresh_token', refresh_token: (password.body as Json).refresh_token });
      expect(refreshed.status).toBe(200);
      expectDocumented(refreshed, 'post', docPath);

      const exchange = (params: Record<string, string>): request.Test =>
        request(app)
          .post(docPath)
          .set('Authorization', testApp)
          .type('form')
          .send({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            subject_token: (cc.body as Json).access_token as string,
            subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            ...params,
          });
      const exchanged = await exchange({});
      expect(exchanged.status).toBe(200);
      expect((exchanged.body as Json).issued_token_type).toBe(
        'urn:ietf:params:oauth:token-type:access_token',
      );
      expectDocumented(exchanged, 'post', docPath);
      const delegated = await request(app)
        .post('/oauth/introspect')
        .set('Authorization', testApp)
        .type('form')
        .send({ token: (exchanged.body as Json).access_token as string });
      expect((delegated.body as Json).act).toEqual({ sub: 'testapp-client' });
      expectDocumented(delegated, 'post', '/oauth/introspect');
      const wider = await exchange({ audience: 'https://elsewhere.test' });
      expect((wider.body as Json).error).toBe('invalid_target');
      expectDocumented(wider, 'post', docPath);

      for (const body of [{}, { grant_type: 'authorization_code' }, { grant_type: 'refresh_token' }]) {
        const res = await request(app).post(docPath).set('Authorization', testApp).type('form').send(body);
        expect(res.status).toBe(400);
        expectDocumented(res, 'post', docPath);
      }

      const wrong = await request(app)
        .post(docPath)
        .set('Authorization', basic('testapp-client', 'wrong'))
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(wrong.status).toBe(401);
      expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
      expectDocumented(wrong, 'post', docPath);

      const get = await request(app).get(docPath);
      expect(get.status).toBe(405);
      expectDocumented(get, 'post', docPath);

      const large = await request(app)
        .post(docPath)
        .type('form')
        .send(`grant_type=client_credentials&pad=${'x'.repeat(20_000)}`);
      expect(large.status).toBe(413);
      expectDocumented(large, 'post', docPath);

      setDown(true);
      const down = await request(app)
        .post(docPath)
        .set('Authorization', testApp)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(down.status).toBe(503);
      expectDocumented(down, 'post', docPath);
    });

    it('POST /oauth/introspect and /oauth/revoke: 200 active, 200 empty, 200 inactive, 400, 401, 405', async () => {
      const token = await clientToken();
      const active = await request(app)
        .post('/oauth/introspect')
        .set('Authorization', testApp)
        .type('form')
        .send({ token });
      expect(active.status).toBe(200);
      expect(active.body).toMatchObject({ active: true });
      expectDocumented(active, 'post', '/oauth/introspect');

      const revoked = await request(app)
        .post('/oauth/revoke')
        .set('Authorization', testApp)
        .type('form')
        .send({ token });
      expect(revoked.status).toBe(200);
      expect(revoked.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(revoked.body).toEqual({});
      expectDocumented(revoked, 'post', '/oauth/revoke');
      const revokedUnknown = await request(app)
        .post('/oauth/revoke')
        .set('Authorization', testApp)
        .type('form')
        .send({ token: 'not-a-token' });
      expect(revokedUnknown.status).toBe(200);
      expect(revokedUnknown.body).toEqual({});
      expectDocumented(revokedUnknown, 'post', '/oauth/revoke');

      const inactive = await request(app)
        .post('/oauth/introspect')
        .set('Authorization', testApp)
        .type('form')
        .send({ token });
      expect(inactive.status).toBe(200);
      expect(inactive.body).toEqual({ active: false });
      expectDocumented(inactive, 'post', '/oauth/introspect');

      for (const docPath of ['/oauth/introspect', '/oauth/revoke']) {
        const noToken = await request(app).post(docPath).set('Authorization', testApp).type('form').send({});
        expect(noToken.status).toBe(400);
        expectDocumented(noToken, 'post', docPath);

        const badHint = await request(app)
          .post(docPath)
          .set('Authorization', testApp)
          .type('form')
          .send({ token, token_type_hint: 'id_token' });
        expect(badHint.status).toBe(400);
        expectDocumented(badHint, 'post', docPath);

        const wrong = await request(app)
          .post(docPath)
          .type('form')
          .send({ token, client_id: 'testapp-client', client_secret: 'wrong' });
        expect(wrong.status).toBe(401);
        expectDocumented(wrong, 'post', docPath);

        const get = await request(app).get(docPath);
        expect(get.status).toBe(405);
        expectDocumented(get, 'post', docPath);
      }
    });

    it('GET /.well-known/jwks.json and /.well-known/oauth-authorization-server: 200, 405', async () => {
      for (const docPath of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
        const res = await request(app).get(docPath);
        expect(res.status).toBe(200);
        expectDocumented(res, 'get', docPath);
        const post = await request(app).post(docPath);
        expect(post.status).toBe(405);
        expectDocumented(post, 'get', docPath);
      }
    });
  });

  describe('rate limits (a fresh app, so that earlier failures do not count)', () => {
    it.each([
      [
        '/v1/auth/access-tokens',
        (app2: Express) =>
          request(app2)
            .post('/v1/auth/access-tokens')
            .set('Authorization', 'Bearer wrong_key_0001')
            .send({ grant_type: 'client_credentials' }),
      ],
      [
        '/v1/providers/{providerId}/clients/{clientId}/tokens',
        (app2: Express) =>
          request(app2)
            .post(`/v1/providers/${PROVIDER_ID}/clients/${CLIENT_ID}/tokens`)
            .set('Authorization', 'Bearer wrong_key_0001'),
      ],
      [
        '/api/auth/tokens/',
        (app2: Express) =>
          request(app2)
            .post('/api/auth/tokens/')
            .send({ grant_type: 'client_credentials', client_id: 'testapp-client', client_secret: 'wrong' }),
      ],
      [
        '/oauth/token',
        (app2: Express) =>
          request(app2)
            .post('/oauth/token')
            .auth('testapp-client', 'wrong')
            .type('form')
            .send({ grant_type: 'client_credentials' }),
      ],
    ] as const)('POST %s answers 429 with Retry-After after repeated failures', async (docPath, attempt) => {
      const fresh = createDemoApp({ kit, seed: SEED });
      let res = await attempt(fresh);
      for (let i = 0; i < 30 && res.status !== 429; i++) {
        expect(res.status).toBe(401);
        res = await attempt(fresh);
      }
      expect(res.status).toBe(429);
      expectDocumented(res, 'post', docPath);
    });
  });

  describe('guarded demo resources', () => {
    it('GET /v1/employers/{employerId}: 200, 400, 401, 403, 503', async () => {
      const docPath = '/v1/employers/{employerId}';
      const employer = await apiKeyToken({ id: 'empr_1', type: 'employer' });
      const ok = await request(app).get('/v1/employers/empr_1').set('Authorization', `Bearer ${employer}`);
      expect(ok.status).toBe(200);
      expectDocumented(ok, 'get', docPath);

      const other = await request(app).get('/v1/employers/empr_2').set('Authorization', `Bearer ${employer}`);
      expect(other.status).toBe(403);
      expectDocumented(other, 'get', docPath);

      const missing = await request(app).get('/v1/employers/empr_1');
      expect(missing.status).toBe(401);
      expectDocumented(missing, 'get', docPath);

      const malformed = await request(app).get('/v1/employers/empr_1').set('Authorization', 'Bearer a b');
      expect(malformed.status).toBe(400);
      expectDocumented(malformed, 'get', docPath);

      setDown(true);
      const down = await request(app).get('/v1/employers/empr_1').set('Authorization', `Bearer ${employer}`);
      expect(down.status).toBe(503);
      expectDocumented(down, 'get', docPath);
    });

    it('GET /v1/employees/{employeeId}: 200 for its employer and unbound, 403 for another', async () => {
      const docPath = '/v1/employees/{employeeId}';
      const employer = await apiKeyToken({ id: 'empr_1', type: 'employer' });
      for (const token of [employer, await apiKeyToken()]) {
        const ok = await request(app).get('/v1/employees/empl_1').set('Authorization', `Bearer ${token}`);
        expect(ok.status).toBe(200);
        expectDocumented(ok, 'get', docPath);
      }
      const other = await request(app).get('/v1/employees/empl_2').set('Authorization', `Bearer ${employer}`);
      expect(other.status).toBe(403);
      expectDocumented(other, 'get', docPath);
    });

    it('GET /api/plans/: 200, 401 invalid and expired, 503', async () => {
      const docPath = '/api/plans/';
      const token = await clientToken();
      const ok = await request(app).get(docPath).set('Authorization', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expectDocumented(ok, 'get', docPath);

      const invalid = await request(app).get(docPath).set('Authorization', 'Bearer eyJ.eyJ.sig');
      expect(invalid.status).toBe(401);
      expectDocumented(invalid, 'get', docPath);

      clock += 3601_000;
      const expired = await request(app).get(docPath).set('Authorization', `Bearer ${token}`);
      expect(expired.status).toBe(401);
      expectDocumented(expired, 'get', docPath);
      clock = start;

      const opaque = await apiKeyToken();
      setDown(true);
      const down = await request(app).get(docPath).set('Authorization', `Bearer ${opaque}`);
      expect(down.status).toBe(503);
      expectDocumented(down, 'get', docPath);
    });

    it('answers an unknown path 404 as components/responses/F1NotFound says', async () => {
      const res = await request(app).get('/v1/nothing-here');
      expect(res.status).toBe(404);
      expectComponentResponse(res, 'F1NotFound');
    });
  });
});
