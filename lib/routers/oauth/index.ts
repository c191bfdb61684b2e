/**
 * createOAuthRouter — the OAuth 2.0 standards surface: token (RFC 6749), revocation (RFC 7009),
 * introspection (RFC 7662), JWKS and authorization-server metadata (RFC 8414), with RFC 6749 §5.2
 * `{"error","error_description"}` bodies. One module per endpoint; this one composes them.
 */
import type { Router } from 'express';
import { routerRateLimits } from '../../middleware/rate-limit';
import { createBaseRouter, jsonParser, methodNotAllowed } from '../shared';
import { createOAuthContext, type OAuthRouterOptions } from './context';
import { OAUTH_PATHS, oauthErrorHandler } from './errors';
import { formTextParser } from './form';
import { introspectEndpoint } from './introspect';
import { jwksEndpoint } from './jwks';
import { oauthCredentials } from './limits';
import { metadataEndpoint } from './metadata';
import { revokeEndpoint } from './revoke';
import { tokenEndpoint } from './token';

export type { OAuthRouterOptions } from './context';

/**
 * createOAuthRouter: the OAuth 2.0 standards surface, so that any OAuth client library or JWT validator
 * works with the kit unchanged. Mount it at the root of `baseUrl` (by default the issuer).
 *
 * - `POST /oauth/token` — `client_credentials`, `password` (clients allowed to use it) and
 *   `refresh_token` grants; form or JSON bodies; `client_secret_basic` or `client_secret_post`.
 * - `POST /oauth/revoke` — RFC 7009. `POST /oauth/introspect` — RFC 7662.
 * - `GET /.well-known/jwks.json` — public keys. `GET /.well-known/oauth-authorization-server` — RFC 8414.
 *
 * @example
 * ```ts
 * app.use(createOAuthRouter({ kit }));
 * ```
 * @see RFC 6749, RFC 7009, RFC 7662, RFC 8414, RFC 9068
 */
export function createOAuthRouter(options: Readonly<OAuthRouterOptions>): Router {
  const context = createOAuthContext(options);
  const { kit, format } = context;
  const limitStages = routerRateLimits(options.rateLimit, (reason, ip) =>
    kit.tokens.reportStoreOutage(reason, ip),
  );
  // Per route, never router.use: mounted at the root, this router sees every request of the app.
  const parsers = [jsonParser, formTextParser, oauthCredentials, ...limitStages];
  const router = createBaseRouter();

  router.post(OAUTH_PATHS.token, ...parsers, tokenEndpoint(context));
  router.all(OAUTH_PATHS.token, methodNotAllowed('POST', format));
  router.post(OAUTH_PATHS.revoke, ...parsers, revokeEndpoint(context));
  router.all(OAUTH_PATHS.revoke, methodNotAllowed('POST', format));
  router.post(OAUTH_PATHS.introspect, ...parsers, introspectEndpoint(context));
  router.all(OAUTH_PATHS.introspect, methodNotAllowed('POST', format));
  router.get(OAUTH_PATHS.jwks, jwksEndpoint(context));
  router.all(OAUTH_PATHS.jwks, methodNotAllowed('GET, HEAD', format));
  router.get(OAUTH_PATHS.metadata, metadataEndpoint(context));
  router.all(OAUTH_PATHS.metadata, methodNotAllowed('GET, HEAD', format));
  router.use(oauthErrorHandler(format));
  return router;
}
