import type express from 'express';
import request from 'supertest';
import type { BoundEntity } from '../../lib/types';
import type { TokenEvent } from '../../lib/core/events';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import {
  countingStore,
  makeKit,
  describeOnStore,
  storeFactories,
  type StoreCalls,
  type StoreHarness,
  type TestKit,
} from '../helpers/kit';
import { apiKeyRouterApp } from '../helpers/apps';
import { expectErrorsBody } from '../helpers/http';

describe('createApiKeyRouter', () => {
  describeOnStore('memory')('when authorizeBinding decides which entities a key may bind to', () => {
    let t: TestKit;
    let key: string;
    let app: express.Express;
    const allowed = new Set(['empr_Allowed', 'empl_Allowed1']);
    const seen: string[] = [];

    beforeAll(async () => {
      t = await makeKit({ store: new MemoryTokenStore() });
      key = (await t.kit.credentials.createApiKey({ name: 'Acme' })).key;
      app = apiKeyRouterApp(t.kit, {
        authorizeBinding: (apiKey, entity: BoundEntity) => {
          seen.push(apiKey.name);
          if (entity.id === 'empr_Broken') throw new Error('directory down');
          return allowed.has(entity.id);
        },
      });
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

  describe.each(storeFactories)('when no authorizeBinding is configured (%s store)', (_name, factory) => {
    let stores: StoreHarness;
    let t: TestKit;
    let calls: StoreCalls;
    let key: string;
    let app: express.Express;
    let events: TokenEvent[];

    beforeAll(async () => {
      stores = await factory('api-key-binding');
    });
    afterAll(async () => {
      await stores.cleanup();
    });
    beforeEach(async () => {
      const counted = countingStore((await stores.create()).store);
      calls = counted.calls;
      events = [];
      t = await makeKit({ store: counted.store, onEvent: (event) => events.push(event) });
      key = (await t.kit.credentials.createApiKey({ name: 'Acme' })).key;
      app = apiKeyRouterApp(t.kit);
      calls.reset();
      events.length = 0;
    });

    function exchange(body: object, apiKey = key): request.Test {
      return request(app).post('/v1/auth/access-tokens').set('Authorization', `Bearer ${apiKey}`).send(body);
    }

    it.each([
      ['an employer', { id: 'empr_Acme', type: 'employer' }],
      ['an employee', { id: 'empl_Jane1', type: 'employee' }],
    ])('responds 403 insufficient_scope for %s and issues and stores nothing', async (_what, entity) => {
      const res = await exchange({ grant_type: 'client_credentials', bound_entity: entity });
      expectErrorsBody(res, 403, 'insufficient_scope', 'The API key may not bind to this entity');
      expect(calls.byMethod.get('saveAccessToken')).toBeUndefined();
      expect(events.filter((e) => e.type === 'issued')).toEqual([]);
      expect(events.filter((e) => e.type === 'binding_denied')).toHaveLength(1);
    });

    it('responds 401 invalid_api_key for a bad key with a bound_entity', async () => {
      const res = await exchange(
        { grant_type: 'client_credentials', bound_entity: { id: 'empr_Acme', type: 'employer' } },
        'wrong-key',
      );
      expectErrorsBody(res, 401, 'invalid_api_key');
      expect(calls.byMethod.get('saveAccessToken')).toBeUndefined();
    });

    it.each([
      ['absent', { grant_type: 'client_credentials' }],
      ['null', { grant_type: 'client_credentials', bound_entity: null }],
    ])('responds 200 with an unbound token when bound_entity is %s', async (_what, body) => {
      const res = await exchange(body);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, bound_entity: null });
      expect(calls.byMethod.get('saveAccessToken')).toBe(1);
    });
  });
});
