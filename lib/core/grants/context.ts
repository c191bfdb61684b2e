/**
 * What every grant module runs on: the token and credential services, the password verifier and
 * the access-token format of the kit's {@link GrantService}. Internal: not part of the public API.
 */
import { TokenError } from '../../errors';
import type { AccessTokenFormat } from '../../types';
import type { ApiKeyInfo, ApplicationInfo, ProviderClientInfo, ProviderInfo } from '../credential-types';
import type { ClaimsHooks } from '../custom-claims';
import { introspectsAny } from '../introspection-access';
import type { ClientAssertionInput } from '../client-assertion';
import type { ClientAuthentication, TokenExchangeOptions, UserVerifier } from './types';
import type { TokenOwner, TokenService } from '../token-service';

/**
 * What the grants use of the credentials admin API (`CredentialService`), named here so that the
 * grants never import the credential module (which validates grant types through the registry).
 */
export interface GrantCredentials {
  authenticateClient(
    clientId: unknown,
    clientSecret: unknown,
    method?: 'client_secret_basic' | 'client_secret_post',
  ): Promise<ApplicationInfo | null>;
  authenticateClientAssertion(input: Readonly<ClientAssertionInput>): Promise<ApplicationInfo>;
  authenticateApiKey(key: unknown): Promise<ApiKeyInfo | null>;
  authenticateProviderKey(key: unknown): Promise<ProviderInfo | null>;
  getProviderClient(id: string): Promise<ProviderClientInfo | null>;
  findApplicationOf(owner: TokenOwner): Promise<ApplicationInfo | null>;
  applicationOwns(app: ApplicationInfo, owner: TokenOwner): Promise<boolean>;
}

/** The services and settings a grant runs with. */
export interface GrantContext {
  readonly tokens: TokenService;
  readonly credentials: GrantCredentials;
  /** The password grant's verifier; undefined when that grant is disabled. */
  readonly verifyUser: UserVerifier | undefined;
  /** Format of access tokens from the OAuth grants. */
  readonly format: AccessTokenFormat;
  /** The kit's claims hooks (`claims`, `grantClaims`). */
  readonly claims: ClaimsHooks;
  /** The token-exchange policy, checked (`belongsTo` also standing for `employerOf`). */
  readonly exchange: Readonly<Omit<TokenExchangeOptions, 'employerOf'>>;
}

const contexts = new WeakMap<object, GrantContext>();

/** Remembers the context of a grant service, for {@link grantContext}. */
export function bindGrantContext(service: object, context: GrantContext): void {
  contexts.set(service, context);
}

/** The context of a grant service built by the kit; a `TypeError` for anything else. */
export function grantContext(service: object): GrantContext {
  const context = contexts.get(service);
  if (context === undefined) throw new TypeError('kit.grants must be the GrantService of a token kit');
  return context;
}

/** Authenticates a client or throws `invalid_client`, with an `auth_failed` event. */
export async function authenticateClient(
  context: GrantContext,
  clientId: unknown,
  clientSecret: unknown,
  ip?: string,
): Promise<ApplicationInfo> {
  const app = await context.credentials.authenticateClient(clientId, clientSecret);
  if (app === null) throw clientRefused(context, clientId, ip);
  return app;
}

/**
 * Authenticates a client by the method its request used — the secret in HTTP Basic or the body
 * (RFC 6749 §2.3.1), or a JWT assertion (RFC 7523 §2.2) — or throws `invalid_client`, with an
 * `auth_failed` event. The method must be the one the application is registered for.
 */
export async function authenticateClientBy(
  context: GrantContext,
  request: Readonly<ClientAuthentication>,
): Promise<ApplicationInfo> {
  if (request.method !== 'client_assertion') {
    const app = await context.credentials.authenticateClient(
      request.clientId,
      request.clientSecret,
      request.method,
    );
    if (app === null) throw clientRefused(context, request.clientId, request.ip);
    return app;
  }
  try {
    return await context.credentials.authenticateClientAssertion(request);
  } catch (err) {
    if (err instanceof TokenError && err.code === 'invalid_client') {
      throw clientRefused(context, request.claimedClientId, request.ip, err);
    }
    throw err;
  }
}

function clientRefused(
  context: GrantContext,
  clientId: unknown,
  ip: string | undefined,
  cause?: TokenError,
): TokenError {
  context.tokens.emit({
    type: 'auth_failed',
    ...(typeof clientId === 'string' && clientId.length <= 128 ? { clientId } : {}),
    ...(ip === undefined ? {} : { ip }),
    reason: 'client',
  });
  return cause ?? new TokenError('invalid_client');
}

/**
 * Refuses a client whose `grantTypes` lack `grant` when `enforce` (createOAuthRouter): `unauthorized_client`
 * (RFC 6749 §5.2). A configured public client id (no `grantTypes`) is not limited. An application
 * with `introspection: 'any'` (a resource server) is refused every grant, on every router.
 */
export function assertGrantAllowed(
  app: ApplicationInfo | { readonly scopes?: readonly string[] },
  grant: string,
  enforce: boolean | undefined,
): void {
  if ('grantTypes' in app && introspectsAny(app)) throw new TokenError('unauthorized_client');
  if (enforce && 'grantTypes' in app && !app.grantTypes.includes(grant))
    throw new TokenError('unauthorized_client');
}
