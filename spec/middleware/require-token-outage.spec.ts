import express from 'express';
import request from 'supertest';
import type { Redis } from 'ioredis';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { KeySet } from '../../lib/keys/key-set';
import { requireToken } from '../../lib/middleware/require-token';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

const UNAVAILABLE = {
  errors: [{ errorType: 'service_unavailable', message: 'Service temporarily unavailable' }],
};

async function eventually(check: () => Promise<boolean>, attempts = 100, delayMs = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  return false;
}

describe('requireToken', () => {
  describe('when the private redis-server dies and comes back', () => {
    let server: RedisServer;
    let client: Redis;
    let kit: TokenKit;
    let app: express.Express;

    beforeAll(async () => {
      server = await startRedisServer();
      client = createRedisClient({ url: server.url, commandTimeoutMs: 200, maxReconnectDelayMs: 200 });
      await waitForReady(client, 5000);
      kit = createTokenKit({
        store: new RedisTokenStore({ client, keyPrefix: 'outage:' }),
        keys: new KeySet({ keys: [await KeySet.generateKey('ES256', 'k1')] }),
        issuer: 'https://issuer.test',
      });
      app = express();
      app.get('/probe', requireToken({ kit }), (req, res) => {
        res.json({ sub: req.auth?.subject });
      });
    });

    afterAll(async () => {
      client.disconnect();
      await server.stop();
    });

    it('serves, answers 503 service_unavailable while Redis is down, and recovers without a restart', async () => {
      const { token } = await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
      const opaque = (
        await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1', format: 'opaque' })
      ).token;
      expect((await request(app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(200);

      await server.kill();
      for (const t of [token, opaque]) {
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${t}`);
        expect(res.status).toBe(503);
        expect(res.body).toEqual(UNAVAILABLE);
        expect(res.headers['retry-after']).toBe('5');
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
      await expect(
        kit.tokens.issueAccessToken({ subject: 'u', clientId: 'c', format: 'opaque' }),
      ).rejects.toMatchObject({
        code: 'service_unavailable',
        status: 503,
      });
      await expect(kit.tokens.startRefreshFamily({ subject: 'u', clientId: 'c' })).rejects.toMatchObject({
        code: 'service_unavailable',
      });

      await server.restart();
      const recovered = await eventually(
        async () => (await request(app).get('/probe').set('Authorization', `Bearer ${token}`)).status === 200,
      );
      expect(recovered).toBe(true);
    });

    it('answers 503 when Redis is paused past the command timeout, never passing the request', async () => {
      await waitForReady(client, 5000);
      const { token } = await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
      const admin = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
      try {
        await waitForReady(admin, 5000);
        await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
        const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(503);
        expect(res.body).toEqual(UNAVAILABLE);
      } finally {
        admin.disconnect();
      }
      const recovered = await eventually(
        async () => (await request(app).get('/probe').set('Authorization', `Bearer ${token}`)).status === 200,
      );
      expect(recovered).toBe(true);
    });

    it('rejects a revoked token after Redis comes back with its data', async () => {
      await waitForReady(client, 5000);
      const { token } = await kit.tokens.issueAccessToken({ subject: 'user-2', clientId: 'client-1' });
      await kit.tokens.revokeToken(token);
      const res = await request(app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
    });
  });
});
