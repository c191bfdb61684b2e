/**
 * The grants' step that asks the kit's claims hooks for the custom claims of a JWT access token,
 * before the grant writes anything.
 */
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
  return claims === undefined ? {} : { claims };
}
