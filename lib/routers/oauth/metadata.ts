/** `GET /.well-known/oauth-authorization-server`: authorization-server metadata (RFC 8414 §2). */
import type { Request, RequestHandler, Response } from 'express';
import { supportedGrantTypes } from '../../core/grants/registry';
import { AUTH_METHODS } from './client-auth';
import type { OAuthContext } from './context';

/** The metadata endpoint's handler; `grant_types_supported` comes from the grant registry. */
export function metadataEndpoint(context: OAuthContext): RequestHandler {
  const { kit, baseUrl, grants } = context;
  return function metadata(_req: Request, res: Response) {
    res.status(200).json({
      issuer: kit.tokens.issuer,
      token_endpoint: `${baseUrl}/oauth/token`,
      revocation_endpoint: `${baseUrl}/oauth/revoke`,
      introspection_endpoint: `${baseUrl}/oauth/introspect`,
      jwks_uri: `${baseUrl}/.well-known/jwks.json`,
      grant_types_supported: supportedGrantTypes(grants),
      // No authorization endpoint, hence no response types (RFC 8414 §2).
      response_types_supported: [],
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      revocation_endpoint_auth_methods_supported: AUTH_METHODS,
      introspection_endpoint_auth_methods_supported: AUTH_METHODS,
      // RFC 9449 §5.1
      ...(kit.tokens.dpop.enabled ? { dpop_signing_alg_values_supported: kit.tokens.dpop.algorithms } : {}),
    });
  };
}
