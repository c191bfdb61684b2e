/**
 * The refresh token grant (RFC 6749 §6): rotates the refresh token and issues a new access token
 * from its family.
 */
import { TokenError } from '../../errors';
import type { RefreshFamily } from '../../stores/token-store';
import type { ApplicationInfo } from '../credential-types';
import type { GrantResult, RefreshGrantInput } from './types';
import type { TokenOwner, TokenService } from '../token-service';
import { assertGrantAllowed, type GrantContext } from './context';
import type { OAuthGrant } from './oauth-grant';
import { refreshResources } from '../resource-indicators';
import { issuanceClaims } from './claims';
import { parseScope } from './scope';
import { assertDpopKey, assertDpopRequired } from './dpop-binding';

/**
 * refresh_token: rotates the refresh token and issues a new access token from its family.
 *
 * Every check runs before anything is consumed (RFC 6749 §6): the client's grant types, the
 * scope's syntax, then — against the family, read without consuming it — the family's
 * application (or client) and subject, and scope narrowing. A refused refresh leaves the refresh
 * token current and its family alive. The new access token is issued to the application's
 * current client id, so after a credential rotation users' sessions carry the new one.
 */
export async function refresh(
  context: GrantContext,
  input: Readonly<RefreshGrantInput>,
): Promise<GrantResult> {
  if (typeof input.refreshToken !== 'string' || input.refreshToken === '') {
    throw new TokenError('invalid_request', 'refresh_token is required');
  }
  if (input.client !== undefined) assertGrantAllowed(input.client, 'refresh_token', input.enforceGrantTypes);
  const wanted = parseScope(input.scope);
  if (wanted === null) throw new TokenError('invalid_request', 'scope is malformed');
  const callerClientId = input.client?.clientId ?? input.clientId;
  // What the checks decide, for the access token issued once the rotation succeeded.
  const decided: {
    scope: string;
    client: ApplicationInfo | null;
    audience: string[] | undefined;
    claims: { claims?: Record<string, unknown> };
  } = { scope: '', client: null, audience: undefined, claims: {} };
  const check = async (family: RefreshFamily): Promise<void> => {
    assertDpopKey(family, input.dpopJkt);
    const owner = ownerOf(family);
    if (input.client !== undefined) {
      if (!(await context.credentials.applicationOwns(input.client, owner)))
        throw new TokenError('invalid_grant', undefined, { cause: 'mismatch' });
      decided.client = input.client;
    } else {
      const client =
        family.applicationId === undefined ? null : await context.credentials.findApplicationOf(owner);
      decided.client = client;
      // An application-issued family whose application is gone is dead.
      if (client === null && family.applicationId !== undefined)
        throw new TokenError('invalid_grant', undefined, { cause: 'no_application' });
      if (
        input.clientId !== undefined &&
        input.clientId !== family.clientId &&
        client?.clientId !== input.clientId
      )
        throw new TokenError('invalid_grant', undefined, { cause: 'mismatch' });
    }
    assertDpopRequired(decided.client, input.dpopJkt);
    const familyScopes = family.scope ? family.scope.split(' ') : [];
    if (wanted.some((s) => !familyScopes.includes(s))) throw new TokenError('invalid_scope');
    decided.scope = wanted.length > 0 ? wanted.join(' ') : family.scope;
    decided.audience = refreshResources(family, decided.client, input.resources);
    // Last, still before the rotation: a failing claims hook consumes nothing.
    decided.claims = await issuanceClaims(context, context.format, {
      grantType: 'refresh_token',
      subject: family.sub,
      clientId: decided.client?.clientId ?? family.clientId,
      scope: decided.scope,
      audience: decided.audience,
      boundEntity: family.boundEntity,
      application: decided.client,
      familyId: family.familyId,
    });
  };
  let rotated: Awaited<ReturnType<TokenService['refresh']>>;
  try {
    rotated = await context.tokens.refresh(input.refreshToken, {
      ...(input.subject === undefined ? {} : { subject: input.subject }),
      check,
    });
  } catch (err) {
    if (err instanceof TokenError && err.code === 'invalid_grant') {
      context.tokens.emit({
        type: 'auth_failed',
        ...(callerClientId === undefined ? {} : { clientId: callerClientId }),
        ...(input.ip === undefined ? {} : { ip: input.ip }),
        reason: 'refresh_token',
      });
    }
    throw err;
  }
  const { refreshToken, family } = rotated;
  const { scope, client: issuedTo, audience, claims } = decided;
  const accessToken = await context.tokens.issueAccessToken({
    subject: family.sub,
    clientId: issuedTo?.clientId ?? family.clientId,
    scope,
    boundEntity: family.boundEntity,
    familyId: family.familyId,
    format: context.format,
    ...(audience === undefined ? {} : { audience }),
    ...claims,
    ...(input.dpopJkt === undefined ? {} : { jkt: input.dpopJkt }),
  });
  return { accessToken, refreshToken, subject: family.sub, scope, client: issuedTo };
}

/** Who a refresh family belongs to: its client id and, when issued to an application, its stable id. */
function ownerOf(family: RefreshFamily): TokenOwner {
  return family.applicationId === undefined
    ? { clientId: family.clientId }
    : { clientId: family.clientId, applicationId: family.applicationId };
}

/** The refresh token grant of createOAuthRouter's token endpoint. */
export const refreshTokenGrant: OAuthGrant = {
  // A refresh grant's invalid_grant is about the refresh token, not the client.
  ownsFailures: true,
  async token(context, request) {
    const refreshToken = request.param('refresh_token');
    if (refreshToken === undefined) throw new TokenError('invalid_request', 'refresh_token is required');
    const client = await request.authenticate();
    // An application's grantTypes limit createOAuthRouter, refresh included; like every other check,
    // before the refresh token is consumed (RFC 6749 §6). A family issued before a credential
    // rotation belongs to the application and refreshes with its new credentials.
    return refresh(context, {
      refreshToken,
      client,
      scope: request.scope,
      resources: request.resources,
      enforceGrantTypes: true,
      ip: request.ip,
      dpopJkt: request.dpopJkt,
    });
  },
};
