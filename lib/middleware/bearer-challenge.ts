/**
 * The RFC 6750 §3 `WWW-Authenticate` challenge of bearer-protected routes, and sending an error
 * with it.
 */
import type { Response } from 'express';
import { TokenError } from '../errors';
import { sendError, type ErrorFormatOption } from './error-response';

/**
 * Builds the RFC 6750 §3 challenge for an error; undefined when none belongs (503). With
 * `resourceMetadata`, the challenge names the protected resource's metadata URL (RFC 9728 §5.1).
 */
export function bearerChallenge(
  err: TokenError,
  realm: string,
  scopes?: readonly string[],
  resourceMetadata?: string,
): string | undefined {
  const parts = [`realm="${realm}"`];
  switch (err.code) {
    case 'missing_token':
      break;
    case 'invalid_token':
    case 'expired_token':
      parts.push('error="invalid_token"', `error_description="${err.message}"`);
      break;
    case 'invalid_request':
      parts.push('error="invalid_request"', `error_description="${err.message}"`);
      break;
    case 'insufficient_scope':
      parts.push('error="insufficient_scope"');
      if (scopes && scopes.length > 0) parts.push(`scope="${scopes.join(' ')}"`);
      break;
    default:
      return undefined;
  }
  if (resourceMetadata !== undefined) parts.push(`resource_metadata="${resourceMetadata}"`);
  return `Bearer ${parts.join(', ')}`;
}

/** Sends a requireToken/guard failure with its challenge. */
export function sendBearerError(
  res: Response,
  err: unknown,
  realm: string,
  format: ErrorFormatOption,
  scopes?: readonly string[],
  resourceMetadata?: string,
): void {
  if (err instanceof TokenError) {
    const challenge = bearerChallenge(err, realm, scopes, resourceMetadata);
    sendError(
      res,
      challenge === undefined ? err : err.with({ headers: { 'WWW-Authenticate': challenge } }),
      format,
    );
    return;
  }
  sendError(res, err, format);
}
