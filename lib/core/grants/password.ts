/**
 * The resource owner password credentials grant (RFC 6749 §4.3), on when the kit has a
 * `verifyUser`: access, refresh and ID tokens for a user the application's verifier accepts.
 */
import { serviceUnavailable, TokenError } from '../../errors';
import type { GrantResult, PasswordGrantInput, VerifiedUser } from './types';
import { assertGrantAllowed, type GrantContext } from './context';
import type { OAuthGrant } from './oauth-grant';
import { grantResources, resourcesData } from '../resource-indicators';
import { issuanceClaims } from './claims';
import { grantScope } from './scope';
import { assertDpopRequired, dpopFamilyBinding } from './dpop-binding';

const MAX_PASSWORD_LENGTH = 1024;

/** password: access, refresh and ID tokens for a user the application's verifier accepts. */
export async function password(
  context: GrantContext,
  input: Readonly<PasswordGrantInput>,
): Promise<GrantResult> {
  const verifyUser = context.verifyUser;
  if (!verifyUser) throw new TokenError('unsupported_grant_type');
  const { username, password: secret, client } = input;
  if (typeof username !== 'string' || typeof secret !== 'string' || username === '' || secret === '') {
    throw new TokenError('invalid_request', 'username and password are required');
  }
  if (username.length > 256 || Buffer.byteLength(secret) > MAX_PASSWORD_LENGTH)
    throw new TokenError('invalid_grant');
  assertGrantAllowed(client, 'password', input.enforceGrantTypes);
  assertDpopRequired(client, input.dpopJkt);
  const scope = grantScope(input.scope, client.scopes ?? []);
  const audience = grantResources('grantTypes' in client ? client : null, input.resources);
  let user: VerifiedUser | null;
  try {
    user = await verifyUser(username, secret);
  } catch (err) {
    throw serviceUnavailable(err);
  }
  if (user === null || typeof user.sub !== 'string' || user.sub === '') {
    context.tokens.emit({
      type: 'auth_failed',
      clientId: client.clientId,
      ...(input.ip === undefined ? {} : { ip: input.ip }),
      reason: 'password',
    });
    throw new TokenError('invalid_grant');
  }
  const boundEntity = user.boundEntity ?? null;
  // Before anything is written: a failing claims hook leaves no refresh family behind.
  const claims = await issuanceClaims(context, context.format, {
    grantType: 'password',
    subject: user.sub,
    clientId: client.clientId,
    scope,
    audience,
    boundEntity,
    application: client,
  });
  const data = resourcesData(audience);
  const { refreshToken, family } = await context.tokens.startRefreshFamily({
    subject: user.sub,
    clientId: client.clientId,
    scope,
    boundEntity,
    ...(data === undefined ? {} : { data }),
    // The family belongs to the application's stable id, so it survives a credential rotation.
    ...('grantTypes' in client && 'id' in client ? { applicationId: client.id } : {}),
    ...dpopFamilyBinding(context, client, input.dpopJkt),
  });
  const accessToken = await context.tokens.issueAccessToken({
    subject: user.sub,
    clientId: client.clientId,
    scope,
    boundEntity,
    familyId: family.familyId,
    format: context.format,
    ...(audience === undefined ? {} : { audience }),
    ...claims,
    ...(input.dpopJkt === undefined ? {} : { jkt: input.dpopJkt }),
  });
  const idToken = await context.tokens.signIdTokenAsync(user.sub, client.clientId);
  return {
    accessToken,
    refreshToken,
    idToken,
    subject: user.sub,
    scope,
    client: 'grantTypes' in client ? client : null,
  };
}

/** The password grant of createOAuthRouter's token endpoint, offered only with a `verifyUser`. */
export const passwordGrant: OAuthGrant = {
  enabled: (context) => context.verifyUser !== undefined,
  user: (request) => request.param('username'),
  async token(context, request) {
    const username = request.param('username');
    const secret = request.param('password');
    const client = await request.authenticate();
    return password(context, {
      username,
      password: secret,
      client,
      scope: request.scope,
      resources: request.resources,
      enforceGrantTypes: true,
      ip: request.ip,
      dpopJkt: request.dpopJkt,
    });
  },
};
