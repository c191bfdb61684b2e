/**
 * createOAuthRouter's error handler: RFC 6749 §5.2 bodies for its own paths only, since, mounted at the
 * root, it sees every request of the app.
 */
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { TokenError } from '../../errors';
import { createErrorHandler, toTokenError, type ErrorFormatOption } from '../../middleware/error-response';

/** The paths createOAuthRouter answers, lower-case and without a trailing slash. */
export const OAUTH_PATHS = {
  token: '/oauth/token',
  revoke: '/oauth/revoke',
  introspect: '/oauth/introspect',
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
} as const;

const ROUTER_PATHS: ReadonlySet<string> = new Set(Object.values(OAUTH_PATHS));

/** Formats the errors of createOAuthRouter's own paths in `format`; passes any other on. */
export function oauthErrorHandler(format: ErrorFormatOption): ErrorRequestHandler {
  const handleError = createErrorHandler(format);
  return function oauthErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction) {
    if (!ROUTER_PATHS.has(req.path.toLowerCase().replace(/\/+$/, ''))) {
      next(err);
      return;
    }
    const mapped = toTokenError(err);
    // A content type or charset the body parsers refuse is a malformed request here (RFC 6749 §3.2);
    // the kit's own refusals (a charset other than UTF-8) keep their message.
    const oauthError =
      mapped instanceof TokenError && mapped.code === 'unsupported_media_type'
        ? new TokenError('invalid_request', err instanceof TokenError ? err.message : undefined, {
            cause: err,
          })
        : mapped;
    handleError(oauthError, req, res, next);
  };
}
