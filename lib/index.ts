/**
 * express-token-kit: the public API. Named exports only.
 */
export * from './types';
export * from './errors';
export * from './defaults';
export { KeySet, createKeySet } from './keys/key-set';
export type { JwkInput, KeyInput } from './keys/key-set';
export * from './core/events';
export * from './core/audit-log';
export { isEntityId, parseBoundEntity } from './core/binding';
export { generateOpaqueToken, parseOpaqueToken, SecretHasher } from './core/opaque-token';
export * from './core/token-service';
export * from './core/credentials';
export * from './core/grants';
export * from './core/token-kit';
export type * from './stores/token-store';
export type { CredentialStore } from './stores/credential-store';
export { MAX_REFRESH_GRACE_SECONDS, MAX_REFRESH_GRACE_RETRIES, MIN_CUTOFF_MS } from './stores/token-store';
export { createRedisConnectionFromEnv } from './stores/redis-connection';
export type { RedisConnection, RedisConnectionOptions } from './stores/redis-connection';
export { MemoryTokenStore } from './stores/memory-token-store';
export { RedisTokenStore } from './stores/redis-token-store';
export type { RedisTokenStoreOptions } from './stores/redis-token-store';
export { createRedisClient, waitForReady, checkEvictionPolicy } from './stores/redis-client';
export type { RedisClientOptions } from './stores/redis-client';
export {
  RedisRevocationView,
  createRevocationAnnouncer,
  revocationChannel,
} from './stores/redis-revocation-view';
export type { RedisRevocationViewOptions, RevocationAnnouncerOptions } from './stores/redis-revocation-view';
export type { RevocationView, RevocationNotice } from './core/revocation-view';
export * from './middleware/require-token';
export * from './middleware/guards';
export {
  createRateLimits,
  isRateLimits,
  DEFAULT_FAILURES_PER_CREDENTIAL_AND_IP,
  DEFAULT_FAILURES_PER_CREDENTIAL,
  DEFAULT_TRUSTED_ADDRESS_MS,
  DEFAULT_FAILURES_PER_IP,
  DEFAULT_FAILURE_WINDOW_MS,
  DEFAULT_REQUESTS_PER_IP,
  DEFAULT_REQUEST_WINDOW_MS,
  DEFAULT_RATE_LIMIT_KEY_PREFIX,
  type RateLimits,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
  type RateLimitStoreFactory,
  type RateLimitStoreOption,
  type RateLimiterName,
  type RedisCommandCaller,
  type RedisCommandSender,
  type RouterRateLimitOption,
} from './middleware/rate-limit';
export * from './middleware/metrics';
export { setNoStore, type ErrorFormatOption, type ErrorFormatter } from './middleware/error-response';
export { extractBearerToken } from './middleware/bearer';
export * from './routers/api-key-router';
export * from './routers/provider-router';
export * from './routers/auth-router';
export * from './routers/oauth-router';
