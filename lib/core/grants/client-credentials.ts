/**
 * The client credentials grant (RFC 6749 §4.4): an access token for the client itself.
 */
import type { ClientCredentialsInput, GrantResult } from './types';
import { assertGrantAllowed, authenticateClient, type GrantContext } from './context';
import type { OAuthGrant } from './oauth-grant';
import { grantResources } from '../resource-indicators';
import { issuanceClaims } from './claims';
import { grantScope } from './scope';
import { assertDpopRequired } from './dpop-binding';

/** client_credentials: an access token for the client itself; never a refresh token. */
export async function clientCredentials(
  context: GrantContext,
  input: Readonly<ClientCredentialsInput>,
): Promise<GrantResult> {
  const app =
    input.client ?? (await authenticateClient(context, input.clientId, input.clientSecret, input.ip));
  assertGrantAllowed(app, 'client_credentials', input.enforceGrantTypes);
  assertDpopRequired(app, input.dpopJkt);
  const scope = grantScope(input.scope, app.scopes);
  const audience = grantResources(app, input.resources);
  const claims = await issuanceClaims(context, context.format, {
    grantType: 'client_credentials',
    subject: app.clientId,
    clientId: app.clientId,
    scope,
    audience,
    boundEntity: null,
    application: app,
  });
  const accessToken = await context.tokens.issueAccessToken({
    subject: app.clientId,
    clientId: app.clientId,
    scope,
    format: context.format,
    ...(audience === undefined ? {} : { audience }),
    ...claims,
    ...(input.dpopJkt === undefined ? {} : { jkt: input.dpopJkt }),
  });
  return { accessToken, subject: app.clientId, scope, client: app };
}

/** The client credentials grant of createOAuthRouter's token endpoint. */
export const clientCredentialsGrant: OAuthGrant = {
  async token(context, request) {
    const result = await clientCredentials(context, {
      clientId: request.clientId,
      clientSecret: request.clientSecret,
      client: await request.authenticate(),
      scope: request.scope,
      resources: request.resources,
      enforceGrantTypes: true,
      ip: request.ip,
      dpopJkt: request.dpopJkt,
    });
    // RFC 6749 §4.4.3: no refresh token for client credentials.
    return { ...result, refreshToken: undefined };
  },
};
