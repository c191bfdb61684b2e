/**
 * A kit whose credentials live in PostgreSQL (tokens in memory or Redis), driven over HTTP: the
 * seed flows, the concurrent-rotation race, and a PostgreSQL outage.
 */
import express from 'express';
import request from 'supertest';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { PostgresCredentialStore } from '../../lib/stores/postgres-credential-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { basicOf, form, seedClients, USER, verifyUser } from '../helpers/oauth';
import { createTestSchema, testDatabaseUrl, type TestSchema } from '../helpers/postgres';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

let db: TestSchema;

beforeAll(async () => {
  db = await createTestSchema('http');
});

afterAll(() => db?.cleanup());

async function appOn(store: TokenStore, credentialStore: PostgresCredentialStore) {
  const { kit } = await makeKit({ store, credentialStore, verifyUser });
  const app = express();
  app.use('/api', createAuthRouter({ kit }));
  app.use(createOAuthRouter({ kit }));
  return { app, kit };
}

function clientCredentials(app: express.Express, client: { clientId: string; clientSecret: string }) {
  return request(app)
    .post('/oauth/token')
    .set('Authorization', basicOf(client as never))
    .type('form')
    .send(form({ grant_type: 'client_credentials' }));
}

describe.each(storeFactories)('credentials in PostgreSQL, tokens in the %s store', (_name, factory) => {
  let stores: StoreHarness;

  beforeAll(async () => {
    stores = await factory('pg-http');
  });

  afterAll(() => stores.cleanup());

  beforeEach(() => db.truncate());

  describe('when the seeded clients use the token endpoint', () => {
    it('issues tokens, and the database holds no secret in clear', async () => {
      const credentialStore = new PostgresCredentialStore({ pool: db.pool, schema: db.schema });
      const { app, kit } = await appOn((await stores.create()).store, credentialStore);
      const clients = await seedClients(kit);
      const res = await clientCredentials(app, clients.full);
      expect(res.status).toBe(200);
      expect(res.body.access_token).toEqual(expect.any(String));
      const login = await request(app)
        .post('/oauth/token')
        .set('Authorization', basicOf(clients.full))
        .type('form')
        .send(form({ grant_type: 'password', username: USER.username, password: USER.password }));
      expect(login.status).toBe(200);
      const { rows } = await db.pool.query(`SELECT data::text AS data FROM "${db.schema}".credentials`);
      expect(rows.length).toBeGreaterThanOrEqual(5);
      for (const row of rows) {
        for (const client of Object.values(clients)) expect(row.data).not.toContain(client.clientSecret);
      }
    });
  });

  describe('when 20 rotations of one application race', () => {
    it('answers exactly one 200; the new secret works and no other does', async () => {
      const credentialStore = new PostgresCredentialStore({ pool: db.pool, schema: db.schema });
      const { app, kit } = await appOn((await stores.create()).store, credentialStore);
      const { full } = await seedClients(kit);
      const token = (await clientCredentials(app, full)).body.access_token as string;
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(app)
            .post('/api/applications/rotate_credentials/')
            .set('Authorization', `Bearer ${token}`)
            .send({ application_id: full.id }),
        ),
      );
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.every((s) => s === 200 || s === 409 || s === 401)).toBe(true);
      const winner = answers.find((r) => r.status === 200)!.body as {
        client_id: string;
        client_secret: string;
      };
      await expect(
        clientCredentials(app, { clientId: winner.client_id, clientSecret: winner.client_secret }),
      ).resolves.toMatchObject({ status: 200 });
      await expect(clientCredentials(app, full)).resolves.toMatchObject({ status: 401 });
    });
  });
});

describe('credentials in PostgreSQL during an outage', () => {
  let proxy: TcpProxy;
  let credentialStore: PostgresCredentialStore;
  let stores: StoreHarness;

  beforeAll(async () => {
    stores = await storeFactories[0]![1]('pg-outage');
  });

  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    await db.truncate();
    const url = new URL(testDatabaseUrl());
    proxy = await startTcpProxy(Number(url.port || 5432), url.hostname || '127.0.0.1');
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    credentialStore = new PostgresCredentialStore({
      connectionString: url.toString(),
      schema: db.schema,
      timeoutMs: 500,
    });
  });

  afterEach(async () => {
    await credentialStore.close();
    await proxy.close();
  });

  it('answers 503 with Retry-After, lets no request through, and recovers without a restart', async () => {
    const { app, kit } = await appOn((await stores.create()).store, credentialStore);
    const { full } = await seedClients(kit);
    await expect(clientCredentials(app, full)).resolves.toMatchObject({ status: 200 });

    await proxy.cut();
    for (let i = 0; i < 3; i++) {
      const res = await clientCredentials(app, full);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.body.access_token).toBeUndefined();
      expect(res.body.error).toBe('service_unavailable');
    }
    const bad = await clientCredentials(app, { clientId: full.clientId, clientSecret: 'wrong' });
    expect(bad.status).toBe(503);

    await proxy.restore();
    const after = await clientCredentials(app, full);
    expect(after.status).toBe(200);
    expect(after.body.access_token).toEqual(expect.any(String));
  });
});
