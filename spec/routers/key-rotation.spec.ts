/**
 * Key rotation without downtime, seen through router D: add a key, make it the signer, keep the old
 * one verifying until its tokens have expired, then retire it. The JWKS follows every step.
 */
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import { KeySet } from '../../lib/keys/key-set';
import type { TokenKit } from '../../lib/core/token-kit';
import { createClock, makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { mountProbe, oauthRouterApp } from '../helpers/apps';
import { expectErrorsBody } from '../helpers/http';
import { basicOf, decodeJwt, form, seedClients, type TestClients } from '../helpers/oauth';

interface Jwks {
  keys: { kid: string; kty: string; alg: string; use: string }[];
}

describe('key rotation through createOAuthRouter', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let keys: KeySet;
    let kit: TokenKit;
    let clients: TestClients;
    let app: Express;

    beforeAll(async () => {
      stores = await factory('key-rotation');
    });
    afterAll(() => stores.cleanup());

    beforeEach(async () => {
      const clock = createClock();
      keys = await KeySet.generate('RS256', 'key-2026-01');
      ({ kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock, keys }));
      clients = await seedClients(kit);
      app = mountProbe(oauthRouterApp(kit), requireToken({ kit }), (auth) => ({ sub: auth.subject }));
    });

    const jwks = async (): Promise<Jwks> =>
      (await request(app).get('/.well-known/jwks.json').expect(200)).body as Jwks;
    const kidsOf = async (): Promise<string[]> => (await jwks()).keys.map((k) => k.kid);
    const issue = async (): Promise<string> => {
      const res = await request(app)
        .post('/oauth/token')
        .set('Authorization', basicOf(clients.full))
        .type('form')
        .send(form({ grant_type: 'client_credentials' }));
      expect(res.status).toBe(200);
      return (res.body as { access_token: string }).access_token;
    };
    const probe = (token: string) => request(app).get('/probe').set('Authorization', `Bearer ${token}`);
    const introspect = (token: string) =>
      request(app)
        .post('/oauth/introspect')
        .set('Authorization', basicOf(clients.full))
        .type('form')
        .send(form({ token }));

    /** Verifies a token's RS256 signature with the key of its `kid` as published in the JWKS. */
    async function verifiesAgainstJwks(token: string): Promise<boolean> {
      const { header } = decodeJwt(token);
      const jwk = (await jwks()).keys.find((k) => k.kid === header.kid);
      if (jwk === undefined) return false;
      const key = createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
      const [h, p, s] = token.split('.');
      return verify('sha256', Buffer.from(`${h!}.${p!}`), key, Buffer.from(s!, 'base64url'));
    }

    it('rotates keys with no token rejected before its key is retired', async () => {
      // Step 0: one key, which signs.
      expect(await kidsOf()).toEqual(['key-2026-01']);
      const oldToken = await issue();
      expect(decodeJwt(oldToken).header.kid).toBe('key-2026-01');
      const v0 = keys.version;

      // Step 1: publish the next key first, so caches of the JWKS learn it before it signs anything.
      keys.add(await KeySet.generateKey('RS256', 'key-2026-02'));
      expect(keys.version).toBeGreaterThan(v0);
      expect(await kidsOf()).toEqual(['key-2026-01', 'key-2026-02']);
      expect(decodeJwt(await issue()).header.kid).toBe('key-2026-01');

      // Step 2: the new key signs; the old key still verifies.
      const v1 = keys.version;
      keys.setSigningKey('key-2026-02');
      expect(keys.version).toBeGreaterThan(v1);
      expect(await kidsOf()).toEqual(['key-2026-01', 'key-2026-02']);
      const newToken = await issue();
      expect(decodeJwt(newToken).header.kid).toBe('key-2026-02');
      expect((await probe(oldToken)).status).toBe(200);
      expect((await probe(newToken)).status).toBe(200);
      expect(await verifiesAgainstJwks(oldToken)).toBe(true);
      expect(await verifiesAgainstJwks(newToken)).toBe(true);
      expect((await introspect(oldToken)).body).toMatchObject({ active: true });

      // Step 3: once the old key's tokens have expired, retire it.
      const v2 = keys.version;
      keys.retire('key-2026-01');
      expect(keys.version).toBeGreaterThan(v2);
      expect(await kidsOf()).toEqual(['key-2026-02']);
      expectErrorsBody(await probe(oldToken), 401, 'invalid_token');
      expect((await introspect(oldToken)).body).toEqual({ active: false });
      expect(await verifiesAgainstJwks(oldToken)).toBe(false);
      expect((await probe(newToken)).status).toBe(200);
      expect(await verifiesAgainstJwks(newToken)).toBe(true);
    });

    it('refuses to retire the signing key and to bring a retired kid back', async () => {
      expect(() => keys.retire('key-2026-01')).toThrow(TypeError);
      keys.add(await KeySet.generateKey('RS256', 'key-2026-02'));
      keys.setSigningKey('key-2026-02');
      keys.retire('key-2026-01');
      await expect(KeySet.generateKey('RS256', 'key-2026-01').then((k) => keys.add(k))).rejects.toThrow(
        RangeError,
      );
      expect(await kidsOf()).toEqual(['key-2026-02']);
    });

    it('publishes ES256 keys beside RS256 ones and never an HS256 secret', async () => {
      keys.add(await KeySet.generateKey('ES256', 'key-es'));
      keys.add(await KeySet.generateKey('HS256', 'key-hs'));
      const published = (await jwks()).keys;
      expect(published.map((k) => [k.kid, k.kty, k.alg, k.use])).toEqual([
        ['key-2026-01', 'RSA', 'RS256', 'sig'],
        ['key-es', 'EC', 'ES256', 'sig'],
      ]);
      keys.setSigningKey('key-es');
      const token = await issue();
      expect(decodeJwt(token).header).toMatchObject({ kid: 'key-es', alg: 'ES256' });
      expect((await probe(token)).status).toBe(200);
    });
  });
});
