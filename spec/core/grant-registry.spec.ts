/**
 * The grant registry (lib/core/grants/registry.ts) is the one list of OAuth grant types: router D's
 * dispatch and metadata, `CredentialService`, the seed parser and the CLI all accept exactly its
 * types and refuse any other, each with its own error. A registry with one more grant is taken up
 * by all of them at once, with no other change.
 */
import express from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import type * as TokenKitModule from '../../lib/core/token-kit';
import type * as RegistryModule from '../../lib/core/grants/registry';
import type * as OAuthRouterModule from '../../lib/routers/oauth-router';
import type * as SeedModule from '../../lib/server/seed';
import type * as CliModule from '../../lib/server/cli';
import type * as MemoryStoreModule from '../../lib/stores/memory-token-store';
import type { OAuthGrant } from '../../lib/core/grants/oauth-grant';
import { clientCredentials } from '../../lib/core/grants/client-credentials';
import { DEFAULT_GRANT_TYPES, GRANT_TYPES, isGrantType } from '../../lib/core/grants/registry';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { parseSeed, SeedError } from '../../lib/server/seed';
import { EXIT_OK, EXIT_USAGE, runCli } from '../../lib/server/cli';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit, testKeySet, TEST_ISSUER } from '../helpers/kit';
import { basic, verifyUser } from '../helpers/oauth';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

type Cli = typeof runCli;

async function cli(run: Cli, argv: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function seedWithGrants(parse: typeof parseSeed, grantTypes: readonly unknown[]) {
  return parse({
    applications: [
      {
        id: '5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b',
        name: 'App',
        organization: 'org',
        clientId: 'client-1',
        clientSecret: 'secret-1',
        applicationTypes: ['API'],
        grantTypes,
      },
    ],
  });
}

function metadataOf(kit: TokenKit, router = createOAuthRouter) {
  const app = express();
  app.use(router({ kit }));
  return request(app).get('/.well-known/oauth-authorization-server');
}

const UNKNOWN = 'implicit';

describe('the grant registry', () => {
  it('lists the OAuth grants once, with client_credentials as the default', () => {
    expect(GRANT_TYPES).toEqual([
      'client_credentials',
      'password',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    expect(DEFAULT_GRANT_TYPES).toEqual(['client_credentials']);
    expect(Object.isFrozen(GRANT_TYPES)).toBe(true);
    for (const type of GRANT_TYPES) expect(isGrantType(type)).toBe(true);
    for (const other of [UNKNOWN, 'constructor', '__proto__', 'toString', '', 'CLIENT_CREDENTIALS', 1])
      expect(isGrantType(other)).toBe(false);
  });

  describe('router D', () => {
    it('publishes the registry as grant_types_supported, password only with a user verifier', async () => {
      const { kit } = await makeKit({ store: new MemoryTokenStore(), verifyUser });
      expect((await metadataOf(kit)).body.grant_types_supported).toEqual([...GRANT_TYPES]);
      const { kit: bare } = await makeKit({ store: new MemoryTokenStore() });
      expect((await metadataOf(bare)).body.grant_types_supported).toEqual(
        GRANT_TYPES.filter((g) => g !== 'password'),
      );
    });

    it('dispatches every registry type to its grant and answers unsupported_grant_type to any other', async () => {
      const { kit } = await makeKit({ store: new MemoryTokenStore(), verifyUser });
      const client = await kit.credentials.createApplication({ name: 'All', grantTypes: [...GRANT_TYPES] });
      const app = express().use(createOAuthRouter({ kit }));
      const post = (grantType: string) =>
        request(app)
          .post('/oauth/token')
          .set('Authorization', basic(client.clientId, client.clientSecret))
          .type('form')
          .send({ grant_type: grantType });
      for (const type of GRANT_TYPES) {
        const res = await post(type);
        // Reached the grant: it answers or asks for its own parameters, never "unsupported".
        expect(res.body.error).not.toBe('unsupported_grant_type');
      }
      for (const other of [UNKNOWN, 'constructor', '__proto__', 'hasOwnProperty']) {
        const res = await post(other);
        expect({ status: res.status, error: res.body.error }).toEqual({
          status: 400,
          error: 'unsupported_grant_type',
        });
      }
    });
  });

  describe('CredentialService', () => {
    it('accepts exactly the registry types and refuses another with a TypeError', async () => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      const app = await kit.credentials.createApplication({ name: 'All', grantTypes: [...GRANT_TYPES] });
      expect(app.grantTypes).toEqual([...GRANT_TYPES]);
      expect((await kit.credentials.createApplication({ name: 'Default' })).grantTypes).toEqual([
        ...DEFAULT_GRANT_TYPES,
      ]);
      await expect(
        kit.credentials.createApplication({ name: 'Bad', grantTypes: ['client_credentials', UNKNOWN] }),
      ).rejects.toThrow(new TypeError(`grantTypes has an unknown grant "${UNKNOWN}"`));
      await expect(
        kit.credentials.createApplication({ name: 'Proto', grantTypes: ['constructor'] }),
      ).rejects.toThrow(TypeError);
    });
  });

  describe('the seed parser', () => {
    it('accepts exactly the registry types and refuses another with a SeedError naming the field', () => {
      expect(seedWithGrants(parseSeed, GRANT_TYPES).applications[0]!.grantTypes).toEqual([...GRANT_TYPES]);
      for (const bad of [UNKNOWN, 'constructor']) {
        let caught: unknown;
        try {
          seedWithGrants(parseSeed, ['client_credentials', bad]);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(SeedError);
        expect((caught as SeedError).message).toBe(
          `applications[0].grantTypes[1] must be one of: ${GRANT_TYPES.join(', ')}`,
        );
      }
    });
  });

  describe('the CLI', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('lists the registry types in the help of application create', async () => {
      const run = await cli(runCli, ['application', 'create', '--help']);
      expect(run.code).toBe(EXIT_OK);
      expect(run.stdout).toContain(
        GRANT_TYPES.map((g) => (DEFAULT_GRANT_TYPES.includes(g) ? `${g} (default)` : g)).join(', '),
      );
    });

    it('accepts exactly the registry types in --grant-types and refuses another with a usage error', async () => {
      const ok = await cli(
        runCli,
        ['application', 'create', '--name', 'All', '--grant-types', GRANT_TYPES.join(',')],
        {
          REDIS_URL: server.url,
        },
      );
      expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
      expect(JSON.parse(ok.stdout).grantTypes).toEqual([...GRANT_TYPES]);
      const bad = await cli(runCli, ['application', 'create', '--name', 'Bad', '--grant-types', UNKNOWN], {
        REDIS_URL: server.url,
      });
      expect(bad.code).toBe(EXIT_USAGE);
      expect(bad.stderr).toContain(
        `application create: unknown grant type "${UNKNOWN}" (expected ${GRANT_TYPES.join(', ')})`,
      );
    }, 30_000);
  });

  describe('one more line in the table', () => {
    const EXTRA = 'urn:example:params:oauth:grant-type:test';
    interface Loaded {
      readonly createTokenKit: typeof TokenKitModule.createTokenKit;
      readonly MemoryTokenStore: typeof MemoryStoreModule.MemoryTokenStore;
      readonly createOAuthRouter: typeof OAuthRouterModule.createOAuthRouter;
      readonly parseSeed: typeof SeedModule.parseSeed;
      readonly runCli: typeof CliModule.runCli;
    }
    let loaded: Loaded;

    beforeAll(() => {
      // The modules as they load with a registry that has one grant more: an extra grant that
      // issues client tokens, as a new module would.
      const extraGrant: OAuthGrant = {
        token: (context, req) =>
          clientCredentials(context, { clientId: req.clientId, clientSecret: req.clientSecret, ip: req.ip }),
      };
      jest.isolateModules(() => {
        jest.doMock('../../lib/core/grants/registry', () => {
          const actual = jest.requireActual<typeof RegistryModule>('../../lib/core/grants/registry');
          const types = Object.freeze([...actual.GRANT_TYPES, EXTRA]) as readonly RegistryModule.GrantType[];
          return {
            ...actual,
            GRANT_TYPES: types,
            isGrantType: (value: unknown) => value === EXTRA || actual.isGrantType(value),
            findGrant: (type: string | undefined) => (type === EXTRA ? extraGrant : actual.findGrant(type)),
            supportedGrantTypes: (context: never) => [...actual.supportedGrantTypes(context), EXTRA],
          };
        });
        /* eslint-disable @typescript-eslint/no-require-imports */
        loaded = {
          createTokenKit: (require('../../lib/core/token-kit') as typeof TokenKitModule).createTokenKit,
          MemoryTokenStore: (require('../../lib/stores/memory-token-store') as typeof MemoryStoreModule)
            .MemoryTokenStore,
          createOAuthRouter: (require('../../lib/routers/oauth-router') as typeof OAuthRouterModule)
            .createOAuthRouter,
          parseSeed: (require('../../lib/server/seed') as typeof SeedModule).parseSeed,
          runCli: (require('../../lib/server/cli') as typeof CliModule).runCli,
        };
        /* eslint-enable @typescript-eslint/no-require-imports */
      });
    });

    async function extendedKit(): Promise<TokenKit> {
      // The key set is plain data to the kit: the shared one of the specs does.
      const keys = await testKeySet();
      const { createTokenKit, MemoryTokenStore: Store } = loaded;
      return createTokenKit({ store: new Store(), keys, issuer: TEST_ISSUER }) as unknown as TokenKit;
    }

    it('is taken up by the metadata, the dispatch and the credential validation', async () => {
      const kit = await extendedKit();
      const client = await kit.credentials.createApplication({ name: 'Extra', grantTypes: [EXTRA] });
      expect(client.grantTypes).toEqual([EXTRA]);
      const meta = await metadataOf(kit, loaded.createOAuthRouter as typeof createOAuthRouter);
      expect(meta.body.grant_types_supported).toEqual([
        ...GRANT_TYPES.filter((g) => g !== 'password'),
        EXTRA,
      ]);
      const res = await request(express().use(loaded.createOAuthRouter({ kit: kit as never })))
        .post('/oauth/token')
        .set('Authorization', basic(client.clientId, client.clientSecret))
        .type('form')
        .send({ grant_type: EXTRA });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer' });
    });

    it('is taken up by the seed parser and the CLI', async () => {
      expect(seedWithGrants(loaded.parseSeed, [EXTRA]).applications[0]!.grantTypes).toEqual([EXTRA]);
      const help = await cli(loaded.runCli, ['application', 'create', '--help']);
      expect(help.stdout).toContain(`${GRANT_TYPES.at(-1)!}, ${EXTRA}.`);
      const bad = await cli(loaded.runCli, [
        'application',
        'create',
        '--name',
        'Bad',
        '--grant-types',
        UNKNOWN,
      ]);
      expect(bad.stderr).toContain(`(expected ${[...GRANT_TYPES, EXTRA].join(', ')})`);
    });
  });
});
