/**
 * `POST /oauth/token` (RFC 6749 §3.2): parses the request, runs the registry's grant, and answers
 * the RFC 6749 §5.1 token response.
 */
import type { Request, RequestHandler, Response } from 'express';
import { TokenError } from '../../errors';
import type { GrantResult } from '../../core/grants';
import { findGrant } from '../../core/grants/registry';
import { asyncHandler, stringField } from '../shared';
import { readClientCredentials } from './client-auth';
import type { OAuthContext } from './context';
import { readParams, readResources } from './form';
import { OAUTH_PATHS } from './errors';
import { setDpopNonce, tokenRequestProof } from '../../middleware/dpop';

/** The RFC 6749 §5.1 answer to a successful grant. */
function tokenResponse(res: Response, result: GrantResult, dpop: boolean): void {
  res.status(200).json({
    access_token: result.accessToken.token,
    // RFC 9449 §5: a DPoP-bound token is of type DPoP.
    token_type: dpop ? 'DPoP' : 'Bearer',
    expires_in: result.accessToken.expiresIn,
    ...(result.scope ? { scope: result.scope } : {}),
    ...(result.refreshToken === undefined ? {} : { refresh_token: result.refreshToken }),
    // RFC 8693 §2.2.1: a token-exchange response names the type of the token it issued.
    ...(result.issuedTokenType === undefined ? {} : { issued_token_type: result.issuedTokenType }),
  });
}

/** The token endpoint's handler; the grant types are those of the grant registry. */
export function tokenEndpoint(context: OAuthContext): RequestHandler {
  return asyncHandler(async function oauthToken(req: Request, res: Response) {
    const body = readParams(req);
    const credentials = readClientCredentials(req, body);
    const grantType = stringField(body, 'grant_type');
    const scope = stringField(body, 'scope');
    try {
      if (grantType === undefined) throw new TokenError('invalid_request', 'grant_type is required');
      const grant = findGrant(grantType);
      if (grant === undefined) throw new TokenError('unsupported_grant_type');
      // RFC 9449 §5: a proof is checked (and its jti consumed) before the grant runs.
      const dpopJkt = await tokenRequestProof(context.kit.tokens, req, context.baseUrl + OAUTH_PATHS.token);
      const result = await grant.token(context.grants, {
        param: (name) => stringField(body, name),
        scope,
        resources: readResources(body),
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        authenticate: () => context.authenticate(req, credentials),
        ip: req.ip,
        dpopJkt,
      });
      setDpopNonce(context.kit.tokens, res);
      tokenResponse(res, result, result.accessToken.jkt !== undefined);
    } catch (err) {
      throw context.withChallenge(err, credentials);
    }
  });
}
