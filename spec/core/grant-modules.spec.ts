/**
 * The OAuth grant modules of the registry (lib/core/grants/*.ts), called as router D calls them:
 * a parsed token-endpoint request, the kit's grant context. On the memory store and a real Redis.
 */
import { TokenError } from '../../lib/errors';
import type { ApplicationInfo } from '../../lib/core/credentials';
import type { TokenKit } from '../../lib/core/token-kit';
import { grantContext, type GrantContext } from '../../lib/core/grants/context';
import type { TokenEndpointRequest } from '../../lib/core/grants/oauth-grant';
import { clientCredentialsGrant } from '../../lib/core/grants/client-credentials';
import { passwordGrant } from '../../lib/core/grants/password';
import { refreshTokenGrant } from '../../lib/core/grants/refresh-token';
import { createClock, makeKit, storeFactories, type StoreHarness } from '../helpers/kit';
import { codeOf, USER, verifyUser } from '../helpers/oauth';

interface Client {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A token-endpoint request of `client` with `params`; counts the client authentications. */
function tokenRequest(
  kit: TokenKit,
  client: Client,
  params: Record<string, string> = {},
): TokenEndpointRequest & { authentications: () => number } {
  let authentications = 0;
  return {
    param: (name) => (params[name] === '' ? undefined : params[name]),
    scope: params.scope,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    ip: '192.0.2.1',
    authenticate: (): Promise<ApplicationInfo> => {
      authentications++;
      return kit.grants.authenticateClient(client.clientId, client.clientSecret);
    },
    authentications: () => authentications,
  };
}

describe.each(storeFactories)('the grant modules on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let kit: TokenKit;
  let context: GrantContext;
  let all: Client;
  let ccOnly: Client;

  beforeAll(async () => {
    stores = await factory('grant-modules');
  });
  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    const clock = createClock();
    ({ kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock, verifyUser }));
    context = grantContext(kit.grants);
    all = await kit.credentials.createApplication({
      name: 'All',
      grantTypes: ['client_credentials', 'password', 'refresh_token'],
      scopes: ['read', 'write'],
    });
    ccOnly = await kit.credentials.createApplication({ name: 'CcOnly', scopes: ['read'] });
  });

  describe('client_credentials', () => {
    it('issues a token to the client itself and never a refresh token (RFC 6749 §4.4.3)', async () => {
      const result = await clientCredentialsGrant.token(context, tokenRequest(kit, all, { scope: 'read' }));
      expect(result).toMatchObject({ subject: all.clientId, scope: 'read', refreshToken: undefined });
      expect((await kit.tokens.verifyAccessToken(result.accessToken.token)).clientId).toBe(all.clientId);
    });

    it('authenticates the client itself and enforces its grant types', async () => {
      expect(
        await codeOf(clientCredentialsGrant.token(context, tokenRequest(kit, { ...all, clientSecret: 'x' }))),
      ).toBe('invalid_client');
      const userOnly = await kit.credentials.createApplication({ name: 'U', grantTypes: ['password'] });
      expect(await codeOf(clientCredentialsGrant.token(context, tokenRequest(kit, userOnly)))).toBe(
        'unauthorized_client',
      );
    });

    it('is always offered and names no user', () => {
      expect(clientCredentialsGrant.enabled).toBeUndefined();
      expect(clientCredentialsGrant.user).toBeUndefined();
      expect(clientCredentialsGrant.ownsFailures).toBeUndefined();
    });
  });

  describe('password', () => {
    it('authenticates the client, verifies the user and starts a refresh family', async () => {
      const req = tokenRequest(kit, all, { username: USER.username, password: USER.password });
      const result = await passwordGrant.token(context, req);
      expect(req.authentications()).toBe(1);
      expect(result.subject).toBe(USER.sub);
      expect(result.refreshToken).toEqual(expect.any(String));
    });

    it('refuses a wrong password with invalid_grant and a client without the grant with unauthorized_client', async () => {
      expect(
        await codeOf(
          passwordGrant.token(context, tokenRequest(kit, all, { username: USER.username, password: 'no' })),
        ),
      ).toBe('invalid_grant');
      expect(
        await codeOf(
          passwordGrant.token(
            context,
            tokenRequest(kit, ccOnly, { username: USER.username, password: USER.password }),
          ),
        ),
      ).toBe('unauthorized_client');
    });

    it('is offered only with a user verifier, and names the user for the rate limits', async () => {
      expect(passwordGrant.enabled?.(context)).toBe(true);
      const { kit: bare } = await makeKit({ store: (await stores.create()).store });
      expect(passwordGrant.enabled?.(grantContext(bare.grants))).toBe(false);
      expect(passwordGrant.user?.(tokenRequest(kit, all, { username: 'carmen' }))).toBe('carmen');
      expect(passwordGrant.ownsFailures).toBeUndefined();
    });
  });

  describe('refresh_token', () => {
    it('rotates the refresh token of the authenticated client', async () => {
      const first = await passwordGrant.token(
        context,
        tokenRequest(kit, all, { username: USER.username, password: USER.password }),
      );
      const req = tokenRequest(kit, all, { refresh_token: first.refreshToken! });
      const next = await refreshTokenGrant.token(context, req);
      expect(req.authentications()).toBe(1);
      expect(next.subject).toBe(USER.sub);
      expect(next.refreshToken).not.toBe(first.refreshToken);
    });

    it('asks for refresh_token before authenticating the client', async () => {
      const req = tokenRequest(kit, all);
      await expect(refreshTokenGrant.token(context, req)).rejects.toThrow(
        new TokenError('invalid_request', 'refresh_token is required'),
      );
      expect(req.authentications()).toBe(0);
    });

    it('owns its invalid_grant failures (they are about the refresh token, not the client)', () => {
      expect(refreshTokenGrant.ownsFailures).toBe(true);
      expect(refreshTokenGrant.user).toBeUndefined();
    });
  });
});
