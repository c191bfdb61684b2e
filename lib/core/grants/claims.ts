/**
 * The grants' step that asks the kit's claims hooks for the custom claims of a JWT access token,
 * before the grant writes anything.
 */
import { serviceUnavailable, TokenError } from '../../errors';
import { MAX_TOKEN_LENGTH } from '../../defaults';
import type { AccessTokenFormat } from '../../types';
import type { ApplicationInfo } from '../credential-types';
import { runClaimsHooks, type ClaimsContext } from '../custom-claims';
import { splitScope } from '../token/auth-info';
import type { GrantContext } from './context';

/** What a grant knows of the token it is about to issue. */
export type IssuanceFacts = Omit<ClaimsContext, 'scopes' | 'audience' | 'application'> & {
  /** Space-separated scopes. */
  readonly scope: string;
  /** The requested resources; undefined means the kit's audience. */
  readonly audience: readonly string[] | undefined;
  /** The application, or a configured public client (not an application), or none. */
  readonly application: ApplicationInfo | { readonly clientId: string } | null;
};

/**
 * The `claims` field of `issueAccessToken` for a token of `format`: the hooks' checked claims, or
 * nothing for an opaque token or when the kit has no hook. Throws 503 `service_unavailable` when
 * a hook fails (see `ClaimsHook`).
 */
export async function issuanceClaims(
  context: GrantContext,
  format: AccessTokenFormat,
  facts: IssuanceFacts,
): Promise<{ claims?: Record<string, unknown> }> {
  if (format !== 'jwt') return {};
  const { scope, audience, application, ...rest } = facts;
  if (audience !== undefined && estimatedJwtLength(context, facts, undefined) > MAX_TOKEN_LENGTH) {
    throw new TokenError('invalid_target', 'The requested resources make the access token too long');
  }
  const claims = await runClaimsHooks(
    context.claims,
    {
      ...rest,
      scopes: splitScope(scope),
      audience: audience === undefined ? [...context.tokens.audiences] : [...audience],
      application: application !== null && 'grantTypes' in application ? application : null,
    },
    (event) => context.tokens.emit(event),
  );
  if (claims !== undefined && estimatedJwtLength(context, facts, claims) > MAX_TOKEN_LENGTH) {
    context.tokens.emit({
      type: 'claims_refused',
      clientId: facts.clientId,
      subject: facts.subject,
      reason: `${facts.grantType}:too_large`,
    });
    throw serviceUnavailable(
      new RangeError('claims hook: the access token would be too long with these claims'),
    );
  }
  return claims === undefined ? {} : { claims };
}

/**
 * Room for the JWT header (alg, typ, kid), the longest signature (RSA 4096: 683 characters) and
 * a DPoP `cnf.jkt` binding (RFC 9449 §6: 80 characters encoded).
 */
const HEADER_AND_SIGNATURE = 1000;

/**
 * An upper bound of the access token's length, so that a token verifiers would refuse is refused
 * before anything is written (a refresh family started, a refresh token consumed).
 */
function estimatedJwtLength(
  context: GrantContext,
  facts: IssuanceFacts,
  claims: Record<string, unknown> | undefined,
): number {
  const payload = JSON.stringify({
    ...claims,
    iss: context.tokens.issuer,
    sub: facts.subject,
    aud: facts.audience ?? context.tokens.audiences,
    exp: 9_999_999_999,
    iat: 9_999_999_999,
    jti: '00000000-0000-7000-8000-000000000000',
    client_id: facts.clientId,
    scope: facts.scope,
    bound_entity: facts.boundEntity,
    sid: facts.familyId ?? 'f'.repeat(64),
  });
  return Math.ceil((Buffer.byteLength(payload) * 4) / 3) + HEADER_AND_SIGNATURE;
}
