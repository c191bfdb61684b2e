import { createPublicKey, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { signJwt, verifyJwt } from '../../lib/core/jwt';
import type { VerifyJwtOptions } from '../../lib/core/jwt';
import { TokenError } from '../../lib/errors';
import { KeySet, createKeySet } from '../../lib/keys/key-set';
import type { KeyInput } from '../../lib/keys/key-set';

const NOW = 1_900_000_000;
const VERIFY: VerifyJwtOptions = {
  issuers: ['https://issuer.example.com'],
  audiences: ['api.example.com'],
  clockToleranceSeconds: 0,
  maxLifetimeSeconds: 3600,
  now: NOW,
};

function claims(jti: string): Record<string, unknown> {
  return {
    iss: 'https://issuer.example.com',
    aud: 'api.example.com',
    sub: 'user_1',
    client_id: 'client_1',
    jti,
    iat: NOW - 10,
    exp: NOW + 600,
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function rsaPem(bits: number): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

describe('KeySet', () => {
  let rsa: KeyInput;
  let ec: KeyInput;
  let hs: KeyInput;
  let rsaPems: { privateKey: string; publicKey: string };

  beforeAll(async () => {
    rsa = await KeySet.generateKey('RS256', 'rsa-1');
    ec = await KeySet.generateKey('ES256', 'ec-1');
    hs = await KeySet.generateKey('HS256', 'hs-1');
    rsaPems = rsaPem(2048);
  });

  describe('createKeySet', () => {
    describe('when given no options', () => {
      it('returns an empty key set at version 0', () => {
        const keys = createKeySet();
        expect(keys).toBeInstanceOf(KeySet);
        expect(keys.kids()).toEqual([]);
        expect(keys.version).toBe(0);
        expect(keys.jwks()).toEqual({ keys: [] });
      });

      it('throws TypeError from signingKey', () => {
        expect(() => createKeySet().signingKey()).toThrow(TypeError);
      });
    });

    describe('when given keys', () => {
      it('adds them in order and makes the first signer the signing key', () => {
        const keys = createKeySet({ keys: [rsa, ec, hs] });
        expect(keys.kids()).toEqual(['rsa-1', 'ec-1', 'hs-1']);
        expect(keys.version).toBe(3);
        const signer = keys.signingKey();
        expect(signer.kid).toBe('rsa-1');
        expect(signer.alg).toBe('RS256');
        expect(signer.key.type).toBe('private');
      });

      it('skips verification-only keys when choosing the default signing key', () => {
        const keys = createKeySet({ keys: [{ kid: 'pub', alg: 'RS256', publicKey: rsa.publicKey! }, ec] });
        expect(keys.signingKey().kid).toBe('ec-1');
      });

      it('accepts PEM strings and derives the public key from the private one', () => {
        const keys = createKeySet({ keys: [{ kid: 'pem', alg: 'RS256', privateKey: rsaPems.privateKey }] });
        const publicKey = keys.verificationKey('pem', 'RS256');
        expect(publicKey?.type).toBe('public');
        expect(publicKey?.equals(createPublicKey(rsaPems.publicKey))).toBe(true);
      });

      it('accepts a matching PEM public key alongside the private key', () => {
        const keys = createKeySet({ keys: [{ kid: 'pem', alg: 'RS256', ...rsaPems }] });
        expect(keys.kids()).toEqual(['pem']);
      });

      it('accepts an HS256 secret as a Buffer, a string or a secret KeyObject', () => {
        const bytes = randomBytes(32);
        const keys = createKeySet({
          keys: [
            { kid: 'buf', alg: 'HS256', secret: bytes },
            { kid: 'str', alg: 'HS256', secret: randomBytes(32).toString('base64url') },
            { kid: 'obj', alg: 'HS256', secret: createSecretKey(randomBytes(48)) },
          ],
        });
        expect(keys.verificationKey('buf', 'HS256')?.export().equals(bytes)).toBe(true);
        expect(keys.verificationKey('str', 'HS256')?.type).toBe('secret');
        expect(keys.verificationKey('obj', 'HS256')?.symmetricKeySize).toBe(48);
      });

      it('copies a Buffer secret, so later changes to the caller buffer do not change the key', () => {
        const bytes = randomBytes(32);
        const keys = createKeySet({ keys: [{ kid: 'buf', alg: 'HS256', secret: bytes }] });
        const copy = Buffer.from(bytes);
        bytes.fill(0);
        expect(keys.verificationKey('buf', 'HS256')?.export().equals(copy)).toBe(true);
      });
    });

    describe('when options are malformed', () => {
      it.each<[string, unknown]>([
        ['options is null', null],
        ['options is a string', 'keys'],
        ['options.keys is not an array', { keys: rsaPem }],
      ])('throws TypeError when %s', (_name, options) => {
        expect(() => createKeySet(options as never)).toThrow(TypeError);
      });
    });
  });

  describe('add', () => {
    const weakRsa = (): string => rsaPem(1024).privateKey;
    const p384 = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    const ed25519 = (): KeyObject => generateKeyPairSync('ed25519').privateKey;
    const rsaPss = (): KeyObject => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;

    describe('when a key is weak or mismatched', () => {
      it.each<[string, () => KeyInput, typeof TypeError | typeof RangeError]>([
        [
          'RS256 gets a 1024-bit RSA key',
          () => ({ kid: 'k', alg: 'RS256', privateKey: weakRsa() }),
          RangeError,
        ],
        [
          'RS256 gets a 1024-bit RSA public key',
          () => ({ kid: 'k', alg: 'RS256', publicKey: createPublicKey(weakRsa()) }),
          RangeError,
        ],
        ['ES256 gets a P-384 key', () => ({ kid: 'k', alg: 'ES256', privateKey: p384() }), RangeError],
        ['ES256 gets an RSA key', () => ({ kid: 'k', alg: 'ES256', privateKey: rsa.privateKey! }), TypeError],
        ['RS256 gets an EC key', () => ({ kid: 'k', alg: 'RS256', privateKey: ec.privateKey! }), TypeError],
        ['RS256 gets an RSA-PSS key', () => ({ kid: 'k', alg: 'RS256', privateKey: rsaPss() }), TypeError],
        ['ES256 gets an Ed25519 key', () => ({ kid: 'k', alg: 'ES256', privateKey: ed25519() }), TypeError],
        [
          'the public key does not match the private key',
          () => ({ kid: 'k', alg: 'RS256', privateKey: rsa.privateKey!, publicKey: rsaPems.publicKey }),
          TypeError,
        ],
      ])('throws when %s', (_name, input, errorClass) => {
        expect(() => createKeySet().add(input())).toThrow(errorClass);
      });
    });

    describe('when an HS256 secret is weak', () => {
      it.each<[string, KeyInput['secret']]>([
        ['it is 31 bytes', randomBytes(31)],
        ['it is empty', ''],
        ['it is an empty Buffer', Buffer.alloc(0)],
        ['it is "secret"', 'secret'],
        ['it is "password"', 'password'],
        ['it is a 31-byte secret KeyObject', createSecretKey(randomBytes(31))],
      ])('throws RangeError when %s', (_name, secret) => {
        expect(() => createKeySet().add({ kid: 'k', alg: 'HS256', secret })).toThrow(RangeError);
      });

      it.each<[string, string]>([
        ['"secret" repeated', 'secret'.repeat(6)],
        ['"password" repeated', 'password'.repeat(4)],
        ['one character repeated', 'a'.repeat(64)],
        ['two characters alternating', '01'.repeat(32)],
        ['a short phrase repeated', 'changeme!'.repeat(4)],
      ])('throws RangeError when it is %s', (_name, secret) => {
        expect(() => createKeySet().add({ kid: 'k', alg: 'HS256', secret })).toThrow(/too regular/);
      });

      it('never prints the secret in the error message', () => {
        const secret = 'my-very-own-secret-value-31byte';
        const error = thrown(() => createKeySet().add({ kid: 'k', alg: 'HS256', secret }));
        expect(error).toBeInstanceOf(RangeError);
        expect(String((error as Error).message)).not.toContain(secret);
        expect(String((error as Error).message)).toContain('secret');
      });
    });

    describe('when the key material is malformed', () => {
      it.each<[string, () => unknown]>([
        ['RS256 has neither privateKey nor publicKey', () => ({ kid: 'k', alg: 'RS256' })],
        ['RS256 is given a secret', () => ({ kid: 'k', alg: 'RS256', secret: randomBytes(32) })],
        ['HS256 is given a privateKey', () => ({ kid: 'k', alg: 'HS256', privateKey: rsa.privateKey })],
        ['HS256 is given a publicKey', () => ({ kid: 'k', alg: 'HS256', publicKey: rsa.publicKey })],
        ['HS256 has no secret', () => ({ kid: 'k', alg: 'HS256' })],
        ['HS256 secret is a number', () => ({ kid: 'k', alg: 'HS256', secret: 12345 })],
        ['HS256 secret is a private KeyObject', () => ({ kid: 'k', alg: 'HS256', secret: rsa.privateKey })],
        ['privateKey is a public KeyObject', () => ({ kid: 'k', alg: 'RS256', privateKey: rsa.publicKey })],
        ['privateKey is a secret KeyObject', () => ({ kid: 'k', alg: 'RS256', privateKey: hs.secret })],
        ['publicKey is a private KeyObject', () => ({ kid: 'k', alg: 'RS256', publicKey: rsa.privateKey })],
        ['privateKey is not PEM', () => ({ kid: 'k', alg: 'RS256', privateKey: 'not a pem' })],
        ['publicKey is not PEM', () => ({ kid: 'k', alg: 'RS256', publicKey: 'not a pem' })],
        ['privateKey is an empty string', () => ({ kid: 'k', alg: 'RS256', privateKey: '' })],
        ['privateKey is a Buffer', () => ({ kid: 'k', alg: 'RS256', privateKey: Buffer.from('x') })],
        ['the input is null', () => null],
        ['the input is a string', () => 'rsa-1'],
      ])('throws TypeError when %s', (_name, input) => {
        expect(() => createKeySet().add(input() as KeyInput)).toThrow(TypeError);
      });

      it('never prints a broken PEM in the error message', () => {
        const pem = rsaPems.privateKey.replace('MII', 'XXX');
        const error = thrown(() => createKeySet().add({ kid: 'k', alg: 'RS256', privateKey: pem }));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toContain('privateKey');
        expect((error as Error).message).not.toContain('XXX');
      });
    });

    describe('when the kid or alg is invalid', () => {
      it.each<[string, unknown]>([
        ['kid is empty', ''],
        ['kid is 129 characters', 'k'.repeat(129)],
        ['kid contains a space', 'key 1'],
        ['kid contains a newline', 'key\n1'],
        ['kid contains a control character', 'key\u00001'],
        ['kid is not ASCII', 'clé'],
        ['kid is a number', 1],
        ['kid is missing', undefined],
      ])('throws TypeError when %s', (_name, kid) => {
        expect(() => createKeySet().add({ ...hs, kid } as KeyInput)).toThrow(TypeError);
      });

      it('accepts a kid of exactly 128 printable characters', () => {
        const kid = 'k'.repeat(127) + '~';
        expect(
          createKeySet()
            .add({ ...hs, kid })
            .kids(),
        ).toEqual([kid]);
      });

      it.each<[string, unknown]>([
        ['alg is none', 'none'],
        ['alg is HS512', 'HS512'],
        ['alg is PS256', 'PS256'],
        ['alg is lower case', 'rs256'],
        ['alg is missing', undefined],
      ])('throws TypeError when %s', (_name, alg) => {
        expect(() => createKeySet().add({ ...rsa, alg } as KeyInput)).toThrow(TypeError);
      });
    });

    describe('when the kid is already taken', () => {
      it('throws RangeError for a duplicate kid', () => {
        const keys = createKeySet({ keys: [rsa] });
        expect(() => keys.add({ ...ec, kid: 'rsa-1' })).toThrow(RangeError);
        expect(keys.version).toBe(1);
      });

      it('throws RangeError for the kid of a retired key', () => {
        const keys = createKeySet({ keys: [rsa, ec] });
        keys.retire('ec-1');
        expect(() => keys.add(ec)).toThrow(/retired/);
      });
    });
  });

  describe('generateKey', () => {
    it('generates an RSA 2048 key pair for RS256', async () => {
      const key = await KeySet.generateKey('RS256', 'r');
      expect(key.kid).toBe('r');
      expect(key.alg).toBe('RS256');
      const privateKey = key.privateKey as KeyObject;
      expect(privateKey.asymmetricKeyType).toBe('rsa');
      expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    });

    it('generates a P-256 key pair for ES256', async () => {
      const key = await KeySet.generateKey('ES256');
      expect((key.privateKey as KeyObject).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    });

    it('generates a 32-byte secret for HS256', async () => {
      const key = await KeySet.generateKey('HS256');
      expect((key.secret as KeyObject).symmetricKeySize).toBe(32);
    });

    it('defaults to RS256 and a random base64url kid', async () => {
      const [a, b] = await Promise.all([KeySet.generateKey(), KeySet.generateKey()]);
      expect(a!.alg).toBe('RS256');
      expect(a!.kid).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(a!.kid).not.toBe(b!.kid);
    });

    it('rejects an unknown algorithm', async () => {
      await expect(KeySet.generateKey('none' as never)).rejects.toThrow(TypeError);
    });
  });

  describe('generate', () => {
    it('returns a key set whose one key signs', async () => {
      const keys = await KeySet.generate('ES256', 'only');
      expect(keys.kids()).toEqual(['only']);
      expect(keys.signingKey()).toMatchObject({ kid: 'only', alg: 'ES256' });
    });
  });

  describe('verificationKey', () => {
    let keys: KeySet;

    beforeAll(() => {
      keys = createKeySet({ keys: [rsa, ec, hs] });
    });

    it('returns the public key for an asymmetric (kid, alg) pair', () => {
      expect(keys.verificationKey('rsa-1', 'RS256')?.type).toBe('public');
      expect(keys.verificationKey('ec-1', 'ES256')?.type).toBe('public');
    });

    it('returns the secret for an HS256 (kid, alg) pair', () => {
      expect(keys.verificationKey('hs-1', 'HS256')?.type).toBe('secret');
    });

    it.each<[string, unknown, unknown]>([
      ['the RSA kid comes with HS256', 'rsa-1', 'HS256'],
      ['the HMAC kid comes with RS256', 'hs-1', 'RS256'],
      ['the EC kid comes with RS256', 'ec-1', 'RS256'],
      ['the alg is lower case', 'rsa-1', 'rs256'],
      ['the alg has a trailing space', 'rsa-1', 'RS256 '],
      ['the alg is none', 'rsa-1', 'none'],
      ['the alg is missing', 'rsa-1', undefined],
      ['the alg is an array', 'rsa-1', ['RS256']],
      ['the kid is unknown', 'rsa-2', 'RS256'],
      ['the kid is missing', undefined, 'RS256'],
      ['the kid is null', null, 'RS256'],
      ['the kid is a number', 1, 'RS256'],
      ['the kid is an array', ['rsa-1'], 'RS256'],
      ['the kid is an object', { toString: () => 'rsa-1' }, 'RS256'],
      ['the kid is __proto__', '__proto__', 'RS256'],
      ['the kid is constructor', 'constructor', 'RS256'],
      ['the kid is 10 KB long', 'x'.repeat(10_240), 'RS256'],
    ])('returns undefined when %s', (_name, kid, alg) => {
      expect(keys.verificationKey(kid, alg)).toBeUndefined();
    });
  });

  describe('jwks', () => {
    let keys: KeySet;

    beforeAll(() => {
      keys = createKeySet({
        keys: [rsa, ec, hs, { kid: 'pem', alg: 'RS256', privateKey: rsaPems.privateKey }],
      });
    });

    it('publishes every asymmetric key and never an HS256 key', () => {
      expect(keys.jwks().keys.map((jwk) => jwk.kid)).toEqual(['rsa-1', 'ec-1', 'pem']);
    });

    it('publishes an RSA key with exactly kty, kid, alg, use, n and e', () => {
      const jwk = keys.jwks().keys.find((k) => k.kid === 'rsa-1');
      expect(Object.keys(jwk!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    });

    it('publishes an EC key with exactly kty, kid, alg, use, crv, x and y', () => {
      const jwk = keys.jwks().keys.find((k) => k.kid === 'ec-1');
      expect(Object.keys(jwk!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(jwk).toMatchObject({ kty: 'EC', alg: 'ES256', use: 'sig', crv: 'P-256' });
    });

    it.each(PRIVATE_JWK_MEMBERS)('never contains the private member %s', (member) => {
      for (const jwk of keys.jwks().keys) {
        expect(Object.hasOwn(jwk, member)).toBe(false);
      }
      expect(JSON.stringify(keys.jwks())).not.toContain(`"${member}"`);
    });

    it('publishes keys that import back to the verification keys', () => {
      for (const jwk of keys.jwks().keys) {
        const imported = createPublicKey({ key: { ...jwk }, format: 'jwk' });
        expect(imported.equals(keys.verificationKey(jwk.kid, jwk.alg)!)).toBe(true);
      }
    });

    it('returns a fresh document each time', () => {
      const first = keys.jwks();
      first.keys.length = 0;
      expect(keys.jwks().keys).toHaveLength(3);
    });
  });

  describe('rotation', () => {
    function verify(keys: KeySet, token: string): string {
      return String(verifyJwt(keys, token, VERIFY).claims.jti);
    }

    it('keeps old tokens valid until the old key is retired', async () => {
      const keys = createKeySet({ keys: [rsa] });
      const oldToken = signJwt(keys, claims('old'));
      const v1 = keys.version;

      keys.add(await KeySet.generateKey('ES256', 'ec-2026'));
      expect(keys.version).toBe(v1 + 1);
      expect(keys.signingKey().kid).toBe('rsa-1');

      keys.setSigningKey('ec-2026');
      expect(keys.version).toBe(v1 + 2);
      const newToken = signJwt(keys, claims('new'));
      expect(JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString())).toEqual({
        alg: 'ES256',
        typ: 'at+jwt',
        kid: 'ec-2026',
      });
      expect(verify(keys, oldToken)).toBe('old');
      expect(verify(keys, newToken)).toBe('new');
      expect(keys.jwks().keys.map((k) => k.kid)).toEqual(['rsa-1', 'ec-2026']);

      keys.retire('rsa-1');
      expect(keys.version).toBe(v1 + 3);
      expect(keys.kids()).toEqual(['ec-2026']);
      expect(keys.jwks().keys.map((k) => k.kid)).toEqual(['ec-2026']);
      expect(keys.verificationKey('rsa-1', 'RS256')).toBeUndefined();
      const error = thrown(() => verify(keys, oldToken));
      expect(error).toBeInstanceOf(TokenError);
      expect((error as TokenError).code).toBe('invalid_token');
      expect(verify(keys, newToken)).toBe('new');
    });

    it('does not change the version when the signing key is set to itself', () => {
      const keys = createKeySet({ keys: [rsa] });
      keys.setSigningKey('rsa-1');
      expect(keys.version).toBe(1);
    });

    it('throws TypeError when retiring the signing key', () => {
      const keys = createKeySet({ keys: [rsa, ec] });
      expect(() => keys.retire('rsa-1')).toThrow(TypeError);
      expect(keys.kids()).toEqual(['rsa-1', 'ec-1']);
      expect(keys.version).toBe(2);
    });

    it('throws RangeError when retiring an unknown kid', () => {
      expect(() => createKeySet({ keys: [rsa] }).retire('nope')).toThrow(RangeError);
    });

    it('throws RangeError when setting an unknown signing key', () => {
      expect(() => createKeySet({ keys: [rsa] }).setSigningKey('nope')).toThrow(RangeError);
    });

    it('throws TypeError when setting a verification-only key as the signing key', () => {
      const keys = createKeySet({ keys: [rsa, { kid: 'pub', alg: 'ES256', publicKey: ec.publicKey! }] });
      expect(() => keys.setSigningKey('pub')).toThrow(TypeError);
      expect(keys.signingKey().kid).toBe('rsa-1');
    });

    it('lets an HS256 key become the signing key', () => {
      const keys = createKeySet({ keys: [rsa, hs] });
      keys.setSigningKey('hs-1');
      expect(keys.signingKey()).toMatchObject({ kid: 'hs-1', alg: 'HS256' });
      expect(verify(keys, signJwt(keys, claims('hs')))).toBe('hs');
    });
  });

  describe('inspection', () => {
    it('shows no key material through JSON.stringify', () => {
      const keys = createKeySet({ keys: [rsa, hs] });
      expect(JSON.stringify(keys)).toBe('{}');
    });
  });
});
