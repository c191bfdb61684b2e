/**
 * The grants, written once: client credentials, password, refresh, API-key exchange and provider
 * client tokens. Routers only parse requests, call these, and format the answers.
 */
import { TokenError } from '../errors';
import type { AccessTokenFormat, BoundEntity } from '../types';
import { DEFAULT_PROVIDER_TOKEN_TTL, MAX_PROVIDER_TOKEN_TTL } from '../defaults';
import type { ApiKeyInfo, ApplicationInfo, CredentialService } from './credentials';
import type { RefreshFamily } from '../stores/token-store';
import type { IssuedAccessToken, TokenOwner, TokenService } from './token-service';

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

const MAX_PASSWORD_LENGTH = 1024;

function parseScope(scope: unknown): string[] | null {
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
function grantScope(requested: unknown, allowed: readonly string[]): string {
  const wanted = parseScope(requested);
  if (wanted === null) throw new TokenError('invalid_request', 'scope is malformed');
  if (wanted.some((s) => !allowed.includes(s))) throw new TokenError('invalid_scope');
  return wanted.join(' ');
}

/**
 * Runs every grant of the library on top of {@link TokenService} and {@link CredentialService}.
 */
export class GrantService {
  readonly #tokens: TokenService;
  readonly #credentials: CredentialService;
  readonly #verifyUser: UserVerifier | undefined;
  readonly #format: AccessTokenFormat;

  constructor(
    tokens: TokenService,
    credentials: CredentialService,
    options: Readonly<GrantServiceOptions> = {},
  ) {
    if (options.verifyUser !== undefined && typeof options.verifyUser !== 'function') {
      throw new TypeError('verifyUser must be a function');
    }
    this.#tokens = tokens;
    this.#credentials = credentials;
    this.#verifyUser = options.verifyUser;
    this.#format = options.accessTokenFormat ?? 'jwt';
  }

  /** True when the password grant is available. */
  get passwordGrantEnabled(): boolean {
    return this.#verifyUser !== undefined;
  }

  /** Authenticates a client or throws `invalid_client`. */
  async authenticateClient(clientId: unknown, clientSecret: unknown, ip?: string): Promise<ApplicationInfo> {
    const app = await this.#credentials.authenticateClient(clientId, clientSecret);
    if (app === null) {
      this.#tokens.emit({
        type: 'auth_failed',
        ...(typeof clientId === 'string' && clientId.length <= 128 ? { clientId } : {}),
        ...(ip === undefined ? {} : { ip }),
        reason: 'client',
      });
      throw new TokenError('invalid_client');
    }
    return app;
  }

  #assertGrantAllowed(
    app: ApplicationInfo | { scopes?: readonly string[] },
    grant: string,
    enforce: boolean | undefined,
  ): void {
    if (enforce && 'grantTypes' in app && !app.grantTypes.includes(grant))
      throw new TokenError('unauthorized_client');
  }

  /** client_credentials: an access token for the client itself; never a refresh token. */
  async clientCredentials(input: Readonly<ClientCredentialsInput>): Promise<GrantResult> {
    const app = await this.authenticateClient(input.clientId, input.clientSecret, input.ip);
    this.#assertGrantAllowed(app, 'client_credentials', input.enforceGrantTypes);
    const scope = grantScope(input.scope, app.scopes);
    const accessToken = await this.#tokens.issueAccessToken({
      subject: app.clientId,
      clientId: app.clientId,
      scope,
      format: this.#format,
    });
    return { accessToken, subject: app.clientId, scope, client: app };
  }

  /** password: access, refresh and ID tokens for a user the application's verifier accepts. */
  async password(input: Readonly<PasswordGrantInput>): Promise<GrantResult> {
    if (!this.#verifyUser) throw new TokenError('unsupported_grant_type');
    const { username, password, client } = input;
    if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '') {
      throw new TokenError('invalid_request', 'username and password are required');
    }
    if (username.length > 256 || Buffer.byteLength(password) > MAX_PASSWORD_LENGTH)
      throw new TokenError('invalid_grant');
    this.#assertGrantAllowed(client, 'password', input.enforceGrantTypes);
    const scope = grantScope(input.scope, client.scopes ?? []);
    let user: VerifiedUser | null;
    try {
      user = await this.#verifyUser(username, password);
    } catch (err) {
      throw new TokenError('service_unavailable', undefined, { cause: err, headers: { 'Retry-After': '5' } });
    }
    if (user === null || typeof user.sub !== 'string' || user.sub === '') {
      this.#tokens.emit({
        type: 'auth_failed',
        clientId: client.clientId,
        ...(input.ip === undefined ? {} : { ip: input.ip }),
        reason: 'password',
      });
      throw new TokenError('invalid_grant');
    }
    const boundEntity = user.boundEntity ?? null;
    const { refreshToken, family } = await this.#tokens.startRefreshFamily({
      subject: user.sub,
      clientId: client.clientId,
      scope,
      boundEntity,
      // The family belongs to the application's stable id, so it survives a credential rotation.
      ...('grantTypes' in client && 'id' in client ? { applicationId: client.id } : {}),
    });
    const accessToken = await this.#tokens.issueAccessToken({
      subject: user.sub,
      clientId: client.clientId,
      scope,
      boundEntity,
      familyId: family.familyId,
      format: this.#format,
    });
    const idToken = this.#tokens.signIdToken(user.sub, client.clientId);
    return {
      accessToken,
      refreshToken,
      idToken,
      subject: user.sub,
      scope,
      client: 'grantTypes' in client ? client : null,
    };
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
    if (typeof input.refreshToken !== 'string' || input.refreshToken === '') {
      throw new TokenError('invalid_request', 'refresh_token is required');
    }
    if (input.client !== undefined)
      this.#assertGrantAllowed(input.client, 'refresh_token', input.enforceGrantTypes);
    const wanted = parseScope(input.scope);
    if (wanted === null) throw new TokenError('invalid_request', 'scope is malformed');
    const callerClientId = input.client?.clientId ?? input.clientId;
    // What the checks decide, for the access token issued once the rotation succeeded.
    const decided: { scope: string; client: ApplicationInfo | null } = { scope: '', client: null };
    const check = async (family: RefreshFamily): Promise<void> => {
      const owner = ownerOf(family);
      if (input.client !== undefined) {
        if (!(await this.#credentials.applicationOwns(input.client, owner)))
          throw new TokenError('invalid_grant', undefined, { cause: 'mismatch' });
        decided.client = input.client;
      } else {
        const client =
          family.applicationId === undefined ? null : await this.#credentials.findApplicationOf(owner);
        decided.client = client;
        // An application-issued family whose application is gone is dead.
        if (client === null && family.applicationId !== undefined)
          throw new TokenError('invalid_grant', undefined, { cause: 'no_application' });
        if (
          input.clientId !== undefined &&
          input.clientId !== family.clientId &&
          client?.clientId !== input.clientId
        )
          throw new TokenError('invalid_grant', undefined, { cause: 'mismatch' });
      }
      const familyScopes = family.scope ? family.scope.split(' ') : [];
      if (wanted.some((s) => !familyScopes.includes(s))) throw new TokenError('invalid_scope');
      decided.scope = wanted.length > 0 ? wanted.join(' ') : family.scope;
    };
    let rotated: Awaited<ReturnType<TokenService['refresh']>>;
    try {
      rotated = await this.#tokens.refresh(input.refreshToken, {
        ...(input.subject === undefined ? {} : { subject: input.subject }),
        check,
      });
    } catch (err) {
      if (err instanceof TokenError && err.code === 'invalid_grant') {
        this.#tokens.emit({
          type: 'auth_failed',
          ...(callerClientId === undefined ? {} : { clientId: callerClientId }),
          ...(input.ip === undefined ? {} : { ip: input.ip }),
          reason: 'refresh_token',
        });
      }
      throw err;
    }
    const { refreshToken, family } = rotated;
    const { scope, client: issuedTo } = decided;
    const accessToken = await this.#tokens.issueAccessToken({
      subject: family.sub,
      clientId: issuedTo?.clientId ?? family.clientId,
      scope,
      boundEntity: family.boundEntity,
      familyId: family.familyId,
      format: this.#format,
    });
    return { accessToken, refreshToken, subject: family.sub, scope, client: issuedTo };
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
    const key = await this.#credentials.authenticateApiKey(input.apiKey);
    if (key === null) {
      this.#tokens.emit({
        type: 'auth_failed',
        ...(input.ip === undefined ? {} : { ip: input.ip }),
        reason: 'api_key',
      });
      throw new TokenError('invalid_api_key');
    }
    if (input.boundEntity !== null) {
      // Fail closed: without an authorizer no key may bind a token to any entity.
      const authorize = input.authorizeBinding;
      let allowed = false;
      try {
        if (authorize !== undefined) allowed = (await authorize(key, input.boundEntity)) === true;
      } catch (err) {
        throw new TokenError('service_unavailable', undefined, {
          cause: err,
          headers: { 'Retry-After': '5' },
        });
      }
      if (!allowed) {
        this.#tokens.emit({
          type: 'binding_denied',
          clientId: key.id,
          boundEntity: input.boundEntity,
          reason: 'issuance',
        });
        throw new TokenError('insufficient_scope', 'The API key may not bind to this entity');
      }
    }
    return this.#tokens.issueAccessToken({
      subject: key.id,
      clientId: key.id,
      boundEntity: input.boundEntity,
      ttl: input.ttl,
      format: 'opaque',
      prefix: input.prefix,
    });
  }

  /**
   * A provider's client token (RFC 9068 JWT). Throws `unauthorized` for a bad key, `not_found` for an
   * unknown provider/client or another provider's key, `invalid_request` for a bad lifetime.
   */
  async providerToken(input: Readonly<ProviderTokenInput>): Promise<IssuedAccessToken> {
    const provider = await this.#credentials.authenticateProviderKey(input.apiKey);
    if (provider === null) {
      this.#tokens.emit({
        type: 'auth_failed',
        ...(input.ip === undefined ? {} : { ip: input.ip }),
        reason: 'provider_key',
      });
      throw new TokenError('unauthorized');
    }
    const expiresIn = input.expiresIn ?? 0;
    if (!Number.isSafeInteger(expiresIn) || expiresIn < 0 || expiresIn > MAX_PROVIDER_TOKEN_TTL) {
      throw new TokenError(
        'invalid_request',
        `expiresIn must be a whole number of seconds from 0 to ${MAX_PROVIDER_TOKEN_TTL}`,
      );
    }
    if (provider.id !== input.providerId) throw new TokenError('not_found');
    const client = await this.#credentials.getProviderClient(input.clientId);
    if (client === null || client.providerId !== provider.id) throw new TokenError('not_found');
    const issuer =
      provider.domain !== null && !input.forceDefaultDomain
        ? `https://${provider.domain}`
        : this.#tokens.issuer;
    return this.#tokens.issueAccessToken({
      subject: client.id,
      clientId: client.id,
      issuer,
      audience: client.audience,
      audienceAsArray: input.audienceAsArray ?? false,
      typ: input.useJwtType ? 'JWT' : 'at+jwt',
      ttl: expiresIn === 0 ? DEFAULT_PROVIDER_TOKEN_TTL : expiresIn,
      format: 'jwt',
    });
  }
}

/** Who a refresh family belongs to: its client id and, when issued to an application, its stable id. */
function ownerOf(family: RefreshFamily): TokenOwner {
  return family.applicationId === undefined
    ? { clientId: family.clientId }
    : { clientId: family.clientId, applicationId: family.applicationId };
}
