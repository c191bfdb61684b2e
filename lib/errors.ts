/**
 * Every request-time error of the library, and the one pure function that turns them into bodies.
 */

/** Wire codes of request-time errors. Each is the string that appears in the response body. */
export type TokenErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'expired_token'
  | 'insufficient_scope'
  | 'service_unavailable'
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'invalid_api_key'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'conflict'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'server_error';

/**
 * Body formats: `errors` is `{"errors":[{"errorType","message"}]}`, `code` is
 * `{"code","message"}`, `oauth` is RFC 6749 §5.2 `{"error","error_description"}`.
 */
export type ErrorFormat = 'errors' | 'code' | 'oauth';

const DEFAULT_STATUS: Readonly<Record<TokenErrorCode, number>> = {
  missing_token: 401,
  invalid_token: 401,
  expired_token: 401,
  insufficient_scope: 403,
  service_unavailable: 503,
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  invalid_api_key: 401,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  payload_too_large: 413,
  too_many_requests: 429,
  conflict: 409,
  // RFC 9449 §5 (token endpoint); a resource answers them with 401 (§7.1, §9).
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  server_error: 500,
};

const DEFAULT_MESSAGE: Readonly<Record<TokenErrorCode, string>> = {
  missing_token: 'Access token missing',
  invalid_token: 'Access token invalid',
  expired_token: 'Access token expired',
  insufficient_scope: 'Insufficient scope for this resource',
  service_unavailable: 'Service temporarily unavailable',
  invalid_request: 'The request is invalid',
  invalid_client: 'Client authentication failed',
  invalid_grant: 'The grant is invalid',
  invalid_scope: 'The requested scope is invalid',
  invalid_target: 'The requested resource is invalid or not allowed',
  unauthorized_client: 'The client may not use this grant type',
  unsupported_grant_type: 'Unsupported grant type',
  unsupported_token_type: 'Unsupported token type',
  invalid_api_key: 'Invalid API key',
  unauthorized: 'Missing or invalid or expired auth token',
  not_found: 'Resource not found',
  method_not_allowed: 'Method not allowed',
  unsupported_media_type: 'Unsupported content type',
  payload_too_large: 'Request body too large',
  too_many_requests: 'Too many requests',
  conflict: 'Concurrent update; retry',
  invalid_dpop_proof: 'The DPoP proof is invalid',
  use_dpop_nonce: 'The DPoP proof must carry the server-provided nonce',
  server_error: 'Internal server error',
};

/** Options of a {@link TokenError}. */
export interface TokenErrorOptions {
  /** HTTP status; @default the code's usual status. */
  readonly status?: number;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Internal diagnostics; never serialised. */
  readonly cause?: unknown;
}

/**
 * A request-time failure whose `code` is the wire string. The message is public and says nothing
 * internal; diagnostics go in `cause`.
 */
export class TokenError extends Error {
  /** The wire code. */
  readonly code: TokenErrorCode;
  /** The HTTP status. */
  readonly status: number;
  /** Headers to send with the error response. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: TokenErrorCode, message?: string, options: TokenErrorOptions = {}) {
    super(
      message ?? DEFAULT_MESSAGE[code],
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'TokenError';
    this.code = code;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.headers = Object.freeze({ ...options.headers });
  }

  /** A copy of this error with other status or extra headers. */
  with(options: Pick<TokenErrorOptions, 'status' | 'headers'>): TokenError {
    return new TokenError(this.code, this.message, {
      status: options.status ?? this.status,
      headers: { ...this.headers, ...options.headers },
      cause: this.cause,
    });
  }
}

/** True when `value` is a {@link TokenError}. */
export function isTokenError(value: unknown): value is TokenError {
  return value instanceof TokenError;
}

/**
 * Thrown by stores when the backing service cannot answer (down, slow, or gave a corrupt value).
 * The core turns it into a 503 `service_unavailable`.
 */
export class StoreUnavailableError extends Error {
  constructor(message = 'token store unavailable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The one 503 of the kit: `service_unavailable` with `Retry-After` (seconds), for anything that
 * cannot answer — a store, a counter store, an application callback. Fail closed: the request that
 * gets it is never let through. `cause` is kept for diagnostics and never serialised.
 */
export function serviceUnavailable(
  cause: unknown,
  retryAfterSeconds = SERVICE_RETRY_AFTER_SECONDS,
): TokenError {
  return new TokenError('service_unavailable', undefined, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
    cause,
  });
}

/** `Retry-After` of {@link serviceUnavailable}, in seconds. */
const SERVICE_RETRY_AFTER_SECONDS = 5;

/** Error body in one of the three formats. */
export type ErrorBody =
  | { errors: { errorType: string; message: string }[] }
  | { code: string; message: string }
  | { error: string; error_description: string };

/**
 * Turns an error into a response body in the given format. Anything that is not a
 * {@link TokenError} becomes a generic `server_error`, so internals never leak.
 */
export function toBody(err: unknown, format: ErrorFormat): ErrorBody {
  const e = isTokenError(err) ? err : new TokenError('server_error');
  switch (format) {
    case 'code':
      return { code: e.code, message: e.message };
    case 'oauth':
      return { error: e.code, error_description: e.message };
    default:
      return { errors: [{ errorType: e.code, message: e.message }] };
  }
}

/** The HTTP status of any error: a {@link TokenError}'s own, 500 otherwise. */
export function statusOf(err: unknown): number {
  return isTokenError(err) ? err.status : 500;
}
