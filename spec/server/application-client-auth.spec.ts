/**
 * An application's client-authentication settings (`tokenEndpointAuthMethod`, `jwks`, `jwksUri`)
 * wherever applications are made: `CredentialService` (checked, kept over PostgreSQL, the
 * client_secret_jwt secret sealed under the kek and resealed on rotation), the seed file and the
 * CLI (on Redis). Refused settings name the field, and nothing is created.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { applySeed } from '../../lib/server/seed-kit';
import { EXIT_OK, EXIT_USAGE } from '../../lib/server/cli';
import { cli } from '../helpers/cli';
import { parseSeed, SeedError } from '../../lib/server/seed';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { oauthRouterApp } from '../helpers/apps';
import { assertionClaims, assertionForm, clientKey, signJws } from '../helpers/client-assertions';
import { makeKit, storeFactories, TEST_ISSUER, type StoreHarness } from '../helpers/kit';
import { usePostgresCredentials } from '../helpers/postgres';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(60_000);

const es = clientKey('ES256', 'es-1');
const ed = clientKey('EdDSA', 'ed-1');
const rsaPrivate = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
const JWKS = { keys: [es.jwk, ed.jwk] };
const LONG_SECRET = 'a-seeded-client-secret-of-at-least-32-bytes';

function tokenWith(kit: TokenKit, assertion: string) {
  return request(oauthRouterApp(kit))
    .post('/oauth/token')
    .type('form')
    .send(assertionForm(assertion, { grant_type: 'client_credentials' }));
}

const esAssertion = (clientId: string, now: number) =>
  signJws({ alg: 'ES256', kid: es.kid }, assertionClaims(clientId, TEST_ISSUER, now), es.privateKey);
const hsAssertion = (clientId: string, secret: string, now: number) =>
  signJws({ alg: 'HS256' }, assertionClaims(clientId, TEST_ISSUER, now), Buffer.from(secret));

/** Bad settings, each with the field its error names. */
const BAD: ReadonlyArray<readonly [string, Record<string, unknown>, RegExp]> = [
  ['an unknown method', { tokenEndpointAuthMethod: 'tls_client_auth' }, /tokenEndpointAuthMethod/],
  [
    'private_key_jwt without keys',
    { tokenEndpointAuthMethod: 'private_key_jwt' },
    /tokenEndpointAuthMethod private_key_jwt needs jwks or jwksUri/,
  ],
  [
    'both jwks and jwksUri',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: JWKS, jwksUri: 'https://client.test/jwks' },
    /jwksUri must be absent when jwks/,
  ],
  [
    'a private RSA key in jwks',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [rsaPrivate] } },
    /jwks keys\[0\] has the private member "d"/,
  ],
  [
    'a symmetric key in jwks',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
    /jwks keys\[0\] is a symmetric/,
  ],
  [
    'an RSA key of 1024 bits',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [rsa1024] } },
    /jwks keys\[0\] is not a usable/,
  ],
  [
    'a key whose alg does not fit it',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...es.jwk, alg: 'RS256' }] } },
    /jwks keys\[0\] is not a usable/,
  ],
  [
    'jwks that is not a JWK Set',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: [es.jwk] },
    /jwks must be a JWK Set/,
  ],
  ['an empty JWK Set', { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [] } }, /jwks must be/],
  [
    'a repeated kid',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [es.jwk, { ...ed.jwk, kid: es.kid }] } },
    /jwks keys\[1\] repeats the kid/,
  ],
  [
    'an http jwksUri on another host',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: 'http://client.test/jwks' },
    /jwksUri must be an https URL/,
  ],
  [
    'a jwksUri that is no URL',
    { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: 'not a url' },
    /jwksUri must be an absolute https URL/,
  ],
  [
    'jwks for a secret method',
    { tokenEndpointAuthMethod: 'client_secret_basic', jwks: JWKS },
    /jwks is only for/,
  ],
  ['jwksUri without a method', { jwksUri: 'https://client.test/jwks' }, /jwksUri is only for/],
];

describe('CredentialService.createApplication client authentication', () => {
  it('leaves the members out by default, and keeps a private_key_jwt application’s keys', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const plain = await kit.credentials.createApplication({ name: 'plain' });
    expect(plain).not.toHaveProperty('tokenEndpointAuthMethod');
    expect(plain).not.toHaveProperty('jwks');
    const signed = await kit.credentials.createApplication({
      name: 'signed',
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: JWKS,
    });
    expect(await kit.credentials.getApplication(signed.id)).toMatchObject({
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: JWKS,
    });
    const remote = await kit.credentials.createApplication({
      name: 'remote',
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: 'https://client.test/.well-known/jwks.json',
    });
    expect(await kit.credentials.getApplication(remote.id)).toMatchObject({
      jwksUri: 'https://client.test/.well-known/jwks.json',
    });
  });

  it.each(BAD)('throws a TypeError for %s, creating nothing', async (_case, input, message) => {
    const { kit } = await makeKit({ store: new MemoryTokenStore(), kek: randomBytes(32) });
    const made = kit.credentials.createApplication({ name: 'a', ...input });
    await expect(made).rejects.toThrow(TypeError);
    await expect(kit.credentials.createApplication({ name: 'a', ...input })).rejects.toThrow(message);
    expect(await kit.credentials.listApplications()).toEqual([]);
  });

  it('refuses client_secret_jwt without a kek, and a secret shorter than 32 bytes', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    await expect(
      kit.credentials.createApplication({ name: 'h', tokenEndpointAuthMethod: 'client_secret_jwt' }),
    ).rejects.toThrow(/client_secret_jwt needs the kek option/);
    const { kit: sealed } = await makeKit({ store: new MemoryTokenStore(), kek: randomBytes(32) });
    await expect(
      sealed.credentials.createApplication({
        name: 'h',
        tokenEndpointAuthMethod: 'client_secret_jwt',
        clientSecret: 'short-secret',
      }),
    ).rejects.toThrow(/at least 32 bytes/);
    expect(await kit.credentials.listApplications()).toEqual([]);
    expect(await sealed.credentials.listApplications()).toEqual([]);
    await expect(makeKit({ store: new MemoryTokenStore(), kek: randomBytes(16) })).rejects.toThrow(/kek/);
  });

  it('reseals a client_secret_jwt secret on rotation: the new secret MACs, the old one fails', async () => {
    const { kit, clock } = await makeKit({ store: new MemoryTokenStore(), kek: randomBytes(32) });
    const app = await kit.credentials.createApplication({
      name: 'h',
      tokenEndpointAuthMethod: 'client_secret_jwt',
    });
    expect((await tokenWith(kit, hsAssertion(app.clientId, app.clientSecret, clock.seconds()))).status).toBe(
      200,
    );
    const rotated = (await kit.credentials.rotateApplication(app.id))!;
    expect(rotated.tokenEndpointAuthMethod).toBe('client_secret_jwt');
    expect(
      (await tokenWith(kit, hsAssertion(rotated.clientId, app.clientSecret, clock.seconds()))).status,
    ).toBe(401);
    expect((await tokenWith(kit, hsAssertion(app.clientId, app.clientSecret, clock.seconds()))).status).toBe(
      401,
    );
    expect(
      (await tokenWith(kit, hsAssertion(rotated.clientId, rotated.clientSecret, clock.seconds()))).status,
    ).toBe(200);
  });

  it('refuses a client_secret_jwt assertion on a kit with another kek (the secret does not open)', async () => {
    const store = new MemoryTokenStore();
    const { kit, clock } = await makeKit({ store, kek: randomBytes(32) });
    const app = await kit.credentials.createApplication({
      name: 'h',
      tokenEndpointAuthMethod: 'client_secret_jwt',
    });
    const { kit: other } = await makeKit({ store, now: clock, kek: randomBytes(32) });
    const res = await tokenWith(other, hsAssertion(app.clientId, app.clientSecret, clock.seconds()));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'invalid_client' });
  });

  describe('over PostgreSQL', () => {
    const pg = usePostgresCredentials('client_auth');

    it('keeps the settings and the sealed secret in the record; another kit on the database honours them', async () => {
      const credentialStore = pg.credentialStore();
      const store = new MemoryTokenStore();
      const kek = randomBytes(32);
      const { kit, clock } = await makeKit({ store, credentialStore, kek });
      const signed = await kit.credentials.createApplication({
        name: 'Pg signed',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: JWKS,
      });
      const hmac = await kit.credentials.createApplication({
        name: 'Pg hmac',
        tokenEndpointAuthMethod: 'client_secret_jwt',
      });
      const { rows } = await pg
        .db()
        .pool.query<{ data: unknown }>(`SELECT data FROM ${pg.db().schema}.credentials WHERE id = $1`, [
          hmac.id,
        ]);
      expect(JSON.stringify(rows[0]!.data)).not.toContain(hmac.clientSecret);
      const { kit: other } = await makeKit({ store, credentialStore, now: clock, kek });
      expect(await other.credentials.getApplication(signed.id)).toMatchObject({
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: JWKS,
      });
      expect((await tokenWith(other, esAssertion(signed.clientId, clock.seconds()))).status).toBe(200);
      expect(
        (await tokenWith(other, hsAssertion(hmac.clientId, hmac.clientSecret, clock.seconds()))).status,
      ).toBe(200);
    });
  });
});

function seedWith(fields: Record<string, unknown>): unknown {
  return {
    applications: [
      {
        id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
        name: 'Signed',
        organization: '123',
        clientId: 'signed-client',
        clientSecret: LONG_SECRET,
        applicationTypes: ['API'],
        ...fields,
      },
    ],
  };
}

describe('the seed file’s application client authentication', () => {
  it('keeps the settings, and leaves them out when absent', () => {
    expect(
      parseSeed(seedWith({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: JWKS })).applications[0],
    ).toMatchObject({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: JWKS });
    expect(parseSeed(seedWith({})).applications[0]).not.toHaveProperty('tokenEndpointAuthMethod');
  });

  const seedCases: ReadonlyArray<readonly [string, Record<string, unknown>, RegExp]> = [
    ...BAD.map(
      ([name, fields, message]) =>
        [name, fields, new RegExp(`applications\\[0\\]\\.${message.source}`)] as const,
    ),
    [
      'client_secret_jwt with a short secret',
      { tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: 'short' },
      /applications\[0\]\.clientSecret/,
    ],
  ];
  it.each(seedCases)('refuses %s with a SeedError naming the field', (_case, fields, message) => {
    expect(() => parseSeed(seedWith(fields))).toThrow(SeedError);
    expect(() => parseSeed(seedWith(fields))).toThrow(message);
  });

  it('creates the seeded private_key_jwt and client_secret_jwt applications, which authenticate by assertion', async () => {
    const { kit, clock } = await makeKit({ store: new MemoryTokenStore(), kek: randomBytes(32) });
    await applySeed(kit, parseSeed(seedWith({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: JWKS })));
    expect((await tokenWith(kit, esAssertion('signed-client', clock.seconds()))).status).toBe(200);
    const { kit: hmacKit } = await makeKit({ store: new MemoryTokenStore(), kek: randomBytes(32) });
    await applySeed(hmacKit, parseSeed(seedWith({ tokenEndpointAuthMethod: 'client_secret_jwt' })));
    expect(
      (await tokenWith(hmacKit, hsAssertion('signed-client', LONG_SECRET, clock.seconds()))).status,
    ).toBe(200);
  });
});

describe('express-token-kit application create --token-endpoint-auth-method, --jwks, --jwks-uri', () => {
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-client-auth');
    env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix };
    dir = mkdtempSync(path.join(tmpdir(), 'etk-jwks-'));
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(JWKS));
    writeFileSync(path.join(dir, 'private.json'), JSON.stringify({ keys: [rsaPrivate] }));
    writeFileSync(path.join(dir, 'broken.json'), '{ not json');
    expect((await cli(['apikey', 'create', '--name', 'setup'], env)).code).toBe(EXIT_OK);
  });
  afterAll(() => redis.cleanup());

  it('creates a private_key_jwt application from a JWK Set file, listed with its keys', async () => {
    const run = await cli(
      [
        'application',
        'create',
        '--name',
        'Signed',
        '--token-endpoint-auth-method',
        'private_key_jwt',
        '--jwks',
        path.join(dir, 'jwks.json'),
      ],
      env,
    );
    expect({ code: run.code, err: run.err }).toEqual({ code: EXIT_OK, err: '' });
    const created = JSON.parse(run.out) as { id: string };
    const list = JSON.parse((await cli(['application', 'list'], env)).out) as unknown[];
    expect(list).toContainEqual(
      expect.objectContaining({ id: created.id, tokenEndpointAuthMethod: 'private_key_jwt', jwks: JWKS }),
    );
  });

  it('creates a private_key_jwt application with --jwks-uri', async () => {
    const run = await cli(
      [
        'application',
        'create',
        '--name',
        'Remote',
        '--token-endpoint-auth-method',
        'private_key_jwt',
        '--jwks-uri',
        'https://client.test/jwks',
      ],
      env,
    );
    expect(run.code).toBe(EXIT_OK);
    expect(JSON.parse(run.out)).toMatchObject({ jwksUri: 'https://client.test/jwks' });
  });

  it('creates a client_secret_jwt application only with a key-encryption key', async () => {
    const flags = [
      'application',
      'create',
      '--name',
      'Hmac',
      '--token-endpoint-auth-method',
      'client_secret_jwt',
    ];
    const without = await cli(flags, env);
    expect(without.code).toBe(EXIT_USAGE);
    expect(without.err).toMatch(/kek/);
    const withKek = await cli(flags, { ...env, TOKEN_KIT_KEK: randomBytes(32).toString('base64') });
    expect(withKek.code).toBe(EXIT_OK);
    expect(JSON.parse(withKek.out)).toMatchObject({ tokenEndpointAuthMethod: 'client_secret_jwt' });
  });

  it('replaces a private_key_jwt application’s keys with application keys, and refuses it for another method', async () => {
    const created = JSON.parse(
      (
        await cli(
          [
            'application',
            'create',
            '--name',
            'Rotating',
            '--token-endpoint-auth-method',
            'private_key_jwt',
            '--jwks',
            path.join(dir, 'jwks.json'),
          ],
          env,
        )
      ).out,
    ) as { id: string };
    const run = await cli(
      ['application', 'keys', '--id', created.id, '--jwks-uri', 'https://client.test/rotated'],
      env,
    );
    expect({ code: run.code, err: run.err }).toEqual({ code: EXIT_OK, err: '' });
    expect(JSON.parse(run.out)).toMatchObject({ id: created.id, jwksUri: 'https://client.test/rotated' });
    const list = JSON.parse((await cli(['application', 'list'], env)).out) as {
      id: string;
      jwks?: unknown;
    }[];
    expect(list.find((a) => a.id === created.id)).not.toHaveProperty('jwks');
    const plain = JSON.parse((await cli(['application', 'create', '--name', 'Plain'], env)).out) as {
      id: string;
    };
    const refused = await cli(
      ['application', 'keys', '--id', plain.id, '--jwks', path.join(dir, 'jwks.json')],
      env,
    );
    expect(refused.code).toBe(EXIT_USAGE);
    expect(refused.err).toMatch(/not registered for private_key_jwt/);
    const none = await cli(['application', 'keys', '--id', created.id], env);
    expect(none.code).toBe(EXIT_USAGE);
    expect(none.err).toMatch(/--jwks FILE or --jwks-uri URL is required/);
  });

  it.each([
    [
      'an unknown method',
      ['--token-endpoint-auth-method', 'none'],
      /--token-endpoint-auth-method must be one of/,
    ],
    [
      'private_key_jwt without keys',
      ['--token-endpoint-auth-method', 'private_key_jwt'],
      /--token-endpoint-auth-method private_key_jwt needs/,
    ],
    [
      'a private key file',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', 'private.json'],
      /--jwks keys\[0\] has the private member/,
    ],
    [
      'a file that is not JSON',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', 'broken.json'],
      /--jwks .* is not a readable JSON file/,
    ],
    [
      'a missing file',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks', 'missing.json'],
      /--jwks .* is not a readable JSON file/,
    ],
    [
      'an http jwks-uri',
      ['--token-endpoint-auth-method', 'private_key_jwt', '--jwks-uri', 'http://client.test/jwks'],
      /--jwks-uri must be an https URL/,
    ],
    [
      'both',
      [
        '--token-endpoint-auth-method',
        'private_key_jwt',
        '--jwks',
        'jwks.json',
        '--jwks-uri',
        'https://client.test/jwks',
      ],
      /--jwks-uri must be absent/,
    ],
  ])('exits 2 for %s, creating nothing', async (_case, flags, message) => {
    const before = JSON.parse((await cli(['application', 'list'], env)).out) as unknown[];
    const resolved = flags.map((f) => (f.endsWith('.json') ? path.join(dir, f) : f));
    const run = await cli(['application', 'create', '--name', 'x', ...resolved], env);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.out).toBe('');
    expect(run.err).toMatch(message);
    expect(JSON.parse((await cli(['application', 'list'], env)).out)).toHaveLength(before.length);
  });
});

describe.each(storeFactories)(
  'CredentialService.replaceApplicationKeys on the %s store',
  (_name, factory) => {
    let stores: StoreHarness;
    beforeAll(async () => {
      stores = await factory('replace-keys');
    });
    afterAll(() => stores.cleanup());

    it('swaps the registered keys: the old key fails at once, on another instance too, the new one works', async () => {
      const made = await stores.create();
      const { kit, clock } = await makeKit({ store: made.store });
      const { kit: twin } = await makeKit({ store: await made.twin(), now: clock });
      const app = await kit.credentials.createApplication({
        name: 'rotating',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [es.jwk] },
      });
      expect((await tokenWith(twin, esAssertion(app.clientId, clock.seconds()))).status).toBe(200);
      const next = clientKey('ES256', 'es-2');
      const updated = await kit.credentials.replaceApplicationKeys(app.id, { jwks: { keys: [next.jwk] } });
      expect(updated).toMatchObject({ clientId: app.clientId, jwks: { keys: [next.jwk] } });
      expect((await tokenWith(twin, esAssertion(app.clientId, clock.seconds()))).status).toBe(401);
      const signedByNext = signJws(
        { alg: 'ES256', kid: next.kid },
        assertionClaims(app.clientId, TEST_ISSUER, clock.seconds()),
        next.privateKey,
      );
      expect((await tokenWith(twin, signedByNext)).status).toBe(200);
      const remote = await kit.credentials.replaceApplicationKeys(app.id, {
        jwksUri: 'https://client.test/jwks',
      });
      expect(remote).toMatchObject({ jwksUri: 'https://client.test/jwks' });
      expect(remote).not.toHaveProperty('jwks');
      expect(await twin.credentials.getApplication(app.id)).not.toHaveProperty('jwks');
    });

    it('refuses private keys, an application of another method, and answers null for an unknown one', async () => {
      const { kit } = await makeKit({ store: (await stores.create()).store });
      const app = await kit.credentials.createApplication({
        name: 'rotating',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [es.jwk] },
      });
      await expect(
        kit.credentials.replaceApplicationKeys(app.id, { jwks: { keys: [rsaPrivate] } }),
      ).rejects.toThrow(/private member/);
      expect(await kit.credentials.getApplication(app.id)).toMatchObject({ jwks: { keys: [es.jwk] } });
      const plain = await kit.credentials.createApplication({ name: 'plain' });
      await expect(kit.credentials.replaceApplicationKeys(plain.id, { jwks: JWKS })).rejects.toThrow(
        TypeError,
      );
      await expect(
        kit.credentials.replaceApplicationKeys('9d7e3c2a-1b4f-4e6d-8a9b-0c1d2e3f4a5b', { jwks: JWKS }),
      ).resolves.toBeNull();
    });
  },
);
