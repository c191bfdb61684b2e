/**
 * The shape of one OAuth grant of the registry: how createOAuthRouter's token endpoint runs it
 * (RFC 6749 §4–§6), whether it is offered, and what its requests name for the rate limits.
 */
import type { ApplicationInfo } from '../credential-types';
import type { GrantResult } from './types';
import type { GrantContext } from './context';

/** One token-endpoint request, as createOAuthRouter has parsed it (RFC 6749 §3.2). */
export interface TokenEndpointRequest {
  /** A string parameter of the body: undefined when absent or empty, `invalid_request` when not a string. */
  readonly param: (name: string) => string | undefined;
  /** The `scope` parameter (RFC 6749 §3.3), read before the grant runs. */
  readonly scope: string | undefined;
  /** The `resource` parameters (RFC 8707 §2), parsed and de-duplicated; none when absent. */
  readonly resources?: readonly string[];
  /** The client id the request presented (HTTP Basic or body), not yet authenticated. */
  readonly clientId: string | undefined;
  /** The client secret the request presented, if any. */
  readonly clientSecret: string | undefined;
  /** Authenticates the presented client or throws `invalid_client` (RFC 6749 §2.3.1). */
  readonly authenticate: () => Promise<ApplicationInfo>;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip: string | undefined;
  /** The thumbprint of the request's verified DPoP proof (RFC 9449 §5), if it sent one. */
  readonly dpopJkt?: string | undefined;
}

/** One grant type of createOAuthRouter's token endpoint. */
export interface OAuthGrant {
  /** Whether the grant is offered (in `grant_types_supported`); @default always. */
  readonly enabled?: (context: GrantContext) => boolean;
  /**
   * True when the grant's `invalid_grant` is about a credential of its own (a refresh token) rather
   * than the client: a failure then counts against the client only when client authentication fails.
   */
  readonly ownsFailures?: boolean;
  /** The user a request names, which gets a failure budget of its own (the password grant's username). */
  readonly user?: (request: Pick<TokenEndpointRequest, 'param'>) => string | undefined;
  /** Runs a token-endpoint request of this grant; the router formats the result (RFC 6749 §5.1). */
  readonly token: (context: GrantContext, request: TokenEndpointRequest) => Promise<GrantResult>;
}
