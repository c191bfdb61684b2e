/**
 * Issuers for the resource-server specs, each on a real socket of its own: a kit-based issuer
 * (createOAuthRouter, its JWKS, metadata, revocation and introspection), a jose-signed ES256
 * stand-in whose JWKS endpoint counts requests and can be made to fail in hostile ways, and
 * oidc-provider issuing client_credentials JWT access tokens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler, type Router } from 'express';
import request from 'supertest';
import type * as Jose from 'jose';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import type { RevocationView } from '../../lib/stores/revocation-view';
import { makeKit, type TestClock } from './kit';
import { loadEsm } from './load-esm';
import { basicOf, seedClients, type TestClients } from './oauth';

/** The audience every issuer here issues for. */
export const API_AUDIENCE = 'https://api.resource.test';

/** A started server. */
export interface Started {
  readonly server: http.Server;
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1. */
export function listen(handler: http.RequestListener): Promise<Started> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        server,
        url,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A kit-based issuer: createOAuthRouter on its own port, tokens from `/oauth/token`. */
export interface KitIssuer extends Started {
  readonly kit: TokenKit;
  readonly clients: TestClients;
  /** Requests seen per path. */
  readonly hits: Map<string, number>;
  /** A client_credentials access token of the `full` client. */
  token(scope?: string): Promise<string>;
  /** Revokes a token at `/oauth/revoke` (RFC 7009) as the `full` client. */
  revoke(token: string): Promise<void>;
}

/** Starts a kit-based issuer on a memory store (or `store`), on the given clock. */
export async function startKitIssuer(
  clock: TestClock,
  store: TokenStore = new MemoryTokenStore(),
  revocationView?: RevocationView,
): Promise<KitIssuer> {
  const mounted: { router?: Router } = {};
  const hits = new Map<string, number>();
  const app = express();
  app.use((req, _res, next) => {
    hits.set(req.path, (hits.get(req.path) ?? 0) + 1);
    next();
  });
  app.use((req, res, next) => (mounted.router ? mounted.router(req, res, next) : next()));
  const started = await listen(app);
  const { kit } = await makeKit({
    store,
    issuer: started.url,
    audience: API_AUDIENCE,
    now: clock,
    ...(revocationView ? { revocationView } : {}),
  });
  const clients = await seedClients(kit);
  mounted.router = createOAuthRouter({ kit });
  const post = async (path: string, form: Record<string, string>): Promise<Response> =>
    fetch(`${started.url}${path}`, {
      method: 'POST',
      headers: { authorization: basicOf(clients.full), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  return {
    ...started,
    kit,
    clients,
    hits,
    async token(scope = 'read') {
      const res = await post('/oauth/token', { grant_type: 'client_credentials', scope });
      if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async revoke(token: string) {
      const res = await post('/oauth/revoke', { token });
      if (res.status !== 200) throw new Error(`revocation endpoint answered ${res.status}`);
    },
  };
}

/** What the stand-in issuer's JWKS endpoint answers. */
export type JwksMode = 'ok' | 'down' | 'hang' | 'html' | 'malformed' | 'huge' | 'oct-and-none';

/** A jose-signed ES256 issuer whose JWKS endpoint counts its requests. */
export interface JoseIssuer extends Started {
  /** Requests of the JWKS endpoint. */
  jwksRequests: number;
  /** Requests of the metadata endpoint. */
  metadataRequests: number;
  mode: JwksMode;
  /** Requests of `/introspect`, which answers `{"active":true}` when `ok`. */
  introspectRequests: number;
  introspectMode: 'ok' | 'down' | 'html' | 'hang';
  /** The JSON `/introspect` answers when `ok`. @default `{"active":true}` */
  introspectAnswer: unknown;
  /** `Cache-Control` of the JWKS response. */
  cacheControl: string;
  /** The kid of the current signing key. */
  readonly kid: string;
  /** Signs claims (iss, aud, iat, exp filled in from the clock unless given). */
  sign(claims?: Record<string, unknown>, header?: { kid?: string; typ?: string }): Promise<string>;
  /** Adds a new signing key (new kid) to the JWKS and signs with it from now on. */
  rotate(): Promise<void>;
}

let joseModule: typeof Jose | undefined;
/** jose, bundled for jest (see load-esm.ts). */
export function jose(): typeof Jose {
  joseModule ??= loadEsm<typeof Jose>('jose');
  return joseModule;
}

/** Starts the stand-in issuer; its metadata is at RFC 8414's well-known path. */
export async function startJoseIssuer(clock: TestClock): Promise<JoseIssuer> {
  const j = jose();
  const keys: { kid: string; privateKey: Jose.CryptoKey; jwk: Jose.JWK }[] = [];
  const addKey = async (): Promise<void> => {
    const { privateKey, publicKey } = await j.generateKeyPair('ES256', { extractable: true });
    const kid = `es-${keys.length + 1}-${Math.random().toString(36).slice(2, 8)}`;
    keys.push({ kid, privateKey, jwk: { ...(await j.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } });
  };
  await addKey();
  const state = { url: '' };
  const issuer: JoseIssuer = {
    ...(await listen((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        issuer.metadataRequests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: state.url, jwks_uri: `${state.url}/jwks` }));
        return;
      }
      if (req.url === '/introspect') {
        issuer.introspectRequests++;
        if (issuer.introspectMode === 'down')
          res.writeHead(503, { 'content-type': 'application/json' }).end('{}');
        else if (issuer.introspectMode === 'html')
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
        else if (issuer.introspectMode === 'hang') return;
        else
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(issuer.introspectAnswer));
        return;
      }
      if (req.url !== '/jwks') {
        res.writeHead(404).end();
        return;
      }
      issuer.jwksRequests++;
      switch (issuer.mode) {
        case 'down':
          res.writeHead(503, { 'content-type': 'application/json' }).end('{}');
          return;
        case 'hang':
          return; // never answers
        case 'html':
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
          return;
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [ {"kty": "EC", ');
          return;
        case 'huge': {
          // 10 MB, streamed without a Content-Length, so only a counting reader can stop it
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let sent = 0;
          const push = (): void => {
            while (sent < 10 * 1024 * 1024) {
              sent += chunk.length;
              if (!res.write(chunk)) {
                res.once('drain', push);
                return;
              }
            }
            res.end('{"keys":[]}');
          };
          res.on('error', () => undefined);
          push();
          return;
        }
        case 'oct-and-none': {
          const oct = {
            kty: 'oct',
            kid: keys[0]!.kid,
            k: Buffer.alloc(32, 7).toString('base64url'),
            alg: 'HS256',
          };
          const none = { ...keys[0]!.jwk, alg: 'none' };
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': issuer.cacheControl });
          res.end(JSON.stringify({ keys: [oct, none] }));
          return;
        }
        default:
          res.writeHead(200, {
            'content-type': 'application/jwk-set+json',
            'cache-control': issuer.cacheControl,
          });
          res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
      }
    })),
    jwksRequests: 0,
    metadataRequests: 0,
    mode: 'ok',
    introspectRequests: 0,
    introspectMode: 'ok',
    introspectAnswer: { active: true },
    cacheControl: 'public, max-age=300',
    get kid() {
      return keys[keys.length - 1]!.kid;
    },
    async sign(claims = {}, header = {}) {
      const key = keys[keys.length - 1]!;
      const now = clock.seconds();
      return new j.SignJWT({
        iss: state.url,
        aud: API_AUDIENCE,
        sub: 'user-es',
        client_id: 'client-es',
        jti: `jti-${Math.random().toString(36).slice(2)}`,
        scope: 'read',
        iat: now,
        exp: now + 300,
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: header.typ ?? 'at+jwt', kid: header.kid ?? key.kid })
        .sign(key.privateKey);
    },
    rotate: addKey,
  };
  state.url = issuer.url;
  return issuer;
}

/** An oidc-provider issuing client_credentials JWT access tokens for {@link API_AUDIENCE}. */
export interface OidcIssuer extends Started {
  token(): Promise<string>;
}

/** Starts oidc-provider (ESM, bundled for jest like jose) with one client_credentials client. */
export async function startOidcProvider(): Promise<OidcIssuer> {
  // oidc-provider warns about its development defaults (in-memory adapter, cookie keys) on load
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const { default: Provider } = loadEsm<{ default: new (issuer: string, config: unknown) => OidcProvider }>(
    'oidc-provider',
  );
  const j = jose();
  const { privateKey } = await j.generateKeyPair('ES256', { extractable: true });
  const signing = { ...(await j.exportJWK(privateKey)), kid: 'oidc-es256', alg: 'ES256', use: 'sig' };
  const holder: { handler?: RequestHandler } = {};
  const started = await listen((req, res) => holder.handler!(req as never, res as never, () => undefined));
  const provider = new Provider(started.url, {
    clients: [
      {
        client_id: 'oidc-service',
        client_secret: 'oidc-service-secret-0123456789',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'read',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signing] },
    scopes: ['read'],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read',
          audience: API_AUDIENCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  holder.handler = provider.callback() as unknown as RequestHandler;
  warn.mockRestore();
  return {
    ...started,
    async token() {
      const res = await fetch(`${started.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('oidc-service:oidc-service-secret-0123456789').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'read',
          resource: API_AUDIENCE,
        }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || body.access_token === undefined) {
        throw new Error(`oidc-provider answered ${res.status}: ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },
  };
}

interface OidcProvider {
  callback(): unknown;
}

/** `GET /api/me` on `app` with `token` as a Bearer token: the protected route the resource specs mount. */
export function getMe(app: Express, token: string): request.Test {
  return request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
}
