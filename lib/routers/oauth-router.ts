/**
 * createOAuthRouter — the OAuth 2.0 standards surface (RFC 6749, RFC 7009, RFC 7662, RFC 8414). Kept for
 * the imports of this path; the router lives in `./oauth/`, one module per endpoint.
 */
export { createOAuthRouter, type OAuthRouterOptions } from './oauth';
