/**
 * The public records of credentials, without their secrets: what the credentials admin API and
 * the grants hand out. A leaf module: it imports nothing of the core.
 */

/** A stored API key, without its secret. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  /** The first characters of the key, for recognising it; never the key. */
  readonly hint: string;
  readonly createdAt: number;
}

/** An application (OAuth client) without its secret. */
export interface ApplicationInfo {
  readonly id: string;
  readonly name: string;
  readonly organization: string;
  readonly clientId: string;
  readonly applicationTypes: readonly string[];
  /** Grants createOAuthRouter lets this client use. */
  readonly grantTypes: readonly string[];
  /** Scopes the client may request; empty means no scopes. */
  readonly scopes: readonly string[];
  /**
   * Resources (RFC 8707 absolute URIs) the client may request as the token's audience with the
   * `resource` parameter; absent when it may request none.
   */
  readonly resources?: readonly string[];
  /**
   * `'any'` when the application may introspect every application's access tokens at
   * `/oauth/introspect` (a resource server, which obtains no tokens itself); absent for `'own'`,
   * only its own tokens. See docs/router-d-oauth.md ("Introspection by resource servers").
   */
  readonly introspection?: 'own' | 'any';
  /**
   * How the client authenticates at `createOAuthRouter`'s token, revocation and introspection
   * endpoints (RFC 7591 §2); absent for the default, `client_secret_basic` or `client_secret_post`.
   * See docs/client-auth.md.
   */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** The client's public keys for `private_key_jwt` (RFC 7591 §2 `jwks`); never with `jwksUri`. */
  readonly jwks?: PublicJwkSet;
  /** Where the client publishes its public keys for `private_key_jwt` (RFC 7591 §2 `jwks_uri`). */
  readonly jwksUri?: string;
  /**
   * True when every token request of the application must carry a DPoP proof, so that all its
   * access tokens are DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`). Absent when false.
   */
  readonly dpopBoundAccessTokens?: boolean;
  readonly createdAt: number;
}

/**
 * A client authentication method (RFC 7591 §2 `token_endpoint_auth_method`): the secret in HTTP
 * Basic or in the body (RFC 6749 §2.3.1), or a JWT assertion MACed with the secret or signed with
 * the client's private key (RFC 7523 §2.2).
 */
export type TokenEndpointAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt';

/** A JWK Set of public keys (RFC 7517 §5): members as in RFC 7518 §6, never private ones. */
export interface PublicJwkSet {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/** A provider (createProviderRouter) without its API keys. */
export interface ProviderInfo {
  readonly id: string;
  /** Custom domain used as issuer (`https://<domain>`), or null. */
  readonly domain: string | null;
  readonly createdAt: number;
}

/** A provider's client (createProviderRouter). */
export interface ProviderClientInfo {
  readonly id: string;
  readonly providerId: string;
  readonly audience: string;
  readonly createdAt: number;
}
