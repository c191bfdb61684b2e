'use strict';
/**
 * The scenarios of `npm run bench`, in table order. `bench/server.js <name>` serves each one.
 * `group` is `verify` (a guarded GET) or `issue` (a token endpoint). `optional` scenarios run only
 * when named in BENCH_SCENARIOS.
 */
module.exports = [
  { name: 'bare', group: 'verify', label: 'bare Express 5 route (baseline)' },
  { name: 'rt-rs256', group: 'verify', label: 'requireToken, RS256 JWT + Redis revocation (pub/sub view)' },
  { name: 'rt-es256', group: 'verify', label: 'requireToken, ES256 JWT + Redis revocation (pub/sub view)' },
  { name: 'rt-hs256', group: 'verify', label: 'requireToken, HS256 JWT + Redis revocation (pub/sub view)' },
  { name: 'rt-opaque', group: 'verify', label: 'requireToken, opaque token (Redis, pub/sub view)' },
  {
    name: 'rt-rs256-direct',
    group: 'verify',
    label: 'requireToken, RS256 JWT + one Redis round trip per request (no view)',
  },
  {
    name: 'rt-rs256-memory',
    group: 'verify',
    label: 'requireToken, RS256 JWT + MemoryTokenStore (no Redis)',
    optional: true,
  },
  { name: 'ejwt-hs256', group: 'verify', label: 'express-jwt, HS256 (string secret, README style)' },
  { name: 'ejwt-rs256', group: 'verify', label: 'express-jwt, RS256 (PEM public key)' },
  { name: 'auth0-rs256', group: 'verify', label: 'express-oauth2-jwt-bearer, RS256 (local JWKS)' },
  { name: 'c-cc-rs256', group: 'issue', label: 'router C client_credentials, RS256' },
  { name: 'c-cc-es256', group: 'issue', label: 'router C client_credentials, ES256' },
  { name: 'd-cc-rs256', group: 'issue', label: 'router D /oauth/token client_credentials, RS256' },
  { name: 'a-access-tokens', group: 'issue', label: 'router A /access-tokens (opaque on Redis)' },
  { name: 'oidc-cc-rs256', group: 'issue', label: 'oidc-provider client_credentials, RS256 JWT' },
];
