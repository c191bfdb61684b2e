/** KeySet.replaceAll and the unknown-kid hook: what a key manager relies on. */
import { generateKeyPairSync } from 'node:crypto';
import { KeySet, type KeyInput } from '../../lib/keys/key-set';

function ecKey(kid: string): KeyInput {
  return {
    kid,
    alg: 'ES256',
    privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
  };
}

function header(h: unknown): string {
  return `${Buffer.from(JSON.stringify(h)).toString('base64url')}.e30.c2ln`;
}

describe('KeySet.replaceAll', () => {
  it('swaps every key and the signer in one version step', () => {
    const keys = new KeySet({ keys: [ecKey('a')] });
    const version = keys.version;
    const b = ecKey('b');
    keys.replaceAll([ecKey('a2'), b], 'b', ['a']);
    expect(keys.version).toBe(version + 1);
    expect(keys.kids()).toEqual(['a2', 'b']);
    expect(keys.signingKey().kid).toBe('b');
    expect(keys.verificationKey('a', 'ES256')).toBeUndefined();
  });

  it('changes nothing when an input is invalid, the signer cannot sign, or a kid was retired', () => {
    const keys = new KeySet({ keys: [ecKey('a')] });
    keys.replaceAll([ecKey('b')], 'b', ['a']);
    const version = keys.version;
    const pub = {
      kid: 'p',
      alg: 'ES256',
      publicKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
    } as const;
    expect(() => keys.replaceAll([ecKey('c'), { kid: 'bad', alg: 'ES256' }], 'c')).toThrow(TypeError);
    expect(() => keys.replaceAll([pub], 'p')).toThrow(TypeError);
    expect(() => keys.replaceAll([ecKey('c')], 'missing')).toThrow(TypeError);
    expect(() => keys.replaceAll([ecKey('a')], 'a')).toThrow(/retired/);
    expect(() => keys.replaceAll([ecKey('c'), ecKey('c')], 'c')).toThrow(/twice/);
    expect(keys.version).toBe(version);
    expect(keys.kids()).toEqual(['b']);
    expect(keys.signingKey().kid).toBe('b');
  });

  it('allows a set without a signer (verification only)', () => {
    const keys = new KeySet({ keys: [ecKey('a')] });
    keys.replaceAll([ecKey('b')], undefined);
    expect(() => keys.signingKey()).toThrow(/no signing key/);
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual(['b']);
  });
});

describe('KeySet.reloadForUnknownKid', () => {
  it('is false without a handler, and for known, retired or malformed kids; true once the handler loaded the key', async () => {
    const keys = new KeySet({ keys: [ecKey('a')] });
    await expect(keys.reloadForUnknownKid(header({ alg: 'ES256', kid: 'n' }))).resolves.toBe(false);
    let calls = 0;
    const fresh = ecKey('n');
    keys.onUnknownKid(() => {
      calls += 1;
      keys.replaceAll([ecKey('a2'), fresh], 'n', ['a']);
      return Promise.resolve();
    });
    for (const token of [
      header({ alg: 'ES256', kid: 'a2x' }).replace('.', ''),
      'no-dot',
      `${'A'.repeat(600)}.e30.c2ln`,
      header({ alg: 'HS256', kid: 'z' }),
      header({ alg: 'ES256', kid: 'with space' }),
      header({ alg: 'ES256' }),
    ]) {
      await expect(keys.reloadForUnknownKid(token)).resolves.toBe(false);
    }
    expect(calls).toBe(0);
    await expect(keys.reloadForUnknownKid(header({ alg: 'ES256', kid: 'n' }))).resolves.toBe(true);
    expect(calls).toBe(1);
    await expect(keys.reloadForUnknownKid(header({ alg: 'ES256', kid: 'a' }))).resolves.toBe(false);
    keys.onUnknownKid(() => Promise.reject(new Error('store down')));
    await expect(keys.reloadForUnknownKid(header({ alg: 'ES256', kid: 'q' }))).resolves.toBe(false);
  });
});
