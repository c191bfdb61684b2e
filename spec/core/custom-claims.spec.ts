/**
 * The issuer's claims hooks (kit option `claims`, per-grant `grantClaims`): what they are told,
 * what they may add, and how a hook's bug is refused — before anything is written. On the memory
 * store and a real Redis.
 */
import express from 'express';
import request from 'supertest';
import type { ClaimsContext, ClaimsHook } from '../../lib/core/custom-claims';
import { MAX_CUSTOM_CLAIMS_BYTES } from '../../lib/core/custom-claims';
import type { TokenEvent } from '../../lib/core/events';
import type { TokenKit } from '../../lib/core/token-kit';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import {
  createClock,
  describeOnStore,
  makeKit,
  storeFactories,
  type MakeKitOptions,
  type StoreHarness,
} from '../helpers/kit';
import { basic, codeOf, decodeJwt, form, USER, verifyUser } from '../helpers/oauth';

interface App {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly id: string;
}

describeOnStore('memory')('the claims hook options', () => {
  it.each([
    ['claims that is not a function', { claims: 'tenant' }],
    ['grantClaims that is not an object', { grantClaims: () => ({}) }],
    ['grantClaims for an unknown grant', { grantClaims: { authorization_code: () => ({}) } }],
    ['grantClaims for a prototype key', { grantClaims: JSON.parse('{"__proto__": null}') as object }],
    ['a grantClaims hook that is not a function', { grantClaims: { password: { tenant: 'a' } } }],
  ])('throws a TypeError at factory time for %s', async (_case, extra) => {
    await expect(
      makeKit({ ...(extra as object), store: new MemoryTokenStore() } as MakeKitOptions),
    ).rejects.toThrow(TypeError);
  });
});

describeOnStore('memory')('issueAccessToken claims named like Object.prototype members', () => {
  it.each(['constructor', 'toString', 'valueOf'])(
    'refuses %s with a TypeError instead of breaking the signer',
    async (name) => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      await expect(
        kit.tokens.issueAccessToken({ subject: 's', clientId: 'c', claims: { [name]: 1 } }),
      ).rejects.toThrow(/Object\.prototype member/);
    },
  );
});

describe.each(storeFactories)('the claims hooks on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let store: TokenStore;
  let kit: TokenKit;
  let events: TokenEvent[];
  let app: App;
  let seen: ClaimsContext[];
  let hook: ClaimsHook;
  let grantHook: ClaimsHook | undefined;

  beforeAll(async () => {
    stores = await factory('custom-claims');
  });
  afterAll(() => stores.cleanup());

  async function build(options: Partial<MakeKitOptions> = {}): Promise<void> {
    const clock = createClock();
    store = (await stores.create(clock.now)).store;
    events = [];
    ({ kit } = await makeKit({
      store,
      now: clock,
      verifyUser,
      claims: (context) => hook(context),
      grantClaims: { refresh_token: (context) => grantHook?.(context) },
      onEvent: (event) => events.push(event),
      ...options,
    }));
    app = await kit.credentials.createApplication({
      name: 'Tenant app',
      grantTypes: ['client_credentials', 'password', 'refresh_token'],
      scopes: ['read', 'write'],
      resources: ['https://api.example.test/'],
    });
  }

  beforeEach(async () => {
    seen = [];
    grantHook = undefined;
    hook = (context) => {
      seen.push(context);
      return { tenant: 'acme', roles: ['admin', 'billing'] };
    };
    await build();
  });

  const clientCredentials = (scope = 'read'): ReturnType<TokenKit['grants']['clientCredentials']> =>
    kit.grants.clientCredentials({ clientId: app.clientId, clientSecret: app.clientSecret, scope });
  const password = (): ReturnType<TokenKit['grants']['password']> =>
    kit.grants.password({
      username: USER.username,
      password: USER.password,
      client: { clientId: app.clientId, scopes: ['read', 'write'] },
      scope: 'read write',
    });

  describe('when the hook answers claims', () => {
    it('adds them to the client_credentials JWT and to AuthInfo.claims', async () => {
      const result = await clientCredentials();
      const auth = await kit.tokens.verifyAccessToken(result.accessToken.token);
      expect(auth.claims).toMatchObject({ tenant: 'acme', roles: ['admin', 'billing'] });
      expect(decodeJwt(result.accessToken.token).payload).toMatchObject({
        tenant: 'acme',
        sub: app.clientId,
        client_id: app.clientId,
      });
    });

    it('tells the hook the grant type, subject, client, scopes, audience and application, frozen, without a secret', async () => {
      hook = (context) => {
        seen.push(context);
        expect(Object.isFrozen(context)).toBe(true);
        expect(Object.isFrozen(context.scopes)).toBe(true);
        expect(() => (context.scopes as string[]).push('admin')).toThrow();
        return { tenant: 'acme' };
      };
      await kit.grants.clientCredentials({
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        scope: 'read write',
        resources: ['https://api.example.test/'],
      });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toEqual({
        grantType: 'client_credentials',
        subject: app.clientId,
        clientId: app.clientId,
        scopes: ['read', 'write'],
        audience: ['https://api.example.test/'],
        boundEntity: null,
        application: expect.objectContaining({ id: app.id, clientId: app.clientId }),
      });
      expect(JSON.stringify(seen[0])).not.toContain(app.clientSecret);
    });

    it('gives the kit’s audience when no resource is requested', async () => {
      await clientCredentials();
      expect(seen[0]!.audience).toEqual([...kit.tokens.audiences]);
    });

    it('awaits an async hook', async () => {
      hook = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return { tenant: 'async-co' };
      };
      const result = await clientCredentials();
      expect(decodeJwt(result.accessToken.token).payload.tenant).toBe('async-co');
    });

    it('adds nothing when the hook answers undefined or null', async () => {
      for (const answer of [undefined, null]) {
        hook = () => answer;
        const result = await clientCredentials();
        expect(Object.keys(decodeJwt(result.accessToken.token).payload).sort()).toEqual(
          ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'].sort(),
        );
      }
    });

    it('runs for the password grant with the user as subject, before the family starts', async () => {
      const result = await password();
      expect(seen[0]).toMatchObject({ grantType: 'password', subject: USER.sub, scopes: ['read', 'write'] });
      expect(decodeJwt(result.accessToken.token).payload).toMatchObject({ tenant: 'acme', sub: USER.sub });
    });

    it('runs again on refresh with the family id, and the per-grant hook wins on a shared name', async () => {
      const first = await password();
      grantHook = (context) => ({ tenant: `refreshed:${context.familyId ?? ''}`, fresh: true });
      const next = await kit.grants.refresh({ refreshToken: first.refreshToken, clientId: app.clientId });
      const refreshed = seen.at(-1)!;
      expect(refreshed).toMatchObject({ grantType: 'refresh_token', subject: USER.sub });
      expect(typeof refreshed.familyId).toBe('string');
      expect(decodeJwt(next.accessToken.token).payload).toMatchObject({
        tenant: `refreshed:${refreshed.familyId!}`,
        roles: ['admin', 'billing'],
        fresh: true,
        sid: refreshed.familyId,
      });
    });

    it('runs for provider client tokens with the provider and its client', async () => {
      const provider = await kit.credentials.createProvider({ domain: null });
      const client = await kit.credentials.createProviderClient(provider.id, {
        audience: 'https://provider-api.test',
      });
      const issued = await kit.grants.providerToken({
        apiKey: provider.apiKeys[0],
        providerId: provider.id,
        clientId: client.id,
      });
      expect(seen.at(-1)).toMatchObject({
        grantType: 'provider_token',
        subject: client.id,
        audience: ['https://provider-api.test'],
        provider: { id: provider.id },
        providerClient: { id: client.id },
        application: null,
      });
      expect(decodeJwt(issued.token).payload.tenant).toBe('acme');
    });

    it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
      'refuses a claim named %s (an Object.prototype member) without polluting anything',
      async (name) => {
        hook = () =>
          JSON.parse(`{"${name}": {"polluted": true}, "tenant": "acme"}`) as Record<string, unknown>;
        await expect(codeOf(clientCredentials())).resolves.toBe('service_unavailable');
        expect(events).toContainEqual(
          expect.objectContaining({ type: 'claims_refused', reason: 'client_credentials:reserved' }),
        );
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );
  });

  describe('with opaque access tokens', () => {
    it('does not call the hooks: opaque tokens carry no custom claims', async () => {
      await build({ accessTokenFormat: 'opaque' });
      const result = await clientCredentials();
      expect(result.accessToken.format).toBe('opaque');
      expect(seen).toHaveLength(0);
      const auth = await kit.tokens.verifyAccessToken(result.accessToken.token);
      expect(auth.claims.tenant).toBeUndefined();
    });
  });

  describe('when the hook has a bug', () => {
    const reserved = [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'nbf',
      'jti',
      'cnf',
      'client_id',
      'scope',
      'bound_entity',
      'sid',
      'typ',
      'act',
    ];

    it.each(reserved)('refuses the reserved claim %s with 503 and a claims_refused event', async (name) => {
      hook = () => ({ tenant: 'acme', [name]: 'forged' });
      await expect(codeOf(clientCredentials())).resolves.toBe('service_unavailable');
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'claims_refused',
          clientId: app.clientId,
          reason: 'client_credentials:reserved',
        }),
      );
      expect(events.some((e) => e.type === 'issued')).toBe(false);
    });

    const big = 'x'.repeat(MAX_CUSTOM_CLAIMS_BYTES);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = [deep];
    it.each([
      ['a function value', () => ({ tenant: () => 'acme' }), 'not_json'],
      ['a BigInt value', () => ({ tenant: 1n }), 'not_json'],
      ['a Date value', () => ({ since: new Date(0) }), 'not_json'],
      ['NaN', () => ({ score: Number.NaN }), 'not_json'],
      ['an undefined value', () => ({ tenant: undefined }), 'not_json'],
      ['a value nested 40 deep', () => ({ deep }), 'not_json'],
      ['an empty claim name', () => ({ '': 'x' }), 'not_json'],
      ['more than 2 KB of JSON', () => ({ blob: big }), 'too_large'],
      ['an array', () => ['tenant'] as unknown as Record<string, unknown>, 'not_object'],
      ['a string', () => 'tenant=acme' as unknown as Record<string, unknown>, 'not_object'],
      ['a Map', () => new Map([['tenant', 'acme']]) as unknown as Record<string, unknown>, 'not_object'],
      [
        'a throw',
        (): Record<string, unknown> => {
          throw new Error('tenant service down: secret=hunter2');
        },
        'threw',
      ],
      ['a rejection', () => Promise.reject(new Error('db password=hunter2')), 'threw'],
    ] as const)(
      'refuses %s with 503 service_unavailable and issues nothing',
      async (_case, answer, reason) => {
        hook = answer as unknown as ClaimsHook;
        await expect(codeOf(clientCredentials())).resolves.toBe('service_unavailable');
        expect(events).toContainEqual(
          expect.objectContaining({ type: 'claims_refused', reason: `client_credentials:${reason}` }),
        );
        expect(events.some((e) => e.type === 'issued')).toBe(false);
      },
    );

    it('refuses claims within 2 KB that would still make the token too long, before the family starts', async () => {
      const created = jest.spyOn(store, 'createRefreshFamily');
      const long = Array.from(
        { length: 4 },
        (_, i) => `https://api.example.test/${String(i).padEnd(480, 'x')}`,
      );
      app = await kit.credentials.createApplication({
        name: 'Long',
        grantTypes: ['password', 'refresh_token'],
        scopes: ['read', 'write'],
        resources: long,
      });
      hook = () => ({ blob: 'y'.repeat(MAX_CUSTOM_CLAIMS_BYTES - 20) });
      const result = kit.grants.password({
        username: USER.username,
        password: USER.password,
        client: await kit.credentials.getApplication(app.id).then((a) => a!),
        resources: long,
      });
      await expect(codeOf(result)).resolves.toBe('service_unavailable');
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'claims_refused', reason: 'password:too_large' }),
      );
      expect(created).not.toHaveBeenCalled();
      created.mockRestore();
    });

    it('starts no refresh family in the password grant when the hook throws', async () => {
      const created = jest.spyOn(store, 'createRefreshFamily');
      hook = () => {
        throw new Error('boom');
      };
      await expect(codeOf(password())).resolves.toBe('service_unavailable');
      expect(created).not.toHaveBeenCalled();
      created.mockRestore();
    });

    it('consumes nothing on refresh when the hook throws: the refresh token works afterwards', async () => {
      const first = await password();
      const rotations = jest.spyOn(store, 'rotateRefreshToken');
      grantHook = () => Promise.reject(new Error('roles service down'));
      await expect(
        codeOf(kit.grants.refresh({ refreshToken: first.refreshToken, clientId: app.clientId })),
      ).resolves.toBe('service_unavailable');
      expect(rotations).not.toHaveBeenCalled();
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'claims_refused', reason: 'refresh_token:threw', subject: USER.sub }),
      );
      grantHook = undefined;
      const next = await kit.grants.refresh({ refreshToken: first.refreshToken, clientId: app.clientId });
      expect(next.refreshToken).toEqual(expect.any(String));
      rotations.mockRestore();
    });

    it('answers the token endpoint 503 in its own format, with Retry-After and nothing internal', async () => {
      hook = () => {
        throw new Error('tenant lookup failed: password=hunter2');
      };
      const http = express();
      http.use(createOAuthRouter({ kit }));
      const res = await request(http)
        .post('/oauth/token')
        .set('Authorization', basic(app.clientId, app.clientSecret))
        .type('form')
        .send(form({ grant_type: 'client_credentials' }));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toEqual({
        error: 'service_unavailable',
        error_description: 'Service temporarily unavailable',
      });
      expect(res.text).not.toContain('hunter2');
    });
  });
});
