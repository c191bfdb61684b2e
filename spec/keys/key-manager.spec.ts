/**
 * createKeyManager on the memory key store: loading, the schedule with an injected clock, manual
 * steps, the unknown-kid cooldown, imports, and the kit signing and verifying through the live set.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { TokenError } from '../../lib/errors';
import { KeyEncryptionKeyError } from '../../lib/keys/kek';
import {
  createKeyManager,
  KeyManagerError,
  type KeyManager,
  type KeyManagerOptions,
} from '../../lib/keys/key-manager';
import type { KeyStoreSnapshot } from '../../lib/keys/key-store';
import { MemoryKeyStore } from '../../lib/stores/memory-key-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { createClock, type TestClock } from '../helpers/kit';

const ISSUER = 'https://issuer.test';
const DAY = 86_400;

/** The memory key store, counting its reads. */
class CountingKeyStore extends MemoryKeyStore {
  loads = 0;
  override load(): Promise<KeyStoreSnapshot> {
    this.loads += 1;
    return super.load();
  }
}

/** The memory key store with its notifications lost (as when pub/sub is down). */
class SilentKeyStore extends CountingKeyStore {
  override publish(): Promise<void> {
    return Promise.resolve();
  }
}

function jwtHeader(token: string): { kid: string; alg: string } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as {
    kid: string;
    alg: string;
  };
}

function jwksKids(manager: KeyManager): string[] {
  return manager.keys.jwks().keys.map((k) => k.kid);
}

describe('createKeyManager', () => {
  const kek = randomBytes(32);
  let clock: TestClock;
  let store: CountingKeyStore;
  const managers: KeyManager[] = [];

  async function manager(extra: Partial<KeyManagerOptions> = {}): Promise<KeyManager> {
    const m = await createKeyManager({
      store,
      kek,
      issuer: ISSUER,
      algorithm: 'ES256',
      clock: clock.now,
      pollEveryMs: 0,
      ...extra,
    });
    managers.push(m);
    return m;
  }

  function kitOf(m: KeyManager, tokenStore = new MemoryTokenStore({ now: clock.now })): TokenKit {
    return createTokenKit({ store: tokenStore, keys: m.keys, issuer: ISSUER, now: clock.now });
  }

  async function jwt(kit: TokenKit, ttl = 600): Promise<string> {
    return (await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1', ttl })).token;
  }

  beforeEach(() => {
    clock = createClock(Date.UTC(2026, 0, 1));
    store = new CountingKeyStore({ clock: clock.now });
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  describe('when the store is empty', () => {
    it('creates one active key, which the kit signs with and publishes', async () => {
      const m = await manager();
      const [key] = await m.list();
      expect(key).toMatchObject({ state: 'active', alg: 'ES256', external: false });
      const kit = kitOf(m);
      const token = await jwt(kit);
      expect(jwtHeader(token)).toEqual(expect.objectContaining({ kid: key!.kid, alg: 'ES256' }));
      expect(jwksKids(m)).toEqual([key!.kid]);
      await expect(kit.tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'user-1' });
    });

    it('with bootstrap false, writes nothing', async () => {
      const m = await manager({ bootstrap: false });
      await expect(m.list()).resolves.toEqual([]);
      await expect(store.version()).resolves.toBe(0);
    });
  });

  describe('when two managers share a store', () => {
    it('share the keys: a token from one verifies through the other', async () => {
      const a = await manager();
      const b = await manager();
      expect(jwksKids(b)).toEqual(jwksKids(a));
      const token = await jwt(kitOf(a));
      await expect(kitOf(b).tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'user-1' });
    });

    it('do a scheduled step once when both tick at the same instant', async () => {
      const a = await manager({ rotateEvery: 30 * DAY });
      const b = await manager({ rotateEvery: 30 * DAY });
      clock.advance(30 * DAY - 600);
      await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
      const keys = await a.list();
      expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next']);
    });

    it('learn of a change through the store notification', async () => {
      const a = await manager();
      const b = await manager();
      const fresh = await a.rotate({ now: true });
      const deadline = Date.now() + 1000;
      while (!jwksKids(b).includes(fresh.kid) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(jwksKids(b)).toContain(fresh.kid);
      expect(jwtHeader(await jwt(kitOf(b))).kid).toBe(fresh.kid);
    });
  });

  describe('the schedule (rotateEvery 30 days, publishAhead 600 s, tokenLifetime 3600 s, leeway 60 s)', () => {
    it('publishes next ahead, signs with it only after the lead time, retires the old key after its tokens expired', async () => {
      const m = await manager({ rotateEvery: 30 * DAY, publishAhead: 600, tokenLifetime: 3600, leeway: 60 });
      const kit = kitOf(m);
      const [first] = await m.list();
      const oldToken = await jwt(kit, 3600);

      clock.advance(30 * DAY - 601);
      await m.tick();
      expect((await m.list()).map((k) => k.state)).toEqual(['active']);

      clock.advance(1);
      await m.tick();
      const next = (await m.list()).find((k) => k.state === 'next')!;
      expect(next.activateAt).toBe(new Date(clock.now() + 600_000).toISOString());
      expect(jwksKids(m)).toEqual([first!.kid, next.kid]);
      expect(jwtHeader(await jwt(kit)).kid).toBe(first!.kid);

      clock.advance(599);
      await m.tick();
      expect(jwtHeader(await jwt(kit)).kid).toBe(first!.kid);

      clock.advance(1);
      await m.tick();
      const states = Object.fromEntries((await m.list()).map((k) => [k.kid, k.state]));
      expect(states).toEqual({ [first!.kid]: 'retiring', [next.kid]: 'active' });
      const newToken = await jwt(kit, 3600);
      expect(jwtHeader(newToken).kid).toBe(next.kid);
      void oldToken;
    });

    it('keeps a retiring key verifying until tokenLifetime + leeway after it stopped signing, then drops it', async () => {
      const m = await manager({ rotateEvery: 30 * DAY, publishAhead: 600, tokenLifetime: 3600, leeway: 60 });
      const kit = kitOf(m);
      const [first] = await m.list();
      clock.advance(30 * DAY - 600);
      await m.tick();
      clock.advance(599);
      const lastOldToken = await jwt(kit, 3600);
      clock.advance(1);
      await m.tick();
      const switchedAt = clock.now();
      const lastOld = lastOldToken;
      expect(jwtHeader(lastOld).kid).toBe(first!.kid);
      clock.set(switchedAt + (3600 + 60) * 1000 - 1000);
      await m.tick();
      expect(jwksKids(m)).toContain(first!.kid);
      // Expired by now, but its signature still checks: the key verifies until the very end.
      await expect(kit.tokens.verifyAccessToken(lastOld, { ignoreExpiration: true })).resolves.toMatchObject({
        subject: 'user-1',
      });
      clock.set(switchedAt + (3600 + 60) * 1000);
      await m.tick();
      expect(jwksKids(m)).not.toContain(first!.kid);
      await expect(kit.tokens.verifyAccessToken(lastOld, { ignoreExpiration: true })).rejects.toMatchObject({
        code: 'invalid_token',
      });
      const retired = (await m.list()).find((k) => k.kid === first!.kid)!;
      expect(retired).toMatchObject({ state: 'retired', retiredAt: new Date(clock.now()).toISOString() });
    });

    it('never signs with a key that was in the JWKS for less than publishAhead', async () => {
      const m = await manager({ rotateEvery: 2 * DAY, publishAhead: 600, tokenLifetime: 300, leeway: 0 });
      const kit = kitOf(m);
      const firstSeen = new Map<string, number>();
      for (let step = 0; step < 6 * 24 * 12; step += 1) {
        clock.advance(300);
        await m.tick();
        for (const kid of jwksKids(m)) if (!firstSeen.has(kid)) firstSeen.set(kid, clock.now());
        const { kid } = jwtHeader(await jwt(kit, 300));
        const seen = firstSeen.get(kid);
        expect(seen).toBeDefined();
        if (kid !== (await m.list())[0]!.kid) expect(clock.now() - seen!).toBeGreaterThanOrEqual(600_000);
      }
      const states = (await m.list()).map((k) => k.state);
      expect(states.filter((s) => s === 'active')).toHaveLength(1);
      expect(states.filter((s) => s === 'retired').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('rotate', () => {
    it('without now, schedules a next key after publishAhead (and returns it again when asked twice)', async () => {
      const m = await manager({ publishAhead: 600 });
      const [first] = await m.list();
      const next = await m.rotate();
      expect(next).toMatchObject({
        state: 'next',
        activateAt: new Date(clock.now() + 600_000).toISOString(),
      });
      await expect(m.rotate()).resolves.toEqual(next);
      const kit = kitOf(m);
      expect(jwtHeader(await jwt(kit)).kid).toBe(first!.kid);
      clock.advance(600);
      await m.tick();
      expect(jwtHeader(await jwt(kit)).kid).toBe(next.kid);
    });

    it('with now, signs with the new key at once while the old key keeps verifying', async () => {
      const m = await manager();
      const kit = kitOf(m);
      const oldToken = await jwt(kit);
      const fresh = await m.rotate({ now: true });
      expect(fresh.state).toBe('active');
      expect(jwtHeader(await jwt(kit)).kid).toBe(fresh.kid);
      await expect(kit.tokens.verifyAccessToken(oldToken)).resolves.toMatchObject({ subject: 'user-1' });
    });
  });

  describe('retire', () => {
    it('with now, removes the key from the JWKS and its tokens fail; the active key is replaced', async () => {
      const m = await manager();
      const kit = kitOf(m);
      const [first] = await m.list();
      const token = await jwt(kit);
      const retired = await m.retire(first!.kid, { now: true });
      expect(retired.state).toBe('retired');
      expect(jwksKids(m)).not.toContain(first!.kid);
      await expect(kit.tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'invalid_token' });
      const fresh = jwtHeader(await jwt(kit)).kid;
      expect(fresh).not.toBe(first!.kid);
      await expect(m.list()).resolves.toEqual(
        expect.arrayContaining([expect.objectContaining({ kid: fresh, state: 'active' })]),
      );
    });

    it('refuses the active key without now, an unknown kid, and a hostile kid', async () => {
      const m = await manager();
      const [first] = await m.list();
      await expect(m.retire(first!.kid)).rejects.toMatchObject({ code: 'refused' });
      await expect(m.retire('nope')).rejects.toMatchObject({ code: 'unknown_kid' });
      await expect(m.retire('x'.repeat(10_000))).rejects.toBeInstanceOf(KeyManagerError);
      await expect(m.retire(undefined as unknown as string)).rejects.toBeInstanceOf(KeyManagerError);
      expect((await m.list()).map((k) => k.state)).toEqual(['active']);
    });

    it('deletes the private key of a retired key from the store', async () => {
      const m = await manager();
      const [first] = await m.list();
      await m.rotate({ now: true });
      await m.retire(first!.kid, { now: true });
      const stored = (await store.load()).keys.find((k) => k.kid === first!.kid)!;
      expect(stored.state).toBe('retired');
      expect(stored.sealedPrivateKey).toBeUndefined();
    });
  });

  describe('the key-encryption key', () => {
    it('rejects with KeyEncryptionKeyError naming the key-encryption key when it is wrong', async () => {
      await manager();
      const error = await manager({ kek: randomBytes(32) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyEncryptionKeyError);
      expect((error as Error).message).toMatch(/key-encryption key/);
    });

    it('rejects with KeyEncryptionKeyError when none is given', async () => {
      await manager();
      await expect(manager({ kek: undefined })).rejects.toBeInstanceOf(KeyEncryptionKeyError);
      store = new CountingKeyStore();
      await expect(manager({ kek: undefined })).rejects.toBeInstanceOf(KeyEncryptionKeyError);
    });

    it('stores private keys only sealed: no PEM, no JWK d', async () => {
      await manager();
      const raw = JSON.stringify(await store.load());
      expect(raw).not.toMatch(/PRIVATE KEY|"d":/);
      expect(raw).toMatch(/etk-kek-v1\./);
    });
  });

  describe('an unknown kid', () => {
    it('costs one store reload per cooldown for 1000 tokens with random kids', async () => {
      const m = await manager({ unknownKidCooldownMs: 60_000 });
      const kit = kitOf(m);
      const token = await jwt(kit);
      const [, payload, signature] = token.split('.');
      const before = store.loads;
      const forged = Array.from({ length: 1000 }, () => {
        const header = Buffer.from(
          JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: randomBytes(8).toString('hex') }),
        ).toString('base64url');
        return `${header}.${payload}.${signature}`;
      });
      const results = await Promise.allSettled(forged.map((t) => kit.tokens.verifyAccessToken(t)));
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof TokenError)).toBe(true);
      expect(store.loads - before).toBe(1);
    });

    it('never reloads for a known kid with another alg, a retired kid, or a header that is not JSON', async () => {
      const m = await manager({ unknownKidCooldownMs: 0 });
      const kit = kitOf(m);
      const [first] = await m.list();
      const token = await jwt(kit);
      const [, payload, signature] = token.split('.');
      await m.rotate({ now: true });
      await m.retire(first!.kid, { now: true });
      const header = (h: unknown): string => Buffer.from(JSON.stringify(h)).toString('base64url');
      const before = store.loads;
      for (const forged of [
        `${header({ alg: 'RS256', typ: 'at+jwt', kid: m.keys.kids()[0] })}.${payload}.${signature}`,
        `${header({ alg: 'ES256', typ: 'at+jwt', kid: first!.kid })}.${payload}.${signature}`,
        `${Buffer.from('not json').toString('base64url')}.${payload}.${signature}`,
        `${header({ alg: 'none', kid: 'fresh' })}.${payload}.${signature}`,
        `${header({ alg: 'ES256', kid: 'x'.repeat(300) })}.${payload}.${signature}`,
        `${header([1, 2])}.${payload}.${signature}`,
      ]) {
        await expect(kit.tokens.verifyAccessToken(forged)).rejects.toMatchObject({ code: 'invalid_token' });
      }
      expect(store.loads - before).toBe(0);
    });

    it('revokes, through another instance, a token of a key that instance had not loaded yet', async () => {
      store = new SilentKeyStore({ clock: clock.now });
      const tokens = new MemoryTokenStore({ now: clock.now });
      const a = await manager();
      const b = await manager();
      const fresh = await a.rotate({ now: true });
      const kitA = kitOf(a, tokens);
      const token = await jwt(kitA);
      expect(jwksKids(b)).not.toContain(fresh.kid);
      await expect(kitOf(b, tokens).tokens.revokeToken(token)).resolves.toBe(true);
      await expect(kitA.tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'invalid_token' });
    });

    it('verifies a token of a key another instance created, after one reload', async () => {
      store = new SilentKeyStore({ clock: clock.now });
      const a = await manager();
      const b = await manager();
      const bKit = kitOf(b);
      const fresh = await a.rotate({ now: true });
      expect(jwksKids(b)).not.toContain(fresh.kid);
      const token = await jwt(kitOf(a));
      await expect(bKit.tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'user-1' });
      expect(jwksKids(b)).toContain(fresh.kid);
    });
  });

  describe('import', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

    it('takes a PEM, a private JWK and the KeyInput JSON of `keys generate`', async () => {
      const m = await manager();
      const pem = await m.import(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, {
        kid: 'pem-1',
      });
      expect(pem).toMatchObject({ kid: 'pem-1', alg: 'ES256', state: 'next' });
      const jwk = await m.import(
        JSON.stringify({ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'jwk-1' }),
      );
      expect(jwk).toMatchObject({ kid: 'jwk-1', alg: 'RS256', state: 'next' });
      const input = JSON.stringify({
        kid: 'gen-1',
        alg: 'ES256',
        privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
          format: 'pem',
          type: 'pkcs8',
        }),
      });
      const gen = await m.import(input, { now: true });
      expect(gen).toMatchObject({ kid: 'gen-1', state: 'active' });
      expect(jwtHeader(await jwt(kitOf(m))).kid).toBe('gen-1');
    });

    it.each([
      ['empty input', ''],
      ['not a key', 'hello'],
      ['broken JSON', '{"kty":'],
      ['a JSON array', '[1]'],
      ['a public JWK', JSON.stringify(ec.publicKey.export({ format: 'jwk' }))],
      ['an HS256 secret', JSON.stringify({ kid: 'h', alg: 'HS256', secret: 'x'.repeat(40) })],
      ['an oct JWK', JSON.stringify({ kty: 'oct', k: 'AAAA' })],
      [
        'a mismatched alg',
        JSON.stringify({
          kid: 'm',
          alg: 'RS256',
          privateKey: ec.privateKey.export({ format: 'pem', type: 'pkcs8' }),
        }),
      ],
      [
        'a P-384 key',
        generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({
          format: 'pem',
          type: 'pkcs8',
        }) as string,
      ],
      ['a huge input', 'A'.repeat(100_000)],
    ])('refuses %s with KeyManagerError invalid_key and writes nothing', async (_what, input) => {
      const m = await manager();
      const version = await store.version();
      const error = await m.import(input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyManagerError);
      expect((error as KeyManagerError).code).toBe('invalid_key');
      if (input.length > 20) expect((error as Error).message).not.toContain(input.slice(0, 40));
      await expect(store.version()).resolves.toBe(version);
    });

    it('refuses a kid already in the store', async () => {
      const m = await manager();
      const [first] = await m.list();
      await expect(
        m.import(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { kid: first!.kid }),
      ).rejects.toMatchObject({ code: 'kid_taken' });
    });
  });

  describe('refresh and opaque tokens', () => {
    it('are unaffected by a rotation and by retiring the old key at once', async () => {
      const m = await manager();
      const kit = kitOf(m);
      const [first] = await m.list();
      const opaque = await kit.tokens.issueAccessToken({
        subject: 'user-1',
        clientId: 'client-1',
        format: 'opaque',
      });
      const { refreshToken } = await kit.tokens.startRefreshFamily({
        subject: 'user-1',
        clientId: 'client-1',
      });
      await m.rotate({ now: true });
      await m.retire(first!.kid, { now: true });
      await expect(kit.tokens.verifyAccessToken(opaque.token)).resolves.toMatchObject({ subject: 'user-1' });
      await expect(kit.tokens.refresh(refreshToken)).resolves.toMatchObject({});
    });
  });

  describe('options', () => {
    it.each([
      ['a store without methods', { store: {} }],
      ['a short kek', { kek: randomBytes(16) }],
      ['an empty issuer', { issuer: '' }],
      ['HS256', { algorithm: 'HS256' }],
      ['rotateEvery not above publishAhead', { rotateEvery: 600, publishAhead: 600 }],
      ['a negative leeway', { leeway: -1 }],
      ['a fractional tokenLifetime', { tokenLifetime: 1.5 }],
      ['a negative pollEveryMs', { pollEveryMs: -1 }],
    ])('refuses %s at factory time', async (_what, bad) => {
      await expect(manager(bad as Partial<KeyManagerOptions>)).rejects.toThrow(
        /createKeyManager|key-encryption key/,
      );
    });
  });
});
