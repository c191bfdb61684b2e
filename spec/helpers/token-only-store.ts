/**
 * A token store of one's own that implements TokenStore and nothing else: a real store seen
 * through an object that has the TokenStore methods and no credential method (not a fake: every
 * call reaches the real store).
 */
import type { TokenStore } from '../../lib/stores/token-store';

/** The methods of the TokenStore contract. */
export const TOKEN_STORE_METHODS = [
  'saveAccessToken',
  'lookupAccessToken',
  'checkRevocation',
  'revokeJti',
  'revokeFamily',
  'setCutoff',
  'createRefreshFamily',
  'rotateRefreshToken',
  'inspectRefreshToken',
  'markUsed',
  'close',
] as const satisfies readonly (keyof Required<TokenStore>)[];

/** `inner` with only its TokenStore methods. */
export function tokenOnlyStore(inner: TokenStore): TokenStore {
  const out: Record<string, unknown> = {};
  for (const m of TOKEN_STORE_METHODS) out[m] = (inner[m] as (...a: unknown[]) => unknown).bind(inner);
  return Object.freeze(out) as unknown as TokenStore;
}
