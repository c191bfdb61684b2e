/** `GET /.well-known/oauth-authorization-server`: authorization-server metadata (RFC 8414 §2). */
import type { Request, RequestHandler, Response } from 'express';
import { supportedGrantTypes } from '../../core/grants/registry';
import { CLIENT_SECRET_JWT_ALGORITHMS, PRIVATE_KEY_JWT_ALGORITHMS } from '../../core/client-auth-method';

/**
 * RFC 8414 §2 `*_auth_methods_supported` and `*_auth_signing_alg_values_supported`: the methods the
 * kit serves (client authentication is shared by the three endpoints) and, when it serves a JWT
 * method, the assertion algorithms of those methods.
 */
function clientAuthMetadata(kit: OAuthContext['kit']): Record<string, readonly string[]> {
  const methods = kit.credentials.clientAuthMethods();
  const algs = [
    ...(methods.includes('private_key_jwt') ? PRIVATE_KEY_JWT_ALGORITHMS : []),
    ...(methods.includes('client_secret_jwt') ? CLIENT_SECRET_JWT_ALGORITHMS : []),
  ];
  const out: Record<string, readonly string[]> = {};
  for (const endpoint of ['token', 'revocation', 'introspection']) {
    out[`${endpoint}_endpoint_auth_methods_supported`] = methods;
    if (algs.length > 0) out[`${endpoint}_endpoint_auth_signing_alg_values_supported`] = algs;
  }
  return out;
}
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
      ...clientAuthMetadata(kit),
      // RFC 9449 §5.1
      ...(kit.tokens.dpop.enabled ? { dpop_signing_alg_values_supported: kit.tokens.dpop.algorithms } : {}),
    });
  };
}
