/**
 * The credentials a createOAuthRouter request names, for the brute-force limits: the authenticating client
 * and, for a grant that names a user (the password grant), the user too — the same kinds as
 * createAuthRouter's, so that a credential has one failure budget on both.
 */
import type { RequestHandler } from 'express';
import { findGrant } from '../../core/grants/registry';
import { identifyCredential } from '../../middleware/rate-limit';
import { stringField } from '../shared';
import { readClientCredentials } from './client-auth';
import { readParams } from './form';

/** The rate-limit stage that names a request's client and user. */
export const oauthCredentials: RequestHandler = identifyCredential('client', (req) => {
  const body = readParams(req);
  const { clientId } = readClientCredentials(req, body);
  const grant = req.path.toLowerCase().startsWith('/oauth/token')
    ? findGrant(stringField(body, 'grant_type'))
    : undefined;
  const username = grant?.user?.({ param: (name) => stringField(body, name) });
  // A refresh grant's invalid_grant is about the refresh token, a password grant's about the user.
  const clientAuthOnly = grant?.ownsFailures === true || username !== undefined;
  return [
    ...(clientId === undefined
      ? []
      : [{ id: clientId, failures: clientAuthOnly ? ('client-auth' as const) : ('any' as const) }]),
    ...(username === undefined
      ? []
      : [{ kind: 'user' as const, id: username, failures: 'not-client-auth' as const }]),
  ];
});
