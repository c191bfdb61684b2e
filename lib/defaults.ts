/**
 * Named, documented defaults. Lifetimes are in seconds.
 */

/** Access-token lifetime of createAuthRouter and createOAuthRouter (one hour). */
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
/** Access-token lifetime of createApiKeyRouter (15 minutes). */
export const DEFAULT_API_KEY_TOKEN_TTL = 900;
/** Default access-token lifetime of createProviderRouter when `expiresIn` is absent or 0. */
export const DEFAULT_PROVIDER_TOKEN_TTL = 3600;
/** createProviderRouter's cap on `expiresIn` (48 hours). */
export const MAX_PROVIDER_TOKEN_TTL = 172_800;
/** The longest access-token lifetime any verifier accepts (`exp - iat`). */
export const MAX_ACCESS_TOKEN_LIFETIME = 172_800;
/** Absolute lifetime of a refresh-token family (30 days). */
export const DEFAULT_REFRESH_ABSOLUTE_TTL = 30 * 24 * 3600;
/** Idle lifetime of a refresh-token family (7 days without a refresh). */
export const DEFAULT_REFRESH_IDLE_TTL = 7 * 24 * 3600;
/** Clock tolerance applied to `exp`, `nbf` and `iat`. */
export const DEFAULT_CLOCK_TOLERANCE = 0;
/** The largest clock tolerance accepted by configuration. */
export const MAX_CLOCK_TOLERANCE = 60;
/** How long an opaque token's record outlives its expiry, so it can be answered `expired_token`. */
export const DEFAULT_EXPIRED_RECORD_RETENTION = 3600;
/** Longest bearer token accepted before any decoding (bytes). */
export const MAX_TOKEN_LENGTH = 4096;
/** Prefix of opaque access tokens. */
export const DEFAULT_ACCESS_TOKEN_PREFIX = 'etk_at_';
/** Prefix of opaque refresh tokens. */
export const DEFAULT_REFRESH_TOKEN_PREFIX = 'etk_rt_';
/** Prefix of generated API keys. */
export const DEFAULT_API_KEY_PREFIX = 'etk_ak_';
/** Prefix of generated client secrets. */
export const DEFAULT_CLIENT_SECRET_PREFIX = 'etk_cs_';
/** Realm in `WWW-Authenticate` challenges. */
export const DEFAULT_REALM = 'api';
/** Seconds sent in `Retry-After` when the store is unavailable. */
export const DEFAULT_RETRY_AFTER = 5;
