/**
 * The pure parts of resource-server mode: which JWKs become keys and with which pinned algorithm,
 * `Cache-Control` parsing, the RFC 8414 / OpenID metadata URLs of an issuer, and the claim checks
 * of a remote JWT, as tables of inputs asserted one by one.
 */
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { TokenError } from '../../lib/errors';
import { requireToken } from '../../lib/middleware/require-token';
import { maxAgeMs, metadataUrls, parseJwks, REMOTE_ALGORITHMS } from '../../lib/resource/jwks-cache';
import { checkClaims, decodeJwt, headerKey, type DecodedJwt } from '../../lib/resource/remote-jwt';

const jwkOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']): JsonWebKey =>
  key.export({ format: 'jwk' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const smallRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed = generateKeyPairSync('ed25519');

describe('parseJwks', () => {
  const one = (jwk: Record<string, unknown>) => parseJwks({ keys: [jwk] }, REMOTE_ALGORITHMS);

  it.each([
    ['RSA without alg', { ...jwkOf(rsa.publicKey), kid: 'a' }, 'RS256'],
    ['RSA with alg PS384', { ...jwkOf(rsa.publicKey), kid: 'a', alg: 'PS384' }, 'PS384'],
    ['EC P-256 without alg', { ...jwkOf(p256.publicKey), kid: 'a' }, 'ES256'],
    ['EC P-384 without alg', { ...jwkOf(p384.publicKey), kid: 'a' }, 'ES384'],
    ['OKP Ed25519 without alg', { ...jwkOf(ed.publicKey), kid: 'a' }, 'EdDSA'],
  ])('pins %s to %s', (_name, jwk, alg) => {
    expect(one(jwk)?.map((k) => k.alg)).toEqual([alg]);
  });

  it.each([
    ['an oct key', { kty: 'oct', kid: 'a', k: Buffer.alloc(32).toString('base64url') }],
    ['alg none', { ...jwkOf(p256.publicKey), kid: 'a', alg: 'none' }],
    ['an HMAC alg on an RSA key', { ...jwkOf(rsa.publicKey), kid: 'a', alg: 'HS256' }],
    ['an EC alg that does not fit the curve', { ...jwkOf(p256.publicKey), kid: 'a', alg: 'ES384' }],
    ['an RSA alg on an EC key', { ...jwkOf(p256.publicKey), kid: 'a', alg: 'RS256' }],
    ['use enc', { ...jwkOf(rsa.publicKey), kid: 'a', use: 'enc' }],
    ['a 1024-bit RSA key', { ...jwkOf(smallRsa.publicKey), kid: 'a' }],
    ['a kid that is not a string', { ...jwkOf(rsa.publicKey), kid: 7 }],
    ['garbage coordinates', { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'a' }],
    ['an unknown curve', { kty: 'EC', crv: 'P-192', x: 'AAAA', y: 'AAAA', kid: 'a' }],
    ['not an object', 'RSA'],
  ])('skips %s', (_name, jwk) => {
    expect(parseJwks({ keys: [jwk] }, REMOTE_ALGORITHMS)).toEqual([]);
  });

  it('keeps only public members of a JWK that leaks its private part', () => {
    const priv = rsa.privateKey.export({ format: 'jwk' });
    const [key] = one({ ...priv, kid: 'a' })!;
    expect(key!.key.type).toBe('public');
  });

  it('skips keys whose algorithm the issuer does not allow', () => {
    expect(parseJwks({ keys: [{ ...jwkOf(rsa.publicKey), kid: 'a' }] }, ['ES256'])).toEqual([]);
  });

  it.each([null, [], {}, { keys: 'x' }, 'keys'])(
    'answers null for a document that is no JWK Set: %j',
    (doc) => {
      expect(parseJwks(doc, REMOTE_ALGORITHMS)).toBeNull();
    },
  );
});

describe('maxAgeMs', () => {
  it.each([
    [null, undefined],
    ['public, max-age=300', 300_000],
    ['max-age="60", must-revalidate', 60_000],
    ['no-store', 0],
    ['private, no-cache', 0],
    ['s-maxage=10', undefined],
    ['max-age=abc', undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(maxAgeMs(header)).toBe(expected);
  });
});

describe('metadataUrls', () => {
  it('inserts the well-known path before the issuer path (RFC 8414 §3.1), then appends OpenID’s', () => {
    expect(metadataUrls('https://as.test')).toEqual([
      'https://as.test/.well-known/oauth-authorization-server',
      'https://as.test/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://as.test/tenant/a/')).toEqual([
      'https://as.test/.well-known/oauth-authorization-server/tenant/a',
      'https://as.test/tenant/a/.well-known/openid-configuration',
    ]);
  });
});

describe('checkClaims', () => {
  const NOW = 1_800_000_000;
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = (header: Record<string, unknown>, payload: Record<string, unknown>): DecodedJwt =>
    decodeJwt(`${b64({ alg: 'ES256', ...header })}.${b64(payload)}.c2ln`);
  const good = {
    iss: 'https://as.test',
    aud: ['https://api.test', 'x'],
    sub: 's',
    client_id: 'c',
    jti: 'j',
    iat: NOW - 10,
    exp: NOW + 60,
  };
  const rules = {
    issuer: 'https://as.test',
    audiences: ['https://api.test'],
    clockTolerance: 0,
    maxTokenAge: undefined,
    strict: false,
    now: NOW,
  };
  const codeOf = (fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as TokenError).code;
    }
  };

  it('accepts a good token, with or without typ', () => {
    expect(codeOf(() => checkClaims(token({ typ: 'at+jwt' }, good), rules))).toBeUndefined();
    expect(codeOf(() => checkClaims(token({}, good), rules))).toBeUndefined();
    expect(
      codeOf(() => checkClaims(token({ typ: 'application/AT+JWT' }, good), { ...rules, strict: true })),
    ).toBeUndefined();
  });

  it.each([
    ['another issuer', {}, { iss: 'https://as.test/' }, {}],
    ['another audience', {}, { aud: 'https://other.test' }, {}],
    ['an aud of numbers', {}, { aud: [1] }, {}],
    ['no exp', {}, { exp: undefined }, {}],
    ['a string exp', {}, { exp: String(NOW + 60) }, {}],
    ['an iat in the future', {}, { iat: NOW + 1 }, {}],
    ['an nbf in the future', {}, { nbf: NOW + 1 }, {}],
    ['a numeric sub', {}, { sub: 5 }, {}],
    ['a scope array', {}, { scope: ['read'] }, {}],
    ['an id_token typ', { typ: 'id_token+jwt' }, {}, {}],
    ['typ JWT in strict mode', { typ: 'JWT' }, {}, { strict: true }],
    ['no typ in strict mode', {}, {}, { strict: true }],
    ['no jti in strict mode', { typ: 'at+jwt' }, { jti: undefined }, { strict: true }],
    ['no iat in strict mode', { typ: 'at+jwt' }, { iat: undefined }, { strict: true }],
    ['no iat with maxTokenAge', {}, { iat: undefined }, { maxTokenAge: 60 }],
    ['an iat maxTokenAge old', {}, { iat: NOW - 60 }, { maxTokenAge: 60 }],
  ])('answers invalid_token for %s', (_name, header, claims, extra) => {
    expect(codeOf(() => checkClaims(token(header, { ...good, ...claims }), { ...rules, ...extra }))).toBe(
      'invalid_token',
    );
  });

  it('answers expired_token at exp, invalid_token when expired and wrong otherwise', () => {
    expect(codeOf(() => checkClaims(token({}, { ...good, exp: NOW }), rules))).toBe('expired_token');
    expect(
      codeOf(() => checkClaims(token({}, { ...good, exp: NOW - 1 }), { ...rules, clockTolerance: 2 })),
    ).toBeUndefined();
    expect(codeOf(() => checkClaims(token({}, { ...good, exp: NOW, aud: 'x2' }), rules))).toBe(
      'invalid_token',
    );
  });

  it.each([
    ['alg none', { alg: 'none' }],
    ['no alg', { alg: undefined }],
    ['a numeric kid', { kid: 1 }],
    ['a crit header', { crit: ['exp'] }],
  ])('refuses a header with %s', (_name, header) => {
    expect(codeOf(() => headerKey({ alg: 'ES256', ...header }))).toBe('invalid_token');
  });

  it.each(['a.b', 'a.b.c.d', 'e30.e30.', '!!.e30.c2ln', `${b64([1])}.${b64({})}.c2ln`])(
    'refuses %j as no JWT',
    (raw) => {
      expect(codeOf(() => decodeJwt(raw))).toBe('invalid_token');
    },
  );
});

describe('requireToken in resource-server mode, when the options are wrong', () => {
  const I = 'https://as.test';
  const A = 'https://api.test';
  const bad: [string, Record<string, unknown>][] = [
    ['no audience', { issuer: I }],
    ['an issuer that is no URL', { issuer: 'as.test', audience: A }],
    ['a jwksUri that is not http(s)', { issuer: I, audience: A, jwksUri: 'file:///etc/jwks.json' }],
    ['a symmetric algorithm', { issuer: I, audience: A, algorithms: ['HS256'] }],
    ['no algorithm', { issuer: I, audience: A, algorithms: [] }],
    [
      'an issuer listed twice',
      {
        issuers: [
          { issuer: I, audience: A },
          { issuer: I, audience: A },
        ],
      },
    ],
    ['issuer and issuers', { issuer: I, issuers: [{ issuer: I, audience: A }] }],
    ['issuers with a top-level audience', { issuers: [{ issuer: I, audience: A }], audience: A }],
    [
      'introspection without a secret',
      { issuer: I, audience: A, introspection: { endpoint: `${I}/introspect`, clientId: 'c' } },
    ],
    [
      'a negative cacheMaxAge',
      {
        issuer: I,
        audience: A,
        introspection: { endpoint: `${I}/introspect`, clientId: 'c', clientSecret: 's', cacheMaxAge: -1 },
      },
    ],
    ['a revocation store that is no store', { issuer: I, audience: A, revocation: { store: {} } }],
    ['jwksMinCacheAge above jwksMaxCacheAge', { issuer: I, audience: A, jwksMinCacheAge: 700 }],
    ['a zero fetch timeout', { issuer: I, audience: A, fetchTimeoutMs: 0 }],
    ['a fractional size cap', { issuer: I, audience: A, maxResponseBytes: 1.5 }],
    ['a negative clockTolerance', { issuer: I, audience: A, clockTolerance: -1 }],
    ['a realm with a quote', { issuer: I, audience: A, realm: 'a"b' }],
    ['an unknown errorFormat', { issuer: I, audience: A, errorFormat: 'xml' }],
    ['a null maxTokenAge', { issuer: I, audience: A, maxTokenAge: null }],
  ];
  it.each(bad)('throws at factory time: %s', (_name, options) => {
    let thrown: unknown;
    try {
      requireToken(options as never);
    } catch (err) {
      thrown = err;
    }
    expect(thrown instanceof TypeError || thrown instanceof RangeError).toBe(true);
  });

  it('builds without any request to the issuer', () => {
    expect(typeof requireToken({ issuer: I, audience: A })).toBe('function');
  });
});
