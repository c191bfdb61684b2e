/**
 * createOAuthRouter's JWT client authentication against panva's oauth4webapi over a real socket:
 * `PrivateKeyJwt` (RS256, PS256, ES256, Ed25519; keys registered as a JWK Set or served at a
 * `jwksUri`) and `ClientSecretJwt` at the token, introspection and revocation endpoints, on the
 * memory store and a real Redis. The assertions oauth4webapi builds are then replayed, re-aimed
 * (`modifyAssertion`) at another audience, expired, stretched to an hour, or signed by another key:
 * each is 401 `invalid_client` (RFC 6749 §5.2). ESM-only oauth4webapi is loaded through
 * spec/helpers/load-esm.ts (see spec/interop/oauth-interop.spec.ts for why).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Router } from 'express';
import type * as OAuth from 'oauth4webapi';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import type { TokenKit } from '../../lib/core/token-kit';
import { loadEsm } from '../helpers/load-esm';
import { makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { listen, type Started } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

const oauth = loadEsm<typeof OAuth>('oauth4webapi');
/** Plain http on 127.0.0.1 is fine for a test; oauth4webapi insists on https otherwise. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

type Algorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | { name: 'Ed25519' };

const ALGORITHMS: ReadonlyArray<readonly [string, Algorithm & { modulusLength?: number }]> = [
  [
    'RS256',
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048 } as webcrypto.RsaHashedImportParams,
  ],
  ['PS256', { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048 } as webcrypto.RsaHashedImportParams],
  ['ES256', { name: 'ECDSA', namedCurve: 'P-256' }],
  ['Ed25519', { name: 'Ed25519' }],
];

interface WebKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: OAuth.PrivateKey['key'];
  readonly jwk: Record<string, unknown>;
}

async function webKey(alg: string, params: Algorithm & { modulusLength?: number }): Promise<WebKey> {
  const generated = (await webcrypto.subtle.generateKey(
    { ...params, publicExponent: new Uint8Array([1, 0, 1]) } as webcrypto.RsaHashedKeyGenParams,
    true,
    ['sign', 'verify'],
  )) as webcrypto.CryptoKeyPair;
  const kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const exported = (await webcrypto.subtle.exportKey('jwk', generated.publicKey)) as Record<string, unknown>;
  const { key_ops: _ops, ext: _ext, ...publicJwk } = exported;
  void _ops;
  void _ext;
  // An Ed25519 key is registered for EdDSA (RFC 8037); oauth4webapi names the algorithm Ed25519 (RFC 9864).
  return {
    alg,
    kid,
    privateKey: generated.privateKey,
    jwk: { ...publicJwk, kid, alg: alg === 'Ed25519' ? 'EdDSA' : alg },
  };
}

describe('JWT client authentication with oauth4webapi over a real socket', () => {
  describe.each(storeFactories)('on the %s store', (_name, factory) => {
    let stores: StoreHarness;
    let server: http.Server | undefined;
    let jwksServer: Started;
    let issuer: string;
    let kit: TokenKit;
    let as: OAuth.AuthorizationServer;
    let keys: WebKey[];
    let other: WebKey;
    let signed: { clientId: string };
    let remote: { clientId: string };
    let hmac: { clientId: string; clientSecret: string };

    beforeAll(async () => {
      stores = await factory('client-auth-interop');
      keys = await Promise.all(ALGORITHMS.map(([alg, params]) => webKey(alg, params)));
      other = await webKey('ES256', { name: 'ECDSA', namedCurve: 'P-256' });
      const app = express();
      const mounted: { router?: Router } = {};
      app.use((req, res, next) => (mounted.router === undefined ? next() : mounted.router(req, res, next)));
      server = await new Promise<http.Server>((resolve, reject) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      });
      issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      jwksServer = await listen((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [keys[2]!.jwk] }));
      });
      ({ kit } = await makeKit({
        store: (await stores.create()).store,
        issuer,
        now: Date.now,
        kek: randomBytes(32),
      }));
      signed = await kit.credentials.createApplication({
        name: 'Signed',
        scopes: ['read'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: keys.map((k) => k.jwk) },
      });
      remote = await kit.credentials.createApplication({
        name: 'Remote keys',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri: `${jwksServer.url}/jwks.json`,
      });
      hmac = await kit.credentials.createApplication({
        name: 'Hmac',
        scopes: ['read'],
        tokenEndpointAuthMethod: 'client_secret_jwt',
      });
      mounted.router = createOAuthRouter({
        kit,
        clientJwks: { allowHttpLoopback: true },
        rateLimit: { enabled: false },
      });
      const discovered = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure });
      as = await oauth.processDiscoveryResponse(new URL(issuer), discovered);
    });
    afterAll(async () => {
      server?.closeAllConnections();
      await new Promise<void>((resolve) =>
        server === undefined ? resolve() : server.close(() => resolve()),
      );
      await jwksServer?.close();
      await stores.cleanup();
    });

    /** A client_credentials request; `seen` receives the form oauth4webapi sent. */
    async function grant(
      clientId: string,
      clientAuth: OAuth.ClientAuth,
      seen?: (body: URLSearchParams) => void,
    ): Promise<Response> {
      return oauth.clientCredentialsGrantRequest(
        as,
        { client_id: clientId },
        clientAuth,
        {},
        {
          ...insecure,
          [oauth.customFetch]: (url: string, init: RequestInit) => {
            seen?.(new URLSearchParams(init.body as URLSearchParams));
            return fetch(url, init);
          },
        },
      );
    }

    async function expectInvalidClient(res: Response): Promise<void> {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }

    it('finds both methods and their algorithms in the metadata', () => {
      expect(as.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['private_key_jwt', 'client_secret_jwt']),
      );
      expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(
        expect.arrayContaining(['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519', 'HS256']),
      );
      expect(as.introspection_endpoint_auth_methods_supported).toContain('private_key_jwt');
      expect(as.revocation_endpoint_auth_methods_supported).toContain('client_secret_jwt');
    });

    it.each(ALGORITHMS.map(([alg], i) => [alg, i] as const))(
      'runs client_credentials with PrivateKeyJwt (%s)',
      async (_alg, i) => {
        const key = keys[i]!;
        const res = await grant(signed.clientId, oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }));
        const result = await oauth.processClientCredentialsResponse(as, { client_id: signed.clientId }, res);
        expect(result.token_type).toBe('bearer');
        expect((await kit.tokens.verifyAccessToken(result.access_token)).clientId).toBe(signed.clientId);
      },
    );

    it('runs client_credentials with PrivateKeyJwt and keys served at a jwksUri', async () => {
      const key = keys[2]!;
      const res = await grant(remote.clientId, oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }));
      expect(
        (await oauth.processClientCredentialsResponse(as, { client_id: remote.clientId }, res)).token_type,
      ).toBe('bearer');
    });

    it('runs client_credentials, introspection and revocation with ClientSecretJwt', async () => {
      const client = { client_id: hmac.clientId };
      const auth = () => oauth.ClientSecretJwt(hmac.clientSecret);
      const res = await grant(hmac.clientId, auth());
      const { access_token: accessToken } = await oauth.processClientCredentialsResponse(as, client, res);
      const introspected = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth(), accessToken, insecure),
      );
      expect(introspected).toMatchObject({ active: true, client_id: hmac.clientId });
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth(), accessToken, insecure),
      );
      await expect(kit.tokens.verifyAccessToken(accessToken)).rejects.toMatchObject({
        code: 'invalid_token',
      });
    });

    it('refuses a replayed oauth4webapi assertion with 401 invalid_client', async () => {
      let body: URLSearchParams | undefined;
      const first = await grant(
        signed.clientId,
        oauth.PrivateKeyJwt({ key: keys[0]!.privateKey, kid: keys[0]!.kid }),
        (b) => {
          body = b;
        },
      );
      expect(first.status).toBe(200);
      await expectInvalidClient(
        await fetch(`${issuer}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: body!.toString(),
        }),
      );
    });

    it.each([
      ['a wrong aud', (p: Record<string, unknown>) => void (p.aud = 'https://another-server.test')],
      [
        'an expired assertion',
        (p: Record<string, unknown>) => void ((p.exp = Number(p.iat) - 1), (p.iat = Number(p.iat) - 61)),
      ],
      ['a 1-hour assertion', (p: Record<string, unknown>) => void (p.exp = Number(p.iat) + 3600)],
    ])('refuses %s with 401 invalid_client', async (_case, modify) => {
      const modifyAssertion = (_h: Record<string, unknown>, p: Record<string, unknown>) => modify(p);
      await expectInvalidClient(
        await grant(
          signed.clientId,
          oauth.PrivateKeyJwt(
            { key: keys[2]!.privateKey, kid: keys[2]!.kid },
            { [oauth.modifyAssertion]: modifyAssertion },
          ),
        ),
      );
      await expectInvalidClient(
        await grant(
          hmac.clientId,
          oauth.ClientSecretJwt(hmac.clientSecret, { [oauth.modifyAssertion]: modifyAssertion }),
        ),
      );
    });

    it('refuses an assertion signed by another key (even under a registered kid) with 401 invalid_client', async () => {
      await expectInvalidClient(
        await grant(signed.clientId, oauth.PrivateKeyJwt({ key: other.privateKey, kid: keys[2]!.kid })),
      );
      await expectInvalidClient(
        await grant(hmac.clientId, oauth.ClientSecretJwt(`${hmac.clientSecret}-not-it`)),
      );
    });
  });
});
