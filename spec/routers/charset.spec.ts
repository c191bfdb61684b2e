/**
 * Bodies in charsets other than UTF-8: JSON is UTF-8 (RFC 8259 §8.1) and so are
 * `application/x-www-form-urlencoded` token requests (RFC 6749 Appendix B). Every body endpoint
 * of routers A–D refuses any other declared charset, in its own error format, before decoding.
 */
import type { Express } from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { declaredCharset } from '../../lib/routers/shared';
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
  readonly applicationId: string;
  /** A client_credentials access token of the application. */
  readonly appToken: string;
}

type Format = 'errors' | 'code' | 'oauth';

/** One body endpoint, called well. */
interface Endpoint {
  readonly name: string;
  readonly path: (s: Setup) => string;
  readonly headers: (s: Setup) => Record<string, string>;
  readonly mediaType: 'application/json' | 'application/x-www-form-urlencoded';
  readonly body: (s: Setup) => string;
  /** Status of the well-formed request (a parsed body). */
  readonly okStatus: number;
  readonly format: Format;
}

const basic = (s: Setup): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${s.clientId}:${s.clientSecret}`).toString('base64')}`,
});
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

const endpoints: readonly Endpoint[] = [
  {
    name: 'router A POST /v1/auth/access-tokens',
    path: () => '/v1/auth/access-tokens',
    headers: (s) => ({ Authorization: `Bearer ${s.apiKey}` }),
    mediaType: JSON_TYPE,
    body: () => '{"grant_type":"client_credentials"}',
    okStatus: 200,
    format: 'errors',
  },
  {
    name: 'router B POST /v1/providers/…/tokens',
    path: (s) => s.providerPath,
    headers: (s) => ({ Authorization: `Bearer ${s.providerKey}` }),
    mediaType: JSON_TYPE,
    body: () => '{"expiresIn":600}',
    okStatus: 201,
    format: 'code',
  },
  {
    name: 'router C POST /api/auth/tokens/',
    path: () => '/api/auth/tokens/',
    headers: () => ({}),
    mediaType: JSON_TYPE,
    body: (s) =>
      JSON.stringify({
        grant_type: 'client_credentials',
        client_id: s.clientId,
        client_secret: s.clientSecret,
      }),
    okStatus: 200,
    format: 'errors',
  },
  {
    name: 'router C POST /api/auth/tokens/refresh/',
    path: () => '/api/auth/tokens/refresh/',
    headers: () => ({}),
    mediaType: JSON_TYPE,
    // An unknown refresh token: 401 invalid_grant shows the body was read.
    body: () => '{"refresh_token":"nope"}',
    okStatus: 401,
    format: 'errors',
  },
  {
    name: 'router C POST /api/applications/rotate_credentials/',
    path: () => '/api/applications/rotate_credentials/',
    headers: (s) => ({ Authorization: `Bearer ${s.appToken}` }),
    mediaType: JSON_TYPE,
    body: (s) => JSON.stringify({ application_id: s.applicationId }),
    okStatus: 200,
    format: 'errors',
  },
  {
    name: 'router D POST /oauth/token (form)',
    path: () => '/oauth/token',
    headers: basic,
    mediaType: FORM,
    body: () => 'grant_type=client_credentials',
    okStatus: 200,
    format: 'oauth',
  },
  {
    name: 'router D POST /oauth/token (JSON)',
    path: () => '/oauth/token',
    headers: basic,
    mediaType: JSON_TYPE,
    body: () => '{"grant_type":"client_credentials"}',
    okStatus: 200,
    format: 'oauth',
  },
  {
    name: 'router D POST /oauth/revoke',
    path: () => '/oauth/revoke',
    headers: basic,
    mediaType: FORM,
    body: () => 'token=x',
    okStatus: 200,
    format: 'oauth',
  },
  {
    name: 'router D POST /oauth/introspect',
    path: () => '/oauth/introspect',
    headers: basic,
    mediaType: FORM,
    body: () => 'token=x',
    okStatus: 200,
    format: 'oauth',
  },
];

/** The body encoded as a client declaring `charset` would send it. */
function encode(text: string, charset: string): Buffer {
  const name = charset.replace(/"/g, '').toLowerCase();
  if (name === 'utf-16') return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  if (name === 'utf-16le') return Buffer.from(text, 'utf16le');
  if (name === 'latin1' || name === 'iso-8859-1') return Buffer.from(text, 'latin1');
  return Buffer.from(text, 'utf8');
}

/** Declared charsets that must be refused: the Content-Type parameter text after `charset=`. */
const BAD_CHARSETS: readonly (readonly [what: string, parameter: string])[] = [
  ['utf-16', 'utf-16'],
  ['UTF-16 in upper case', 'UTF-16'],
  ['utf-16le', 'utf-16le'],
  ['utf-16be', 'utf-16be'],
  ['latin1', 'latin1'],
  ['iso-8859-1', 'iso-8859-1'],
  ['a garbage charset', 'x-garbage-42'],
  ['utf8 (not a registered name of UTF-8)', 'utf8'],
  ['a quoted utf-16', '"utf-16"'],
  ['utf-8 in single quotes (not HTTP quoting)', "'utf-8'"],
  ['an unterminated quoted utf-8', '"utf-8'],
  ['utf-8 with trailing text', 'utf-8x'],
  ['utf-8 given twice with utf-16', 'utf-8; charset=utf-16'],
  ['an empty quoted charset', '""'],
];

/** Content-Type values that are UTF-8 and must be served. */
const GOOD_CONTENT_TYPES: readonly ((mediaType: string) => string)[] = [
  (m) => m,
  (m) => `${m}; charset=utf-8`,
  (m) => `${m}; charset=UTF-8`,
  (m) => `${m};charset=Utf-8`,
  (m) => `${m}; charset="utf-8"`,
  (m) => `${m}; CHARSET=utf-8`,
];

function errorCode(body: unknown, format: Format): unknown {
  if (format === 'errors') return (body as { errors?: { errorType: string }[] }).errors?.[0]?.errorType;
  if (format === 'code') return (body as { code?: string }).code;
  return (body as { error?: string }).error;
}

describe('body endpoints of routers A–D', () => {
  let kit: TokenKit;
  let setup: Setup;
  let app: Express;

  // A fresh kit per case: rotations change the application's secret, and refused requests count
  // against the routers' failure budgets.
  beforeEach(async () => {
    ({ kit } = await makeKit({ store: new MemoryTokenStore() }));
    const apiKey = (await kit.credentials.createApiKey({ name: 'k' })).key;
    const provider = await kit.credentials.createProvider();
    const client = await kit.credentials.createProviderClient(provider.id, { audience: 'https://api.test' });
    const application = await kit.credentials.createApplication({ name: 'App' });
    const appToken = (
      await kit.grants.clientCredentials({
        clientId: application.clientId,
        clientSecret: application.clientSecret,
      })
    ).accessToken.token;
    setup = {
      apiKey,
      providerKey: provider.apiKeys[0]!,
      providerPath: `/v1/providers/${provider.id}/clients/${client.id}/tokens`,
      clientId: application.clientId,
      clientSecret: application.clientSecret,
      applicationId: application.id,
      appToken,
    };
    app = routersAtDemoMounts(kit);
  });

  function send(e: Endpoint, contentType: string, body: Buffer): request.Test {
    return (
      request(app)
        .post(e.path(setup))
        .set(e.headers(setup))
        .set('Content-Type', contentType)
        // Send the bytes as they are; superagent would otherwise JSON-encode a Buffer.
        .serialize((data: unknown) => data as string)
        .send(body)
    );
  }

  describe.each(endpoints)('$name', (e) => {
    it.each(BAD_CHARSETS)('refuses a body declared as %s', async (_what, parameter) => {
      const res = await send(e, `${e.mediaType}; charset=${parameter}`, encode(e.body(setup), parameter));
      if (e.format === 'oauth') {
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: 'invalid_request',
          error_description: 'The body must be UTF-8 (charset=utf-8 or none)',
        });
      } else {
        expect(res.status).toBe(415);
        expect(errorCode(res.body, e.format)).toBe('unsupported_media_type');
      }
      expect(res.body).not.toHaveProperty('access_token');
      expect(res.body).not.toHaveProperty('accessToken');
      expect(res.body).not.toHaveProperty('client_secret');
      expectCleanJson(res);
      expectNoStore(res);
    });

    it.each(GOOD_CONTENT_TYPES.map((f) => [f(e.mediaType)]))('serves %s', async (contentType) => {
      const res = await send(e, contentType, Buffer.from(e.body(setup), 'utf8'));
      expect(res.status).toBe(e.okStatus);
    });
  });
});

describe('declaredCharset', () => {
  it.each([
    ['application/json', undefined],
    ['application/json;', undefined],
    ['application/json; foo=bar', undefined],
    ['application/json; foo', undefined],
    ['application/json; charset=utf-8', 'utf-8'],
    ['application/json ; CharSet = utf-8', null],
    ['application/json;charset=UTF-8;foo=bar', 'utf-8'],
    ['application/json; charset="UTF-8"', 'utf-8'],
    ['application/json; charset="utf\\-8"', 'utf-8'],
    ['application/json; foo="a;charset=utf-16"; charset=utf-8', 'utf-8'],
    ['application/json; charset=utf-16', 'utf-16'],
    ['application/json; charset=utf-8; charset=utf-8', null],
    ['application/json; charset="utf-8', null],
    ['application/json; x charset=utf-8', null],
  ])('reads %j as %j', (value, expected) => {
    expect(declaredCharset(value)).toBe(expected);
  });
});
