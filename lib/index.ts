/**
 * express-token-kit: the public API. Every export is listed by name (no `export *`): what is not
 * listed here is internal. Redis lives in `express-token-kit/redis`, PostgreSQL in
 * `express-token-kit/postgres`, the store conformance suites in `express-token-kit/testing`.
 */

// The kit: token, credential and grant services over one store and one key set.
export { createTokenKit } from './core/token-kit';
export { createBindingProfile } from './core/binding';
export type { BindingProfile, BindingProfileOptions, BindingTypeOptions } from './core/binding';
export type { TokenKitOptions, TokenKit } from './core/token-kit';
export { TokenService } from './core/token-service';
export type {
  TokenServiceOptions,
  IssueAccessTokenInput,
  IssuedAccessToken,
  ActorClaim,
  VerifyAccessTokenOptions,
  IssuedRefreshToken,
  StartRefreshFamilyInput,
  RefreshInput,
  TokenOwner,
  TokenOwnerCheck,
  InspectedToken,
  DpopOptions,
  DpopProofInput,
  VerifiedDpopProof,
} from './core/token-service';
export type { DpopAlgorithm } from './core/dpop/jwk';
export { CredentialService } from './core/credentials';
export type {
  ApiKeyInfo,
  ApplicationInfo,
  ProviderInfo,
  ProviderClientInfo,
  CreateApplicationInput,
  RotateApplicationOptions,
  RotateApiKeyOptions,
  CredentialServiceOptions,
} from './core/credentials';
export type { IntrospectionAccess } from './core/introspection-access';
export type { TokenEndpointAuthMethod, PublicJwkSet } from './core/credential-types';
export type { ClientAssertionInput, ClientKeyResolver } from './core/client-assertion';
export { GrantService } from './core/grants';
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
} from './core/grants';
export type { ClaimsHook, ClaimsContext, ClaimsGrantType, ClaimsHookOptions } from './core/custom-claims';
export type {
  BoundEntityType,
  DefaultBoundEntityType,
  BoundEntity,
  AccessTokenFormat,
  AuthInfo,
  SigningAlgorithm,
} from './types';

// Signing keys.
export { KeySet, createKeySet } from './keys/key-set';
export type { JwkInput, KeyInput, PublicJwk } from './keys/key-set';
export { createKeyManager, KeyManagerError } from './keys/key-manager';
export type {
  KeyManager,
  KeyManagerOptions,
  KeyInfo,
  RotateKeyOptions,
  RetireKeyOptions,
  ImportKeyOptions,
} from './keys/key-manager';
export { KeyEncryptionKeyError, parseKek, kekFromEnv } from './keys/kek';
export { createLocalSigner, derToJoseSignature } from './keys/signer';
export type { Signer, SignerAlgorithm, LocalSignerOptions } from './keys/signer';
export type { KeyStore, StoredKey, KeyState, KeyStoreSnapshot } from './keys/key-store';

// Errors.
export { TokenError, StoreUnavailableError, isTokenError } from './errors';
export type { TokenErrorCode, ErrorFormat, TokenErrorOptions, ErrorBody } from './errors';
export type { ErrorFormatOption, ErrorFormatter } from './middleware/error-response';

// Stores: the two contracts and the memory stores (Redis: `express-token-kit/redis`).
export { MemoryTokenStore } from './stores/memory-token-store';
export { MemoryCredentialStore } from './stores/memory-credential-store';
export { MemoryKeyStore } from './stores/memory-key-store';
export { MAX_REFRESH_GRACE_RETRIES } from './stores/token-store';
export type {
  TokenStore,
  AccessTokenRecord,
  RevocationQuery,
  RevocationState,
  RefreshFamily,
  RotateRefreshInput,
  RotateRefreshResult,
  RefreshTokenState,
  RefreshTokenProof,
} from './stores/token-store';
export type { CredentialStore, CredentialKind, CredentialRecord } from './stores/credential-store';
export type { RevocationView, RevocationNotice } from './stores/revocation-view';

// Middleware.
export { requireToken } from './middleware/require-token';
export type { RequireTokenOptions, RequireTokenDpopOptions } from './middleware/require-token';
export type { RemoteRequireTokenOptions, RequireTokenCheckOptions } from './middleware/token-pipeline';

// Resource-server mode: tokens of remote issuers, no kit in this process.
export { createRemoteVerifier } from './resource/remote-issuer';
export type {
  RemoteIssuerOptions,
  RemoteVerifier,
  RemoteVerifierOptions,
  SharedRevocationOptions,
} from './resource/remote-issuer';
export type { IntrospectionOptions } from './resource/introspection';
export type { RemoteAlgorithm, RemoteKey } from './resource/jwks-cache';
export type { JsonPrimitive, TokenCheckOptions } from './resource/checks';
export { requireScope, requireBinding } from './middleware/guards';
export type {
  BindingResolver,
  EmployerResolver,
  GuardOptions,
  RequireBindingOptions,
} from './middleware/guards';
export { createRateLimits } from './middleware/rate-limit';
export type {
  RateLimits,
  RateLimitOptions,
  ResolvedRateLimitOptions,
  RateLimitStoreFactory,
  RateLimitStoreOption,
  RateLimiterName,
  RedisCommandCaller,
  RedisCommandSender,
  RouterRateLimitOption,
} from './middleware/rate-limit';
export { createMetrics } from './middleware/metrics';
export type { MetricsRegistry, MetricsOptions, TokenKitMetrics } from './middleware/metrics';

// Audit events.
export type { TokenEventType, TokenEvent, TokenEventListener } from './core/events';
export { createJsonLineLogger, composeEventListeners } from './core/audit-log';
export type { LineSink, JsonLineLoggerOptions } from './core/audit-log';

// Routers.
export { createApiKeyRouter } from './routers/api-key-router';
export type { ApiKeyRouterOptions } from './routers/api-key-router';
export { createProviderRouter } from './routers/provider-router';
export type { ProviderRouterOptions } from './routers/provider-router';
export { createAuthRouter } from './routers/auth-router';
export type { AuthRouterOptions } from './routers/auth-router';
export { createOAuthRouter } from './routers/oauth-router';
export type { OAuthRouterOptions } from './routers/oauth-router';
export type { ClientJwksOptions } from './routers/oauth/client-keys';
export {
  createProtectedResourceRouter,
  protectedResourceMetadataUrl,
} from './routers/protected-resource-router';
export type { ProtectedResourceRouterOptions, BearerMethod } from './routers/protected-resource-router';
