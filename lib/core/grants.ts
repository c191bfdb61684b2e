/**
 * The grants' facade: client credentials, password, refresh, API-key exchange and provider client
 * tokens. Each grant is written once, in its module under `./grants/` (the OAuth ones listed in
 * `./grants/registry.ts`); routers only parse requests, call these, and format the answers.
 */
import type { AccessTokenFormat, BoundEntity } from '../types';
import type { ApiKeyInfo, ApplicationInfo, CredentialService } from './credentials';
import type { IssuedAccessToken, TokenService } from './token-service';
import { exchangeApiKey } from './grants/api-key-exchange';
import { clientCredentials } from './grants/client-credentials';
import { authenticateClient, bindGrantContext, type GrantContext } from './grants/context';
import { password } from './grants/password';
import { providerToken } from './grants/provider-token';
import { refresh } from './grants/refresh-token';

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

/** Options of {@link GrantService}. */
export interface GrantServiceOptions {
  /** Enables the password grant; without it the grant answers `unsupported_grant_type`. */
  readonly verifyUser?: UserVerifier;
  /** Format of access tokens from client credentials, password and refresh grants; @default `jwt`. */
  readonly accessTokenFormat?: AccessTokenFormat;
}

/** Result of a grant that returns an access token and maybe a refresh token. */
export interface GrantResult {
  readonly accessToken: IssuedAccessToken;
  readonly refreshToken?: string;
  readonly idToken?: string;
  readonly subject: string;
  readonly scope: string;
  readonly client: ApplicationInfo | null;
}

/** Input of {@link GrantService.clientCredentials}. */
export interface ClientCredentialsInput {
  readonly clientId: unknown;
  readonly clientSecret: unknown;
  readonly scope?: unknown;
  /** Refuse clients whose `grantTypes` lack the grant (router D). @default false */
  readonly enforceGrantTypes?: boolean;
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
  readonly enforceGrantTypes?: boolean;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
}

/** Input of {@link GrantService.refresh}. */
export interface RefreshGrantInput {
  readonly refreshToken: unknown;
  /**
   * The authenticated client (router D); the family must belong to its application — whatever
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
  /** Refuse a `client` whose `grantTypes` lack `refresh_token` (router D). @default false */
  readonly enforceGrantTypes?: boolean;
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

/**
 * Runs every grant of the library on top of {@link TokenService} and {@link CredentialService}.
 */
export class GrantService {
  readonly #context: GrantContext;

  constructor(
    tokens: TokenService,
    credentials: CredentialService,
    options: Readonly<GrantServiceOptions> = {},
  ) {
    if (options.verifyUser !== undefined && typeof options.verifyUser !== 'function') {
      throw new TypeError('verifyUser must be a function');
    }
    this.#context = {
      tokens,
      credentials,
      verifyUser: options.verifyUser,
      format: options.accessTokenFormat ?? 'jwt',
    };
    bindGrantContext(this, this.#context);
  }

  /** True when the password grant is available. */
  get passwordGrantEnabled(): boolean {
    return this.#context.verifyUser !== undefined;
  }

  /** Authenticates a client or throws `invalid_client`. */
  async authenticateClient(clientId: unknown, clientSecret: unknown, ip?: string): Promise<ApplicationInfo> {
    return authenticateClient(this.#context, clientId, clientSecret, ip);
  }

  /** client_credentials: an access token for the client itself; never a refresh token. */
  async clientCredentials(input: Readonly<ClientCredentialsInput>): Promise<GrantResult> {
    return clientCredentials(this.#context, input);
  }

  /** password: access, refresh and ID tokens for a user the application's verifier accepts. */
  async password(input: Readonly<PasswordGrantInput>): Promise<GrantResult> {
    return password(this.#context, input);
  }

  /**
   * refresh_token: rotates the refresh token and issues a new access token from its family.
   *
   * Every check runs before anything is consumed (RFC 6749 §6): the client's grant types, the
   * scope's syntax, then — against the family, read without consuming it — the family's
   * application (or client) and subject, and scope narrowing. A refused refresh leaves the refresh
   * token current and its family alive. The new access token is issued to the application's
   * current client id, so after a credential rotation users' sessions carry the new one.
   */
  async refresh(input: Readonly<RefreshGrantInput>): Promise<GrantResult> {
    return refresh(this.#context, input);
  }

  /**
   * API key → short-lived opaque access token, optionally bound to an employer or employee.
   * `authorizeBinding` decides which bindings a key may have: a binding it refuses — or any binding when
   * no authorizer is given (fail closed) — is 403 `insufficient_scope` and nothing is issued.
   */
  async exchangeApiKey(input: {
    apiKey: unknown;
    boundEntity: BoundEntity | null;
    ttl: number;
    prefix: string;
    /** The caller's address, for `auth_failed` audit events. */
    ip?: string | undefined;
    authorizeBinding?: BindingAuthorizer;
  }): Promise<IssuedAccessToken> {
    return exchangeApiKey(this.#context, input);
  }

  /**
   * A provider's client token (RFC 9068 JWT). Throws `unauthorized` for a bad key, `not_found` for an
   * unknown provider/client or another provider's key, `invalid_request` for a bad lifetime.
   */
  async providerToken(input: Readonly<ProviderTokenInput>): Promise<IssuedAccessToken> {
    return providerToken(this.#context, input);
  }
}
