/**
 * Independent verifiers keep verifying across a scheduled key rotation, without a restart: panva's
 * jose (`createRemoteJWKSet` + `jwtVerify`) and Auth0's express-oauth2-jwt-bearer, both fetching
 * `createOAuthRouter`'s JWKS over a real socket, with a JWKS cache lifetime of their own.
 *
 * The key manager runs on an injected clock (its schedule: `next` published, then `active`, then the
 * old key retired) and is ticked by the test; tokens and verifiers use the real time, so a token's
 * expiry and the verifiers' cache behave as in production. The verifiers' cache lifetime (real
 * milliseconds here) stands for the JWKS `max-age` that `publishAhead` must cover: the test waits
 * until each verifier has refetched the JWKS after the `next` key was published, as it would have
 * within `publishAhead`, and only then lets the schedule activate it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import type * as Jose from 'jose';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createKeyManager, type KeyManager } from '../../lib/keys/key-manager';
import { MemoryKeyStore } from '../../lib/stores/memory-key-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { TokenKit } from '../../lib/core/token-kit';
import { makeKit } from '../helpers/kit';
import { basicOf, seedClients, verifyUser, type TestClients } from '../helpers/oauth';
import { loadEsm } from '../helpers/load-esm';
import { waitUntil } from '../helpers/redis-server';

const jose = loadEsm<typeof Jose>('jose');

/** See oauth-interop.spec.ts: loaded without its types, which clash with requireToken's. */
const { auth } = createRequire(__filename)('express-oauth2-jwt-bearer') as {
  auth: (options: Record<string, unknown>) => RequestHandler;
};

/** The verifiers' JWKS cache lifetime, real ms (the `max-age` publishAhead covers). */
const CACHE_MS = 400;
/** Schedule of the manager, in seconds of its injected clock. */
const ROTATE_EVERY = 86_400;
const PUBLISH_AHEAD = 600;
const TOKEN_LIFETIME = 3600;
const LEEWAY = 60;

const kidOf = (jwt: string): string =>
  (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('a scheduled key rotation seen by independent verifiers', () => {
  let server: http.Server;
  let issuer: string;
  let manager: KeyManager;
  let kit: TokenKit;
  let clients: TestClients;
  let now = Date.UTC(2026, 5, 1);
  /** JWKS requests per verifier (`?by=` of its JWKS URL). */
  const fetches: Record<string, number> = {};

  beforeAll(async () => {
    manager = await createKeyManager({
      store: new MemoryKeyStore(),
      kek: randomBytes(32),
      issuer: 'https://interop.example.test',
      rotateEvery: ROTATE_EVERY,
      publishAhead: PUBLISH_AHEAD,
      tokenLifetime: TOKEN_LIFETIME,
      leeway: LEEWAY,
      clock: () => now,
      pollEveryMs: 0,
    });
    const app = express();
    app.use('/.well-known/jwks.json', (req, _res, next) => {
      const by = String(req.query.by ?? 'other');
      fetches[by] = (fetches[by] ?? 0) + 1;
      next();
    });
    const mounted: { router?: express.Router } = {};
    app.use((req, res, next) => (mounted.router === undefined ? next() : mounted.router(req, res, next)));
    server = await new Promise<http.Server>((resolve, reject) => {
      const s = http.createServer(app);
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ kit } = await makeKit({
      store: new MemoryTokenStore(),
      keys: manager.keys,
      issuer,
      now: Date.now,
      verifyUser,
    }));
    clients = await seedClients(kit);
    mounted.router = createOAuthRouter({ kit });
  });

  afterAll(async () => {
    await manager.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function accessToken(): Promise<string> {
    const res = await request(issuer)
      .post('/oauth/token')
      .set('Authorization', basicOf(clients.full))
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  const jwksUrl = (by: string): string => `${issuer}/.well-known/jwks.json?by=${by}`;

  /** Moves the manager's clock to `at` and runs its schedule once. */
  async function tickAt(at: number): Promise<void> {
    now = at;
    await manager.tick();
  }

  const published = async (): Promise<string[]> =>
    ((await (await fetch(jwksUrl('test'))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

  it('publishes next before it signs, switches, retires the old key, and jose and express-oauth2-jwt-bearer follow', async () => {
    // A cooldown longer than the test: an unknown kid never makes a verifier refetch early, so
    // every key they accept was in a JWKS they fetched on their cache schedule.
    const joseJwks = jose.createRemoteJWKSet(new URL(jwksUrl('jose')), {
      cacheMaxAge: CACHE_MS,
      cooldownDuration: 120_000,
    });
    const bearer = express();
    bearer.get(
      '/resource',
      auth({
        issuer,
        jwksUri: jwksUrl('bearer'),
        audience: issuer,
        tokenSigningAlg: 'RS256',
        strict: true,
        cacheMaxAge: CACHE_MS,
        cooldownDuration: 120_000,
      }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    const onError: ErrorRequestHandler = (err: { status?: number }, _req, res, _next) => {
      void _next;
      res.status(err.status ?? 500).json({ error: 'invalid_token' });
    };
    bearer.use(onError);
    const joseAccepts = (token: string): Promise<boolean> =>
      jose.jwtVerify(token, joseJwks, { issuer, audience: issuer, algorithms: ['RS256'] }).then(
        () => true,
        () => false,
      );
    const bearerAccepts = async (token: string): Promise<boolean> =>
      (await request(bearer).get('/resource').set('Authorization', `Bearer ${token}`)).status === 200;
    const kitAccepts = (token: string): Promise<boolean> =>
      kit.tokens.verifyAccessToken(token).then(
        () => true,
        () => false,
      );

    // Key A signs; both verifiers fetch the JWKS {A}.
    const [a] = await published();
    const tokenA = await accessToken();
    expect(kidOf(tokenA)).toBe(a);
    expect([await joseAccepts(tokenA), await bearerAccepts(tokenA)]).toEqual([true, true]);
    const activatedA = Date.parse((await manager.list())[0]!.activateAt!);

    // publishAhead before the rotation is due: B is published as next; A still signs.
    await tickAt(activatedA + (ROTATE_EVERY - PUBLISH_AHEAD) * 1000);
    const states = await manager.list();
    const b = states.find((k) => k.state === 'next')!.kid;
    expect(await published()).toEqual([a, b]);
    expect(kidOf(await accessToken())).toBe(a);

    // Within their cache lifetime, both verifiers refetch the JWKS and learn B before it signs.
    const seen = { jose: fetches.jose ?? 0, bearer: fetches.bearer ?? 0 };
    const refetched = await waitUntil(
      async () => {
        await joseAccepts(tokenA);
        await bearerAccepts(tokenA);
        return (fetches.jose ?? 0) > seen.jose && (fetches.bearer ?? 0) > seen.bearer;
      },
      10_000,
      50,
    );
    expect(refetched).toBe(true);

    // Not a moment before publishAhead has passed: B is still next one second early.
    await tickAt(activatedA + ROTATE_EVERY * 1000 - 1000);
    expect(kidOf(await accessToken())).toBe(a);
    // The rotation: B signs, A is retiring and keeps verifying everywhere.
    await tickAt(activatedA + ROTATE_EVERY * 1000);
    const tokenB = await accessToken();
    expect(kidOf(tokenB)).toBe(b);
    expect(await published()).toEqual([a, b]);
    for (const token of [tokenA, tokenB]) {
      expect([await kitAccepts(token), await joseAccepts(token), await bearerAccepts(token)]).toEqual([
        true,
        true,
        true,
      ]);
    }

    // A retires only after its longest token expired (tokenLifetime + leeway after B took over).
    const retireAt = activatedA + (ROTATE_EVERY + TOKEN_LIFETIME + LEEWAY) * 1000;
    await tickAt(retireAt - 1000);
    expect(await published()).toEqual([a, b]);
    expect(await kitAccepts(tokenA)).toBe(true);
    await tickAt(retireAt);
    expect((await manager.list()).find((k) => k.kid === a)!.state).toBe('retired');
    expect(await published()).toEqual([b]);
    expect(await kitAccepts(tokenA)).toBe(false);
    // Once their cache lifetime has passed, the verifiers drop A too; B keeps verifying.
    const dropped = await waitUntil(
      async () => !(await joseAccepts(tokenA)) && !(await bearerAccepts(tokenA)),
      10_000,
      50,
    );
    expect(dropped).toBe(true);
    expect([await kitAccepts(tokenB), await joseAccepts(tokenB), await bearerAccepts(tokenB)]).toEqual([
      true,
      true,
      true,
    ]);
  }, 60_000);
});
