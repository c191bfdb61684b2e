import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import jwt, { type JwtHeader, type JwtPayload } from 'jsonwebtoken';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import type { TokenKit } from '../../lib/core/token-kit';
import type { KeySet } from '../../lib/keys/key-set';
import {
  makeCountedKit,
  publicKeysOf,
  storeFactories,
  TEST_ISSUER,
  type StoreCalls,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { mountProbe, providerRouterApp, subjectAndClient } from '../helpers/apps';
import { expectCleanJson, expectCodeBody, expectNoStore, paddedJson } from '../helpers/http';

const DOMAIN = 'auth.example.test';
const AUDIENCE = 'https://api.example.test';
const OTHER_AUDIENCE = 'https://other.example.test';
const NOT_FOUND = { code: 'not_found', message: 'Resource not found' };

/** Router B at the demo mount and a requireToken probe that accepts its tokens. */
function buildApp(kit: TokenKit): Express {
  const guard = requireToken({
    kit,
    issuers: [TEST_ISSUER, `https://${DOMAIN}`],
    audiences: [AUDIENCE],
    acceptJwtType: true,
  });
  return mountProbe(providerRouterApp(kit), guard, subjectAndClient);
}

interface Decoded {
  header: JwtHeader;
  payload: JwtPayload;
}

function decode(token: string): Decoded {
  const out = jwt.decode(token, { complete: true });
  if (out === null || typeof out.payload === 'string') throw new Error('not a JWT with a JSON payload');
  return { header: out.header, payload: out.payload };
}

/** Seconds since the epoch as the router formats them: ISO 8601 UTC without milliseconds. */
function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

describe('createProviderRouter', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let clock: TestClock;
    let kit: TokenKit;
    let keys: KeySet;
    let calls: StoreCalls;
    let app: Express;
    /** Provider with a custom domain, its key and client. */
    let provider: string;
    let providerKey: string;
    let client: string;
    /** Provider without a domain, its key and client. */
    let other: string;
    let otherKey: string;
    let otherClient: string;

    beforeAll(async () => {
      stores = await factory('provider-router');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      ({ kit, keys, clock, calls } = await makeCountedKit(stores));
      const p = await kit.credentials.createProvider({ domain: DOMAIN });
      provider = p.id;
      providerKey = p.apiKeys[0]!;
      client = (await kit.credentials.createProviderClient(provider, { audience: AUDIENCE })).id;
      const q = await kit.credentials.createProvider({});
      other = q.id;
      otherKey = q.apiKeys[0]!;
      otherClient = (await kit.credentials.createProviderClient(other, { audience: OTHER_AUDIENCE })).id;
      app = buildApp(kit);
      calls.reset();
    });

    function path(providerId = provider, clientId = client): string {
      return `/v1/providers/${providerId}/clients/${clientId}/tokens`;
    }

    function create(body?: unknown, options: { key?: string | null; path?: string } = {}): request.Test {
      const key = options.key === undefined ? providerKey : options.key;
      const req = request(app).post(options.path ?? path());
      if (key !== null) req.set('Authorization', `Bearer ${key}`);
      if (body === undefined) return req;
      return typeof body === 'string'
        ? req.set('Content-Type', 'application/json').send(body)
        : req.send(body as object);
    }

    async function created(
      body?: unknown,
      options: { key?: string | null; path?: string } = {},
    ): Promise<Decoded> {
      const res = await create(body, options);
      expect(res.status).toBe(201);
      return decode((res.body as { accessToken: string }).accessToken);
    }

    describe('when the provider key and ids are valid and there is no body', () => {
      it('responds 201 with accessToken, expiresAt and type', async () => {
        const res = await create();
        expect(res.status).toBe(201);
        expect(res.body).toEqual({
          accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
          expiresAt: iso(clock.seconds() + 3600),
          type: 'Bearer',
        });
        expect((res.body as { expiresAt: string }).expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expectNoStore(res);
        expectCleanJson(res);
      });

      it('issues an RFC 9068 JWT: typ at+jwt, kid, and iss/sub/aud/exp/iat/jti/client_id', async () => {
        const { header, payload } = await created();
        expect(header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: keys.signingKey().kid });
        expect(payload).toEqual({
          iss: `https://${DOMAIN}`,
          sub: client,
          aud: AUDIENCE,
          exp: clock.seconds() + 3600,
          iat: clock.seconds(),
          jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
          client_id: client,
        });
      });

      it('issues a JWT that verifies with the public keys of the JWKS', async () => {
        const res = await create();
        const token = (res.body as { accessToken: string }).accessToken;
        const key = publicKeysOf(keys).get(decode(token).header.kid!)!;
        const verified = jwt.verify(token, key, {
          algorithms: ['RS256'],
          issuer: `https://${DOMAIN}`,
          audience: AUDIENCE,
          clockTimestamp: clock.seconds(),
        });
        expect(verified).toMatchObject({ sub: client });
      });

      it('issues a different jti on every request', async () => {
        const first = await created();
        const second = await created();
        expect(second.payload.jti).not.toBe(first.payload.jti);
      });

      it('issues a token that requireToken accepts', async () => {
        const res = await create();
        const probe = await request(app)
          .get('/probe')
          .set('Authorization', `Bearer ${(res.body as { accessToken: string }).accessToken}`);
        expect(probe.status).toBe(200);
        expect(probe.body).toEqual({ sub: client, clientId: client });
      });
    });

    describe('when the body is the seed example (expiresIn 0 and every flag true)', () => {
      it('responds 201 with typ JWT, aud as an array, the default issuer and the default lifetime', async () => {
        const body = { expiresIn: 0, useJwtType: true, audienceAsArray: true, forceDefaultDomain: true };
        const res = await create(body);
        expect(res.status).toBe(201);
        expect((res.body as { expiresAt: string }).expiresAt).toBe(iso(clock.seconds() + 3600));
        const { header, payload } = decode((res.body as { accessToken: string }).accessToken);
        expect(header.typ).toBe('JWT');
        expect(payload.aud).toEqual([AUDIENCE]);
        expect(payload.iss).toBe(TEST_ISSUER);
        expect(payload.exp! - payload.iat!).toBe(3600);
        expectNoStore(res);
      });
    });

    describe('when the flags are set one at a time', () => {
      it('sets header typ JWT when useJwtType is true', async () => {
        const { header, payload } = await created({ useJwtType: true });
        expect(header.typ).toBe('JWT');
        expect(payload.aud).toBe(AUDIENCE);
      });

      it('keeps typ at+jwt when useJwtType is false', async () => {
        expect((await created({ useJwtType: false })).header.typ).toBe('at+jwt');
      });

      it('emits aud as a one-element array when audienceAsArray is true', async () => {
        expect((await created({ audienceAsArray: true })).payload.aud).toEqual([AUDIENCE]);
      });

      it('emits aud as a string when audienceAsArray is false', async () => {
        expect((await created({ audienceAsArray: false })).payload.aud).toBe(AUDIENCE);
      });

      it('uses https://<domain> as issuer when forceDefaultDomain is false', async () => {
        expect((await created({ forceDefaultDomain: false })).payload.iss).toBe(`https://${DOMAIN}`);
      });

      it('uses the default issuer when forceDefaultDomain is true', async () => {
        expect((await created({ forceDefaultDomain: true })).payload.iss).toBe(TEST_ISSUER);
      });

      it('uses the default issuer for a provider without a custom domain', async () => {
        const { payload } = await created({}, { key: otherKey, path: path(other, otherClient) });
        expect(payload).toMatchObject({ iss: TEST_ISSUER, aud: OTHER_AUDIENCE, sub: otherClient });
      });

      it('treats null flags as absent', async () => {
        const { header, payload } = await created({
          useJwtType: null,
          audienceAsArray: null,
          forceDefaultDomain: null,
        });
        expect(header.typ).toBe('at+jwt');
        expect(payload).toMatchObject({ aud: AUDIENCE, iss: `https://${DOMAIN}` });
      });
    });

    describe('when expiresIn is a valid lifetime', () => {
      it.each([
        ['absent', {}, 3600],
        ['0', { expiresIn: 0 }, 3600],
        ['1', { expiresIn: 1 }, 1],
        ['900', { expiresIn: 900 }, 900],
        ['172800 (48 hours)', { expiresIn: 172_800 }, 172_800],
      ])('responds 201 with the matching lifetime when expiresIn is %s', async (_what, body, seconds) => {
        const res = await create(body);
        expect(res.status).toBe(201);
        expect((res.body as { expiresAt: string }).expiresAt).toBe(iso(clock.seconds() + seconds));
        const { payload } = decode((res.body as { accessToken: string }).accessToken);
        expect(payload.exp! - payload.iat!).toBe(seconds);
      });
    });

    describe('when expiresIn is not a valid lifetime', () => {
      it.each([
        ['negative', -1],
        ['fractional', 1.5],
        ['a numeric string', '3600'],
        ['a zero string', '0'],
        ['over 48 hours', 172_801],
        ['huge', 1e20],
        ['a boolean', true],
        ['an array', [3600]],
        ['an object', { seconds: 3600 }],
      ])('responds 400 invalid_request when expiresIn is %s', async (_what, expiresIn) => {
        expectCodeBody(await create({ expiresIn }), 400, 'invalid_request');
      });
    });

    describe('when a flag is not a boolean', () => {
      const flags = ['useJwtType', 'audienceAsArray', 'forceDefaultDomain'] as const;
      const values: readonly (readonly [string, unknown])[] = [
        ['the string "true"', 'true'],
        ['the number 1', 1],
        ['the number 0', 0],
        ['an empty string', ''],
        ['an array', [true]],
        ['an object', { value: true }],
      ];
      it.each(flags.flatMap((flag) => values.map(([what, value]) => [flag, what, value] as const)))(
        'responds 400 invalid_request when %s is %s',
        async (flag, _what, value) => {
          expectCodeBody(await create({ [flag]: value }), 400, 'invalid_request');
        },
      );
    });

    describe('when the provider key is missing or invalid', () => {
      it.each([
        ['no Authorization header', null],
        ['a Basic scheme', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'],
        ['an empty Bearer value', 'Bearer'],
        ['an unknown key', 'Bearer etk_ak_unknown0000000000000000000000000000000000000000'],
      ])('responds 401 unauthorized for %s', async (_what, header) => {
        const req = request(app).post(path());
        if (header !== null) req.set('Authorization', header);
        expectCodeBody(await req.send({}), 401, 'unauthorized');
      });

      it('responds 401 unauthorized for the provider key with one character dropped', async () => {
        expectCodeBody(await create({}, { key: providerKey.slice(0, -1) }), 401, 'unauthorized');
      });

      it('responds 401 unauthorized for the old key after the provider key is rotated', async () => {
        const rotated = await kit.credentials.rotateProviderKey(provider);
        expectCodeBody(await create({}), 401, 'unauthorized');
        expect((await create({}, { key: rotated!.apiKeys[0]! })).status).toBe(201);
      });

      it('responds 401 unauthorized for an issued access token used as the key', async () => {
        const res = await create();
        expectCodeBody(
          await create({}, { key: (res.body as { accessToken: string }).accessToken }),
          401,
          'unauthorized',
        );
      });
    });

    describe('when providerId or clientId is not a UUID', () => {
      it.each([
        ['providerId', 'not-a-uuid', 'client'],
        ['providerId', '123', 'client'],
        ['providerId', '497f6eca62764993bfeb53cbbbba6f08', 'client'],
        ['providerId', '{497f6eca-6276-4993-bfeb-53cbbbba6f08}', 'client'],
        ['providerId', '497f6eca-6276-4993-bfeb-53cbbbba6f0g', 'client'],
        ['clientId', 'provider', 'not-a-uuid'],
        ['clientId', 'provider', '497f6eca-6276-4993-bfeb-53cbbbba6f08 '],
        ['clientId', 'provider', '..%2F..%2Fadmin'],
      ])('responds 400 invalid_request when %s is malformed', async (which, first, second) => {
        const p =
          which === 'providerId'
            ? `/v1/providers/${encodeURIComponent(first)}/clients/${client}/tokens`
            : `/v1/providers/${provider}/clients/${second.includes('%') ? second : encodeURIComponent(second)}/tokens`;
        expectCodeBody(await create({}, { path: p }), 400, 'invalid_request');
      });

      it('responds 201 for the same UUIDs in upper case', async () => {
        const res = await create({}, { path: path(provider.toUpperCase(), client.toUpperCase()) });
        expect(res.status).toBe(201);
      });
    });

    describe('when the provider or client does not exist or belongs to another provider', () => {
      it('responds 404 not_found for an unknown provider', async () => {
        const res = await create({}, { path: path(randomUUID(), client) });
        expectCodeBody(res, 404, 'not_found', NOT_FOUND.message);
        expect(res.body).toEqual(NOT_FOUND);
      });

      it('responds 404 not_found for an unknown client', async () => {
        expect((await create({}, { path: path(provider, randomUUID()) })).body).toEqual(NOT_FOUND);
      });

      it("responds 404 not_found for another provider's key", async () => {
        const res = await create({}, { key: otherKey });
        expectCodeBody(res, 404, 'not_found', NOT_FOUND.message);
      });

      it("responds 404 not_found for another provider's client under this provider", async () => {
        expectCodeBody(
          await create({}, { path: path(provider, otherClient) }),
          404,
          'not_found',
          NOT_FOUND.message,
        );
      });

      it("responds 404 not_found for this client under another provider's path with that provider's key", async () => {
        expectCodeBody(
          await create({}, { key: otherKey, path: path(other, client) }),
          404,
          'not_found',
          NOT_FOUND.message,
        );
      });
    });

    describe('when the body is hostile', () => {
      it('responds 400 invalid_request in {"code","message"} for malformed JSON, without HTML or a stack', async () => {
        expectCodeBody(await create('{"expiresIn": 60,'), 400, 'invalid_request');
      });

      it.each([
        ['a top-level array', '[{"expiresIn":60}]'],
        ['a top-level number', '60'],
        ['a top-level string', '"x"'],
      ])('responds 400 invalid_request for %s', async (_what, body) => {
        expectCodeBody(await create(body), 400, 'invalid_request');
      });

      it('responds 400 invalid_request for a text/plain body', async () => {
        const res = await request(app)
          .post(path())
          .set('Authorization', `Bearer ${providerKey}`)
          .set('Content-Type', 'text/plain')
          .send('expiresIn=60');
        expectCodeBody(res, 400, 'invalid_request');
      });

      it('responds 413 payload_too_large for a 200 KB body', async () => {
        expectCodeBody(await create(paddedJson(200)), 413, 'payload_too_large');
      });

      it.each([
        ['__proto__', '{"__proto__":{"isAdmin":true,"expiresIn":172800,"useJwtType":true}}'],
        ['constructor.prototype', '{"constructor":{"prototype":{"isAdmin":true}}}'],
      ])('ignores a %s pollution attempt and injects no claim', async (_what, body) => {
        const res = await create(body);
        expect(res.status).toBe(201);
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
        const { header, payload } = decode((res.body as { accessToken: string }).accessToken);
        expect(header.typ).toBe('at+jwt');
        expect(payload.exp! - payload.iat!).toBe(3600);
        expect(payload).not.toHaveProperty('isAdmin');
      });

      it('ignores unknown fields and never copies them into the token', async () => {
        const { payload } = await created({
          sub: 'admin',
          iss: 'https://evil.test',
          aud: 'https://evil.test',
          scope: 'admin',
        });
        expect(payload).toMatchObject({ sub: client, iss: `https://${DOMAIN}`, aud: AUDIENCE });
        expect(payload).not.toHaveProperty('scope');
      });

      it('makes no store call for a malformed body', async () => {
        await create({ expiresIn: 'soon' });
        expect(calls.total()).toBe(0);
      });
    });

    describe('when the method is not POST', () => {
      it.each(['get', 'put', 'patch', 'delete'] as const)(
        'responds 405 method_not_allowed to %s',
        async (method) => {
          const res = await request(app)[method](path()).set('Authorization', `Bearer ${providerKey}`);
          expectCodeBody(res, 405, 'method_not_allowed');
          expect(res.headers.allow).toBe('POST');
        },
      );
    });
  });
});
