import { constants, createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

import { audienceList, signJwt, verifyJwt } from '../../lib/core/jwt';
import type { VerifyJwtOptions } from '../../lib/core/jwt';
import { TokenError } from '../../lib/errors';
import { KeySet, createKeySet } from '../../lib/keys/key-set';
import type { KeyInput } from '../../lib/keys/key-set';

const NOW = 1_900_000_000;
const ISS = 'https://issuer.example.com';
const AUD = 'api.example.com';
const OPTIONS: VerifyJwtOptions = {
  issuers: [ISS],
  audiences: [AUD],
  clockToleranceSeconds: 0,
  maxLifetimeSeconds: 3600,
  now: NOW,
};
/** P-256 group order n, for the high-s twin of an ES256 signature. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

type Json = Record<string, unknown>;
/** A token part: an object (JSON-encoded), a string (raw JSON text) or raw bytes. */
type Part = Json | string | Buffer;
type ForgeAlg = 'RS256' | 'PS256' | 'ES256' | 'ES256-DER' | 'HS256' | 'HS384' | 'HS512' | 'none';

function b64u(part: Part): string {
  if (Buffer.isBuffer(part)) {
    return part.toString('base64url');
  }
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part), 'utf8').toString('base64url');
}

/** Signs `header.payload` by hand with `crypto`, so any header or payload can be built. */
function rawSign(alg: ForgeAlg, data: string, key: KeyObject | Buffer | string): Buffer {
  switch (alg) {
    case 'RS256':
      return cryptoSign('sha256', Buffer.from(data), key as KeyObject);
    case 'PS256':
      return cryptoSign('sha256', Buffer.from(data), {
        key: key as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case 'ES256':
      return cryptoSign('sha256', Buffer.from(data), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'ES256-DER':
      return cryptoSign('sha256', Buffer.from(data), { key: key as KeyObject, dsaEncoding: 'der' });
    case 'HS256':
    case 'HS384':
    case 'HS512':
      return createHmac(`sha${alg.slice(2)}`, key)
        .update(data)
        .digest();
    case 'none':
      return Buffer.alloc(0);
  }
}

function forge(
  header: Part,
  payload: Part,
  alg: ForgeAlg,
  key: KeyObject | Buffer | string,
): { token: string; signingInput: string; signature: Buffer } {
  const signingInput = `${b64u(header)}.${b64u(payload)}`;
  const signature = rawSign(alg, signingInput, key);
  return { token: `${signingInput}.${signature.toString('base64url')}`, signingInput, signature };
}

function claims(overrides: Json = {}, ...omit: string[]): Json {
  const base: Json = {
    iss: ISS,
    sub: 'user_1',
    aud: AUD,
    iat: NOW - 60,
    exp: NOW + 600,
    jti: 'jti_1',
    client_id: 'client_1',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter(([name]) => !omit.includes(name)));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected verifyJwt to throw');
}

function expectTokenError(error: unknown, code: 'invalid_token' | 'expired_token'): TokenError {
  expect(error).toBeInstanceOf(TokenError);
  const tokenError = error as TokenError;
  expect(tokenError.code).toBe(code);
  expect(tokenError.message).toBe(code === 'invalid_token' ? 'Access token invalid' : 'Access token expired');
  return tokenError;
}

describe('jwt', () => {
  let rsa: KeyInput;
  let ec: KeyInput;
  let hs: KeyInput;
  let keys: KeySet;
  let rsaPrivate: KeyObject;
  let ecPrivate: KeyObject;
  let hsSecret: KeyObject;
  let foreignRsa: KeyObject;
  let attackerEc: { privateKey: KeyObject; publicKey: KeyObject };

  beforeAll(async () => {
    [rsa, ec, hs] = await Promise.all([
      KeySet.generateKey('RS256', 'rsa-1'),
      KeySet.generateKey('ES256', 'ec-1'),
      KeySet.generateKey('HS256', 'hs-1'),
    ]);
    keys = createKeySet({ keys: [rsa, ec, hs] });
    rsaPrivate = rsa.privateKey as KeyObject;
    ecPrivate = ec.privateKey as KeyObject;
    hsSecret = hs.secret as KeyObject;
    foreignRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    attackerEc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  });

  const header = (alg: string, kid: string, extra: Json = {}): Json => ({
    alg,
    typ: 'at+jwt',
    kid,
    ...extra,
  });
  const rs = (payload: Part, extra: Json = {}): string =>
    forge(header('RS256', 'rsa-1', extra), payload, 'RS256', rsaPrivate).token;
  const es = (payload: Part, extra: Json = {}): string =>
    forge(header('ES256', 'ec-1', extra), payload, 'ES256', ecPrivate).token;
  const hmac = (payload: Part, extra: Json = {}): string =>
    forge(header('HS256', 'hs-1', extra), payload, 'HS256', hsSecret).token;

  const verify = (token: unknown, options: Partial<VerifyJwtOptions> = {}) =>
    verifyJwt(keys, token as string, { ...OPTIONS, ...options });
  const expectInvalid = (token: unknown, options: Partial<VerifyJwtOptions> = {}): TokenError =>
    expectTokenError(
      thrown(() => verify(token, options)),
      'invalid_token',
    );
  const expectExpired = (token: unknown, options: Partial<VerifyJwtOptions> = {}): TokenError =>
    expectTokenError(
      thrown(() => verify(token, options)),
      'expired_token',
    );

  describe('signJwt', () => {
    it('writes the header exactly as {alg, typ, kid} with typ at+jwt by default', () => {
      const token = signJwt(keys, claims());
      expect(Buffer.from(token.split('.')[0]!, 'base64url').toString()).toBe(
        '{"alg":"RS256","typ":"at+jwt","kid":"rsa-1"}',
      );
    });

    it('writes typ JWT when asked', () => {
      const token = signJwt(keys, claims(), { typ: 'JWT' });
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({
        alg: 'RS256',
        typ: 'JWT',
        kid: 'rsa-1',
      });
    });

    it('writes the claims as given, keeping iat and adding nothing', () => {
      const token = signJwt(keys, claims({ scope: 'read' }));
      expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toEqual(
        claims({ scope: 'read' }),
      );
    });

    it('does not change the claims object it is given', () => {
      const input = claims();
      signJwt(keys, input);
      expect(input).toEqual(claims());
    });

    it.each<[KeyInput['alg'], string]>([
      ['RS256', 'rsa-1'],
      ['ES256', 'ec-1'],
      ['HS256', 'hs-1'],
    ])('round-trips through verifyJwt with an %s signing key', (alg, kid) => {
      const set = createKeySet({ keys: [rsa, ec, hs] });
      set.setSigningKey(kid);
      const verified = verifyJwt(set, signJwt(set, claims()), OPTIONS);
      expect(verified.header).toEqual({ alg, typ: 'at+jwt', kid });
    });

    it('signs ES256 as jsonwebtoken does: the same header and payload parts, a 64-byte R‖S signature jsonwebtoken verifies', () => {
      const set = createKeySet({ keys: [rsa, ec, hs] });
      set.setSigningKey('ec-1');
      const input = claims({ scope: 'read', nbf: NOW - 10 });
      const token = signJwt(set, input);
      const reference = jwt.sign(input, ecPrivate, {
        algorithm: 'ES256',
        keyid: 'ec-1',
        header: { alg: 'ES256', typ: 'at+jwt', kid: 'ec-1' },
      });
      const [headerPart, payloadPart, signaturePart] = token.split('.');
      expect(`${headerPart}.${payloadPart}`).toBe(reference.split('.').slice(0, 2).join('.'));
      expect(Buffer.from(signaturePart!, 'base64url')).toHaveLength(64);
      expect(
        jwt.verify(token, ec.publicKey as KeyObject, { algorithms: ['ES256'], clockTimestamp: NOW }),
      ).toEqual(input);
    });

    it('signs RS256 to exactly the bytes jsonwebtoken writes (RSASSA-PKCS1-v1_5 is deterministic)', () => {
      const set = createKeySet({ keys: [rsa, ec, hs] });
      set.setSigningKey('rsa-1');
      const input = claims({ scope: 'read write', nbf: NOW - 10, aud: ['https://a.example', 'x'] });
      const reference = jwt.sign(input, rsaPrivate, {
        algorithm: 'RS256',
        keyid: 'rsa-1',
        header: { alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1' },
      });
      expect(signJwt(set, input)).toBe(reference);
      expect(signJwt(set, input, { typ: 'JWT' })).toBe(
        jwt.sign(input, rsaPrivate, {
          algorithm: 'RS256',
          keyid: 'rsa-1',
          header: { alg: 'RS256', typ: 'JWT', kid: 'rsa-1' },
        }),
      );
    });

    it('throws TypeError for a malformed nbf with an ES256 signing key, as with the others', () => {
      const set = createKeySet({ keys: [rsa, ec, hs] });
      for (const kid of ['ec-1', 'rsa-1']) {
        set.setSigningKey(kid);
        expect(() => signJwt(set, claims({ nbf: 'soon' }))).toThrow(TypeError);
      }
    });

    it('throws TypeError when the key set cannot sign', () => {
      expect(() => signJwt(createKeySet(), claims())).toThrow(TypeError);
    });

    it.each<[string, Json]>([
      ['iat is missing', claims({}, 'iat')],
      ['exp is missing', claims({}, 'exp')],
      ['iat is 0', claims({ iat: 0 })],
      ['exp is a string', claims({ exp: String(NOW) })],
      ['exp is fractional', claims({ exp: NOW + 0.5 })],
    ])('throws TypeError when %s', (_name, input) => {
      expect(() => signJwt(keys, input)).toThrow(TypeError);
    });

    it('throws TypeError for an unknown typ option', () => {
      expect(() => signJwt(keys, claims(), { typ: 'jwt' as never })).toThrow(TypeError);
    });
  });

  describe('audienceList', () => {
    it.each<[string, unknown, string[] | null]>([
      ['a string', 'a', ['a']],
      ['an array of strings', ['a', 'b'], ['a', 'b']],
      ['an empty string', '', ['']],
      ['an empty array', [], null],
      ['an array with a number', ['a', 1], null],
      ['an array with null', [null], null],
      ['an array with a nested array', [['a']], null],
      ['null', null, null],
      ['undefined', undefined, null],
      ['a number', 1, null],
      ['an object', { 0: 'a', length: 1 }, null],
    ])('maps %s', (_name, aud, expected) => {
      expect(audienceList(aud)).toEqual(expected);
    });

    it('returns a copy, not the claim array', () => {
      const aud = ['a'];
      expect(audienceList(aud)).not.toBe(aud);
    });
  });

  describe('verifyJwt', () => {
    describe('when the token is valid', () => {
      it('returns the header, the matched typ and null-prototype frozen claims', () => {
        const verified = verify(signJwt(keys, claims({ scope: 'a b' })));
        expect(verified.header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1' });
        expect(verified.typ).toBe('at+jwt');
        expect(Object.getPrototypeOf(verified.claims)).toBeNull();
        expect(Object.isFrozen(verified.claims)).toBe(true);
        expect({ ...verified.claims }).toEqual(claims({ scope: 'a b' }));
      });

      it.each<[string, () => string]>([
        ['RS256', () => rs(claims())],
        ['ES256', () => es(claims())],
        ['HS256', () => hmac(claims())],
      ])('accepts a hand-built %s token', (_name, make) => {
        expect(verify(make()).claims.jti).toBe('jti_1');
      });

      it('accepts a bound token with an employer binding', () => {
        const token = rs(claims({ bound_entity: { id: 'empr_abc', type: 'employer' } }));
        expect(verify(token).claims.bound_entity).toEqual({ id: 'empr_abc', type: 'employer' });
      });

      it('accepts a bound token with an employee binding', () => {
        expect(() =>
          verify(rs(claims({ bound_entity: { id: 'empl_A-b_9', type: 'employee' } }))),
        ).not.toThrow();
      });

      it('accepts bound_entity null', () => {
        expect(verify(rs(claims({ bound_entity: null }))).claims.bound_entity).toBeNull();
      });

      it('accepts nbf in the past and iat equal to now', () => {
        expect(() => verify(rs(claims({ nbf: NOW - 5, iat: NOW, exp: NOW + 60 })))).not.toThrow();
      });

      it('accepts any issuer of the list', () => {
        expect(() =>
          verify(rs(claims({ iss: 'https://other.example.com' })), {
            issuers: [ISS, 'https://other.example.com'],
          }),
        ).not.toThrow();
      });

      it('accepts exp − iat equal to maxLifetimeSeconds', () => {
        expect(() => verify(rs(claims({ iat: NOW - 10, exp: NOW - 10 + 3600 })))).not.toThrow();
      });
    });

    describe('when alg is none', () => {
      it.each(['none', 'None', 'NONE', 'nOnE'])(
        'throws invalid_token when alg is %s with an empty signature',
        (alg) => {
          expectInvalid(`${forge(header(alg, 'rsa-1'), claims(), 'none', '').signingInput}.`);
        },
      );

      it.each(['none', 'None', 'NONE', 'nOnE'])(
        'throws invalid_token when alg is %s with a junk signature',
        (alg) => {
          expectInvalid(`${forge(header(alg, 'rsa-1'), claims(), 'none', '').signingInput}.anVuaw`);
        },
      );

      it.each(['none', 'None'])('throws invalid_token when alg is %s without a kid', (alg) => {
        expectInvalid(`${b64u({ alg, typ: 'at+jwt' })}.${b64u(claims())}.anVuaw`);
      });
    });

    describe('when the signature is stripped, truncated or altered', () => {
      it('throws invalid_token when the signature is stripped', () => {
        const [h, p] = rs(claims()).split('.');
        expectInvalid(`${h}.${p}.`);
      });

      it.each([1, 3, 4])('throws invalid_token when the last %i characters are removed', (n) => {
        expectInvalid(rs(claims()).slice(0, -n));
      });

      it.each<[string, () => string]>([
        ['RS256', () => rs(claims())],
        ['ES256', () => es(claims())],
        ['HS256', () => hmac(claims())],
      ])('throws invalid_token when a middle character of an %s signature is flipped', (_name, make) => {
        const token = make();
        const i = token.length - 10;
        const flipped = token[i] === 'A' ? 'B' : 'A';
        expectInvalid(token.slice(0, i) + flipped + token.slice(i + 1));
      });

      it('throws invalid_token when the payload is altered after signing', () => {
        const [h, , s] = rs(claims()).split('.');
        expectInvalid(`${h}.${b64u(claims({ sub: 'admin' }))}.${s}`);
      });

      it('throws invalid_token when the spare bits of an RS256 signature are changed (jsonwebtoken alone accepts it)', () => {
        const token = rs(claims());
        const last = token.at(-1)!;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        // 256 bytes = 342 characters, the last of which carries 4 bits that decoding ignores.
        const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
        const malleable = token.slice(0, -1) + twin;
        expect(Buffer.from(malleable.split('.')[2]!, 'base64url')).toEqual(
          Buffer.from(token.split('.')[2]!, 'base64url'),
        );
        expect(() =>
          jwt.verify(malleable, rsa.publicKey as KeyObject, { algorithms: ['RS256'] }),
        ).not.toThrow();
        expectInvalid(malleable);
      });
    });

    describe('when HS256 is signed with the RSA public key (key confusion)', () => {
      const variants: [string, (publicKey: KeyObject) => Buffer | string][] = [
        ['the SPKI PEM', (k) => k.export({ type: 'spki', format: 'pem' }) as string],
        [
          'the SPKI PEM without the trailing newline',
          (k) => (k.export({ type: 'spki', format: 'pem' }) as string).trimEnd(),
        ],
        ['the PKCS#1 PEM', (k) => k.export({ type: 'pkcs1', format: 'pem' }) as string],
        ['the SPKI DER', (k) => k.export({ type: 'spki', format: 'der' })],
        ['the JWK JSON', (k) => JSON.stringify(k.export({ format: 'jwk' }))],
      ];

      describe.each<[string, () => KeySet]>([
        ['the key set holds only the RSA key', () => createKeySet({ keys: [rsa] })],
        ['the key set holds the RSA and an HMAC key', () => keys],
      ])('when %s', (_name, keySet) => {
        it.each(variants)(
          'throws invalid_token when the HMAC key is %s and kid names the RSA key',
          (_v, material) => {
            const token = forge(
              header('HS256', 'rsa-1'),
              claims(),
              'HS256',
              material(rsa.publicKey as KeyObject),
            ).token;
            expectTokenError(
              thrown(() => verifyJwt(keySet(), token, OPTIONS)),
              'invalid_token',
            );
          },
        );

        it.each(variants)(
          'throws invalid_token when the HMAC key is %s and kid names the HMAC key',
          (_v, material) => {
            const token = forge(
              header('HS256', 'hs-1'),
              claims(),
              'HS256',
              material(rsa.publicKey as KeyObject),
            ).token;
            expectTokenError(
              thrown(() => verifyJwt(keySet(), token, OPTIONS)),
              'invalid_token',
            );
          },
        );
      });
    });

    describe('when the algorithm is not the one the key is pinned to', () => {
      it.each<[string, () => string]>([
        ['HS384 uses the HMAC key', () => forge(header('HS384', 'hs-1'), claims(), 'HS384', hsSecret).token],
        ['HS512 uses the HMAC key', () => forge(header('HS512', 'hs-1'), claims(), 'HS512', hsSecret).token],
        [
          'PS256 uses the RS256 key',
          () => forge(header('PS256', 'rsa-1'), claims(), 'PS256', rsaPrivate).token,
        ],
        [
          'ES256 names the RSA key',
          () => forge(header('ES256', 'rsa-1'), claims(), 'ES256', ecPrivate).token,
        ],
        ['RS256 names the EC key', () => forge(header('RS256', 'ec-1'), claims(), 'RS256', rsaPrivate).token],
        [
          'RS256 names the HMAC key',
          () => forge(header('RS256', 'hs-1'), claims(), 'RS256', rsaPrivate).token,
        ],
        ['HS256 names the RSA key', () => forge(header('HS256', 'rsa-1'), claims(), 'HS256', hsSecret).token],
        ['HS256 names the EC key', () => forge(header('HS256', 'ec-1'), claims(), 'HS256', hsSecret).token],
      ])('throws invalid_token when %s', (_name, make) => {
        expectInvalid(make());
      });
    });

    describe('when alg is malformed', () => {
      it.each<[string, Json]>([
        ['alg is missing', { typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is null', { alg: null, typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is ""', { alg: '', typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is "HS256 "', { alg: 'HS256 ', typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is "hs256"', { alg: 'hs256', typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is ["HS256"]', { alg: ['HS256'], typ: 'at+jwt', kid: 'hs-1' }],
        ['alg is 256', { alg: 256, typ: 'at+jwt', kid: 'hs-1' }],
      ])('throws invalid_token when %s', (_name, h) => {
        expectInvalid(forge(h, claims(), 'HS256', hsSecret).token);
      });
    });

    describe('when kid is hostile', () => {
      it.each<[string, unknown]>([
        ['a path traversal', '../../../../dev/null'],
        ['/dev/null', '/dev/null'],
        ['an SQL injection', "' UNION SELECT '1"],
        ['a shell substitution', '$(sleep 10)'],
        ['a glob', '*'],
        ['empty', ''],
        ['__proto__', '__proto__'],
        ['constructor', 'constructor'],
        ['toString', 'toString'],
        ['the kid with a trailing space', 'hs-1 '],
        ['a number', 1],
        ['an object', { kid: 'hs-1' }],
        ['an array', ['hs-1']],
        ['null', null],
      ])('throws invalid_token when kid is %s', (_name, kid) => {
        expectInvalid(forge({ alg: 'HS256', typ: 'at+jwt', kid }, claims(), 'HS256', hsSecret).token);
        // '' signed with an empty-ish key, as the jwt_tool SQLi playbook does.
        expectInvalid(forge({ alg: 'HS256', typ: 'at+jwt', kid }, claims(), 'HS256', '1').token);
      });

      it('throws invalid_token when kid is missing', () => {
        expectInvalid(forge({ alg: 'RS256', typ: 'at+jwt' }, claims(), 'RS256', rsaPrivate).token);
      });

      it('throws invalid_token when kid is a 10 KB string, even past the size cap', () => {
        const token = forge(
          { alg: 'HS256', typ: 'at+jwt', kid: 'x'.repeat(10_240) },
          claims(),
          'HS256',
          hsSecret,
        ).token;
        expectInvalid(token);
        expectInvalid(token, { maxTokenLength: 100_000 });
      });
    });

    describe('when the header names key material or extensions', () => {
      it('throws invalid_token when an embedded jwk carries the attacker key that signed it', () => {
        const jwk = attackerEc.publicKey.export({ format: 'jwk' });
        expectInvalid(
          forge(header('ES256', 'ec-1', { jwk }), claims(), 'ES256', attackerEc.privateKey).token,
        );
        expectInvalid(
          forge({ alg: 'ES256', typ: 'at+jwt', jwk }, claims(), 'ES256', attackerEc.privateKey).token,
        );
      });

      it.each<[string, Json]>([
        ['jwk (our own public key)', { jwk: { kty: 'RSA' } }],
        ['jku to an attacker JWKS', { jku: 'https://attacker.example/jwks.json' }],
        ['jku to loopback', { jku: 'http://127.0.0.1:9/jwks.json' }],
        ['jku to the metadata service', { jku: 'http://169.254.169.254/latest/meta-data/' }],
        ['x5u', { x5u: 'https://attacker.example/cert.pem' }],
        ['x5c', { x5c: ['MIIBszCCAVmgAwIBAgIUQ'] }],
        ['x5t', { x5t: 'abc' }],
        ['crit:["x-unknown"]', { crit: ['x-unknown'], 'x-unknown': true }],
        ['crit:[]', { crit: [] }],
        ['b64:false with crit:["b64"]', { b64: false, crit: ['b64'] }],
        ['cty:"JWT"', { cty: 'JWT' }],
        ['zip', { zip: 'DEF' }],
        ['enc', { enc: 'A256GCM' }],
        ['__proto__', JSON.parse('{"__proto__":{"x":1}}') as Json],
      ])('throws invalid_token when the header has %s, even signed with our key', (_name, extra) => {
        expectInvalid(rs(claims(), extra));
      });

      it('throws invalid_token for a nested JWT with cty JWT without reading the inner token', () => {
        const inner = signJwt(keys, claims());
        expectInvalid(rs(inner, { cty: 'JWT' }));
      });

      it('documents that jsonwebtoken alone accepts an unknown crit header', () => {
        const token = rs(claims(), { crit: ['x-unknown'] });
        expect(() =>
          jwt.verify(token, rsa.publicKey as KeyObject, { algorithms: ['RS256'], clockTimestamp: NOW }),
        ).not.toThrow();
      });
    });

    describe('when ECDSA signatures are hostile', () => {
      it('throws invalid_token for the psychic signature (64 zero bytes)', () => {
        const { signingInput } = forge(header('ES256', 'ec-1'), claims(), 'ES256', ecPrivate);
        expectInvalid(`${signingInput}.${Buffer.alloc(64).toString('base64url')}`);
      });

      it('throws invalid_token for the DER form of the psychic signature', () => {
        const { signingInput } = forge(header('ES256', 'ec-1'), claims(), 'ES256', ecPrivate);
        expectInvalid(`${signingInput}.${Buffer.from('3006020100020100', 'hex').toString('base64url')}`);
      });

      it('throws invalid_token for a valid signature in ASN.1 DER instead of r‖s', () => {
        expectInvalid(forge(header('ES256', 'ec-1'), claims(), 'ES256-DER', ecPrivate).token);
      });

      it('accepts the high-s twin (r, n − s), like jsonwebtoken; revocation is keyed on jti for this reason', () => {
        const { signingInput, signature } = forge(header('ES256', 'ec-1'), claims(), 'ES256', ecPrivate);
        const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
        const twinS = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
        const twin = `${signingInput}.${Buffer.concat([signature.subarray(0, 32), twinS]).toString('base64url')}`;
        let outcome: unknown;
        try {
          outcome = verify(twin).claims.jti;
        } catch (error) {
          outcome = error;
        }
        // Whatever the outcome, it is never an error other than a TokenError.
        expect(typeof outcome === 'string' || outcome instanceof TokenError).toBe(true);
        expect(outcome).toBe('jti_1');
      });
    });

    describe('when the payload is not a JSON object', () => {
      it.each<[string, string]>([
        ['a string', '"hello"'],
        ['an array', '[1,2]'],
        ['0', '0'],
        ['true', 'true'],
        ['null', 'null'],
        ['not JSON', 'hello'],
        ['truncated JSON', '{"sub":"a"'],
      ])('throws invalid_token when the payload is %s, signed with our key', (_name, payload) => {
        expectInvalid(rs(payload));
        expectInvalid(hmac(payload));
      });

      it('throws invalid_token when the payload is not valid UTF-8 (overlong C0 AF)', () => {
        const payload = Buffer.concat([
          Buffer.from(JSON.stringify(claims()).slice(0, -1) + ',"x":"'),
          Buffer.from([0xc0, 0xaf]),
          Buffer.from('"}'),
        ]);
        expectInvalid(rs(payload));
      });

      it('documents that jsonwebtoken alone returns a non-object payload instead of refusing it', () => {
        const key = rsa.publicKey as KeyObject;
        expect(jwt.verify(rs('"hello"'), key, { algorithms: ['RS256'] })).toBe('"hello"');
        expect(jwt.verify(rs('[1,2]'), key, { algorithms: ['RS256'] })).toEqual([1, 2]);
      });
    });

    describe('when the header is not a JSON object', () => {
      it.each<[string, Part]>([
        ['truncated JSON', '{"alg":"RS256"'],
        ['null', 'null'],
        ['an array', '[]'],
        ['a string', '"abc"'],
        ['prefixed with a byte-order mark', '\ufeff{"alg":"RS256","typ":"at+jwt","kid":"rsa-1"}'],
        [
          'invalid UTF-8 (overlong C0 AF)',
          Buffer.concat([
            Buffer.from('{"alg":"RS256","typ":"at+jwt","kid":"rsa-1'),
            Buffer.from([0xc0, 0xaf, 0x22, 0x7d]),
          ]),
        ],
        [
          'a latin1 kid',
          Buffer.concat([
            Buffer.from('{"alg":"RS256","typ":"at+jwt","kid":"rsa-1'),
            Buffer.from([0xe9, 0x22, 0x7d]),
          ]),
        ],
      ])('throws invalid_token when the header is %s', (_name, h) => {
        expectInvalid(forge(h, claims(), 'RS256', rsaPrivate).token);
      });
    });

    describe('when the compact form is malformed', () => {
      it.each<[string, (token: string) => unknown]>([
        ['the empty string', () => ''],
        ['"."', () => '.'],
        ['".."', () => '..'],
        ['"..."', () => '...'],
        ['two parts', (t) => t.split('.').slice(0, 2).join('.')],
        ['four parts', (t) => `${t}.${t.split('.')[2]}`],
        ['five parts (JWE)', (t) => `${t}.AAAA.BBBB`],
        ['an empty header', (t) => `.${t.split('.').slice(1).join('.')}`],
        ['an empty payload', (t) => t.replace(/\.[^.]+\./, '..')],
        ['base64 padding', (t) => t.replace('.', '=.')],
        ['a "+" character', (t) => t.replace('-', '+').replace('_', '+')],
        ['a "/" character', (t) => `${t.slice(0, 5)}/${t.slice(6)}`],
        ['a leading space', (t) => ` ${t}`],
        ['a trailing space', (t) => `${t} `],
        ['an internal space', (t) => `${t.slice(0, 10)} ${t.slice(10)}`],
        ['a trailing newline', (t) => `${t}\n`],
        ['a "Bearer " prefix', (t) => `Bearer ${t}`],
        ['a non-ASCII character', (t) => `${t.slice(0, 10)}é${t.slice(11)}`],
        ['a full-width letter', (t) => `${t.slice(0, 10)}Ａ${t.slice(11)}`],
        ['a non-canonical header (one extra character)', (t) => t.replace('.', 'A.')],
        ['an array', (t) => [t]],
        ['a number', () => 42],
        ['null', () => null],
        ['undefined', () => undefined],
        ['an object with toString', (t) => ({ toString: () => t })],
      ])('throws invalid_token for %s', (_name, mangle) => {
        expectInvalid(mangle(rs(claims())));
      });

      it('throws invalid_token for an 8 KB validly signed token before decoding it', () => {
        const token = rs(claims({ padding: 'x'.repeat(8192) }));
        expect(token.length).toBeGreaterThan(8192);
        expectInvalid(token);
        expect(verify(token, { maxTokenLength: 16_384 }).claims.jti).toBe('jti_1');
      });

      it('accepts a token exactly maxTokenLength long', () => {
        const token = rs(claims());
        expect(() => verify(token, { maxTokenLength: token.length })).not.toThrow();
        expectInvalid(token, { maxTokenLength: token.length - 1 });
      });
    });

    describe('when a part is not canonical base64url (spare bits or a lone character)', () => {
      /** The same bytes, with the spare low bits of the last character set: decodes alike, re-encodes differently. */
      const spareBits = (part: string): string => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const rest = part.length % 4;
        const mask = rest === 2 ? 0x0f : rest === 3 ? 0x03 : 0;
        const last = alphabet.indexOf(part.slice(-1));
        return mask === 0 ? part : part.slice(0, -1) + alphabet[last | 1]!;
      };
      const withPart = (token: string, index: number, change: (part: string) => string): string =>
        token
          .split('.')
          .map((part, i) => (i === index ? change(part) : part))
          .join('.');

      it.each<[string, number]>([
        ['header', 0],
        ['payload', 1],
      ])('throws invalid_token when the %s has non-zero spare bits', (_name, index) => {
        // pad the JSON until the part's length leaves spare bits
        let token = '';
        for (let pad = 0; pad < 3 && token === ''; pad++) {
          const candidate =
            index === 0
              ? forge(header('RS256', 'rsa-1'.padEnd(5 + pad, '-')), claims(), 'RS256', rsaPrivate).token
              : rs(claims({ p: 'x'.repeat(pad) }));
          if (candidate.split('.')[index]!.length % 4 !== 0) token = candidate;
        }
        expect(token).not.toBe('');
        const mangled = withPart(token, index, spareBits);
        expect(mangled).not.toBe(token);
        expect(Buffer.from(mangled.split('.')[index]!, 'base64url')).toEqual(
          Buffer.from(token.split('.')[index]!, 'base64url'),
        );
        expectInvalid(mangled);
      });

      it('throws invalid_token when the payload has a lone trailing character (length % 4 = 1)', () => {
        const token = rs(claims());
        const payload = token.split('.')[1]!;
        const lone = `${payload}AAAA`.slice(0, payload.length + ((5 - (payload.length % 4)) % 4 || 4));
        expect(lone.length % 4).toBe(1);
        expectInvalid(withPart(token, 1, () => lone));
      });
    });

    describe('when the key is foreign', () => {
      it('throws invalid_token when another RSA key signs under our kid', () => {
        expectInvalid(forge(header('RS256', 'rsa-1'), claims(), 'RS256', foreignRsa).token);
      });

      it('throws invalid_token when another EC key signs under our kid', () => {
        expectInvalid(forge(header('ES256', 'ec-1'), claims(), 'ES256', attackerEc.privateKey).token);
      });

      it.each(['secret', 'password', '1', ''])(
        'throws invalid_token when HS256 is signed with the weak secret %j',
        (secret) => {
          expectInvalid(forge(header('HS256', 'hs-1'), claims(), 'HS256', secret).token);
        },
      );
    });

    describe('when exp is missing or malformed', () => {
      it.each<[string, Part]>([
        ['exp is missing', claims({}, 'exp')],
        ['exp is a numeric string', claims({ exp: '1893456000' })],
        ['exp is null', claims({ exp: null })],
        ['exp is true', claims({ exp: true })],
        ['exp is []', claims({ exp: [] })],
        ['exp is {}', claims({ exp: {} })],
        ['exp is 1e400 (Infinity)', JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400')],
        ['exp is in milliseconds', claims({ exp: (NOW + 600) * 1000 })],
        ['exp is fractional', claims({ exp: NOW + 600.5 })],
        ['exp is negative', claims({ exp: -1 })],
        ['exp is beyond the maximum lifetime', claims({ iat: NOW - 60, exp: NOW - 60 + 3601 })],
        ['exp is ten years after iat', claims({ exp: NOW + 10 * 365 * 86_400 })],
        ['exp equals iat', claims({ iat: NOW - 60, exp: NOW - 60 })],
        ['exp is before iat', claims({ iat: NOW - 60, exp: NOW - 61 })],
      ])('throws invalid_token when %s', (_name, payload) => {
        expectInvalid(rs(payload));
      });

      it('documents that jsonwebtoken alone accepts a token without exp and with exp 1e400', () => {
        const key = rsa.publicKey as KeyObject;
        expect(() => jwt.verify(rs(claims({}, 'exp')), key, { algorithms: ['RS256'] })).not.toThrow();
        const infinite = rs(JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400'));
        expect(() => jwt.verify(infinite, key, { algorithms: ['RS256'] })).not.toThrow();
      });
    });

    describe('when exp is at a boundary', () => {
      it('throws expired_token when exp equals now with no tolerance', () => {
        expectExpired(rs(claims({ exp: NOW })));
      });

      it('accepts exp one second after now with no tolerance', () => {
        expect(() => verify(rs(claims({ exp: NOW + 1 })))).not.toThrow();
      });

      it('accepts exp equal to now + tolerance − 1 with tolerance 30', () => {
        expect(() => verify(rs(claims({ exp: NOW + 29 })), { clockToleranceSeconds: 30 })).not.toThrow();
      });

      it('accepts exp equal to now − tolerance + 1 with tolerance 30', () => {
        expect(() => verify(rs(claims({ exp: NOW - 29 })), { clockToleranceSeconds: 30 })).not.toThrow();
      });

      it('throws expired_token when exp equals now − tolerance with tolerance 30', () => {
        expectExpired(rs(claims({ exp: NOW - 30 })), { clockToleranceSeconds: 30 });
      });

      it('accepts an expired token when ignoreExpiration is set', () => {
        expect(verify(rs(claims({ exp: NOW - 10 })), { ignoreExpiration: true }).claims.jti).toBe('jti_1');
      });

      it('still throws invalid_token for an expired malformed token when ignoreExpiration is set', () => {
        expectInvalid(rs(claims({ exp: NOW - 10, aud: 'other' })), { ignoreExpiration: true });
      });
    });

    describe('when nbf is in the future or malformed', () => {
      it.each<[string, Json, number]>([
        ['nbf is one second in the future', { nbf: NOW + 1 }, 0],
        ['nbf is beyond the tolerance', { nbf: NOW + 31 }, 30],
        ['nbf is a string', { nbf: String(NOW - 10) }, 0],
        ['nbf is null', { nbf: null }, 0],
        ['nbf is fractional', { nbf: NOW - 10.5 }, 0],
      ])('throws invalid_token when %s', (_name, extra, tolerance) => {
        expectInvalid(rs(claims(extra)), { clockToleranceSeconds: tolerance });
      });

      it('throws invalid_token, not expired_token, when nbf is in the future and exp is past', () => {
        expectInvalid(rs(claims({ nbf: NOW + 100, iat: NOW - 100, exp: NOW - 50 })));
      });

      it('accepts nbf within the tolerance', () => {
        expect(() => verify(rs(claims({ nbf: NOW + 30 })), { clockToleranceSeconds: 30 })).not.toThrow();
      });
    });

    describe('when iat is missing, malformed or in the future', () => {
      it.each<[string, Json, string[]]>([
        ['iat is missing', {}, ['iat']],
        ['iat is in the future', { iat: NOW + 1 }, []],
        ['iat is a year in the future', { iat: NOW + 365 * 86_400, exp: NOW + 365 * 86_400 + 60 }, []],
        ['iat is a string', { iat: String(NOW - 60) }, []],
        ['iat is fractional', { iat: NOW - 60.5 }, []],
        ['iat is null', { iat: null }, []],
        ['iat is negative', { iat: -60 }, []],
      ])('throws invalid_token when %s', (_name, extra, omit) => {
        expectInvalid(rs(claims(extra, ...omit)));
      });

      it('accepts iat within the tolerance', () => {
        expect(() => verify(rs(claims({ iat: NOW + 30 })), { clockToleranceSeconds: 30 })).not.toThrow();
      });

      it('throws invalid_token when iat is beyond the tolerance', () => {
        expectInvalid(rs(claims({ iat: NOW + 31 })), { clockToleranceSeconds: 30 });
      });
    });

    describe('when iss is wrong', () => {
      it.each<[string, Json, string[]]>([
        ['iss is another issuer', { iss: 'https://evil.example.com' }, []],
        ['iss is missing', {}, ['iss']],
        ['iss differs in case', { iss: 'https://ISSUER.example.com' }, []],
        ['iss has a trailing slash added', { iss: `${ISS}/` }, []],
        ['iss is an array holding ours', { iss: [ISS] }, []],
        ['iss is null', { iss: null }, []],
        ['iss has a trailing space', { iss: `${ISS} ` }, []],
      ])('throws invalid_token when %s', (_name, extra, omit) => {
        expectInvalid(rs(claims(extra, ...omit)));
      });

      it('throws invalid_token when iss has the configured trailing slash removed', () => {
        expectInvalid(rs(claims()), { issuers: [`${ISS}/`] });
      });
    });

    describe('when aud is wrong', () => {
      it.each<[string, Json, string[]]>([
        ['aud is missing', {}, ['aud']],
        ['aud is []', { aud: [] }, []],
        ['aud is null', { aud: null }, []],
        ['aud is ""', { aud: '' }, []],
        ['aud has a non-string member next to ours', { aud: [AUD, 1] }, []],
        ['aud has a null member next to ours', { aud: [null, AUD] }, []],
        ['aud has a nested array holding ours', { aud: [[AUD]] }, []],
        ['aud is an object', { aud: { [AUD]: true } }, []],
        ['aud differs in case', { aud: 'API.example.com' }, []],
        ['aud has a suffix', { aud: 'api.example.com.evil' }, []],
        ['aud has a prefix', { aud: 'https://evil/api.example.com' }, []],
        ['aud is a prefix of ours', { aud: 'api.example.co' }, []],
        ['aud is another audience', { aud: ['other.example.com'] }, []],
      ])('throws invalid_token when %s', (_name, extra, omit) => {
        expectInvalid(rs(claims(extra, ...omit)));
      });

      it('accepts an array that contains our audience', () => {
        expect(verify(rs(claims({ aud: ['other.example.com', AUD] }))).claims.aud).toEqual([
          'other.example.com',
          AUD,
        ]);
      });

      it('accepts a one-element array', () => {
        expect(() => verify(rs(claims({ aud: [AUD] })))).not.toThrow();
      });
    });

    describe('when typ is checked', () => {
      it.each(['at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/At+Jwt'])('accepts typ %j', (typ) => {
        const verified = verify(rs(claims(), { typ }));
        expect(verified.typ).toBe('at+jwt');
        expect(verified.header.typ).toBe(typ);
      });

      it.each<[string, unknown]>([
        ['JWT', 'JWT'],
        ['jwt', 'jwt'],
        ['application/jwt', 'application/jwt'],
        ['"at+jwt " (trailing space)', 'at+jwt '],
        ['" at+jwt" (leading space)', ' at+jwt'],
        ['"at+jw"', 'at+jw'],
        ['"application/application/at+jwt"', 'application/application/at+jwt'],
        ['"application+at+jwt"', 'application+at+jwt'],
        ['null', null],
        ['a number', 1],
        ['an array', ['at+jwt']],
      ])('throws invalid_token when typ is %s', (_name, typ) => {
        expectInvalid(rs(claims(), { typ }));
      });

      it('throws invalid_token when typ is missing', () => {
        expectInvalid(forge({ alg: 'RS256', kid: 'rsa-1' }, claims(), 'RS256', rsaPrivate).token);
      });

      it('accepts typ JWT only when options.typ includes JWT', () => {
        const token = signJwt(keys, claims(), { typ: 'JWT' });
        expectInvalid(token);
        expect(verify(token, { typ: ['JWT'] }).typ).toBe('JWT');
        expect(verify(token, { typ: ['at+jwt', 'JWT'] }).typ).toBe('JWT');
      });

      it('throws invalid_token for typ at+jwt when options.typ is only JWT', () => {
        expectInvalid(signJwt(keys, claims()), { typ: ['JWT'] });
      });
    });

    describe('when sub, jti or client_id is missing or malformed', () => {
      describe.each(['sub', 'jti', 'client_id'])('for %s', (name) => {
        it.each<[string, unknown]>([
          ['empty', ''],
          ['a number', 42],
          ['null', null],
          ['an array', ['x']],
          ['an object', { id: 'x' }],
          ['true', true],
        ])(`throws invalid_token when ${name} is %s`, (_name, value) => {
          expectInvalid(rs(claims({ [name]: value })));
        });

        it(`throws invalid_token when ${name} is missing`, () => {
          expectInvalid(rs(claims({}, name)));
        });
      });
    });

    describe('when claim names collide with the prototype', () => {
      it.each(['sub', 'jti', 'client_id'])(
        'throws invalid_token when %s only exists inside a __proto__ claim',
        (name) => {
          const payload = JSON.stringify(claims({}, name)).replace('{', `{"__proto__":{"${name}":"x"},`);
          expectInvalid(rs(payload));
        },
      );

      it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])(
        'throws invalid_token when sub is missing and a %s claim is present',
        (name) => {
          const payload = JSON.stringify(claims({}, 'sub')).replace('{', `{"${name}":"x",`);
          expectInvalid(rs(payload));
        },
      );

      it('keeps a __proto__ claim as an own member of a null-prototype object', () => {
        const payload = JSON.stringify(claims()).replace('{', '{"__proto__":{"admin":true},');
        const verified = verify(rs(payload));
        expect(Object.getPrototypeOf(verified.claims)).toBeNull();
        expect(Object.hasOwn(verified.claims, '__proto__')).toBe(true);
        expect((verified.claims as { admin?: unknown }).admin).toBeUndefined();
        expect(({} as { admin?: unknown }).admin).toBeUndefined();
      });
    });

    describe('when scope or bound_entity is malformed', () => {
      it.each<[string, unknown]>([
        ['a number', 1],
        ['an array', ['read']],
        ['null', null],
      ])('throws invalid_token when scope is %s', (_name, scope) => {
        expectInvalid(rs(claims({ scope })));
      });

      it.each<[string, unknown]>([
        ['an array', [{ id: 'empr_abc', type: 'employer' }]],
        ['a number', 1],
        ['""', ''],
        ['a bare id', 'empr_abc'],
        ['{}', {}],
        ['an employee id typed employer', { id: 'empl_abc', type: 'employer' }],
        ['an employer id typed employee', { id: 'empr_abc', type: 'employee' }],
        ['an unknown type', { id: 'empr_abc', type: 'admin' }],
        ['an unknown prefix', { id: 'emp_abc', type: 'employer' }],
        ['a prefix with nothing after it', { id: 'empr_', type: 'employer' }],
        ['an id with a space', { id: 'empr_a b', type: 'employer' }],
        ['an id with a dot', { id: 'empr_a.b', type: 'employer' }],
        ['an id of 129 characters after the prefix', { id: `empr_${'a'.repeat(129)}`, type: 'employer' }],
        ['an id in upper case', { id: 'EMPR_abc', type: 'employer' }],
        ['a numeric id', { id: 42, type: 'employer' }],
        ['a missing id', { type: 'employer' }],
        ['a missing type', { id: 'empr_abc' }],
        ['an extra member', { id: 'empr_abc', type: 'employer', admin: true }],
        [
          'an id inherited through __proto__',
          JSON.parse('{"__proto__":{"id":"empr_abc"},"type":"employer"}'),
        ],
      ])('throws invalid_token when bound_entity is %s', (_name, boundEntity) => {
        expectInvalid(rs(claims({ bound_entity: boundEntity })));
      });
    });

    describe('when several checks fail (order)', () => {
      const expired = { iat: NOW - 600, exp: NOW - 10 };

      it.each<[string, () => string]>([
        ['expired with a wrong aud', () => rs(claims({ ...expired, aud: 'other.example.com' }))],
        ['expired with a wrong iss', () => rs(claims({ ...expired, iss: 'https://evil.example.com' }))],
        ['expired with a wrong typ', () => rs(claims(expired), { typ: 'JWT' })],
        [
          'expired with a bad signature',
          () => forge(header('RS256', 'rsa-1'), claims(expired), 'RS256', foreignRsa).token,
        ],
        [
          'expired with an unknown kid',
          () => forge(header('RS256', 'rsa-9'), claims(expired), 'RS256', rsaPrivate).token,
        ],
        ['expired with a crit header', () => rs(claims(expired), { crit: ['exp'] })],
        ['expired without sub', () => rs(claims(expired, 'sub'))],
        ['expired without jti', () => rs(claims(expired, 'jti'))],
        ['expired with a malformed bound_entity', () => rs(claims({ ...expired, bound_entity: [] }))],
        ['expired beyond the maximum lifetime', () => rs(claims({ iat: NOW - 7200, exp: NOW - 10 }))],
      ])('throws invalid_token, not expired_token, when the token is %s', (_name, make) => {
        expectInvalid(make());
      });

      it('throws expired_token with the message exactly "Access token expired" when only exp fails', () => {
        const error = expectExpired(rs(claims(expired)));
        expect(error.message).toBe('Access token expired');
        expect(error.status).toBe(401);
      });

      it('documents that jsonwebtoken alone reports an expired wrong-audience token as expired', () => {
        const token = rs(claims({ ...expired, aud: 'other.example.com' }));
        expect(() =>
          jwt.verify(token, rsa.publicKey as KeyObject, {
            algorithms: ['RS256'],
            audience: AUD,
            clockTimestamp: NOW,
          }),
        ).toThrow(jwt.TokenExpiredError);
      });
    });

    describe('when errors are reported', () => {
      it.each<[string, () => string]>([
        ['the issuer is wrong', () => rs(claims({ iss: 'https://evil.example.com' }))],
        ['the audience is wrong', () => rs(claims({ aud: 'other.example.com' }))],
        ['the signature is bad', () => forge(header('RS256', 'rsa-1'), claims(), 'RS256', foreignRsa).token],
        ['the token is expired', () => rs(claims({ exp: NOW - 10 }))],
      ])('never puts the expected issuer, audience or the token in the message when %s', (_name, make) => {
        const token = make();
        const error = thrown(() => verify(token)) as TokenError;
        expect(error).toBeInstanceOf(TokenError);
        for (const secret of [ISS, AUD, token, token.split('.')[2]!]) {
          expect(error.message).not.toContain(secret);
          expect(JSON.stringify(error)).not.toContain(secret);
        }
      });

      it('puts the reason in cause', () => {
        const error = expectInvalid(rs(claims({ aud: 'other.example.com' })));
        expect(error.cause).toBeInstanceOf(Error);
        expect((error.cause as Error).message).toMatch(/aud/);
      });

      it('names a signature failure in the cause (node:crypto verifies, not jsonwebtoken)', () => {
        const error = expectInvalid(forge(header('RS256', 'rsa-1'), claims(), 'RS256', foreignRsa).token);
        expect((error.cause as Error).message).toBe('signature verification failed');
      });
    });

    describe('when options are invalid', () => {
      it.each<[string, Partial<Record<keyof VerifyJwtOptions, unknown>>]>([
        ['clockToleranceSeconds is NaN', { clockToleranceSeconds: Number.NaN }],
        ['clockToleranceSeconds is negative', { clockToleranceSeconds: -1 }],
        ['maxLifetimeSeconds is Infinity', { maxLifetimeSeconds: Number.POSITIVE_INFINITY }],
        ['now is NaN', { now: Number.NaN }],
        ['now is a string', { now: String(NOW) }],
        ['issuers is a string', { issuers: ISS }],
        ['audiences is empty-stringed', { audiences: [''] }],
        ['typ is empty', { typ: [] }],
        ['maxTokenLength is 0', { maxTokenLength: 0 }],
      ])('throws TypeError when %s', (_name, options) => {
        expect(() =>
          verifyJwt(keys, signJwt(keys, claims()), { ...OPTIONS, ...options } as VerifyJwtOptions),
        ).toThrow(TypeError);
      });
    });
  });
});
