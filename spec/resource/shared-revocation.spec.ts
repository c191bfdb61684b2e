/**
 * Resource-server mode in the same deployment as the issuer: the service shares the issuer's Redis,
 * so revocation comes from the kit's own check over a RedisTokenStore and a RedisRevocationView of
 * its own (same key prefix, same channel), with no HTTP call to the issuer.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import { requireToken } from '../../lib/middleware/require-token';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { RedisRevocationView, revocationChannel } from '../../lib/stores/redis-revocation-view';
import { countingStore, createClock, type StoreCalls, type TestClock } from '../helpers/kit';
import { expectErrorsBody } from '../helpers/http';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { API_AUDIENCE, startKitIssuer, type KitIssuer } from '../helpers/remote-issuers';

jest.setTimeout(60_000);

async function waitUntil(check: () => Promise<boolean> | boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('requireToken without a kit, sharing the issuer’s Redis', () => {
  let redis: TestRedis;
  let clock: TestClock;
  let issuer: KitIssuer;
  let issuerView: RedisRevocationView;
  let serviceView: RedisRevocationView;
  let app: Express;
  let calls: StoreCalls;

  beforeAll(async () => {
    redis = await connectTestRedis('resource-shared-revocation');
    clock = createClock();
    const channel = revocationChannel(redis.prefix);
    issuerView = await RedisRevocationView.start({
      client: await redis.connect(),
      channel,
      heartbeatMs: 200,
    });
    issuer = await startKitIssuer(
      clock,
      new RedisTokenStore({ client: await redis.connect(), keyPrefix: redis.prefix }),
      issuerView,
    );
    // the resource server's own connection, store object and view: nothing shared in memory
    const counted = countingStore(
      new RedisTokenStore({ client: await redis.connect(), keyPrefix: redis.prefix }),
    );
    calls = counted.calls;
    serviceView = await RedisRevocationView.start({
      client: await redis.connect(),
      channel,
      heartbeatMs: 200,
    });
    expect(await waitUntil(() => issuerView.ready && serviceView.ready, 10_000)).toBe(true);
    app = express();
    app.get(
      '/api/me',
      requireToken({
        issuer: issuer.url,
        audience: API_AUDIENCE,
        jwksUri: `${issuer.url}/.well-known/jwks.json`,
        now: clock.now,
        revocation: { store: counted.store, view: serviceView },
      }),
      (req, res) => res.json({ sub: req.auth!.subject }),
    );
  });
  afterAll(async () => {
    await serviceView?.close();
    await issuerView?.close();
    await issuer?.close();
    await redis?.cleanup();
  });

  it('answers every check from the local revocation replica, without asking the store', async () => {
    expect(serviceView.replicating).toBe(true);
    const token = await issuer.token();
    calls.reset();
    for (let i = 0; i < 3; i++) {
      expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    }
    expect(calls.total()).toBe(0);
  });

  it('refuses a token revoked at the issuer’s /oauth/revoke once the announcement arrives', async () => {
    const token = await issuer.token();
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await issuer.revoke(token);
    expect(
      await waitUntil(
        async () =>
          (await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status === 401,
        10_000,
      ),
    ).toBe(true);
    expectErrorsBody(
      await request(app).get('/api/me').set('Authorization', `Bearer ${token}`),
      401,
      'invalid_token',
      'Access token revoked',
    );
  });
});
