/**
 * Generic binding: the `binding` option (a {@link BindingProfile}) configures the entity types, their
 * id prefixes and which type may reach which; the default profile is employer/employee. A custom
 * tenant/project profile works end to end (router A, JWT issuance, `requireBinding`) on the memory
 * store and a real Redis, and bad profiles are refused when the kit is built.
 */
import express from 'express';
import request from 'supertest';
import {
  DEFAULT_BINDING_PROFILE,
  createBindingProfile,
  type BindingProfile,
  type BindingProfileOptions,
} from '../../lib/core/binding';
import type { TokenEvent } from '../../lib/core/events';
import { requireBinding } from '../../lib/middleware/guards';
import { requireToken } from '../../lib/middleware/require-token';
import { createApiKeyRouter } from '../../lib/routers/api-key-router';
import { StoreUnavailableError } from '../../lib/errors';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { createClock, makeKit, storeFactories, type StoreHarness, type TestKit } from '../helpers/kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const TENANT_PROJECT: BindingProfileOptions = {
  types: { tenant: { prefix: 'ten_' }, project: { prefix: 'prj_', parent: 'tenant' } },
};

describe('createBindingProfile', () => {
  it('without options is the default employer/employee profile', () => {
    const profile = createBindingProfile();
    expect(profile).toBe(DEFAULT_BINDING_PROFILE);
    expect(profile.types).toEqual(['employer', 'employee']);
    expect(profile.prefixOf('employer')).toBe('empr_');
    expect(profile.prefixOf('employee')).toBe('empl_');
    expect(profile.parentOf('employee')).toBe('employer');
    expect(profile.isAncestor('employer', 'employee')).toBe(true);
    expect(profile.isAncestor('employee', 'employer')).toBe(false);
  });

  it('answers ids, bound entities and reach for a custom profile', () => {
    const p = createBindingProfile({
      types: {
        org: { prefix: 'org_' },
        team: { prefix: 'team_', parent: 'org' },
        member: { prefix: 'mem_', parent: 'team' },
      },
    });
    expect(p.isEntityId('team_A-1', 'team')).toBe(true);
    expect(p.isEntityId('team_A-1', 'org')).toBe(false);
    expect(p.isEntityId('empr_A', 'employer')).toBe(false);
    expect(p.isEntityId('team_', 'team')).toBe(false);
    expect(p.isEntityId(`team_${'a'.repeat(129)}`, 'team')).toBe(false);
    expect(p.isEntityId('team_a b', 'team')).toBe(false);
    expect(p.parseBoundEntity({ id: 'mem_1', type: 'member' })).toEqual({ id: 'mem_1', type: 'member' });
    expect(p.parseBoundEntity({ id: 'mem_1', type: 'team' })).toBeUndefined();
    expect(p.parseBoundEntity({ id: 'mem_1', type: 'member', extra: 1 })).toBeUndefined();
    expect(p.parseBoundEntity(undefined)).toBeNull();
    expect(p.isAncestor('org', 'member')).toBe(true);
    expect(p.isAncestor('team', 'member')).toBe(true);
    expect(p.isAncestor('member', 'team')).toBe(false);
    expect(p.isAncestor('org', 'org')).toBe(false);
    expect(() => p.assertBoundEntity({ id: 'empr_1', type: 'employer' })).toThrow(
      new TypeError('boundEntity must be {id, type} with an org_/team_/mem_ id matching its type'),
    );
  });

  const BAD: ReadonlyArray<readonly [string, unknown, ErrorConstructor, RegExp]> = [
    ['not an object', 'employer', TypeError, /^binding must be/],
    ['an unknown option', { types: { a: { prefix: 'a_' } }, roles: {} }, TypeError, /binding\.roles/],
    ['no types object', {}, TypeError, /binding\.types/],
    ['no types', { types: {} }, RangeError, /binding\.types must name at least one/],
    ['an empty type name', { types: { '': { prefix: 'a_' } } }, RangeError, /type name ""/],
    ['an upper-case type name', { types: { Tenant: { prefix: 'a_' } } }, RangeError, /type name "Tenant"/],
    ['a type that is not an object', { types: { a: 'a_' } }, TypeError, /binding\.types\.a must be/],
    ['an unknown type option', { types: { a: { prefix: 'a_', id: 1 } } }, TypeError, /binding\.types\.a\.id/],
    ['a missing prefix', { types: { a: {} } }, TypeError, /binding\.types\.a\.prefix/],
    ['a prefix without underscore', { types: { a: { prefix: 'ten' } } }, RangeError, /types\.a\.prefix/],
    ['an upper-case prefix', { types: { a: { prefix: 'Ten_' } } }, RangeError, /types\.a\.prefix/],
    ['a prefix with a digit', { types: { a: { prefix: 't1_' } } }, RangeError, /types\.a\.prefix/],
    ['an empty prefix', { types: { a: { prefix: '' } } }, RangeError, /types\.a\.prefix/],
    ['just an underscore', { types: { a: { prefix: '_' } } }, RangeError, /types\.a\.prefix/],
    [
      'a duplicate prefix',
      { types: { a: { prefix: 'x_' }, b: { prefix: 'x_' } } },
      RangeError,
      /binding\.types\.b\.prefix "x_" is already the prefix of a/,
    ],
    ['a parent that is not a string', { types: { a: { prefix: 'a_', parent: 1 } } }, TypeError, /a\.parent/],
    [
      'an unknown parent',
      { types: { a: { prefix: 'a_', parent: 'nope' } } },
      RangeError,
      /binding\.types\.a\.parent "nope" is not a type/,
    ],
    ['its own parent', { types: { a: { prefix: 'a_', parent: 'a' } } }, RangeError, /a\.parent: .*cycle/],
    [
      'a parent cycle',
      { types: { a: { prefix: 'a_', parent: 'b' }, b: { prefix: 'b_', parent: 'a' } } },
      RangeError,
      /binding\.types\.a\.parent: .*cycle/,
    ],
  ];

  it.each(BAD)('refuses %s, naming the option', (_name, options, kind, message) => {
    expect(() => createBindingProfile(options as BindingProfileOptions)).toThrow(kind);
    expect(() => createBindingProfile(options as BindingProfileOptions)).toThrow(message);
  });

  it.each(BAD)('makes createTokenKit refuse %s', async (_name, options, kind, message) => {
    const store = new MemoryTokenStore();
    await expect(makeKit({ store, binding: options as BindingProfileOptions })).rejects.toThrow(kind);
    await expect(makeKit({ store, binding: options as BindingProfileOptions })).rejects.toThrow(message);
    await store.close();
  });

  it('gives the kit the default profile when the option is absent', async () => {
    const t = await makeKit({ store: new MemoryTokenStore() });
    expect(t.kit.binding).toBe(DEFAULT_BINDING_PROFILE);
    await t.store.close();
  });
});

describe.each(storeFactories)('a tenant/project profile end to end, with the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let t: TestKit;
  let key: string;
  let app: express.Express;
  const events: TokenEvent[] = [];
  const projectsOf = new Map([
    ['ten_Acme', ['prj_Web', 'prj_App']],
    ['ten_Other', ['prj_Else']],
  ]);

  beforeAll(async () => {
    stores = await factory('binding-profile');
    const clock = createClock();
    const { store } = await stores.create(clock.now);
    t = await makeKit({ store, now: clock, binding: TENANT_PROJECT, onEvent: (e) => events.push(e) });
    key = (await t.kit.credentials.createApiKey({ name: 'Acme' })).key;
    const kit = t.kit;
    app = express();
    app.use(
      '/v1/auth',
      createApiKeyRouter({
        kit,
        authorizeBinding: (_apiKey, entity) => ['prj_Web', 'ten_Acme'].includes(entity.id),
      }),
    );
    const belongsTo = (tenant: string, project: string, types: { ancestor: string; target: string }) =>
      types.ancestor === 'tenant' &&
      types.target === 'project' &&
      (projectsOf.get(tenant) ?? []).includes(project);
    app.get(
      '/v1/tenants/:tenantId',
      requireToken({ kit }),
      requireBinding({ param: 'tenantId', type: 'tenant', kit }),
      (req, res) => res.json({ id: req.params.tenantId }),
    );
    app.get(
      '/v1/projects/:projectId',
      requireToken({ kit }),
      requireBinding({ param: 'projectId', type: 'project', belongsTo, kit }),
      (req, res) => res.json({ id: req.params.projectId }),
    );
  });

  afterAll(() => stores.cleanup());

  function exchange(boundEntity: unknown): request.Test {
    return request(app)
      .post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${key}`)
      .send({ grant_type: 'client_credentials', bound_entity: boundEntity });
  }

  async function tokenFor(boundEntity: { id: string; type: string }): Promise<string> {
    const res = await exchange(boundEntity);
    expect(res.status).toBe(200);
    expect(res.body.bound_entity).toEqual(boundEntity);
    return (res.body as { access_token: string }).access_token;
  }

  function get(path: string, token: string): request.Test {
    return request(app).get(path).set('Authorization', `Bearer ${token}`);
  }

  it('issues a prj_-bound token that reaches its project and no other, nor its tenant', async () => {
    const token = await tokenFor({ id: 'prj_Web', type: 'project' });
    const ok = await get('/v1/projects/prj_Web', token);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: 'prj_Web' });
    expect((await get('/v1/projects/prj_App', token)).status).toBe(403);
    expect((await get('/v1/tenants/ten_Acme', token)).status).toBe(403);
    expect(events.filter((e) => e.type === 'binding_denied').map((e) => e.reason)).toEqual(
      expect.arrayContaining(['other_entity', 'project_token']),
    );
  });

  it('lets a tenant-bound token reach its own projects through the resolver, not another tenant’s', async () => {
    const token = await tokenFor({ id: 'ten_Acme', type: 'tenant' });
    expect((await get('/v1/tenants/ten_Acme', token)).status).toBe(200);
    expect((await get('/v1/projects/prj_Web', token)).status).toBe(200);
    expect((await get('/v1/projects/prj_App', token)).status).toBe(200);
    expect((await get('/v1/projects/prj_Else', token)).status).toBe(403);
    expect((await get('/v1/tenants/ten_Other', token)).status).toBe(403);
    expect(events.at(-1)).toMatchObject({ type: 'binding_denied', reason: 'other_entity' });
  });

  it('refuses a malformed id on a route of the profile (403 bad_target)', async () => {
    const token = await tokenFor({ id: 'prj_Web', type: 'project' });
    expect((await get('/v1/projects/empl_Web', token)).status).toBe(403);
    expect(events.at(-1)).toMatchObject({ type: 'binding_denied', reason: 'bad_target' });
  });

  it('answers 400 naming the profile’s prefixes for a binding outside the profile', async () => {
    for (const bad of [
      { id: 'empr_Acme', type: 'employer' },
      { id: 'ten_Acme', type: 'project' },
      { id: 'prj_', type: 'project' },
    ]) {
      const res = await exchange(bad);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain(
        'bound_entity must be {id, type} with an ten_/prj_ id matching type',
      );
    }
  });

  it('refuses a key’s binding the authorizer does not allow (403)', async () => {
    expect((await exchange({ id: 'prj_App', type: 'project' })).status).toBe(403);
  });

  it('issues and verifies JWTs bound to a type of the profile, and refuses other types at issuance', async () => {
    const issued = await t.kit.tokens.issueAccessToken({
      subject: 'svc',
      clientId: 'svc',
      format: 'jwt',
      boundEntity: { id: 'prj_Web', type: 'project' },
    });
    expect((await get('/v1/projects/prj_Web', issued.token)).status).toBe(200);
    expect((await get('/v1/projects/prj_App', issued.token)).status).toBe(403);
    await expect(
      t.kit.tokens.issueAccessToken({
        subject: 'svc',
        clientId: 'svc',
        boundEntity: { id: 'empr_Acme', type: 'employer' },
      }),
    ).rejects.toThrow(new TypeError('boundEntity must be {id, type} with an ten_/prj_ id matching its type'));
  });

  it('refuses at build time a requireBinding type outside the profile', () => {
    expect(() => requireBinding({ param: 'id', type: 'employee', kit: t.kit })).toThrow(
      new TypeError(`requireBinding type must be 'tenant' or 'project', got "employee"`),
    );
    expect(() =>
      requireBinding({
        param: 'id',
        type: 'project',
        kit: t.kit,
        belongsTo: () => true,
        employerOf: () => true,
      }),
    ).toThrow(/employerOf or belongsTo/);
  });
});

describe('the Redis store’s record parsing, which does not know the profile', () => {
  let redis: TestRedis;
  let store: RedisTokenStore;
  const record = {
    jti: 'jti-1',
    sub: 'user-1',
    clientId: 'client-1',
    iss: 'https://issuer.test',
    aud: ['api'],
    scope: 'read',
    iat: 1,
    exp: 4_000_000_000,
  };

  beforeAll(async () => {
    redis = await connectTestRedis('binding-profile-records');
    store = new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix });
  });

  afterAll(() => redis.cleanup());

  it.each([
    ['a default type', { id: 'empl_1', type: 'employee' }],
    ['a custom type', { id: 'prj_1', type: 'project' }],
  ])('accepts a record bound to %s', async (_name, boundEntity) => {
    await redis.client.set(`${redis.prefix}at:ok`, JSON.stringify({ ...record, boundEntity }), 'EX', 60);
    await expect(store.lookupAccessToken('ok')).resolves.toMatchObject({ record: { boundEntity } });
  });

  it.each([
    ['an empty type', { id: 'prj_1', type: '' }],
    ['an upper-case type', { id: 'prj_1', type: 'Project' }],
    ['a numeric type', { id: 'prj_1', type: 7 }],
    ['a missing type', { id: 'prj_1' }],
    ['a numeric id', { id: 1, type: 'project' }],
  ])('refuses as corrupt a record bound with %s', async (_name, boundEntity) => {
    await redis.client.set(`${redis.prefix}at:bad`, JSON.stringify({ ...record, boundEntity }), 'EX', 60);
    await expect(store.lookupAccessToken('bad')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('requireBinding with the default profile through the generic options', () => {
  let t: TestKit;
  let app: express.Express;
  const calls: unknown[][] = [];

  beforeAll(async () => {
    t = await makeKit({ store: new MemoryTokenStore() });
    const kit = t.kit;
    app = express();
    app.get(
      '/v1/employees/:employeeId',
      requireToken({ kit }),
      requireBinding({
        param: 'employeeId',
        type: 'employee',
        binding: createBindingProfile(),
        belongsTo: (...args) => {
          calls.push(args);
          return args[0] === 'empr_1' && args[1] === 'empl_1';
        },
      }),
      (req, res) => res.json({ id: req.params.employeeId }),
    );
  });

  afterAll(() => t.store.close());

  async function token(boundEntity: { id: string; type: string }): Promise<string> {
    return (
      await t.kit.tokens.issueAccessToken({ subject: 's', clientId: 'c', format: 'opaque', boundEntity })
    ).token;
  }

  it('asks belongsTo(employer, employee, { ancestor, target }) for an employer-bound token', async () => {
    const employer = await token({ id: 'empr_1', type: 'employer' });
    expect(
      (await request(app).get('/v1/employees/empl_1').set('Authorization', `Bearer ${employer}`)).status,
    ).toBe(200);
    expect(
      (await request(app).get('/v1/employees/empl_2').set('Authorization', `Bearer ${employer}`)).status,
    ).toBe(403);
    expect(calls).toEqual([
      ['empr_1', 'empl_1', { ancestor: 'employer', target: 'employee' }],
      ['empr_1', 'empl_2', { ancestor: 'employer', target: 'employee' }],
    ]);
  });

  it('refuses a binding option that is not a built profile', () => {
    expect(() =>
      requireBinding({ param: 'id', type: 'employee', binding: TENANT_PROJECT as unknown as BindingProfile }),
    ).toThrow(new TypeError('requireBinding binding must be a profile from createBindingProfile()'));
  });

  it('keeps today’s message for a type outside the default profile', () => {
    expect(() => requireBinding({ param: 'id', type: 'tenant' })).toThrow(
      new TypeError(`requireBinding type must be 'employer' or 'employee', got "tenant"`),
    );
  });
});
