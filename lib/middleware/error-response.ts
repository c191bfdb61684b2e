/**
 * Turning errors into responses: one place for status, headers, no-store and the body format.
 */
import type { NextFunction, Request, Response } from 'express';
import { oneOf } from '../util/options';
import {
  isTokenError,
  toBody,
  TokenError,
  type ErrorBody,
  type ErrorFormat,
  type TokenErrorCode,
} from '../errors';

/** A custom error formatter: returns the status, body and extra headers for an error. */
export type ErrorFormatter = (err: TokenError) => {
  status: number;
  body: unknown;
  headers?: Readonly<Record<string, string>>;
};

/** A built-in body format or a custom formatter. */
export type ErrorFormatOption = ErrorFormat | ErrorFormatter;

/** Sets `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1). */
export function setNoStore(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.set('Pragma', 'no-cache');
}

/** Asserts an error-format option once, at factory time. */
export function assertErrorFormat(
  format: unknown,
  option = 'errorFormat',
): asserts format is ErrorFormatOption {
  if (typeof format === 'function') return;
  oneOf(format, ['errors', 'code', 'oauth'], option, undefined, 'a function');
}

const ERROR_CODE = 'tokenKitErrorCode';

/** The code of the TokenError this response was answered with (by {@link sendError}), if any. */
export function tokenErrorCodeOf(res: Response): TokenErrorCode | undefined {
  const code: unknown = res.locals[ERROR_CODE];
  return typeof code === 'string' ? (code as TokenErrorCode) : undefined;
}

/** Sends an error in the given format; anything but a TokenError is a generic 500. */
export function sendError(res: Response, err: unknown, format: ErrorFormatOption): void {
  const e = isTokenError(err) ? err : new TokenError('server_error', undefined, { cause: err });
  // Read by the rate limits (failed credential checks) and the metrics (validation outcomes).
  res.locals[ERROR_CODE] = e.code;
  setNoStore(res);
  if (typeof format === 'function') {
    const out = format(e);
    res.set({ ...e.headers, ...out.headers });
    res.status(out.status).json(out.body);
    return;
  }
  res.set({ ...e.headers });
  res.status(e.status).json(bodyOf(e, format));
}

/**
 * The body of an error in a built-in format. In the OAuth format a request without any
 * authentication information (`missing_token`) gets no error code, only its 401 and challenge:
 * `missing_token` is no RFC 6750 code, and RFC 6750 §3.1 says such a request SHOULD NOT receive
 * an error code or other error information. The other formats keep `missing_token`.
 */
function bodyOf(e: TokenError, format: ErrorFormat): ErrorBody | Record<string, never> {
  if (format === 'oauth' && e.code === 'missing_token') return {};
  return toBody(e, format);
}

/**
 * Error-handling middleware for a router: body-parser failures become 400/413/415 in the router's
 * format, everything else goes through {@link sendError}. Never a stack trace or HTML.
 */
export function createErrorHandler(format: ErrorFormatOption) {
  return function tokenKitErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
    if (res.headersSent) return next(err);
    sendError(res, toTokenError(err), format);
  };
}

/** Maps body-parser and other framework errors to TokenErrors. */
export function toTokenError(err: unknown): unknown {
  if (isTokenError(err)) return err;
  const e = err as { type?: unknown; status?: unknown } | null;
  const type = typeof e?.type === 'string' ? e.type : '';
  const status = typeof e?.status === 'number' ? e.status : 500;
  if (type === 'entity.too.large' || status === 413)
    return new TokenError('payload_too_large', undefined, { cause: err });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || status === 415) {
    return new TokenError('unsupported_media_type', undefined, { cause: err });
  }
  if (status >= 400 && status < 500) return new TokenError('invalid_request', undefined, { cause: err });
  return err;
}
