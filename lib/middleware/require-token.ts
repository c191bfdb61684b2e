/**
 * `requireToken`: RFC 6750 bearer authentication for Express routes.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { TokenError } from '../errors';
import type { TokenService } from '../core/token-service';
import type { AuthInfo } from '../types';
import { DEFAULT_REALM } from '../defaults';
import { authorizationValues, extractBearerToken } from './bearer';
import { sendBearerError } from './bearer-challenge';
import { assertErrorFormat, type ErrorFormatOption } from './error-response';
import {
  hasPipelineOptions,
  isRemoteRequireTokenOptions,
  kitTokenPipeline,
  requireRemoteToken,
  type RemoteRequireTokenOptions,
  type RequireTokenCheckOptions,
} from './token-pipeline';

export { bearerChallenge, sendBearerError } from './bearer-challenge';
import { booleanOption, missingOption, quotableString, scopeTokens } from '../util/options';
import { createDpopGuard, type RequireTokenDpopOptions } from './dpop';

export type { RequireTokenDpopOptions } from './dpop';

/** True when the request's one `Authorization` header uses the DPoP scheme (RFC 9449 §7.1). */
function isDpopScheme(values: readonly string[]): boolean {
  return values.length === 1 && /^dpop(?:[ \t]|$)/i.test(values[0]!);
}

/**
 * The token of an `Authorization` value of the usual exact form `Bearer <token>` (one space, the
 * token not starting with a blank); undefined for anything else, which the full parse
 * (`extractBearerToken`) then judges. Not a validation: the caller only looks the token up.
 */
function plainBearerToken(value: string): string | undefined {
  if (value.length <= 7 || !value.startsWith('Bearer ')) return undefined;
  const first = value.charCodeAt(7);
  return first === 0x20 || first === 0x09 ? undefined : value.slice(7);
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified access token, set by `requireToken`. */
      auth?: AuthInfo;
    }
  }
}

/** Options of {@link requireToken} with a kit (see {@link RemoteRequireTokenOptions} without one). */
export interface RequireTokenOptions extends RequireTokenCheckOptions {
  /** The token kit (or anything with its `tokens` service). */
  readonly kit: { readonly tokens: TokenService };
  /** Realm in `WWW-Authenticate`; @default `api`. */
  readonly realm?: string;
  /** Accepted issuers; @default the kit's issuer and trusted issuers. */
  readonly issuers?: readonly string[];
  /** Accepted audiences; @default the kit's audiences. */
  readonly audiences?: readonly string[];
  /** Also accept JWTs whose `typ` is `JWT` (createProviderRouter's `useJwtType`); @default false. */
  readonly acceptJwtType?: boolean;
  /** Scopes the token must all carry (403 `insufficient_scope` otherwise). */
  readonly scopes?: readonly string[];
  /** Error body format; @default `errors` (`{"errors":[{errorType,message}]}`). */
  readonly errorFormat?: ErrorFormatOption;
  /**
   * DPoP (RFC 9449): `true` accepts `Authorization: DPoP <token>` with a `DPoP` proof beside
   * Bearer tokens (a DPoP-bound token sent as Bearer is always refused); `{ required: true }`
   * accepts DPoP only; `false` treats the DPoP scheme as any other. See docs/dpop.md. @default true
   */
  readonly dpop?: boolean | Readonly<RequireTokenDpopOptions>;
  /**
   * Hand a verified request on with `setImmediate` (the event loop's check phase) rather than at
   * once. Under load, the requests that arrived together are then verified together and their
   * responses written together, which costs the server markedly less CPU per request (see
   * docs/performance.md); the price is that a response waits for the others of its turn. `false`
   * calls `next()` in the same tick. Refusals are always answered at once. (The options that take
   * the general pipeline, such as `getToken` or `isRevoked`, hand on after their promise.) @default
   * true
   */
  readonly deferNext?: boolean;
}

/**
 * Guards routes with a bearer access token (JWT or opaque), checking signature, claims, expiry and
 * revocation (one store round trip at most). Sets `req.auth`.
 *
 * @example
 * ```ts
 * app.get('/api/plans/', requireToken({ kit }), (req, res) => res.json({ sub: req.auth!.subject }));
 * ```
 * @see RFC 6750
 */
export function requireToken(
  options: Readonly<RequireTokenOptions> | Readonly<RemoteRequireTokenOptions>,
): RequestHandler {
  // resource-server mode: no kit here, tokens of remote issuers
  if (isRemoteRequireTokenOptions(options)) return requireRemoteToken(options);
  if (!options || typeof options !== 'object' || !options.kit?.tokens) {
    throw missingOption('requireToken needs { kit } with a TokenService');
  }
  const tokens = options.kit.tokens;
  const realm = quotableString(options.realm, DEFAULT_REALM, 'requireToken: realm');
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  const scopes = options.scopes?.length ? scopeTokens(options.scopes, 'requireToken: scopes') : [];
  const verifyOptions = Object.freeze({
    ...(options.issuers ? { issuers: [...options.issuers] } : {}),
    ...(options.audiences ? { audiences: [...options.audiences] } : {}),
    typ: options.acceptJwtType ? ['at+jwt', 'JWT'] : ['at+jwt'],
  });
  const dpop = createDpopGuard(options.dpop, tokens, realm, format);
  const deferNext = booleanOption(options.deferNext, true, 'requireToken: deferNext');
  const pipeline = (): RequestHandler =>
    kitTokenPipeline(options, {
      realm,
      format,
      scopes,
      acceptJwtType: options.acceptJwtType === true,
      tokens,
      verify: (token) => tokens.verifyAccessToken(token, verifyOptions),
      remembered: (token) => tokens.verifyRemembered(token, verifyOptions),
      dpop,
    });
  if (hasPipelineOptions(options) || dpop?.required === true) return pipeline();
  // DPoP requests take the pipeline; Bearer requests stay on the fast path below.
  const dpopPipeline = dpop === undefined ? undefined : pipeline();

  const accept = (req: Request, res: Response, next: NextFunction, auth: AuthInfo): void => {
    try {
      dpop?.checkBearer(auth);
    } catch (err) {
      tokens.reportAuthFailure('invalid_token', req.ip);
      sendBearerError(res, err, realm, format);
      return;
    }
    if (scopes.length > 0 && scopes.some((s) => !auth.scopes.includes(s))) {
      sendBearerError(res, new TokenError('insufficient_scope'), realm, format, scopes);
      return;
    }
    req.auth = auth;
    if (deferNext) setImmediate(next);
    else next();
  };

  return function requireTokenMiddleware(req: Request, res: Response, next: NextFunction): void {
    req.auth = undefined;
    const values = authorizationValues(req);
    // The fast path: one `Bearer <token>` header, no query string, and a token seen before and
    // known to the revocation view — no promise, no store. A token it remembers was verified, so
    // it is a well-formed b64token (RFC 6750 §2.1) and the full parse below would return it too.
    if (values.length === 1 && !req.url.includes('?')) {
      const token = plainBearerToken(values[0]!);
      const remembered = token === undefined ? undefined : tokens.verifyRemembered(token, verifyOptions);
      if (remembered !== undefined) {
        accept(req, res, next, remembered);
        return;
      }
    }
    if (dpopPipeline !== undefined && isDpopScheme(values)) {
      dpopPipeline(req, res, next);
      return;
    }
    let token: string;
    try {
      // Express parses the query string on every read of req.query: read it only when there is one
      const query = req.url.includes('?') ? (req.query as Record<string, unknown> | undefined) : undefined;
      token = extractBearerToken({
        authorization: values,
        queryToken: query && Object.hasOwn(query, 'access_token') ? query.access_token : undefined,
      });
    } catch (err) {
      sendBearerError(res, err, realm, format);
      return;
    }
    const refuse = (err: unknown): void => {
      if (err instanceof TokenError && err.code !== 'service_unavailable') {
        tokens.reportAuthFailure(err.code, req.ip);
      }
      sendBearerError(res, err, realm, format);
    };
    // with a synced revocation replica, a JWT is verified on the spot: no promise
    let verified: AuthInfo | undefined;
    try {
      verified = tokens.verifyNow(token, verifyOptions);
    } catch (err) {
      refuse(err);
      return;
    }
    if (verified !== undefined) {
      accept(req, res, next, verified);
      return;
    }
    tokens.verifyAccessToken(token, verifyOptions).then((auth) => accept(req, res, next, auth), refuse);
  };
}
