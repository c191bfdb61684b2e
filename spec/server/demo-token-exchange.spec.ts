/**
 * Token exchange (RFC 8693) on the demo app, end to end over HTTP: an employer-bound createApiKeyRouter
 * token (`vit_at_…`) is exchanged at `/oauth/token` for a token bound to one of the employer's
 * employees, which opens that employee's route only; the refusals a client sees (RFC 8693 §2.2.2,
 * RFC 6749 §5.2); and revoking the subject token — JWT or opaque — revokes the exchanged one, on the
 * memory store, on Redis, and on a second instance whose Redis revocation view is a replica. The
 * oauth4webapi example of docs/token-exchange.md runs here too.
 */
import type { Express } from 'express';
import request from 'supertest';
import type * as OAuth from 'oauth4webapi';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { createDemoApp } from '../../lib/server/demo-app';
import { parseSeed } from '../../lib/server/seed';
import { applySeed, seedTokenExchange } from '../../lib/server/seed-kit';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import { RedisRevocationView, revocationChannel } from '../../lib/stores/redis-revocation-view';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { expectNoStore, expectOAuthErrorBody } from '../helpers/http';
import {
  createClock,
  describeOnStore,
  makeKit,
  storeFactories,
  testKeySet,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { loadEsm } from '../helpers/load-esm';
import { basic, decodeJwt, fetchInto, form } from '../helpers/oauth';
import { startRedisServer, waitUntil, type RedisServer } from '../helpers/redis-server';

jest.setTimeout(60_000);

const oauth = loadEsm<typeof OAuth>('oauth4webapi');

const ISSUER = 'https://issuer.exchange.test';
const API_KEY = 'acme_ak_exchange_spec_key_0001';
const EMPLOYER = 'empr_SGVsbG8gV29ybGQ';
const ALICE = 'empl_QWxpY2U';
const BOB = 'empl_Qm9i';
const OTHER_EMPLOYER = 'empr_T3RoZXI';
const MALLORY = 'empl_TWFsbG9yeQ';
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const GATEWAY = { clientId: 'hr-gateway', clientSecret: 'hr-gateway-secret' } as const;
const PLAIN = { clientId: 'plain-client', clientSecret: 'plain-client-secret' } as const;

const SEED = parseSeed({
  apiKeys: [{ key: API_KEY, name: 'Acme Platform' }],
  employers: [
    { id: EMPLOYER, employees: [ALICE, BOB] },
    { id: OTHER_EMPLOYER, employees: [MALLORY] },
  ],
  applications: [
    {
      id: '6f1e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
      name: 'HR gateway',
      organization: 'acme',
      ...GATEWAY,
      applicationTypes: ['API'],
      grantTypes: ['client_credentials', GRANT],
    },
    {
      id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
      name: 'Plain',
      organization: 'acme',
      ...PLAIN,
      applicationTypes: ['API'],
      grantTypes: ['client_credentials'],
    },
  ],
});

const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

/** createApiKeyRouter's token for the seed's API key, bound to `entity` (or unbound). */
async function apiKeyToken(app: Express, entity: { id: string; type: string } | null): Promise<string> {
  const res = await request(app)
    .post('/v1/auth/access-tokens')
    .set(...bearer(API_KEY))
    .send({ grant_type: 'client_credentials', bound_entity: entity });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** The gateway's own client_credentials JWT. */
async function gatewayJwt(app: Express): Promise<string> {
  const res = await request(app)
    .post('/oauth/token')
    .set('Authorization', basic(GATEWAY.clientId, GATEWAY.clientSecret))
    .type('form')
    .send(form({ grant_type: 'client_credentials' }));
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** A token-exchange request of `client` (the gateway by default). */
function exchange(
  app: Express,
  params: Record<string, string>,
  client: { clientId: string; clientSecret: string } = GATEWAY,
): request.Test {
  return request(app)
    .post('/oauth/token')
    .set('Authorization', basic(client.clientId, client.clientSecret))
    .type('form')
    .send(form({ grant_type: GRANT, subject_token_type: ACCESS, ...params }));
}

/** Exchanges an employer token for one bound to Alice; asserts the RFC 8693 §2.2.1 response. */
async function aliceToken(app: Express, subject: string): Promise<string> {
  const res = await exchange(app, {
    subject_token: subject,
    bound_entity_id: ALICE,
    bound_entity_type: 'employee',
  });
  expect(res.status).toBe(200);
  expectNoStore(res);
  expect(res.body).toEqual({
    access_token: expect.any(String),
    token_type: 'Bearer',
    expires_in: expect.any(Number),
    issued_token_type: ACCESS,
  });
  return res.body.access_token as string;
}

async function statusAt(app: Express, path: string, token: string): Promise<number> {
  return (
    await request(app)
      .get(path)
      .set(...bearer(token))
  ).status;
}

describe.each(storeFactories)('token exchange on the demo app (%s store)', (_name, factory) => {
  let stores: StoreHarness;
  let clock: TestClock;
  let kit: TokenKit;
  let app: Express;

  beforeAll(async () => {
    stores = await factory('demo-token-exchange');
  });
  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    clock = createClock();
    ({ kit } = await makeKit({
      store: (await stores.create(clock.now)).store,
      now: clock,
      issuer: ISSUER,
      tokenExchange: seedTokenExchange(SEED),
    }));
    await applySeed(kit, SEED);
    app = createDemoApp({ kit, seed: SEED });
  });

  it('lists the grant in the metadata (RFC 8414 grant_types_supported)', async () => {
    const res = await request(app).get('/.well-known/oauth-authorization-server');
    expect(res.body.grant_types_supported).toContain(GRANT);
  });

  it('exchanges an employer token for an employee token that opens that employee only', async () => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    const token = await aliceToken(app, subject);
    const claims = decodeJwt(token).payload;
    expect(claims).toMatchObject({
      bound_entity: { id: ALICE, type: 'employee' },
      client_id: GATEWAY.clientId,
      act: { sub: GATEWAY.clientId },
    });
    expect(await statusAt(app, `/v1/employees/${ALICE}`, token)).toBe(200);
    expect(await statusAt(app, `/v1/employees/${BOB}`, token)).toBe(403);
    expect(await statusAt(app, `/v1/employers/${EMPLOYER}`, token)).toBe(403);
    // the subject still reaches both
    expect(await statusAt(app, `/v1/employees/${BOB}`, subject)).toBe(200);
    expect(await statusAt(app, `/v1/employers/${EMPLOYER}`, subject)).toBe(200);
  });

  it('shows the delegation in introspection (RFC 8693 §4.1)', async () => {
    const token = await aliceToken(app, await apiKeyToken(app, { id: EMPLOYER, type: 'employer' }));
    const res = await request(app)
      .post('/oauth/introspect')
      .set('Authorization', basic(GATEWAY.clientId, GATEWAY.clientSecret))
      .type('form')
      .send(form({ token }));
    expect(res.body).toMatchObject({ active: true, act: { sub: GATEWAY.clientId } });
  });

  it.each([
    [
      'another employer’s employee',
      { bound_entity_id: MALLORY, bound_entity_type: 'employee' },
      'invalid_target',
    ],
    ['a wider scope', { scope: 'read' }, 'invalid_scope'],
    ['an audience the subject lacks', { audience: 'https://elsewhere.test' }, 'invalid_target'],
    ['a malformed binding', { bound_entity_id: ALICE, bound_entity_type: 'employer' }, 'invalid_request'],
  ])('refuses %s with 400 %s', async (_case, params, error) => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    expectOAuthErrorBody(await exchange(app, { subject_token: subject, ...params }), 400, error);
  });

  it('refuses to rebind an employee token, to a sibling or to the employer, with invalid_target', async () => {
    const alice = await aliceToken(app, await apiKeyToken(app, { id: EMPLOYER, type: 'employer' }));
    for (const [id, type] of [
      [BOB, 'employee'],
      [EMPLOYER, 'employer'],
    ]) {
      expectOAuthErrorBody(
        await exchange(app, { subject_token: alice, bound_entity_id: id!, bound_entity_type: type! }),
        400,
        'invalid_target',
      );
    }
  });

  it('refuses a client without the grant with 400 unauthorized_client', async () => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    expectOAuthErrorBody(await exchange(app, { subject_token: subject }, PLAIN), 400, 'unauthorized_client');
  });

  it('revokes the exchanged token with the router A subject token', async () => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    const token = await aliceToken(app, subject);
    expect(await kit.tokens.revokeToken(subject)).toBe(true);
    expect(await statusAt(app, `/v1/employees/${ALICE}`, token)).toBe(401);
    expect(await statusAt(app, `/v1/employees/${ALICE}`, subject)).toBe(401);
  });

  it('revokes the exchanged token with a JWT subject revoked at /oauth/revoke', async () => {
    const subject = await gatewayJwt(app);
    const bound = await exchange(app, {
      subject_token: subject,
      bound_entity_id: ALICE,
      bound_entity_type: 'employee',
    });
    expect(bound.status).toBe(200);
    const token = bound.body.access_token as string;
    expect(await statusAt(app, `/v1/employees/${ALICE}`, token)).toBe(200);
    const revoked = await request(app)
      .post('/oauth/revoke')
      .set('Authorization', basic(GATEWAY.clientId, GATEWAY.clientSecret))
      .type('form')
      .send(form({ token: subject }));
    expect(revoked.status).toBe(200);
    expect(await statusAt(app, `/v1/employees/${ALICE}`, token)).toBe(401);
  });

  it('never lets the exchanged token outlive the subject', async () => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    clock.advance(890);
    const res = await exchange(app, { subject_token: subject });
    expect(res.body.expires_in).toBe(10);
    clock.advance(10);
    expect(await statusAt(app, `/v1/employers/${EMPLOYER}`, res.body.access_token as string)).toBe(401);
  });

  describe('bad input: a 4xx OAuth error, never a 5xx', () => {
    it.each([
      ['a repeated subject_token', (t: string) => `subject_token=${t}&subject_token=${t}`],
      ['a huge subject_token', () => `subject_token=${'a'.repeat(60_000)}`],
      ['a huge audience', (t: string) => `subject_token=${t}&audience=${'a'.repeat(60_000)}`],
      ['an unknown subject_token_type', (t: string) => `subject_token=${t}&subject_token_type=x`],
    ])('answers %s with 4xx', async (_case, body) => {
      const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
      const res = await request(app)
        .post('/oauth/token')
        .set('Authorization', basic(GATEWAY.clientId, GATEWAY.clientSecret))
        .type('form')
        .send(`grant_type=${encodeURIComponent(GRANT)}&${body(subject)}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    });

    it('answers a JSON body with a non-string subject_token with invalid_request', async () => {
      const res = await request(app)
        .post('/oauth/token')
        .set('Authorization', basic(GATEWAY.clientId, GATEWAY.clientSecret))
        .send({ grant_type: GRANT, subject_token: { a: 1 }, subject_token_type: ACCESS });
      expectOAuthErrorBody(res, 400, 'invalid_request');
    });

    it('answers a subject token of another kit, and a refresh token, with invalid_request', async () => {
      const other = await makeKit({ store: (await stores.create(clock.now)).store, now: clock });
      const foreign = (await other.kit.tokens.issueAccessToken({ subject: 's', clientId: GATEWAY.clientId }))
        .token;
      expectOAuthErrorBody(await exchange(app, { subject_token: foreign }), 400, 'invalid_request');
      const { refreshToken } = await kit.tokens.startRefreshFamily({
        subject: 's',
        clientId: GATEWAY.clientId,
      });
      expectOAuthErrorBody(await exchange(app, { subject_token: refreshToken }), 400, 'invalid_request');
    });
  });

  it('runs the oauth4webapi example of docs/token-exchange.md', async () => {
    const subject = await apiKeyToken(app, { id: EMPLOYER, type: 'employer' });
    const toIssuer = { [oauth.customFetch]: fetchInto(app) };
    const issuer = new URL(ISSUER);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...toIssuer }),
    );
    const client: OAuth.Client = { client_id: GATEWAY.clientId };
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(GATEWAY.clientSecret),
      GRANT,
      new URLSearchParams({
        subject_token: subject,
        subject_token_type: ACCESS,
        bound_entity_id: ALICE,
        bound_entity_type: 'employee',
      }),
      toIssuer,
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.issued_token_type).toBe(ACCESS);
    expect(await statusAt(app, `/v1/employees/${ALICE}`, result.access_token)).toBe(200);
  });
});

describeOnStore('redis')('token exchange with the Redis revocation view as a replica', () => {
  let server: RedisServer;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);

  afterAll(async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    await server.stop();
  }, 30_000);

  /** One demo instance on the shared Redis, its revocation view a replica. */
  async function instance(): Promise<{ app: Express; kit: TokenKit; view: RedisRevocationView }> {
    const clients = [0, 1, 2].map(() => createRedisClient({ url: server.url, commandTimeoutMs: 2000 }));
    await Promise.all(clients.map((c) => waitForReady(c, 5000)));
    for (const c of clients) closers.push(() => c.disconnect());
    const [storeClient, viewClient, subscriber] = clients as [
      (typeof clients)[0],
      (typeof clients)[0],
      (typeof clients)[0],
    ];
    const view = await RedisRevocationView.start({
      client: viewClient,
      subscriber,
      channel: revocationChannel('x:'),
      heartbeatMs: 50,
      replica: true,
    });
    closers.push(() => view.close());
    const kit = createTokenKit({
      store: new RedisTokenStore({ client: storeClient, keyPrefix: 'x:' }),
      keys: await testKeySet(),
      issuer: ISSUER,
      revocationView: view,
      tokenExchange: seedTokenExchange(SEED),
    });
    expect(await waitUntil(() => view.ready, 10_000)).toBe(true);
    return { app: createDemoApp({ kit, seed: SEED }), kit, view };
  }

  it('refuses the exchanged token on the other instance once the subject is revoked', async () => {
    const a = await instance();
    await applySeed(a.kit, SEED);
    const b = await instance();
    const subject = await apiKeyToken(a.app, { id: EMPLOYER, type: 'employer' });
    const token = await aliceToken(a.app, subject);
    expect(await statusAt(b.app, `/v1/employees/${ALICE}`, token)).toBe(200);
    expect(b.view.replicating).toBe(true);
    expect(await a.kit.tokens.revokeToken(subject)).toBe(true);
    expect(await statusAt(a.app, `/v1/employees/${ALICE}`, token)).toBe(401);
    expect(
      await waitUntil(async () => (await statusAt(b.app, `/v1/employees/${ALICE}`, token)) === 401, 10_000),
    ).toBe(true);
  });
});
