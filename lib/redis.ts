/**
 * express-token-kit/redis: the token store, the credential store, the revocation view and the
 * connection helpers on Redis (standalone, Sentinel or Cluster). Needs the optional peer dependency
 * `ioredis`.
 */
export { RedisTokenStore } from './stores/redis-token-store';
export type { RedisTokenStoreOptions } from './stores/redis-token-store';
export { RedisCredentialStore } from './stores/redis-credential-store';
export type { RedisCredentialStoreOptions } from './stores/redis-credential-store';
export { createRedisClient, waitForReady, checkEvictionPolicy } from './stores/redis-client';
export type { RedisClientOptions } from './stores/redis-client';
export { createRedisConnectionFromEnv } from './stores/redis-connection';
export type { RedisConnection, RedisConnectionOptions } from './stores/redis-connection';
export {
  RedisRevocationView,
  createRevocationAnnouncer,
  revocationChannel,
} from './stores/redis-revocation-view';
export type { RedisRevocationViewOptions, RevocationAnnouncerOptions } from './stores/redis-revocation-view';
export { RedisKeyStore, keysChannel } from './stores/redis-key-store';
export type { RedisKeyStoreOptions } from './stores/redis-key-store';
