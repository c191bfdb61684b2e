/**
 * Applications with `dpopBoundAccessTokens` (RFC 9449 §5.2): every token request of theirs must
 * carry a DPoP proof. The flag is kept in the credential record (memory, Redis, PostgreSQL), taken
 * by the seed file and by `application create --dpop-bound`.
 */
import express from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { EXIT_OK } from '../../lib/server/cli';
import { cli as runCapturedCli } from '../helpers/cli';
import { parseSeed, SeedError } from '../../lib/server/seed';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { makeProof, proofKey } from '../helpers/dpop';
import { makeKit, TEST_ISSUER } from '../helpers/kit';
import { basic } from '../helpers/oauth';
import { usePostgresCredentials } from '../helpers/postgres';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(60_000);

/** A token request of the application, with a fresh proof or none. */
async function tokenRequest(
  kit: TokenKit,
  app: { clientId: string; clientSecret: string },
  withProof: boolean,
) {
  const server = express();
  server.use(createOAuthRouter({ kit }));
  const req = request(server)
    .post('/oauth/token')
    .set('Authorization', basic(app.clientId, app.clientSecret))
    .type('form');
  if (withProof)
    req.set(
      'DPoP',
      makeProof(proofKey(), { htm: 'POST', htu: `${TEST_ISSUER}/oauth/token`, iat: kit.tokens.now() }),
    );
  return req.send('grant_type=client_credentials');
}

describe('CredentialService.createApplication dpopBoundAccessTokens', () => {
  it('refuses a token request without a proof (400 invalid_dpop_proof) and issues a DPoP token with one', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const app = await kit.credentials.createApplication({ name: 'bound', dpopBoundAccessTokens: true });
    expect(app).toMatchObject({ dpopBoundAccessTokens: true });
    const refused = await tokenRequest(kit, app, false);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: 'This client must send a DPoP proof',
    });
    const ok = await tokenRequest(kit, app, true);
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');
  });

  it('leaves the member out when false, and refuses a non-boolean', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const plain = await kit.credentials.createApplication({ name: 'plain', dpopBoundAccessTokens: false });
    expect(plain).not.toHaveProperty('dpopBoundAccessTokens');
    expect((await tokenRequest(kit, plain, false)).status).toBe(200);
    await expect(
      kit.credentials.createApplication({ name: 'x', dpopBoundAccessTokens: 'yes' as unknown as boolean }),
    ).rejects.toThrow(TypeError);
  });

  describe('over PostgreSQL', () => {
    const pg = usePostgresCredentials('dpop_bound');

    it('keeps the flag, and another kit on the database honours it', async () => {
      const credentialStore = pg.credentialStore();
      const store = new MemoryTokenStore();
      const { kit } = await makeKit({ store, credentialStore });
      const app = await kit.credentials.createApplication({ name: 'pg bound', dpopBoundAccessTokens: true });
      const { kit: other } = await makeKit({ store, credentialStore });
      expect(await other.credentials.getApplication(app.id)).toMatchObject({ dpopBoundAccessTokens: true });
      expect((await tokenRequest(other, app, false)).body.error).toBe('invalid_dpop_proof');
    });
  });
});

describe('the seed file’s dpopBoundAccessTokens', () => {
  const seedWith = (fields: Record<string, unknown>): unknown => ({
    applications: [
      {
        id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
        name: 'TestApp',
        organization: '123',
        clientId: 'client-1',
        clientSecret: 'secret-1',
        applicationTypes: ['API'],
        ...fields,
      },
    ],
  });

  it('keeps true and leaves the member out for false or absent', () => {
    expect(parseSeed(seedWith({ dpopBoundAccessTokens: true })).applications[0]).toMatchObject({
      dpopBoundAccessTokens: true,
    });
    expect(parseSeed(seedWith({ dpopBoundAccessTokens: false })).applications[0]).not.toHaveProperty(
      'dpopBoundAccessTokens',
    );
    expect(parseSeed(seedWith({})).applications[0]).not.toHaveProperty('dpopBoundAccessTokens');
  });

  it('names the field of a non-boolean', () => {
    expect(() => parseSeed(seedWith({ dpopBoundAccessTokens: 'yes' }))).toThrow(SeedError);
    expect(() => parseSeed(seedWith({ dpopBoundAccessTokens: 'yes' }))).toThrow(
      /applications\[0\]\.dpopBoundAccessTokens/,
    );
  });
});

describe('express-token-kit application create --dpop-bound', () => {
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;

  const cli = (argv: readonly string[]) => runCapturedCli(argv, env);

  beforeAll(async () => {
    redis = await connectTestRedis('cli-dpop');
    env = { REDIS_URL: process.env.ETK_TEST_REDIS_URL, REDIS_KEY_PREFIX: redis.prefix };
    // A fresh prefix gets one credential first, so the CLI does not warn about other prefixes.
    expect((await cli(['apikey', 'create', '--name', 'setup'])).code).toBe(EXIT_OK);
  });
  afterAll(() => redis.cleanup());

  it('creates an application whose token requests need a proof, listed with the flag', async () => {
    const run = await cli(['application', 'create', '--name', 'Bound', '--dpop-bound']);
    expect({ code: run.code, err: run.err }).toEqual({ code: EXIT_OK, err: '' });
    const created = JSON.parse(run.out) as { id: string; clientId: string; clientSecret: string };
    expect(created).toMatchObject({ dpopBoundAccessTokens: true });
    expect(JSON.parse((await cli(['application', 'list'])).out)).toContainEqual(
      expect.objectContaining({ id: created.id, dpopBoundAccessTokens: true }),
    );
    const { kit } = await makeKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
    });
    expect((await tokenRequest(kit, created, false)).body.error).toBe('invalid_dpop_proof');
    expect((await tokenRequest(kit, created, true)).status).toBe(200);
  });
});
