/**
 * The grants' facade: client credentials, password, refresh, API-key exchange and provider client
 * tokens. Each grant is written once, in its module under `./grants/` (the OAuth ones listed in
 * `./grants/registry.ts`); routers only parse requests, call these, and format the answers.
 */
import type { CredentialService } from './credentials';
import type { IssuedAccessToken, TokenService } from './token-service';
import { exchangeApiKey } from './grants/api-key-exchange';
import { clientCredentials } from './grants/client-credentials';
import { resolveClaimsHooks } from './custom-claims';
import {
  authenticateClient,
  authenticateClientBy,
  bindGrantContext,
  type GrantContext,
} from './grants/context';
import { password } from './grants/password';
import { providerToken } from './grants/provider-token';
import { refresh } from './grants/refresh-token';
import { resolveTokenExchange } from './grants/token-exchange';

export type {
  VerifiedUser,
  UserVerifier,
  BindingAuthorizer,
  GrantServiceOptions,
  GrantResult,
  ClientCredentialsInput,
  PasswordGrantInput,
  RefreshGrantInput,
  ProviderTokenInput,
  TokenExchangeOptions,
  ClientAuthentication,
} from './grants/types';
export { TOKEN_EXCHANGE_GRANT_TYPE } from './grants/token-exchange';
import type { BoundEntity } from '../types';
import type { ApplicationInfo } from './credential-types';
import type {
  ClientAuthentication,
  BindingAuthorizer,
  GrantServiceOptions,
  GrantResult,
  ClientCredentialsInput,
  PasswordGrantInput,
  RefreshGrantInput,
  ProviderTokenInput,
} from './grants/types';

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
      claims: resolveClaimsHooks(options),
      exchange: resolveTokenExchange(options.tokenExchange),
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

  /**
   * Authenticates a client by the method its request used — `client_secret_basic`,
   * `client_secret_post` or a JWT assertion (`client_secret_jwt`, `private_key_jwt`, RFC 7523 §2.2)
   * — which must be the application's registered method; throws `invalid_client` otherwise.
   * @see docs/client-auth.md
   */
  async authenticateClientRequest(request: Readonly<ClientAuthentication>): Promise<ApplicationInfo> {
    return authenticateClientBy(this.#context, request);
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
