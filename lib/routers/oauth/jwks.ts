/** `GET /.well-known/jwks.json`: the kit's public signing keys (RFC 7517 §5), cacheable. */
import type { Request, RequestHandler, Response } from 'express';
import type { OAuthContext } from './context';

/** The JWKS endpoint's handler. */
export function jwksEndpoint(context: OAuthContext): RequestHandler {
  const { kit, jwksMaxAge } = context;
  return function jwks(_req: Request, res: Response) {
    // Public keys only, and cacheable: the one response of this router that is not no-store.
    res.removeHeader('Pragma');
    res.set('Cache-Control', `public, max-age=${jwksMaxAge}`);
    res.status(200).json(kit.tokens.jwks());
  };
}
