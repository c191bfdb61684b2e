/**
 * Client authentication of createOAuthRouter's token, revocation and introspection endpoints
 * (RFC 6749 §2.3.1, RFC 7523 §2.2): `client_secret_basic` — HTTP Basic with RFC 6749 Appendix B
 * form-encoded parts — `client_secret_post`, or a JWT assertion in `client_assertion` (for
 * `client_secret_jwt` and `private_key_jwt`), never two at once (RFC 6749 §2.3).
 */
import type { Request } from 'express';
import { TokenError } from '../../errors';
import { authorizationValues } from '../../middleware/bearer';
import { stringField, type Body } from '../shared';
import { claimedClientId } from '../../core/client-assertion';
import { JWT_BEARER_ASSERTION_TYPE } from '../../core/client-auth-method';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The client of a request and how it authenticated. */
export interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  /** True when the client used HTTP Basic (the challenge then goes with `invalid_client`). */
  readonly basic: boolean;
  /**
   * A JWT client assertion (RFC 7523 §2.2), when the request sent one; `clientId` is then the
   * `client_id` parameter or, failing it, the client the assertion claims (unverified: for the rate
   * limits and audit events only).
   */
  readonly assertion?: { readonly value: string; readonly clientIdParam: string | undefined };
}

/**
 * The `client_assertion` pair of a body, or undefined when it has neither member. Both are needed
 * (`invalid_request`); a type other than jwt-bearer is `invalid_client` (RFC 7521 §4.2.1).
 */
function readAssertion(body: Body): string | undefined {
  const type = stringField(body, 'client_assertion_type');
  const assertion = stringField(body, 'client_assertion');
  if (type === undefined && assertion === undefined) return undefined;
  if (type === undefined || assertion === undefined) {
    throw new TokenError('invalid_request', 'client_assertion and client_assertion_type go together');
  }
  if (type !== JWT_BEARER_ASSERTION_TYPE) {
    throw new TokenError('invalid_client', 'Unsupported client_assertion_type');
  }
  return assertion;
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
  const assertion = readAssertion(body);
  if (assertion !== undefined) {
    if (values.length > 0 || bodySecret !== undefined) {
      throw new TokenError('invalid_request', 'More than one method used for client authentication');
    }
    return {
      clientId: bodyId ?? claimedClientId(assertion),
      clientSecret: undefined,
      basic: false,
      assertion: { value: assertion, clientIdParam: bodyId },
    };
  }
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
