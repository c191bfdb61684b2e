'use strict';
/**
 * The scenarios of `npm run bench`, in table order. `bench/server.js <name>` serves each one.
 *
 * - `group`: `verify` (a guarded GET, driven with N distinct tokens) or `issue` (a token endpoint).
 * - `tokens`: which token file drives it (`jwt-rs256`, `jwt-es256`, `jwt-hs256`, `opaque`).
 * - `churn`: also run while a second kit instance revokes a steady 50 tokens/s (the requireToken
 *   scenarios, and the bare route they are compared with in the same round).
 * - `revocation`: it enforces revocation (checked across instances by bench/run.js).
 * - `mode`: the line of the ratio chart; `optional`: runs only when named in BENCH_SCENARIOS;
 *   `requires: 'replica'`: runs only on a build whose RedisRevocationView can be a replica.
 */
module.exports = [
  {
    name: 'bare',
    group: 'verify',
    tokens: 'jwt-rs256',
    churn: true,
    label: 'bare Express 5 route (baseline)',
  },
  {
    name: 'noop-middleware',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'one empty Express middleware (ceiling)',
    label: 'one empty Express middleware before the route (the ceiling of any guard)',
  },
  {
    name: 'bare-deferred',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'bare Express, next() via setImmediate (the hand-off alone)',
    label: 'bare Express with a setImmediate hand-off before the route (what deferNext alone is worth)',
  },
  {
    name: 'floor-rs256',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'RS256 signature check alone (ceiling)',
    label: 'node:crypto RS256 signature check alone (no claims, no revocation: the ceiling)',
  },
  {
    name: 'rt-rs256',
    group: 'verify',
    tokens: 'jwt-rs256',
    churn: true,
    revocation: true,
    mode: 'requireToken RS256 + Redis + revocation view',
    label: 'requireToken, RS256 JWT + Redis revocation (pub/sub view)',
  },
  {
    name: 'rt-rs256-direct',
    group: 'verify',
    tokens: 'jwt-rs256',
    churn: true,
    revocation: true,
    mode: 'requireToken RS256 + Redis, no view',
    label: 'requireToken, RS256 JWT + Redis revocation, no view',
  },
  {
    name: 'rt-rs256-no-replica',
    group: 'verify',
    tokens: 'jwt-rs256',
    churn: true,
    revocation: true,
    optional: true,
    requires: 'replica',
    mode: 'requireToken RS256 + Redis + view, replica off',
    label: 'requireToken, RS256 JWT + Redis revocation (pub/sub view with `replica: false`)',
  },
  {
    name: 'rt-opaque',
    group: 'verify',
    tokens: 'opaque',
    churn: true,
    revocation: true,
    mode: 'requireToken opaque tokens + Redis + view',
    label: 'requireToken, opaque token (Redis, pub/sub view)',
  },
  {
    name: 'jose-rs256',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'jose jwtVerify (no revocation)',
    label: 'jose `jwtVerify`, RS256 (public key in hand; no revocation)',
  },
  {
    name: 'auth0-rs256',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'express-oauth2-jwt-bearer (no revocation)',
    label: 'express-oauth2-jwt-bearer, RS256 (local JWKS; no revocation)',
  },
  {
    name: 'ejwt-rs256',
    group: 'verify',
    tokens: 'jwt-rs256',
    mode: 'express-jwt RS256 (no revocation)',
    label: 'express-jwt, RS256 (PEM public key; no revocation)',
  },
  {
    name: 'rt-es256',
    group: 'verify',
    tokens: 'jwt-es256',
    churn: true,
    revocation: true,
    optional: true,
    mode: 'requireToken ES256 + Redis + view',
    label: 'requireToken, ES256 JWT + Redis revocation (pub/sub view)',
  },
  {
    name: 'rt-hs256',
    group: 'verify',
    tokens: 'jwt-hs256',
    churn: true,
    revocation: true,
    optional: true,
    mode: 'requireToken HS256 + Redis + view',
    label: 'requireToken, HS256 JWT + Redis revocation (pub/sub view)',
  },
  {
    name: 'rt-rs256-memory',
    group: 'verify',
    tokens: 'jwt-rs256',
    churn: false,
    optional: true,
    mode: 'requireToken RS256 + MemoryTokenStore',
    label: 'requireToken, RS256 JWT + MemoryTokenStore (no Redis)',
  },
  {
    name: 'ejwt-hs256',
    group: 'verify',
    tokens: 'jwt-hs256',
    optional: true,
    mode: 'express-jwt HS256 (no revocation)',
    label: 'express-jwt, HS256 (no revocation)',
  },
  { name: 'c-cc-rs256', group: 'issue', label: '`createAuthRouter` client_credentials, RS256' },
  { name: 'c-cc-es256', group: 'issue', label: '`createAuthRouter` client_credentials, ES256' },
  { name: 'd-cc-rs256', group: 'issue', label: '`createOAuthRouter` /oauth/token client_credentials, RS256' },
  { name: 'd-cc-es256', group: 'issue', label: '`createOAuthRouter` /oauth/token client_credentials, ES256' },
  {
    name: 'a-access-tokens',
    group: 'issue',
    optional: true,
    label: '`createApiKeyRouter` /access-tokens (opaque on Redis)',
  },
  { name: 'oidc-cc-rs256', group: 'issue', label: 'oidc-provider client_credentials, RS256 JWT' },
];
