/** `POST /oauth/revoke` (RFC 7009): revokes a token of the authenticated client. */
import type { Request, RequestHandler, Response } from 'express';
import { asyncHandler } from '../shared';
import { readTokenRequest, type OAuthContext } from './context';

/** The revocation endpoint's handler. */
export function revokeEndpoint(context: OAuthContext): RequestHandler {
  const { kit } = context;
  return asyncHandler(async function oauthRevoke(req: Request, res: Response) {
    const { client, token } = await readTokenRequest(context, req);
    // Tokens of other clients are left alone and answered 200 like unknown ones (RFC 7009 §2.2).
    // A token issued before a credential rotation still belongs to the application.
    await kit.tokens.revokeToken(token, (owner) => kit.credentials.applicationOwns(client, owner));
    // RFC 7009 §2.2 only asks for a 200 (the body is ignored); an empty JSON object rather than
    // no body, because common clients parse the answer as JSON and fail on an empty one.
    res.status(200).json({});
  });
}
