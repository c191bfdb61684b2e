/**
 * What every router shares: strict body parsing, security headers, no-store, method guards, and
 * prototype-safe field reading.
 */
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import helmet from 'helmet';
import { TokenError, type TokenErrorCode } from '../errors';
import type { TokenKit } from '../core/token-kit';
import { authorizationValues, extractBearerToken } from '../middleware/bearer';
import { routerRateLimits, type RouterRateLimitOption } from '../middleware/rate-limit';
import { missingOption } from '../util/options';
import {
  createErrorHandler,
  sendError,
  setNoStore,
  type ErrorFormatOption,
} from '../middleware/error-response';

/** Largest request body accepted by token endpoints. */
export const BODY_LIMIT = '16kb';

/** Most parameters (JSON members or form fields) accepted in one token-endpoint body. */
export const MAX_PARAMETERS = 64;

/** Copies a parsed JSON object into a null-prototype object; `invalid_request` over {@link MAX_PARAMETERS}. */
export function copyParams(raw: object): Record<string, unknown> {
  const keys = Object.keys(raw);
  if (keys.length > MAX_PARAMETERS) throw new TokenError('invalid_request', 'Too many parameters');
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of keys) out[key] = (raw as Record<string, unknown>)[key];
  return out;
}

/** A request body as a null-prototype copy of a JSON or form object. */
export type Body = Readonly<Record<string, unknown>>;

const KIT_HEADERS_SET = 'tokenKitHeadersSet';

/**
 * Helmet's default headers, as helmet itself sets them, recorded once at load: with its default
 * options every header is a constant (nothing depends on the request or the response), so each
 * response gets the recorded calls replayed instead of helmet's chain of middlewares run again.
 */
const securityHeaders = recordedHeaders(helmet());

function recordedHeaders(middleware: RequestHandler): (res: Response) => void {
  const calls: [name: string, value: string | number | readonly string[] | undefined][] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      calls.push([name, value]);
      return recorder;
    },
    removeHeader(name: string) {
      calls.push([name, undefined]);
    },
  };
  let finished = false;
  middleware({ headers: {} } as Request, recorder as unknown as Response, () => {
    finished = true;
  });
  // helmet's defaults set their headers synchronously: anything else fails at load, not per request
  if (!finished || calls.length === 0) throw new Error('helmet did not set its headers synchronously');
  return (res) => {
    for (const [name, value] of calls) {
      if (value === undefined) res.removeHeader(name);
      else res.setHeader(name, value);
    }
  };
}

/**
 * Helmet's headers and no-store on a response of the kit's own endpoints, once per request (a
 * request that reaches a second route of the same path, such as the 405 route, keeps them).
 */
function kitHeaders(_req: Request, res: Response, next: NextFunction): void {
  if (res.locals[KIT_HEADERS_SET] !== true) {
    res.locals[KIT_HEADERS_SET] = true;
    setNoStore(res);
    securityHeaders(res);
  }
  next();
}

/**
 * An Express router whose routes answer with helmet's headers, no-store (RFC 6749 §5.1) and no
 * `X-Powered-By`. The headers are added per route, never with `router.use`: a router mounted at
 * `/` (or at a prefix the host app also uses) sees every request of the app, and the host's own
 * routes must pass through it untouched. Every `router.get/post/all(path, …)` and
 * `router.route(path)` gets them as its first handler.
 */
export function createBaseRouter(): Router {
  const router = express.Router();
  const route = router.route.bind(router);
  // Router#get/post/all/… all create their route through `this.route(path)` (Express 4 and 5).
  router.route = function kitRoute(path: Parameters<Router['route']>[0]) {
    return route(path).all(kitHeaders);
  };
  return router;
}

/**
 * One `; name=value` parameter of a media type (RFC 9110 §5.6.6), or an empty one (`;;`); the
 * value is a token or a quoted-string (RFC 9110 §5.6.4).
 */
const MEDIA_TYPE_PARAMETER =
  /[ \t]*;[ \t]*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)=([!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t\x20\x21\x23-\x5B\x5D-\x7E\x80-\xFF]|\\[\t\x20-\x7E\x80-\xFF])*"))?/y;

/**
 * The `charset` parameter of a `Content-Type` value, unquoted and lower-cased; `undefined` when
 * there is none, `null` when it cannot be read for sure (given twice, or a malformed parameter
 * list that mentions a charset).
 */
export function declaredCharset(contentType: string): string | null | undefined {
  const start = contentType.indexOf(';');
  if (start === -1) return undefined;
  let charset: string | undefined;
  MEDIA_TYPE_PARAMETER.lastIndex = start;
  while (MEDIA_TYPE_PARAMETER.lastIndex < contentType.length) {
    const at = MEDIA_TYPE_PARAMETER.lastIndex;
    const match = MEDIA_TYPE_PARAMETER.exec(contentType);
    if (match === null) {
      if (/^[ \t]*$/.test(contentType.slice(at))) break;
      return /charset/i.test(contentType.slice(start)) ? null : charset;
    }
    const [, name, raw] = match;
    if (name === undefined || raw === undefined || name.toLowerCase() !== 'charset') continue;
    if (charset !== undefined) return null;
    charset = (raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/gs, '$1') : raw).toLowerCase();
  }
  return charset;
}

/**
 * Wraps a body parser for `type` so that a body declared in any charset but UTF-8 is refused
 * with 415 `unsupported_media_type` before it is decoded: JSON exchanged between systems is UTF-8
 * (RFC 8259 §8.1), and so are `application/x-www-form-urlencoded` token requests (RFC 6749
 * Appendix B). No charset, or `utf-8` in any case (quoted or not), is accepted.
 */
export function utf8Parser(type: string, parser: RequestHandler): RequestHandler {
  return function utf8BodyParser(req: Request, res: Response, next: NextFunction): void {
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && req.is(type)) {
      const charset = declaredCharset(contentType);
      if (charset !== undefined && charset !== 'utf-8') {
        next(new TokenError('unsupported_media_type', 'The body must be UTF-8 (charset=utf-8 or none)'));
        return;
      }
    }
    parser(req, res, next);
  };
}

/**
 * JSON body parser: strict (objects and arrays only), size-capped, `application/json` only, UTF-8
 * only (see {@link utf8Parser}).
 */
export const jsonParser: RequestHandler = utf8Parser(
  'application/json',
  express.json({ limit: BODY_LIMIT, strict: true, type: 'application/json' }),
);

/**
 * Returns the parsed body as a null-prototype object, or throws `invalid_request` for arrays,
 * scalars or missing bodies (unless `optional`, where a missing body is `{}`).
 */
export function readBody(req: Request, optional = false): Body {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    if (optional) return Object.create(null) as Body;
    throw new TokenError('invalid_request', 'A JSON body is required');
  }
  if (!req.is('application/json'))
    throw new TokenError('invalid_request', 'Content-Type must be application/json');
  const raw: unknown = req.body;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TokenError('invalid_request', 'The body must be a JSON object');
  }
  return copyParams(raw);
}

/** A string field: undefined when absent or empty, `invalid_request` when of another type. */
export function stringField(body: Body, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new TokenError('invalid_request', `${name} must be a string`);
  return value;
}

/** Wraps an async handler so that rejections reach the router's error handler. */
export function asyncHandler(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return function tokenKitHandler(req: Request, res: Response, next: NextFunction): void {
    fn(req, res).catch(next);
  };
}

/** Answers 405 with `Allow` for any other method on a path. */
export function methodNotAllowed(allow: string, format: ErrorFormatOption): RequestHandler {
  return function methodNotAllowedHandler(_req: Request, res: Response): void {
    res.set('Allow', allow);
    sendError(res, new TokenError('method_not_allowed'), format);
  };
}

/** Adds the error handler that formats every failure in `format` (never HTML or a stack). */
export function finishRouter(router: Router, format: ErrorFormatOption): Router {
  router.use(createErrorHandler(format));
  return router;
}

/** Seconds since the epoch as ISO 8601 UTC without milliseconds (`2024-01-01T00:00:00Z`). */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Throws the `TypeError` of a router factory called without a kit. */
export function assertKit(options: { readonly kit?: TokenKit } | undefined, factory: string): TokenKit {
  if (!options?.kit?.grants) throw missingOption(`${factory} needs { kit }`);
  return options.kit;
}

/** The brute-force limit stages of a router, reporting to the kit's events. */
export function kitRateLimits(
  kit: TokenKit,
  option: RouterRateLimitOption | undefined,
): ReturnType<typeof routerRateLimits> {
  return routerRateLimits(option, (reason, ip) => kit.tokens.reportStoreOutage(reason, ip));
}

/** The bearer credential of a request (RFC 6750 §2.1); throws when there is none or several. */
export function bearerCredential(req: Request): string {
  return extractBearerToken({ authorization: authorizationValues(req) });
}

/** The bearer credential of a request, or the `code` error when it has none (or a malformed one). */
export function requireBearerCredential(req: Request, code: TokenErrorCode): string {
  try {
    return bearerCredential(req);
  } catch {
    throw new TokenError(code);
  }
}

/** A boolean field: undefined when absent or null, `invalid_request` when of another type. */
export function booleanField(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TokenError('invalid_request', `${name} must be a boolean`);
  return value;
}

/** `{ [name]: value }` when value is defined, else `{}`: for optional inputs under `exactOptionalPropertyTypes`. */
export function defined<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

/** Awaits `promise`; a rejection is replaced by `map(err)` (a status or a challenge added). */
export async function mapRejection<T>(promise: Promise<T>, map: (err: unknown) => unknown): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw map(err);
  }
}
