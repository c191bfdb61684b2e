import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { signJwt, verifyJwt } from '../../lib/core/jwt';
import { createKeySet } from '../../lib/keys/key-set';
import type { JwkInput, KeyInput } from '../../lib/keys/key-set';

const NOW = 1_900_000_000;

function claims(): Record<string, unknown> {
  return {
    iss: 'https://issuer.example.com',
    aud: 'api.example.com',
    sub: 'user_1',
    client_id: 'client_1',
    jti: 'j1',
    iat: NOW - 10,
    exp: NOW + 600,
  };
}

const VERIFY = {
  issuers: ['https://issuer.example.com'],
  audiences: ['api.example.com'],
  clockToleranceSeconds: 0,
  maxLifetimeSeconds: 3600,
  now: NOW,
};

function jwkOf(key: KeyObject, extra: Record<string, unknown> = {}): JwkInput {
  return { ...(key.export({ format: 'jwk' }) as JwkInput), ...extra };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('KeySet.add', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const secret = randomBytes(32);
  const oct = { kty: 'oct', k: secret.toString('base64url') };

  describe('when given JWKs', () => {
    it.each<[string, 'RS256' | 'ES256', KeyObject, KeyObject]>([
      ['an RSA private JWK for RS256', 'RS256', rsa.privateKey, rsa.publicKey],
      ['an EC P-256 private JWK for ES256', 'ES256', ec.privateKey, ec.publicKey],
    ])('signs with %s and derives its public key', (_name, alg, privateKey, publicKey) => {
      const keys = createKeySet({
        keys: [{ kid: 'k1', alg, privateKey: jwkOf(privateKey, { kid: 'k1', alg, use: 'sig' }) }],
      });
      expect(keys.verificationKey('k1', alg)?.equals(publicKey)).toBe(true);
      const verifier = createKeySet({ keys: [{ kid: 'k1', alg, publicKey: jwkOf(publicKey) }] });
      expect(verifyJwt(verifier, signJwt(keys, claims()), VERIFY).claims.jti).toBe('j1');
    });

    it('accepts a JWK without kid, alg and use members', () => {
      const keys = createKeySet({ keys: [{ kid: 'k1', alg: 'ES256', privateKey: jwkOf(ec.privateKey) }] });
      expect(keys.signingKey().kid).toBe('k1');
    });

    it('accepts a public JWK as a verification-only publicKey, and a published JWKS entry as is', () => {
      const published = createKeySet({ keys: [{ kid: 'k1', alg: 'RS256', publicKey: rsa.publicKey }] }).jwks()
        .keys[0]!;
      const keys = createKeySet({ keys: [{ kid: 'k1', alg: 'RS256', publicKey: published }] });
      expect(keys.verificationKey('k1', 'RS256')?.equals(rsa.publicKey)).toBe(true);
      expect(() => keys.signingKey()).toThrow(TypeError);
    });

    it('accepts a JWK as a JSON string (as read from an environment variable)', () => {
      const keys = createKeySet({
        keys: [{ kid: 'k1', alg: 'ES256', privateKey: JSON.stringify(jwkOf(ec.privateKey)) }],
      });
      expect(keys.verificationKey('k1', 'ES256')?.equals(ec.publicKey)).toBe(true);
    });

    it('accepts a private JWK and its matching public JWK together', () => {
      expect(() =>
        createKeySet({
          keys: [
            { kid: 'k1', alg: 'RS256', privateKey: jwkOf(rsa.privateKey), publicKey: jwkOf(rsa.publicKey) },
          ],
        }),
      ).not.toThrow();
    });

    it('takes an oct JWK secret as the bytes its base64url "k" encodes, not as text', () => {
      const keys = createKeySet({
        keys: [{ kid: 'h1', alg: 'HS256', secret: { ...oct, kid: 'h1', alg: 'HS256', use: 'sig' } }],
      });
      expect(keys.verificationKey('h1', 'HS256')?.export().equals(secret)).toBe(true);
    });

    it('keeps a string secret as its UTF-8 bytes', () => {
      const text = randomBytes(32).toString('base64url');
      const keys = createKeySet({ keys: [{ kid: 'h1', alg: 'HS256', secret: text }] });
      expect(keys.verificationKey('h1', 'HS256')?.export().toString('utf8')).toBe(text);
    });
  });

  describe('when a JWK is wrong for the key', () => {
    const rsaPublic = jwkOf(rsa.publicKey);
    it.each<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]>([
      [
        'RS256 gets an EC JWK',
        () => ({ alg: 'RS256', privateKey: jwkOf(ec.privateKey) }),
        TypeError,
        /privateKey is a JWK with kty "EC"; RS256 needs kty "RSA"/,
      ],
      [
        'ES256 gets an RSA JWK',
        () => ({ alg: 'ES256', privateKey: jwkOf(rsa.privateKey) }),
        TypeError,
        /privateKey is a JWK with kty "RSA"; ES256 needs kty "EC"/,
      ],
      [
        'ES256 gets an oct JWK as publicKey',
        () => ({ alg: 'ES256', publicKey: oct }),
        TypeError,
        /publicKey is a JWK with kty "oct"; ES256 needs kty "EC"/,
      ],
      [
        'ES256 gets a P-384 JWK',
        () => ({ alg: 'ES256', privateKey: jwkOf(p384.privateKey) }),
        TypeError,
        /privateKey is a JWK with crv "P-384"; ES256 needs crv "P-256"/,
      ],
      [
        'the JWK says alg PS256 for an RS256 key',
        () => ({ alg: 'RS256', privateKey: jwkOf(rsa.privateKey, { alg: 'PS256' }) }),
        TypeError,
        /privateKey is a JWK with alg "PS256", but the key is pinned to RS256/,
      ],
      [
        'the JWK has another kid',
        () => ({ alg: 'RS256', publicKey: { ...rsaPublic, kid: 'other' } }),
        TypeError,
        /publicKey is a JWK with another kid \("other"\)/,
      ],
      [
        'the JWK is for encryption',
        () => ({ alg: 'RS256', publicKey: { ...rsaPublic, use: 'enc' } }),
        TypeError,
        /publicKey is a JWK with use "enc"/,
      ],
      [
        'a signing key gets a public JWK',
        () => ({ alg: 'RS256', privateKey: rsaPublic }),
        TypeError,
        /privateKey is a public JWK \(no "d" member\) and cannot sign/,
      ],
      [
        'the JWK is garbage',
        () => ({ alg: 'RS256', privateKey: { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' } }),
        TypeError,
        /privateKey is not a readable private JWK/,
      ],
      [
        'the public JWK is garbage',
        () => ({ alg: 'ES256', publicKey: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }),
        TypeError,
        /publicKey is not a readable public JWK/,
      ],
      [
        'the JWK has no kty',
        () => ({ alg: 'RS256', publicKey: { n: rsaPublic.n, e: rsaPublic.e } }),
        TypeError,
        /publicKey is a JWK with kty undefined; RS256 needs kty "RSA"/,
      ],
      [
        'the JSON string is not JSON',
        () => ({ alg: 'RS256', privateKey: '{"kty":"RSA",' }),
        TypeError,
        /privateKey is neither a PEM string nor a JSON JWK/,
      ],
      [
        'the JSON string is an array',
        () => ({ alg: 'RS256', publicKey: '  [1, 2]' }),
        TypeError,
        /publicKey is not a readable public key/,
      ],
      [
        'the string is garbage',
        () => ({ alg: 'RS256', privateKey: 'garbage' }),
        TypeError,
        /privateKey is not a readable private key/,
      ],
      [
        'privateKey is a number',
        () => ({ alg: 'RS256', privateKey: 42 }),
        TypeError,
        /privateKey must be a KeyObject, a PEM string or a private JWK/,
      ],
      [
        'the RSA JWK is 1024 bits',
        () => ({ alg: 'RS256', privateKey: jwkOf(weakRsa.privateKey) }),
        RangeError,
        /at least 2048 bits/,
      ],
      [
        'HS256 gets an RSA JWK as secret',
        () => ({ alg: 'HS256', secret: jwkOf(rsa.privateKey) }),
        TypeError,
        /secret is a JWK with kty "RSA"; HS256 needs kty "oct"/,
      ],
      [
        'HS256 gets an oct JWK as privateKey',
        () => ({ alg: 'HS256', privateKey: oct }),
        TypeError,
        /HS256 keys take a secret, not privateKey/,
      ],
      [
        'the oct JWK says HS512',
        () => ({ alg: 'HS256', secret: { ...oct, alg: 'HS512' } }),
        TypeError,
        /secret is a JWK with alg "HS512"/,
      ],
      [
        'the oct JWK has no k',
        () => ({ alg: 'HS256', secret: { kty: 'oct' } }),
        TypeError,
        /without its "k"/,
      ],
      [
        'the oct k is standard base64 (+ and /)',
        () => ({ alg: 'HS256', secret: { kty: 'oct', k: secret.toString('base64') + '+/' } }),
        TypeError,
        /secret\.k must be base64url without padding/,
      ],
      [
        'the oct k has padding',
        () => ({ alg: 'HS256', secret: { kty: 'oct', k: randomBytes(32).toString('base64url') + '=' } }),
        TypeError,
        /secret\.k must be base64url/,
      ],
      [
        'the oct k has a stray character',
        () => ({ alg: 'HS256', secret: { kty: 'oct', k: `${secret.toString('base64url')}.x` } }),
        TypeError,
        /secret\.k must be base64url/,
      ],
      [
        'the oct k has non-zero trailing bits',
        // 32 bytes take 43 characters, whose last one carries 4 unused bits: "B" sets one.
        () => ({
          alg: 'HS256',
          secret: { kty: 'oct', k: `${Buffer.alloc(32, 7).toString('base64url').slice(0, 42)}B` },
        }),
        TypeError,
        /secret\.k must be base64url/,
      ],
      [
        'the oct secret is 16 bytes',
        () => ({ alg: 'HS256', secret: { kty: 'oct', k: randomBytes(16).toString('base64url') } }),
        RangeError,
        /secret must be at least 32 bytes, got 16/,
      ],
      [
        'the oct secret is regular',
        () => ({ alg: 'HS256', secret: { kty: 'oct', k: Buffer.alloc(32, 'ab').toString('base64url') } }),
        RangeError,
        /secret is too regular/,
      ],
      [
        'the string secret is 31 bytes',
        () => ({ alg: 'HS256', secret: randomBytes(31).toString('hex').slice(0, 31) }),
        RangeError,
        /secret must be at least 32 bytes/,
      ],
    ])('throws %p with a message naming the option', (_name, input, type, message) => {
      const error = thrown(() => createKeySet({ keys: [{ kid: 'k1', ...(input() as object) } as KeyInput] }));
      expect(error).toBeInstanceOf(type);
      expect(error.message).toMatch(/^KeySet\.add \(kid "k1"\): /);
      expect(error.message).toMatch(message);
    });

    it('never prints key material in the message', () => {
      const privateJwk = jwkOf(rsa.privateKey, { alg: 'ES256' });
      const messages = [
        thrown(() => createKeySet({ keys: [{ kid: 'k1', alg: 'RS256', privateKey: privateJwk }] })).message,
        thrown(() =>
          createKeySet({ keys: [{ kid: 'k1', alg: 'RS256', privateKey: `{${String(privateJwk.d)}` }] }),
        ).message,
        thrown(() =>
          createKeySet({ keys: [{ kid: 'k1', alg: 'HS256', secret: { kty: 'oct', k: `${oct.k}=` } }] }),
        ).message,
      ];
      for (const message of messages) {
        expect(message).not.toContain(String(privateJwk.d).slice(0, 12));
        expect(message).not.toContain(oct.k.slice(0, 12));
      }
    });

    it('derives the same public key from a JWK as from the PEM', () => {
      const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const fromPem = createKeySet({ keys: [{ kid: 'k1', alg: 'RS256', privateKey: pem }] });
      const fromJwk = createKeySet({
        keys: [{ kid: 'k1', alg: 'RS256', privateKey: jwkOf(rsa.privateKey) }],
      });
      expect(fromJwk.jwks()).toEqual(fromPem.jwks());
      expect(createPublicKey(pem).equals(fromJwk.verificationKey('k1', 'RS256')!)).toBe(true);
    });
  });
});
