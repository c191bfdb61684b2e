/**
 * RFC 8707 resource indicators and RFC 9728 metadata against panva's oauth4webapi, in process: a
 * client asks createOAuthRouter for a token for one resource (`resource` parameter), and that
 * resource server validates it as an RFC 9068 JWT for its own audience after discovering its
 * authorization server from createProtectedResourceRouter's document.
 */
import express, { type Express } from 'express';
import type * as OAuth from 'oauth4webapi';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createProtectedResourceRouter } from '../../lib/routers/protected-resource-router';
import type { TokenKit } from '../../lib/core/token-kit';
import { makeKit, storeFactories, TEST_ISSUER, type StoreHarness } from '../helpers/kit';
import { loadEsm } from '../helpers/load-esm';
import { fetchInto } from '../helpers/oauth';

const oauth = loadEsm<typeof OAuth>('oauth4webapi');
const ORDERS = 'https://orders.example.test/api';

describe.each(storeFactories)('resource indicators with oauth4webapi on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let kit: TokenKit;
  let issuerApp: Express;
  let resourceApp: Express;
  let client: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    stores = await factory('resource-interop');
  });
  afterAll(() => stores.cleanup());

  beforeEach(async () => {
    ({ kit } = await makeKit({ store: (await stores.create()).store }));
    client = await kit.credentials.createApplication({ name: 'Orders client', resources: [ORDERS] });
    issuerApp = express();
    issuerApp.use(createOAuthRouter({ kit }));
    resourceApp = express();
    resourceApp.use(createProtectedResourceRouter({ resource: ORDERS, authorizationServers: [TEST_ISSUER] }));
  });

  it('issues a token for the resource that the resource server validates for its own audience only', async () => {
    const toResource = { [oauth.customFetch]: fetchInto(resourceApp) };
    const toIssuer = { [oauth.customFetch]: fetchInto(issuerApp) };
    // The client starts from the resource: RFC 9728 discovery names the authorization server.
    const rs = await oauth.processResourceDiscoveryResponse(
      new URL(ORDERS),
      await oauth.resourceDiscoveryRequest(new URL(ORDERS), toResource),
    );
    const issuer = new URL(rs.authorization_servers![0]!);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...toIssuer }),
    );
    const oauthClient: OAuth.Client = { client_id: client.clientId };
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      oauthClient,
      oauth.ClientSecretBasic(client.clientSecret),
      new URLSearchParams({ resource: rs.resource }),
      toIssuer,
    );
    const tokens = await oauth.processClientCredentialsResponse(as, oauthClient, response);

    const call = (): Request =>
      new Request(`${ORDERS}/orders`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    const claims = await oauth.validateJwtAccessToken(as, call(), ORDERS, toIssuer);
    expect(claims).toMatchObject({ aud: ORDERS, client_id: client.clientId, iss: TEST_ISSUER });
    // The same token is not one for the issuer's default audience (or any other resource).
    await expect(oauth.validateJwtAccessToken(as, call(), TEST_ISSUER, toIssuer)).rejects.toThrow(/aud/);
  });

  it('gives oauth4webapi an RFC 6749 §5.2 invalid_target for a resource outside the allow-list', async () => {
    const toIssuer = { [oauth.customFetch]: fetchInto(issuerApp) };
    const issuer = new URL(TEST_ISSUER);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...toIssuer }),
    );
    const oauthClient: OAuth.Client = { client_id: client.clientId };
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      oauthClient,
      oauth.ClientSecretBasic(client.clientSecret),
      new URLSearchParams({ resource: 'https://billing.example.test/' }),
      toIssuer,
    );
    await expect(oauth.processClientCredentialsResponse(as, oauthClient, response)).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });
});
