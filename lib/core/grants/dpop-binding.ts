/**
 * DPoP at the grants (RFC 9449 §5): which refresh families are bound to the proof's key, and the
 * refresh-time check that the same key is proved.
 */
import { TokenError } from '../../errors';
import type { RefreshFamily } from '../../stores/token-store';
import type { GrantContext } from './context';

/**
 * The `jkt` a new refresh family is bound to: the proof's key, for a public client (a configured
 * client id, no application: RFC 9449 §5 requires it) and — unless the kit's
 * `dpop.bindConfidentialRefreshTokens` is false — for a confidential one too.
 */
export function dpopFamilyBinding(
  context: GrantContext,
  client: object,
  jkt: string | undefined,
): { jkt?: string } {
  if (jkt === undefined) return {};
  const confidential = 'grantTypes' in client;
  return !confidential || context.tokens.dpop.bindConfidentialRefreshTokens ? { jkt } : {};
}

/**
 * Refuses a refresh of a DPoP-bound family without a proof of its key (`invalid_grant`), before
 * anything is consumed. An unbound family refreshes with or without a proof; its new access token
 * is then bound to the proof's key, if any.
 */
export function assertDpopKey(family: RefreshFamily, jkt: string | undefined): void {
  if (family.jkt !== undefined && family.jkt !== jkt) {
    throw new TokenError('invalid_grant', undefined, { cause: 'dpop_key' });
  }
}

/**
 * Refuses a token request without a DPoP proof from an application with `dpopBoundAccessTokens`
 * (RFC 9449 §5.2): 400 `invalid_dpop_proof`, before anything is issued or consumed.
 */
export function assertDpopRequired(client: object | null, jkt: string | undefined): void {
  if (jkt !== undefined || client === null || !('dpopBoundAccessTokens' in client)) return;
  if (client.dpopBoundAccessTokens === true) {
    throw new TokenError('invalid_dpop_proof', 'This client must send a DPoP proof');
  }
}
