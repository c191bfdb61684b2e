/**
 * The one table of the OAuth grant types. It drives createOAuthRouter's token endpoint (dispatch) and its
 * metadata (`grant_types_supported`, RFC 8414 §2), and the validation of an application's
 * `grantTypes` everywhere: `CredentialService`, the seed file and the CLI's `--grant-types`.
 *
 * Adding a grant type:
 * 1. a module `lib/core/grants/<name>.ts` with the grant's logic (a function of a
 *    {@link GrantContext} and its input) and an {@link OAuthGrant}: `token` runs a parsed token
 *    request (read parameters with `request.param`, authenticate with `request.authenticate()`),
 *    `enabled` when the grant depends on a kit option, `user`/`ownsFailures` for the rate limits;
 * 2. its spec, `spec/core/grant-modules.spec.ts` style (memory store and Redis);
 * 3. one line in {@link GRANTS}: `'<grant_type value>': <theGrant>,`.
 * createOAuthRouter, its metadata, `CredentialService`, the seed file and the CLI then accept it.
 */
import { clientCredentialsGrant } from './client-credentials';
import type { GrantContext } from './context';
import type { OAuthGrant } from './oauth-grant';
import { passwordGrant } from './password';
import { refreshTokenGrant } from './refresh-token';
import { tokenExchangeGrant } from './token-exchange';

/** The OAuth grants by their `grant_type` value (RFC 6749 §4–§6, RFC 8693), in the order they are listed. */
const GRANTS = {
  client_credentials: clientCredentialsGrant,
  password: passwordGrant,
  refresh_token: refreshTokenGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
} as const satisfies Readonly<Record<string, OAuthGrant>>;

/** A `grant_type` of the registry. */
export type GrantType = keyof typeof GRANTS;

/** Every grant type of the registry, in its order. */
export const GRANT_TYPES: readonly GrantType[] = Object.freeze(Object.keys(GRANTS) as GrantType[]);

/** The grant types an application gets when it names none. */
export const DEFAULT_GRANT_TYPES: readonly GrantType[] = Object.freeze(['client_credentials'] as const);

const BY_TYPE: ReadonlyMap<string, OAuthGrant> = new Map(Object.entries(GRANTS));

/** True when `value` is a grant type of the registry (never a prototype key such as `constructor`). */
export function isGrantType(value: unknown): value is GrantType {
  return typeof value === 'string' && BY_TYPE.has(value);
}

/** The grant of a `grant_type` value; undefined when it is not in the registry. */
export function findGrant(grantType: string | undefined): OAuthGrant | undefined {
  return grantType === undefined ? undefined : BY_TYPE.get(grantType);
}

/** The grant types a kit offers, in registry order (createOAuthRouter's `grant_types_supported`). */
export function supportedGrantTypes(context: GrantContext): GrantType[] {
  return GRANT_TYPES.filter((type) => BY_TYPE.get(type)!.enabled?.(context) ?? true);
}
