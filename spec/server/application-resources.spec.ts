/**
 * An application's RFC 8707 `resources` allow-list wherever applications are made: the seed file,
 * the CLI (on Redis), and `CredentialService` over PostgreSQL — each keeps it and router D honours it.
 */
import express from 'express';
import request from 'supertest';
import { createTokenKit } from '../../lib/core/token-kit';
import { KeySet, createKeySet } from '../../lib/keys/key-set';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { EXIT_OK, EXIT_USAGE } from '../../lib/server/cli';
import { cli } from '../helpers/cli';
import { parseSeed, SeedError } from '../../lib/server/seed';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { makeKit } from '../helpers/kit';
import { basic, decodeJwt } from '../helpers/oauth';
import { usePostgresCredentials } from '../helpers/postgres';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const API = 'https://api.example.test/';
const BILLING = 'https://billing.example.test/v1';

function seedWithResources(resources: unknown): unknown {
  return {
    applications: [
      {
        id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
        name: 'TestApp',
        organization: '123',
        clientId: 'client-1',
        clientSecret: 'secret-1',
        applicationTypes: ['API'],
        ...(resources === undefined ? {} : { resources }),
      },
    ],
  };
}

describe('the seed file’s application resources', () => {
  it('keeps a valid list and leaves it out when absent', () => {
    expect(parseSeed(seedWithResources([API, BILLING])).applications[0]!.resources).toEqual([API, BILLING]);
    expect(parseSeed(seedWithResources(undefined)).applications[0]!).not.toHaveProperty('resources');
  });

  it.each([
    ['a string', API, /applications\[0\]\.resources/],
    ['a relative URI', [API, '/v1'], /applications\[0\]\.resources\[1\].*absolute URI/],
    ['a fragment', ['https://api.example.test/#x'], /resources\[0\].*fragment/],
    ['a duplicate', [API, API], /resources\[1\]/],
    ['a number', [7], /resources\[0\]/],
    ['33 entries', Array.from({ length: 33 }, (_, i) => `${API}${i}`), /at most 32/],
  ])('refuses %s with a SeedError naming the field', (_case, resources, message) => {
    expect(() => parseSeed(seedWithResources(resources))).toThrow(SeedError);
    expect(() => parseSeed(seedWithResources(resources))).toThrow(message);
  });
});

describe('CredentialService.createApplication resources', () => {
  it.each([
    ['a relative URI', ['/v1']],
    ['a fragment', ['https://a.test/#f']],
    ['not an array', API],
  ])('throws a TypeError for %s', async (_case, resources) => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    await expect(
      kit.credentials.createApplication({ name: 'a', resources: resources as unknown as string[] }),
    ).rejects.toThrow(TypeError);
  });

  describe('over PostgreSQL', () => {
    const pg = usePostgresCredentials('resources');

    it('keeps the allow-list in the record, and router D sets aud from it', async () => {
      const credentialStore = pg.credentialStore();
      const { kit } = await makeKit({ store: new MemoryTokenStore(), credentialStore });
      const created = await kit.credentials.createApplication({ name: 'Pg', resources: [API, BILLING, API] });
      expect(created.resources).toEqual([API, BILLING]);
      // A second kit on the same database reads it back.
      const { kit: other } = await makeKit({ store: new MemoryTokenStore(), credentialStore });
      expect((await other.credentials.getApplication(created.id))?.resources).toEqual([API, BILLING]);
      const app = express();
      app.use(createOAuthRouter({ kit: other }));
      const res = await request(app)
        .post('/oauth/token')
        .set('Authorization', basic(created.clientId, created.clientSecret))
        .type('form')
        .send(`grant_type=client_credentials&resource=${encodeURIComponent(BILLING)}`);
      expect(res.status).toBe(200);
      expect(decodeJwt((res.body as { access_token: string }).access_token).payload.aud).toBe(BILLING);
      const refused = await request(app)
        .post('/oauth/token')
        .set('Authorization', basic(created.clientId, created.clientSecret))
        .type('form')
        .send(`grant_type=client_credentials&resource=${encodeURIComponent('https://other.test/')}`);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_target' });
    });
  });
});

describe('express-token-kit application create --resources', () => {
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-resources');
    env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix };
    // A fresh prefix gets one credential first, so the CLI does not warn about other prefixes.
    expect((await cli(['apikey', 'create', '--name', 'setup'], env)).code).toBe(EXIT_OK);
  });
  afterAll(() => redis.cleanup());

  it('creates an application with its resources, which a kit on the same Redis honours', async () => {
    const run = await cli(
      ['application', 'create', '--name', 'Billing', '--resources', `${API},${BILLING}`],
      env,
    );
    expect({ code: run.code, err: run.err }).toEqual({ code: EXIT_OK, err: '' });
    const created = JSON.parse(run.out) as { id: string; resources: string[] };
    expect(created.resources).toEqual([API, BILLING]);
    const list = await cli(['application', 'list'], env);
    expect(JSON.parse(list.out)).toContainEqual(
      expect.objectContaining({ id: created.id, resources: [API, BILLING] }),
    );
    const kit = createTokenKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
      keys: createKeySet({ keys: [await KeySet.generateKey('ES256')] }),
      issuer: 'https://issuer.test',
    });
    expect((await kit.credentials.getApplication(created.id))?.resources).toEqual([API, BILLING]);
  });

  it.each([
    ['a relative resource', 'v1'],
    ['a fragment', 'https://api.example.test/#x'],
    ['an empty item', `${API},,${BILLING}`],
  ])('exits 2 for %s, naming --resources', async (_case, value) => {
    const run = await cli(['application', 'create', '--name', 'x', '--resources', value], env);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.out).toBe('');
    expect(run.err).toMatch(/--resources/);
  });
});
