import express from 'express';
import request from 'supertest';
import type { BoundEntity } from '../../lib/types';
import { createApiKeyRouter } from '../../lib/routers/api-key-router';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit, type TestKit } from '../helpers/kit';

describe('createApiKeyRouter', () => {
  describe('when authorizeBinding decides which entities a key may bind to', () => {
    let t: TestKit;
    let key: string;
    let app: express.Express;
    const allowed = new Set(['empr_Allowed', 'empl_Allowed1']);
    const seen: string[] = [];

    beforeAll(async () => {
      t = await makeKit({ store: new MemoryTokenStore() });
      key = (await t.kit.credentials.createApiKey({ name: 'Acme' })).key;
      app = express();
      app.use(
        '/v1/auth',
        createApiKeyRouter({
          kit: t.kit,
          authorizeBinding: (apiKey, entity: BoundEntity) => {
            seen.push(apiKey.name);
            if (entity.id === 'empr_Broken') throw new Error('directory down');
            return allowed.has(entity.id);
          },
        }),
      );
    });

    afterAll(async () => {
      await t.store.close();
    });

    function exchange(boundEntity: unknown): request.Test {
      return request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${key}`)
        .send({ grant_type: 'client_credentials', bound_entity: boundEntity });
    }

    it('issues a token bound to an allowed entity', async () => {
      const res = await exchange({ id: 'empr_Allowed', type: 'employer' });
      expect(res.status).toBe(200);
      expect(res.body.bound_entity).toEqual({ id: 'empr_Allowed', type: 'employer' });
      expect(seen).toContain('Acme');
    });

    it('issues an unbound token without asking', async () => {
      const before = seen.length;
      const res = await exchange(null);
      expect(res.status).toBe(200);
      expect(seen.length).toBe(before);
    });

    it('responds 403 insufficient_scope and issues nothing for a refused entity', async () => {
      const res = await exchange({ id: 'empl_Other', type: 'employee' });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        errors: [{ errorType: 'insufficient_scope', message: 'The API key may not bind to this entity' }],
      });
      expect(res.body.access_token).toBeUndefined();
    });

    it('responds 503 when the authorizer fails, never issuing', async () => {
      const res = await exchange({ id: 'empr_Broken', type: 'employer' });
      expect(res.status).toBe(503);
      expect(res.body.errors[0].errorType).toBe('service_unavailable');
    });

    it('answers a bad key 401 before asking the authorizer', async () => {
      const before = seen.length;
      const res = await request(app)
        .post('/v1/auth/access-tokens')
        .set('Authorization', 'Bearer wrong-key')
        .send({ grant_type: 'client_credentials', bound_entity: { id: 'empr_Allowed', type: 'employer' } });
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_api_key');
      expect(seen.length).toBe(before);
    });
  });
});
