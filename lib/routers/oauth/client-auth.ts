/**
 * Client authentication of createOAuthRouter's token, revocation and introspection endpoints
 * (RFC 6749 §2.3.1): `client_secret_basic` — HTTP Basic with RFC 6749 Appendix B form-encoded
 * parts — or `client_secret_post`, never both.
 */
import type { Request } from 'express';
import { TokenError } from '../../errors';
import { authorizationValues } from '../../middleware/bearer';
import { stringField, type Body } from '../shared';

/** Client authentication methods of the token, revocation and introspection endpoints. */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The client of a request and how it authenticated. */
export interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  /** True when the client used HTTP Basic (the challenge then goes with `invalid_client`). */
  readonly basic: boolean;
}

/** RFC 6749 Appendix B decoding of one Basic credential part; undefined when malformed. */
export function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Reads client credentials from HTTP Basic or the body (never both).
 * @see RFC 6749 §2.3.1
 */
export function readClientCredentials(req: Request, body: Body): ClientCredentials {
  const values = authorizationValues(req);
  const bodyId = stringField(body, 'client_id');
  const bodySecret = stringField(body, 'client_secret');
  if (values.length === 0) return { clientId: bodyId, clientSecret: bodySecret, basic: false };
  if (values.length > 1) throw new TokenError('invalid_request', 'More than one Authorization header');
  const value = values[0]!;
  const match = /^basic +(\S*) *$/i.exec(value);
  if (match === null)
    throw new TokenError('invalid_request', 'Only Basic client authentication is supported');
  if (bodySecret !== undefined) {
    throw new TokenError('invalid_request', 'More than one method used for client authentication');
  }
  const encoded = match[1]!;
  let decoded: string;
  try {
    if (encoded === '' || !BASE64.test(encoded)) throw new TypeError('not base64');
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    throw new TokenError('invalid_request', 'Malformed Basic credentials');
  }
  const colon = decoded.indexOf(':');
  const clientId = colon === -1 ? undefined : formDecode(decoded.slice(0, colon));
  const clientSecret = colon === -1 ? undefined : formDecode(decoded.slice(colon + 1));
  if (clientId === undefined || clientSecret === undefined) {
    throw new TokenError('invalid_request', 'Malformed Basic credentials');
  }
  if (bodyId !== undefined && bodyId !== clientId) {
    throw new TokenError('invalid_request', 'client_id differs from the authenticated client');
  }
  return { clientId, clientSecret, basic: true };
}
