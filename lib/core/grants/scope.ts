/**
 * The `scope` parameter of the OAuth grants (RFC 6749 §3.3): a space-separated list of
 * printable ASCII tokens without `"` or `\`.
 */
import { TokenError } from '../../errors';

/** The requested scopes, de-duplicated; `[]` when absent, null when malformed. */
export function parseScope(scope: unknown): string[] | null {
  if (scope === undefined || scope === null || scope === '') return [];
  if (
    typeof scope !== 'string' ||
    scope.length > 1024 ||
    !/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope)
  ) {
    return null;
  }
  return [...new Set(scope.split(' '))];
}

/** Narrows `requested` to `allowed`; throws `invalid_scope` when it asks for more. */
export function grantScope(requested: unknown, allowed: readonly string[]): string {
  const wanted = parseScope(requested);
  if (wanted === null) throw new TokenError('invalid_request', 'scope is malformed');
  if (wanted.some((s) => !allowed.includes(s))) throw new TokenError('invalid_scope');
  return wanted.join(' ');
}
