/**
 * An application's `introspection` permission wherever applications are made: `CredentialService`
 * (options checked, the record kept over PostgreSQL), the seed file and the CLI (on Redis). An
 * `'any'` application is a resource server: it gets no grant types and refuses token-requesting
 * settings.
 */
import express from 'express';
import request from 'supertest';
import { createTokenKit } from '../../lib/core/token-kit';
import { KeySet, createKeySet } from '../../lib/keys/key-set';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { applySeed } from '../../lib/server/seed-kit';
import { EXIT_OK, EXIT_USAGE } from '../../lib/server/cli';
import { cli } from '../helpers/cli';
import { parseSeed, SeedError } from '../../lib/server/seed';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { makeKit } from '../helpers/kit';
import { basic } from '../helpers/oauth';
import { usePostgresCredentials } from '../helpers/postgres';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(60_000);

const RS_ID = '7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

function seedWith(fields: Record<string, unknown>): unknown {
  return {
    applications: [
      {
        id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
        name: 'TestApp',
        organization: '123',
        clientId: 'client-1',
        clientSecret: 'secret-1',
        applicationTypes: ['API'],
        grantTypes: ['client_credentials'],
      },
      {
        id: RS_ID,
        name: 'Orders API',
        organization: '123',
        clientId: 'orders-api',
        clientSecret: 'orders-secret',
        applicationTypes: ['API'],
        ...fields,
      },
    ],
  };
}

describe('CredentialService.createApplication introspection', () => {
  it("defaults to 'own': no introspection member, the default grant types", async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const own = await kit.credentials.createApplication({ name: 'a', introspection: 'own' });
    expect(own).not.toHaveProperty('introspection');
    expect(own.grantTypes).toEqual(['client_credentials']);
  });

  it("gives an 'any' application no grant types, and keeps the permission in its record", async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const rs = await kit.credentials.createApplication({ name: 'rs', introspection: 'any' });
    expect(rs).toMatchObject({ introspection: 'any', grantTypes: [], scopes: [] });
    expect(await kit.credentials.getApplication(rs.id)).toMatchObject({ introspection: 'any' });
    expect(await kit.credentials.findApplicationByClientId(rs.clientId)).toMatchObject({
      introspection: 'any',
    });
  });

  it.each([
    ['an unknown value', { introspection: 'all' }],
    ['a non-string', { introspection: true }],
    ["'any' with grantTypes", { introspection: 'any', grantTypes: ['client_credentials'] }],
    ["'any' with scopes", { introspection: 'any', scopes: ['read'] }],
    ["'any' with resources", { introspection: 'any', resources: ['https://api.test/'] }],
  ])('throws a TypeError for %s', async (_case, input) => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    await expect(kit.credentials.createApplication({ name: 'a', ...(input as object) })).rejects.toThrow(
      TypeError,
    );
    expect(await kit.credentials.listApplications()).toEqual([]);
  });

  describe('over PostgreSQL', () => {
    const pg = usePostgresCredentials('introspection');

    it('keeps the permission in the record, and another kit on the database honours it', async () => {
      const credentialStore = pg.credentialStore();
      const store = new MemoryTokenStore();
      const { kit } = await makeKit({ store, credentialStore });
      const rs = await kit.credentials.createApplication({ name: 'Pg RS', introspection: 'any' });
      const owner = await kit.credentials.createApplication({ name: 'Pg client' });
      const { kit: other } = await makeKit({ store, credentialStore });
      expect(await other.credentials.getApplication(rs.id)).toMatchObject({ introspection: 'any' });
      expect(await other.credentials.getApplication(owner.id)).not.toHaveProperty('introspection');
      const app = express();
      app.use(createOAuthRouter({ kit: other }));
      const issued = await request(app)
        .post('/oauth/token')
        .set('Authorization', basic(owner.clientId, owner.clientSecret))
        .type('form')
        .send('grant_type=client_credentials');
      const token = (issued.body as { access_token: string }).access_token;
      const res = await request(app)
        .post('/oauth/introspect')
        .set('Authorization', basic(rs.clientId, rs.clientSecret))
        .type('form')
        .send(`token=${encodeURIComponent(token)}`);
      expect(res.body).toMatchObject({ active: true, client_id: owner.clientId });
    });
  });
});

describe('the seed file’s application introspection', () => {
  it("keeps 'any' with no grant types, and leaves it out for 'own' or when absent", () => {
    const any = parseSeed(seedWith({ introspection: 'any' })).applications[1]!;
    expect(any).toMatchObject({ introspection: 'any', grantTypes: [] });
    expect(parseSeed(seedWith({ introspection: 'own' })).applications[1]!).not.toHaveProperty(
      'introspection',
    );
    expect(parseSeed(seedWith({})).applications[1]!).not.toHaveProperty('introspection');
  });

  it.each([
    ['an unknown value', { introspection: 'all' }, /applications\[1\]\.introspection.*own, any/],
    ['a number', { introspection: 1 }, /applications\[1\]\.introspection/],
    [
      "'any' with grantTypes",
      { introspection: 'any', grantTypes: ['client_credentials'] },
      /applications\[1\]\.grantTypes/,
    ],
    [
      "'any' with resources",
      { introspection: 'any', resources: ['https://api.test/'] },
      /applications\[1\]\.resources/,
    ],
  ])('refuses %s with a SeedError naming the field', (_case, fields, message) => {
    expect(() => parseSeed(seedWith(fields))).toThrow(SeedError);
    expect(() => parseSeed(seedWith(fields))).toThrow(message);
  });

  it("creates the seeded 'any' application, which gets no token", async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    await applySeed(kit, parseSeed(seedWith({ introspection: 'any' })));
    expect(await kit.credentials.getApplication(RS_ID)).toMatchObject({
      introspection: 'any',
      grantTypes: [],
    });
    const app = express();
    app.use(createOAuthRouter({ kit }));
    const res = await request(app)
      .post('/oauth/token')
      .set('Authorization', basic('orders-api', 'orders-secret'))
      .type('form')
      .send('grant_type=client_credentials');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'unauthorized_client' });
  });
});

describe('express-token-kit application create --introspection', () => {
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-introspection');
    env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix };
    // A fresh prefix gets one credential first, so the CLI does not warn about other prefixes.
    expect((await cli(['apikey', 'create', '--name', 'setup'], env)).code).toBe(EXIT_OK);
  });
  afterAll(() => redis.cleanup());

  it("creates a resource server application, listed with introspection 'any', which a kit honours", async () => {
    const run = await cli(['application', 'create', '--name', 'Orders API', '--introspection', 'any'], env);
    expect({ code: run.code, err: run.err }).toEqual({ code: EXIT_OK, err: '' });
    const created = JSON.parse(run.out) as { id: string; introspection: string; grantTypes: string[] };
    expect(created).toMatchObject({ introspection: 'any', grantTypes: [] });
    const list = await cli(['application', 'list'], env);
    expect(JSON.parse(list.out)).toContainEqual(
      expect.objectContaining({ id: created.id, introspection: 'any', grantTypes: [] }),
    );
    const kit = createTokenKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
      keys: createKeySet({ keys: [await KeySet.generateKey('ES256')] }),
      issuer: 'https://issuer.test',
    });
    expect(await kit.credentials.getApplication(created.id)).toMatchObject({ introspection: 'any' });
  });

  it('leaves the member out with --introspection own', async () => {
    const run = await cli(['application', 'create', '--name', 'Plain', '--introspection', 'own'], env);
    expect(run.code).toBe(EXIT_OK);
    expect(JSON.parse(run.out)).not.toHaveProperty('introspection');
  });

  it.each([
    ['an unknown value', ['--introspection', 'all'], /--introspection/],
    ['no value', ['--introspection', ''], /--introspection/],
    [
      'any with --grant-types',
      ['--introspection', 'any', '--grant-types', 'client_credentials'],
      /--grant-types is not allowed/,
    ],
    ['any with --scopes', ['--introspection', 'any', '--scopes', 'read'], /--scopes is not allowed/],
    [
      'any with --resources',
      ['--introspection', 'any', '--resources', 'https://api.test/'],
      /--resources is not allowed/,
    ],
  ])('exits 2 for %s, creating nothing', async (_case, flags, message) => {
    const before = JSON.parse((await cli(['application', 'list'], env)).out) as unknown[];
    const run = await cli(['application', 'create', '--name', 'x', ...flags], env);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.out).toBe('');
    expect(run.err).toMatch(message);
    expect(JSON.parse((await cli(['application', 'list'], env)).out)).toHaveLength(before.length);
  });
});
