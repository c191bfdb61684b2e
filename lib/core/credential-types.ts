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
   * True when every token request of the application must carry a DPoP proof, so that all its
   * access tokens are DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`). Absent when false.
   */
  readonly dpopBoundAccessTokens?: boolean;
  readonly createdAt: number;
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
