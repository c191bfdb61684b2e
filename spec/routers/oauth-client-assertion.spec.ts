/**
 * createOAuthRouter's JWT client authentication (RFC 7523 §2.2, RFC 7521 §4.2): `private_key_jwt`
 * and `client_secret_jwt` at the token, revocation and introspection endpoints, on the memory store
 * and a real Redis. Every refused assertion is a 4xx OAuth error (401 `invalid_client` for a bad
 * assertion, 400 `invalid_request` for a malformed request), never a 5xx; a refused assertion
 * consumes nothing; a used one is refused again, on every instance sharing the store.
 */
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { authRouterApp, oauthRouterApp } from '../helpers/apps';
import type { TokenEvent } from '../../lib/core/events';
import {
  assertionClaims,
  assertionForm,
  clientKey,
  JWT_BEARER,
  privateKeyJwtClient,
  signJws,
  type ClientKey,
} from '../helpers/client-assertions';
import { expectOAuthErrorBody } from '../helpers/http';
import {
  describeOnStore,
  makeKit,
  storeFactories,
  TEST_ISSUER,
  type StoreHarness,
  type TestClock,
} from '../helpers/kit';
import { basic, failingStore } from '../helpers/oauth';
import { listen, type Started } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

const TOKEN_ENDPOINT = `${TEST_ISSUER}/oauth/token`;
const CC = { grant_type: 'client_credentials' };

const rs256 = clientKey('RS256', 'rs-1');
const ps256 = clientKey('PS256', 'ps-1');
const es256 = clientKey('ES256', 'es-1');
const es384 = clientKey('ES384', 'es384-1');
const ed25519 = clientKey('EdDSA', 'ed-1');
/** A key nobody registered, with the kid of a registered one. */
const stranger = clientKey('RS256', 'rs-1');

function token(app: Express, body: string, authorization?: string) {
  const req = request(app).post('/oauth/token').type('form');
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req.send(body);
}

describe.each(storeFactories)('createOAuthRouter client assertions on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let kit: TokenKit;
  let clock: TestClock;
  let app: Express;
  let signed: { clientId: string; clientSecret: string };
  let hmac: { clientId: string; clientSecret: string };
  let plain: { clientId: string; clientSecret: string };
  let basicOnly: { clientId: string; clientSecret: string };
  let twinApp: Express;

  const now = () => clock.seconds();
  const rsAssertion = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    signJws(
      { alg: 'RS256', kid: rs256.kid, ...header },
      { ...assertionClaims(signed.clientId, TEST_ISSUER, now()), ...claims },
      rs256.privateKey,
    );
  const hsAssertion = (claims: Record<string, unknown> = {}, alg = 'HS256') =>
    signJws(
      { alg },
      { ...assertionClaims(hmac.clientId, TEST_ISSUER, now()), ...claims },
      Buffer.from(hmac.clientSecret),
    );

  beforeAll(async () => {
    stores = await factory('client-assertion');
    const made = await stores.create();
    ({ kit, clock } = await makeKit({ store: made.store, kek: randomBytes(32) }));
    signed = await privateKeyJwtClient(kit, [rs256, ps256, es256, es384, ed25519]);
    hmac = await kit.credentials.createApplication({
      name: 'Hmac',
      tokenEndpointAuthMethod: 'client_secret_jwt',
      scopes: ['read'],
    });
    plain = await kit.credentials.createApplication({ name: 'Plain' });
    basicOnly = await kit.credentials.createApplication({
      name: 'BasicOnly',
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    // The failure budgets are off here (a table of refusals); they have a case of their own below.
    app = oauthRouterApp(kit, { rateLimit: { enabled: false } });
    // A second instance: its own kit over the same data (on Redis, another connection).
    const { kit: twin } = await makeKit({ store: await made.twin(), now: clock, kek: randomBytes(32) });
    twinApp = oauthRouterApp(twin, { rateLimit: { enabled: false } });
  });
  afterAll(() => stores.cleanup());

  describe('private_key_jwt', () => {
    it.each([
      ['RS256', rs256],
      ['PS256', ps256],
      ['ES256', es256],
      ['ES384', es384],
      ['EdDSA', ed25519],
    ])('issues a client_credentials token for an assertion signed with %s', async (_alg, key: ClientKey) => {
      const assertion = signJws(
        { alg: key.alg, kid: key.kid },
        assertionClaims(signed.clientId, TOKEN_ENDPOINT, now()),
        key.privateKey,
      );
      const res = await token(app, assertionForm(assertion, CC));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer' });
      const verified = await kit.tokens.verifyAccessToken(
        (res.body as { access_token: string }).access_token,
      );
      expect(verified.clientId).toBe(signed.clientId);
    });

    it('accepts the client_id parameter when it names the same client, and an assertion without kid for a lone key of its alg', async () => {
      const assertion = signJws(
        { alg: 'PS256' },
        assertionClaims(signed.clientId, TEST_ISSUER, now()),
        ps256.privateKey,
      );
      const res = await token(app, assertionForm(assertion, { ...CC, client_id: signed.clientId }));
      expect(res.status).toBe(200);
    });

    it('authenticates at the revocation and introspection endpoints too (aud the issuer or the endpoint)', async () => {
      const issued = await token(app, assertionForm(rsAssertion(), CC));
      const accessToken = (issued.body as { access_token: string }).access_token;
      const introspected = await request(app)
        .post('/oauth/introspect')
        .type('form')
        .send(assertionForm(rsAssertion({ aud: `${TEST_ISSUER}/oauth/introspect` }), { token: accessToken }));
      expect(introspected.status).toBe(200);
      expect(introspected.body).toMatchObject({ active: true, client_id: signed.clientId });
      const revoked = await request(app)
        .post('/oauth/revoke')
        .type('form')
        .send(assertionForm(rsAssertion({ aud: `${TEST_ISSUER}/oauth/revoke` }), { token: accessToken }));
      expect(revoked.status).toBe(200);
      await expect(kit.tokens.verifyAccessToken(accessToken)).rejects.toMatchObject({
        code: 'invalid_token',
      });
    });
  });

  describe('client_secret_jwt', () => {
    it.each(['HS256', 'HS384'])('issues a token for an assertion MACed with the secret (%s)', async (alg) => {
      const res = await token(app, assertionForm(hsAssertion({}, alg), CC));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer' });
    });

    it('refuses HS512 with a secret shorter than its 64-byte key (RFC 7518 §3.2)', async () => {
      expect(Buffer.byteLength(hmac.clientSecret)).toBeLessThan(64);
      expectOAuthErrorBody(
        await token(app, assertionForm(hsAssertion({}, 'HS512'), CC)),
        401,
        'invalid_client',
      );
    });

    it('refuses a MAC made with another secret', async () => {
      const assertion = signJws(
        { alg: 'HS256' },
        assertionClaims(hmac.clientId, TEST_ISSUER, now()),
        Buffer.from(`${hmac.clientSecret}x`),
      );
      expectOAuthErrorBody(await token(app, assertionForm(assertion, CC)), 401, 'invalid_client');
    });

    it('keeps the secret only sealed: the secret never appears in the stored record', async () => {
      const stored = JSON.stringify(await kit.credentials.findApplicationByClientId(hmac.clientId));
      expect(stored).not.toContain(hmac.clientSecret);
    });
  });

  describe('replay (RFC 7523 §3 item 7)', () => {
    it('refuses an assertion used before, on this instance and on another one sharing the store', async () => {
      const assertion = rsAssertion();
      expect((await token(app, assertionForm(assertion, CC))).status).toBe(200);
      expectOAuthErrorBody(await token(app, assertionForm(assertion, CC)), 401, 'invalid_client');
      expectOAuthErrorBody(await token(twinApp, assertionForm(assertion, CC)), 401, 'invalid_client');
    });

    it('lets exactly one of two instances accept the same assertion at once', async () => {
      const assertion = hsAssertion();
      const results = await Promise.all([
        token(app, assertionForm(assertion, CC)),
        token(twinApp, assertionForm(assertion, CC)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    });

    it('consumes nothing when it refuses: the same jti passes once the assertion is right', async () => {
      const jti = `jti-${Math.random()}`;
      expectOAuthErrorBody(
        await token(app, assertionForm(rsAssertion({ jti, aud: 'https://elsewhere.test' }), CC)),
        401,
        'invalid_client',
      );
      expectOAuthErrorBody(
        await token(app, assertionForm(rsAssertion({ jti, exp: now() + 3600 }), CC)),
        401,
        'invalid_client',
      );
      expect((await token(app, assertionForm(rsAssertion({ jti }), CC))).status).toBe(200);
    });

    it('keeps the same jti of two clients apart', async () => {
      const jti = `shared-${Math.random()}`;
      expect((await token(app, assertionForm(rsAssertion({ jti }), CC))).status).toBe(200);
      expect((await token(app, assertionForm(hsAssertion({ jti }), CC))).status).toBe(200);
    });
  });

  describe('refuses with 401 invalid_client', () => {
    const cases: ReadonlyArray<readonly [string, () => string]> = [
      ['a wrong aud', () => rsAssertion({ aud: 'https://other-server.test' })],
      ['aud as an empty array', () => rsAssertion({ aud: [] })],
      ['an expired assertion (exp = now)', () => rsAssertion({ exp: now() })],
      ['a 1-hour assertion', () => rsAssertion({ exp: now() + 3600 })],
      ['exp missing', () => rsAssertion({ exp: undefined })],
      ['exp a string', () => rsAssertion({ exp: String(now() + 60) })],
      ['nbf in the future', () => rsAssertion({ nbf: now() + 10 })],
      ['iat in the future', () => rsAssertion({ iat: now() + 10 })],
      ['jti missing', () => rsAssertion({ jti: undefined })],
      ['jti empty', () => rsAssertion({ jti: '' })],
      ['jti a number', () => rsAssertion({ jti: 7 })],
      ['jti of 257 characters', () => rsAssertion({ jti: 'j'.repeat(257) })],
      ['iss != sub', () => rsAssertion({ iss: 'someone-else' })],
      ['iss missing', () => rsAssertion({ iss: undefined })],
      ['sub another client', () => rsAssertion({ sub: plain.clientId, iss: plain.clientId })],
      ['sub an unknown client', () => rsAssertion({ sub: 'nobody', iss: 'nobody' })],
      [
        'a signature by another key with a registered kid',
        () =>
          signJws(
            { alg: 'RS256', kid: rs256.kid },
            assertionClaims(signed.clientId, TEST_ISSUER, now()),
            stranger.privateKey,
          ),
      ],
      ['a kid that is not registered', () => rsAssertion({}, { kid: 'missing-kid' })],
      [
        'an RS256 kid used with PS256',
        () =>
          signJws(
            { alg: 'PS256', kid: rs256.kid },
            assertionClaims(signed.clientId, TEST_ISSUER, now()),
            rs256.privateKey,
          ),
      ],
      [
        'alg none, no signature',
        () =>
          `${signJws({ alg: 'none' }, assertionClaims(signed.clientId, TEST_ISSUER, now()), undefined)}AA`,
      ],
      [
        'HS256 on a private_key_jwt client (the RS256 public key as the HMAC secret)',
        () =>
          signJws(
            { alg: 'HS256', kid: rs256.kid },
            assertionClaims(signed.clientId, TEST_ISSUER, now()),
            Buffer.from(rs256.publicKey.export({ type: 'spki', format: 'pem' })),
          ),
      ],
      [
        'RS256 on a client_secret_jwt client',
        () =>
          signJws(
            { alg: 'RS256', kid: rs256.kid },
            assertionClaims(hmac.clientId, TEST_ISSUER, now()),
            rs256.privateKey,
          ),
      ],
      [
        'an assertion of a client registered for secrets',
        () =>
          signJws(
            { alg: 'HS256' },
            assertionClaims(plain.clientId, TEST_ISSUER, now()),
            Buffer.from(plain.clientSecret),
          ),
      ],
      ['a crit header', () => rsAssertion({}, { crit: ['exp'] })],
      ['a jku header', () => rsAssertion({}, { jku: 'https://attacker.test/jwks' })],
      ['an embedded jwk header', () => rsAssertion({}, { jwk: stranger.jwk })],
      ['typ at+jwt (another kind of JWT)', () => rsAssertion({}, { typ: 'at+jwt' })],
      [
        'a tampered payload',
        () => {
          const [h, , s] = rsAssertion().split('.');
          const p = Buffer.from(JSON.stringify(assertionClaims(plain.clientId, TEST_ISSUER, now()))).toString(
            'base64url',
          );
          return `${h}.${p}.${s}`;
        },
      ],
      [
        'a payload that is not JSON',
        () => signJws({ alg: 'RS256', kid: rs256.kid }, 'not json', rs256.privateKey),
      ],
      ['a JSON array payload', () => signJws({ alg: 'RS256', kid: rs256.kid }, '[1,2]', rs256.privateKey)],
      ['two parts only', () => rsAssertion().split('.').slice(0, 2).join('.')],
      ['standard base64 characters', () => rsAssertion().replace(/-/g, '+')],
      ['an assertion over 8192 characters', () => rsAssertion({ padding: 'x'.repeat(9000) })],
    ];

    it.each(cases)('for %s', async (_case, make) => {
      expectOAuthErrorBody(await token(app, assertionForm(make(), CC)), 401, 'invalid_client');
    });

    it('for an unsupported client_assertion_type', async () => {
      const body = new URLSearchParams({
        ...CC,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        client_assertion: rsAssertion(),
      }).toString();
      expectOAuthErrorBody(await token(app, body), 401, 'invalid_client');
    });

    it('for a client_id parameter naming another client than the assertion', async () => {
      expectOAuthErrorBody(
        await token(app, assertionForm(rsAssertion(), { ...CC, client_id: plain.clientId })),
        401,
        'invalid_client',
      );
    });

    it('for the secret of an assertion client, in Basic or in the body', async () => {
      for (const client of [signed, hmac]) {
        const viaBasic = await token(
          app,
          new URLSearchParams(CC).toString(),
          basic(client.clientId, client.clientSecret),
        );
        expectOAuthErrorBody(viaBasic, 401, 'invalid_client');
        expect(viaBasic.headers['www-authenticate']).toMatch(/^Basic /);
        const viaBody = await token(
          app,
          new URLSearchParams({
            ...CC,
            client_id: client.clientId,
            client_secret: client.clientSecret,
          }).toString(),
        );
        expectOAuthErrorBody(viaBody, 401, 'invalid_client');
      }
    });

    it('for a client_secret_basic client sending its secret in the body, and not in Basic', async () => {
      const viaBody = await token(
        app,
        new URLSearchParams({
          ...CC,
          client_id: basicOnly.clientId,
          client_secret: basicOnly.clientSecret,
        }).toString(),
      );
      expectOAuthErrorBody(viaBody, 401, 'invalid_client');
      const viaBasic = await token(
        app,
        new URLSearchParams(CC).toString(),
        basic(basicOnly.clientId, basicOnly.clientSecret),
      );
      expect(viaBasic.status).toBe(200);
    });
  });

  describe('refuses with 400 invalid_request', () => {
    it('an assertion together with HTTP Basic', async () => {
      expectOAuthErrorBody(
        await token(app, assertionForm(rsAssertion(), CC), basic(plain.clientId, plain.clientSecret)),
        400,
        'invalid_request',
      );
    });

    it('an assertion together with client_secret', async () => {
      expectOAuthErrorBody(
        await token(app, assertionForm(rsAssertion(), { ...CC, client_secret: signed.clientSecret })),
        400,
        'invalid_request',
      );
    });

    it('client_assertion without client_assertion_type, and the reverse', async () => {
      expectOAuthErrorBody(
        await token(app, new URLSearchParams({ ...CC, client_assertion: rsAssertion() }).toString()),
        400,
        'invalid_request',
      );
      expectOAuthErrorBody(
        await token(app, new URLSearchParams({ ...CC, client_assertion_type: JWT_BEARER }).toString()),
        400,
        'invalid_request',
      );
    });

    it('a repeated client_assertion', async () => {
      const body = `${assertionForm(rsAssertion(), CC)}&client_assertion=${rsAssertion()}`;
      expectOAuthErrorBody(await token(app, body), 400, 'invalid_request');
    });
  });

  it('counts refused assertions against the client they claim: 429 once its budget is spent', async () => {
    const limited = oauthRouterApp(kit, { rateLimit: { failuresPerCredentialAndIp: 3 } });
    for (let i = 0; i < 3; i++) {
      expectOAuthErrorBody(
        await token(limited, assertionForm(rsAssertion({ aud: 'https://other.test' }), CC)),
        401,
        'invalid_client',
      );
    }
    expect((await token(limited, assertionForm(rsAssertion(), CC))).status).toBe(429);
    // Another client's budget is its own.
    expect((await token(limited, assertionForm(hsAssertion(), CC))).status).toBe(200);
  });

  it('answers a body over the size limit with a 4xx, never a 5xx', async () => {
    const res = await token(app, assertionForm(rsAssertion({ padding: 'x'.repeat(40_000) }), CC));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

// the unit project only
describeOnStore('memory')('client assertion time checks at second boundaries (injected clock)', () => {
  let kit: TokenKit;
  let clock: TestClock;
  let app: Express;
  let client: { clientId: string };

  beforeAll(async () => {
    ({ kit, clock } = await makeKit({ store: new MemoryTokenStore() }));
    client = await privateKeyJwtClient(kit, [es256]);
    app = oauthRouterApp(kit);
  });

  const at = (claims: Record<string, unknown>) =>
    token(
      app,
      assertionForm(
        signJws(
          { alg: 'ES256', kid: es256.kid },
          { ...assertionClaims(client.clientId, TEST_ISSUER, clock.seconds()), ...claims },
          es256.privateKey,
        ),
        CC,
      ),
    );

  beforeEach(() => {
    // The last millisecond of a second: whole seconds decide, never the fraction.
    clock.set(Math.floor(Date.now() / 1000) * 1000 + 999);
  });

  it('accepts exp one second ahead and refuses exp = now', async () => {
    const s = clock.seconds();
    expect((await at({ exp: s + 1 })).status).toBe(200);
    expectOAuthErrorBody(await at({ exp: s }), 401, 'invalid_client');
  });

  it('accepts exp exactly 300 s ahead and refuses 301 s', async () => {
    const s = clock.seconds();
    expect((await at({ exp: s + 300 })).status).toBe(200);
    expectOAuthErrorBody(await at({ exp: s + 301 }), 401, 'invalid_client');
  });

  it('accepts nbf and iat = now and refuses them one second ahead', async () => {
    const s = clock.seconds();
    expect((await at({ nbf: s, iat: s })).status).toBe(200);
    expectOAuthErrorBody(await at({ nbf: s + 1 }), 401, 'invalid_client');
    expectOAuthErrorBody(await at({ iat: s + 1 }), 401, 'invalid_client');
  });

  it('refuses an assertion once the clock passes its exp', async () => {
    const s = clock.seconds();
    const assertion = signJws(
      { alg: 'ES256', kid: es256.kid },
      { ...assertionClaims(client.clientId, TEST_ISSUER, s), exp: s + 2 },
      es256.privateKey,
    );
    clock.advance(2);
    expectOAuthErrorBody(await token(app, assertionForm(assertion, CC)), 401, 'invalid_client');
  });
});

// the unit project only
describeOnStore('memory')('client assertions when the store fails', () => {
  it('answers 503 and issues nothing when the replay cache cannot answer', async () => {
    const failing = failingStore(new MemoryTokenStore());
    const { kit, clock } = await makeKit({ store: failing.store });
    const client = await privateKeyJwtClient(kit, [es256]);
    const app = oauthRouterApp(kit);
    failing.fail(true, ['markUsed']);
    const res = await token(
      app,
      assertionForm(
        signJws(
          { alg: 'ES256', kid: es256.kid },
          assertionClaims(client.clientId, TEST_ISSUER, clock.seconds()),
          es256.privateKey,
        ),
        CC,
      ),
    );
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'service_unavailable' });
  });
});

// the integration project only
describeOnStore('redis')('private_key_jwt clients with a jwksUri', () => {
  let server: Started;
  let published: Record<string, unknown>[];
  let fetches: number;
  let kit: TokenKit;
  let clock: TestClock;
  let client: { clientId: string };

  beforeAll(async () => {
    published = [es256.jwk];
    fetches = 0;
    server = await listen((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({ keys: published }));
    });
    ({ kit, clock } = await makeKit({ store: new MemoryTokenStore() }));
    client = await kit.credentials.createApplication({
      name: 'Remote keys',
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: `${server.url}/jwks.json`,
    });
  });
  afterAll(() => server.close());

  const assertion = (key: ClientKey) =>
    signJws(
      { alg: key.alg, kid: key.kid },
      assertionClaims(client.clientId, TEST_ISSUER, clock.seconds()),
      key.privateKey,
    );

  it('refuses an http jwksUri unless the router allows loopback http, and fetches nothing', async () => {
    const app = oauthRouterApp(kit);
    expectOAuthErrorBody(await token(app, assertionForm(assertion(es256), CC)), 401, 'invalid_client');
    expect(fetches).toBe(0);
  });

  it('verifies with the published keys, cached; an unknown kid refetches once per cooldown', async () => {
    const app = oauthRouterApp(kit, { clientJwks: { allowHttpLoopback: true, cooldown: 30 } });
    expect((await token(app, assertionForm(assertion(es256), CC))).status).toBe(200);
    expect((await token(app, assertionForm(assertion(es256), CC))).status).toBe(200);
    expect(fetches).toBe(1);
    // The client rotates to a new key: refused until the cooldown has passed, then found.
    published = [es256.jwk, ed25519.jwk];
    clock.advance(1);
    expectOAuthErrorBody(await token(app, assertionForm(assertion(ed25519), CC)), 401, 'invalid_client');
    expectOAuthErrorBody(await token(app, assertionForm(assertion(ed25519), CC)), 401, 'invalid_client');
    expect(fetches).toBe(1);
    clock.advance(30);
    expect((await token(app, assertionForm(assertion(ed25519), CC))).status).toBe(200);
    expect(fetches).toBe(2);
  });

  it('refuses (401) when the jwksUri answers garbage', async () => {
    const bad = await listen((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('boom');
    });
    try {
      const other = await kit.credentials.createApplication({
        name: 'Broken keys',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri: `${bad.url}/jwks.json`,
      });
      const app = oauthRouterApp(kit, { clientJwks: { allowHttpLoopback: true } });
      const res = await token(
        app,
        assertionForm(
          signJws(
            { alg: 'ES256', kid: es256.kid },
            assertionClaims(other.clientId, TEST_ISSUER, clock.seconds()),
            es256.privateKey,
          ),
          CC,
        ),
      );
      expectOAuthErrorBody(res, 401, 'invalid_client');
    } finally {
      await bad.close();
    }
  });
});

// the unit project only
describeOnStore('memory')('assertion clients elsewhere, and the audit trail', () => {
  it('refuses an assertion client’s secret on createAuthRouter too (401 invalid_client)', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const client = await privateKeyJwtClient(kit, [es256]);
    const res = await request(authRouterApp(kit)).post('/api/auth/tokens/').send({
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ errors: [{ errorType: 'invalid_client' }] });
  });

  it('reports a refused assertion as auth_failed for the client it claims, never with the assertion', async () => {
    const events: TokenEvent[] = [];
    const { kit, clock } = await makeKit({ store: new MemoryTokenStore(), onEvent: (e) => events.push(e) });
    const client = await privateKeyJwtClient(kit, [es256]);
    const assertion = signJws(
      { alg: 'ES256', kid: es256.kid },
      assertionClaims(client.clientId, 'https://elsewhere.test', clock.seconds()),
      es256.privateKey,
    );
    expect((await token(oauthRouterApp(kit), assertionForm(assertion, CC))).status).toBe(401);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'auth_failed', clientId: client.clientId, reason: 'client' }),
    );
    expect(JSON.stringify(events)).not.toContain(assertion.split('.')[2]);
  });
});
