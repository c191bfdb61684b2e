/**
 * The public types of the grants: inputs, results, the user verifier and the binding authorizer.
 * Grant modules import them from here, never from the `GrantService` facade.
 */
import type { AccessTokenFormat, AuthInfo, BoundEntity } from '../../types';
import type { ApiKeyInfo, ApplicationInfo } from '../credential-types';
import type { ClaimsHookOptions } from '../custom-claims';
import type { ClientAssertionInput } from '../client-assertion';
import type { IssuedAccessToken } from '../token-service';

/** What a user verifier answers for good credentials. */
export interface VerifiedUser {
  /** The user's subject identifier. */
  readonly sub: string;
  /** Optional binding of the user's tokens. */
  readonly boundEntity?: BoundEntity | null;
}

/**
 * Application-supplied password check for the password grant. Resolve null for any failure
 * (unknown user, wrong password, locked account) and take comparable time in each case.
 */
export type UserVerifier = (username: string, password: string) => Promise<VerifiedUser | null>;

/**
 * Application-supplied check at issuance: may this API key bind tokens to this entity? Resolve
 * true to allow. Throwing answers 503, never a pass.
 */
export type BindingAuthorizer = (apiKey: ApiKeyInfo, entity: BoundEntity) => boolean | Promise<boolean>;

/**
 * The policy of token exchange (RFC 8693, grant type
 * `urn:ietf:params:oauth:grant-type:token-exchange`; docs/token-exchange.md). Every callback may
 * be async; one that throws answers 503, never a pass. Without any of them, a client may exchange
 * the tokens issued to it or naming it in their `aud`, narrowing scope, audience and lifetime, and
 * keep the subject token's binding, never change it.
 */
export interface TokenExchangeOptions {
  /**
   * Does the employee `employeeId` belong to the employer `employerId`? Lets an employer-bound
   * subject token be exchanged for a token bound to one of its employees (the default binding
   * profile's name for {@link TokenExchangeOptions.belongsTo}; give one or the other). @default none
   */
  readonly employerOf?: (employerId: string, employeeId: string) => boolean | Promise<boolean>;
  /**
   * Does `targetId` (of type `types.target`) belong to `ancestorId` (of type `types.ancestor`, an
   * ancestor type in the kit's binding profile)? Lets a subject token bound to the ancestor be
   * exchanged for a token bound to the target. @default none
   */
  readonly belongsTo?: (
    ancestorId: string,
    targetId: string,
    types: { readonly ancestor: string; readonly target: string },
  ) => boolean | Promise<boolean>;
  /**
   * May an UNBOUND subject token be exchanged for a token bound to `entity`? (A bound token can
   * reach a route that refuses unbound ones, so binding one is not always a narrowing.)
   * @default none: an unbound subject token stays unbound
   */
  readonly authorizeBinding?: (
    entity: BoundEntity,
    subject: AuthInfo,
    client: ApplicationInfo,
  ) => boolean | Promise<boolean>;
  /**
   * May `client` exchange (or act with) a token that was not issued to it and does not name it in
   * its `aud`? Asked only then (a trusted gateway, say). @default none: never
   */
  readonly mayExchange?: (token: AuthInfo, client: ApplicationInfo) => boolean | Promise<boolean>;
}

/** Options of {@link GrantService}. */
export interface GrantServiceOptions extends ClaimsHookOptions {
  /** Enables the password grant; without it the grant answers `unsupported_grant_type`. */
  readonly verifyUser?: UserVerifier;
  /** Format of access tokens from client credentials, password, refresh and token-exchange grants; @default `jwt`. */
  readonly accessTokenFormat?: AccessTokenFormat;
  /** The policy of token exchange (RFC 8693); @default `{}` (see {@link TokenExchangeOptions}). */
  readonly tokenExchange?: TokenExchangeOptions;
}

/** Result of a grant that returns an access token and maybe a refresh token. */
export interface GrantResult {
  readonly accessToken: IssuedAccessToken;
  readonly refreshToken?: string;
  readonly idToken?: string;
  readonly subject: string;
  readonly scope: string;
  readonly client: ApplicationInfo | null;
  /** The `issued_token_type` of a token-exchange response (RFC 8693 §2.2.1); absent for other grants. */
  readonly issuedTokenType?: string;
}

/**
 * How a request authenticates its client (RFC 6749 §2.3.1, RFC 7523 §2.2), for
 * {@link GrantService.authenticateClientRequest}.
 */
export type ClientAuthentication =
  | {
      readonly method: 'client_secret_basic' | 'client_secret_post';
      readonly clientId: unknown;
      readonly clientSecret: unknown;
      /** The caller's address, for `auth_failed` audit events. */
      readonly ip?: string | undefined;
    }
  | (ClientAssertionInput & {
      readonly method: 'client_assertion';
      /** The client the assertion claims (unverified), for `auth_failed` audit events only. */
      readonly claimedClientId?: string | undefined;
      /** The caller's address, for `auth_failed` audit events. */
      readonly ip?: string | undefined;
    });

/** Input of {@link GrantService.clientCredentials}. */
export interface ClientCredentialsInput {
  readonly clientId: unknown;
  readonly clientSecret: unknown;
  /** The client, already authenticated by the caller (createOAuthRouter); then `clientId`/`clientSecret` are not used. */
  readonly client?: ApplicationInfo;
  readonly scope?: unknown;
  /** The requested resources (RFC 8707), already parsed; each must be in the client's `resources`. */
  readonly resources?: readonly string[];
  /** Refuse clients whose `grantTypes` lack the grant (createOAuthRouter). @default false */
  readonly enforceGrantTypes?: boolean;
  /**
   * The RFC 7638 thumbprint of the key of the request's verified DPoP proof (RFC 9449 §5): the
   * access token is bound to it. @default no proof: a Bearer token
   */
  readonly dpopJkt?: string | undefined;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
}

/** Input of {@link GrantService.password}. */
export interface PasswordGrantInput {
  readonly username: unknown;
  readonly password: unknown;
  /** The client the tokens are issued to (already authenticated by the caller, or a configured public id). */
  readonly client: ApplicationInfo | { readonly clientId: string; readonly scopes?: readonly string[] };
  readonly scope?: unknown;
  /** The requested resources (RFC 8707), already parsed; each must be in the client's `resources`. */
  readonly resources?: readonly string[];
  readonly enforceGrantTypes?: boolean;
  /**
   * The RFC 7638 thumbprint of the key of the request's verified DPoP proof (RFC 9449 §5): the
   * access token is bound to it. @default no proof: a Bearer token
   */
  readonly dpopJkt?: string | undefined;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
}

/** Input of {@link GrantService.refresh}. */
export interface RefreshGrantInput {
  readonly refreshToken: unknown;
  /**
   * The authenticated client (createOAuthRouter); the family must belong to its application — whatever
   * client id that application held when the family was issued — and the new access token is
   * issued to its current client id.
   */
  readonly client?: ApplicationInfo;
  /**
   * The family must belong to this client id: issued under it, or to the application that holds
   * it now. Prefer `client`.
   */
  readonly clientId?: string;
  /** The family must belong to this subject. */
  readonly subject?: string;
  readonly scope?: unknown;
  /** The requested resources (RFC 8707), already parsed: among the family's, never more. */
  readonly resources?: readonly string[];
  /** Refuse a `client` whose `grantTypes` lack `refresh_token` (createOAuthRouter). @default false */
  readonly enforceGrantTypes?: boolean;
  /**
   * The RFC 7638 thumbprint of the key of the request's verified DPoP proof (RFC 9449 §5): the
   * access token is bound to it. @default no proof: a Bearer token
   */
  readonly dpopJkt?: string | undefined;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
}

/** Input of {@link GrantService.providerToken}. */
export interface ProviderTokenInput {
  readonly apiKey: unknown;
  readonly providerId: string;
  readonly clientId: string;
  /** Seconds; 0 or absent → 3600; at most 172800. */
  readonly expiresIn?: number;
  readonly useJwtType?: boolean;
  readonly audienceAsArray?: boolean;
  readonly forceDefaultDomain?: boolean;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
}
