/**
 * The request side of `requireToken` beyond the kit's own fast path: resource-server mode (tokens
 * of remote issuers, no kit in this process), and the options that work in both modes — the claim
 * checks, `maxTokenAge`, `strict`, an `isRevoked(auth, req)` hook, `getToken(req)` for other token
 * locations, and `resourceMetadata` in every challenge (RFC 9728 §5.1).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { serviceUnavailable, TokenError } from '../errors';
import { DEFAULT_REALM, MAX_TOKEN_LENGTH } from '../defaults';
import type { AuthInfo } from '../types';
import { compileChecks, type CompiledChecks, type TokenCheckOptions } from '../resource/checks';
import {
  createRemoteVerifier,
  type RemoteIssuerOptions,
  type RemoteVerifierOptions,
} from '../resource/remote-issuer';
import { authorizationValues, extractBearerToken } from './bearer';
import { sendBearerError } from './bearer-challenge';
import {
  atLeast,
  booleanOption,
  describeValue,
  httpUrl,
  invalidOption,
  isQuotable,
  optionalFunction,
  optionConflict,
  quotableString,
} from '../util/options';
import { assertErrorFormat, type ErrorFormatOption } from './error-response';
import type { DpopGuard } from './dpop';
import { boundJkt } from '../core/dpop/dpop-verifier';

/** Options of `requireToken` that work with a kit and without one. */
export interface RequireTokenCheckOptions extends TokenCheckOptions {
  /** Largest accepted token age (`now − iat`), in seconds; 401 `invalid_token` beyond. */
  readonly maxTokenAge?: number;
  /**
   * RFC 9068 strict mode: `typ` must be `at+jwt`, and `iss`, `exp`, `aud`, `sub`, `client_id`,
   * `iat`, `jti` present (RFC 9068 §2.2). With a kit, it refuses `acceptJwtType`. @default false
   */
  readonly strict?: boolean;
  /**
   * Reads the token from somewhere other than the `Authorization` header (a cookie, a custom
   * header, the query string — which stays off unless this reads it). Returning undefined is 401
   * `missing_token`. Replaces the header parsing entirely. @default the RFC 6750 §2.1 header
   */
  readonly getToken?: (req: Request) => string | undefined | Promise<string | undefined>;
  /**
   * Called after every other check passed; true refuses the token (401 `invalid_token`
   * `Access token revoked`). A throw or rejection is a 503 (fail closed).
   */
  readonly isRevoked?: (auth: AuthInfo, req: Request) => boolean | Promise<boolean>;
  /**
   * The URL of this resource's RFC 9728 metadata; every challenge of this middleware then carries
   * `resource_metadata="<url>"` (RFC 9728 §5.1).
   */
  readonly resourceMetadata?: string;
  /**
   * When false, a request without any token passes on with `req.auth` undefined (a token that is
   * present is still verified, and refused when bad). @default true
   */
  readonly credentialsRequired?: boolean;
}

/**
 * Options of `requireToken` in resource-server mode (no `kit`): one issuer inline
 * (`issuer`, `audience`, `jwksUri`…) or several in `issuers`, plus the verifier's cache and fetch
 * bounds.
 */
export interface RemoteRequireTokenOptions
  extends RequireTokenCheckOptions, Omit<RemoteVerifierOptions, 'issuers' | 'maxTokenAge' | 'strict'> {
  /** Absent in resource-server mode. */
  readonly kit?: undefined;
  /** The one issuer (with `audience`); or use `issuers`. */
  readonly issuer?: string;
  /** Accepted audience(s) of the one `issuer`. */
  readonly audience?: string | readonly string[];
  /** JWKS URL of the one `issuer`; @default discovered from its metadata. */
  readonly jwksUri?: string;
  /** Algorithms of the one `issuer`; @default every asymmetric one. */
  readonly algorithms?: RemoteIssuerOptions['algorithms'];
  /** Introspection of the one `issuer`. */
  readonly introspection?: RemoteIssuerOptions['introspection'];
  /** Shared-store revocation of the one `issuer`. */
  readonly revocation?: RemoteIssuerOptions['revocation'];
  /** Several issuers, each with its own keys, algorithms and revocation. */
  readonly issuers?: readonly Readonly<RemoteIssuerOptions>[];
  /** Realm in `WWW-Authenticate`; @default `api`. */
  readonly realm?: string;
  /** Error body format; @default `errors`. */
  readonly errorFormat?: ErrorFormatOption;
  /** Scopes the token must all carry (as with a kit). */
  readonly scopes?: readonly string[];
}

/** True when `options` asks for resource-server mode: no kit, and an issuer or a list of issuer objects. */
export function isRemoteRequireTokenOptions(options: unknown): options is RemoteRequireTokenOptions {
  if (!options || typeof options !== 'object') return false;
  const o = options as { kit?: unknown; issuer?: unknown; issuers?: unknown };
  if (o.kit !== undefined) return false;
  return (
    o.issuer !== undefined ||
    (Array.isArray(o.issuers) && o.issuers.some((i: unknown) => typeof i === 'object' && i !== null))
  );
}

/** Everything a pipeline needs, resolved once. */
interface Pipeline {
  readonly realm: string;
  readonly format: ErrorFormatOption;
  readonly scopes: readonly string[];
  readonly challengeScopes: readonly string[];
  readonly resourceMetadata: string | undefined;
  readonly checks: CompiledChecks;
  readonly getToken: RequireTokenCheckOptions['getToken'];
  readonly isRevoked: RequireTokenCheckOptions['isRevoked'];
  readonly credentialsRequired: boolean;
  /** Checks not done by the verifier itself (kit mode: maxTokenAge). */
  readonly extra: ((auth: AuthInfo) => void) | undefined;
  readonly verify: (token: string) => Promise<AuthInfo>;
  readonly remembered: ((token: string) => AuthInfo | undefined) | undefined;
  readonly onRefused: ((err: TokenError, req: Request) => void) | undefined;
  /** DPoP (RFC 9449) with a kit; undefined in resource-server mode or with `dpop: false`. */
  readonly dpop?: DpopGuard | undefined;
}

function assertCommon(options: Readonly<RequireTokenCheckOptions>): void {
  optionalFunction(options.getToken, 'getToken');
  optionalFunction(options.isRevoked, 'isRevoked');
  const url = options.resourceMetadata;
  if (url !== undefined) {
    httpUrl(url, 'resourceMetadata');
    // Put between quotes in every challenge (RFC 9728 §5.1), so it must never need escaping.
    if (!isQuotable(url)) {
      throw invalidOption(`resourceMetadata must be an http(s) URL, got ${describeValue(url)}`);
    }
  }
  booleanOption(options.strict, false, 'strict');
  booleanOption(options.credentialsRequired, true, 'credentialsRequired');
  // Set means a number: the fallback of -1 refuses a null rather than reading it as 0.
  if (options.maxTokenAge !== undefined) atLeast(options.maxTokenAge, -1, 'maxTokenAge', 0);
}

/** True when any option that only this pipeline handles is set. */
export function hasPipelineOptions(options: Readonly<RequireTokenCheckOptions>): boolean {
  return (
    options.getToken !== undefined ||
    options.isRevoked !== undefined ||
    options.resourceMetadata !== undefined ||
    options.maxTokenAge !== undefined ||
    options.strict !== undefined ||
    options.credentialsRequired !== undefined ||
    options.requiredScopes !== undefined ||
    options.scopeIncludesAny !== undefined ||
    options.claimEquals !== undefined ||
    options.claimIncludes !== undefined ||
    options.claimCheck !== undefined
  );
}

/** What the kit's path of `requireToken` hands to {@link kitTokenPipeline}. */
export interface KitPipelineInput {
  readonly realm: string;
  readonly format: ErrorFormatOption;
  readonly scopes: readonly string[];
  readonly acceptJwtType: boolean;
  readonly tokens: {
    now(): number;
    readonly clockTolerance: number;
    reportAuthFailure(reason: string, ip?: string): void;
  };
  readonly verify: (token: string) => Promise<AuthInfo>;
  readonly remembered: (token: string) => AuthInfo | undefined;
  /** DPoP (RFC 9449): the `Authorization: DPoP` scheme and its proofs. */
  readonly dpop?: DpopGuard | undefined;
}

/** The kit's `requireToken` with the checks, hooks and challenge options of {@link RequireTokenCheckOptions}. */
export function kitTokenPipeline(
  options: Readonly<RequireTokenCheckOptions>,
  input: KitPipelineInput,
): RequestHandler {
  assertCommon(options);
  if (options.strict === true && input.acceptJwtType) {
    throw optionConflict('strict (RFC 9068) refuses typ JWT: do not combine it with acceptJwtType');
  }
  const { tokens } = input;
  const maxAge = options.maxTokenAge;
  const checks = compileChecks(options);
  return tokenPipeline({
    realm: input.realm,
    format: input.format,
    scopes: input.scopes,
    challengeScopes: [...new Set([...input.scopes, ...checks.challengeScopes])],
    resourceMetadata: options.resourceMetadata,
    checks,
    getToken: options.getToken,
    isRevoked: options.isRevoked,
    credentialsRequired: options.credentialsRequired ?? true,
    extra:
      maxAge === undefined
        ? undefined
        : (auth) => {
            if (auth.issuedAt <= tokens.now() - tokens.clockTolerance - maxAge) {
              throw new TokenError('invalid_token', "Unexpected 'iat' value");
            }
          },
    verify: input.verify,
    remembered: input.remembered,
    onRefused: (err, req) => tokens.reportAuthFailure(err.code, req.ip),
    dpop: input.dpop,
  });
}

/**
 * `requireToken` in resource-server mode: tokens of remote issuers, verified with their published
 * keys and, where configured, their introspection endpoint or shared revocation store.
 */
export function requireRemoteToken(options: Readonly<RemoteRequireTokenOptions>): RequestHandler {
  assertCommon(options);
  const realm = quotableString(options.realm, DEFAULT_REALM, 'realm');
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  const { issuer, audience, jwksUri, algorithms, introspection, revocation, issuers } = options;
  if (issuer !== undefined && issuers !== undefined)
    throw optionConflict('give either issuer or issuers, not both');
  const list: readonly Readonly<RemoteIssuerOptions>[] = issuers ?? [
    {
      issuer: issuer!,
      audience: audience!,
      ...(jwksUri === undefined ? {} : { jwksUri }),
      ...(algorithms === undefined ? {} : { algorithms }),
      ...(introspection === undefined ? {} : { introspection }),
      ...(revocation === undefined ? {} : { revocation }),
    },
  ];
  if (
    issuers !== undefined &&
    [audience, jwksUri, algorithms, introspection, revocation].some((v) => v !== undefined)
  ) {
    throw optionConflict(
      'with issuers, give audience, jwksUri, algorithms, introspection and revocation per issuer',
    );
  }
  const verifier = createRemoteVerifier({
    ...pick(options, [
      'clockTolerance',
      'now',
      'fetchTimeoutMs',
      'maxResponseBytes',
      'jwksMinCacheAge',
      'jwksMaxCacheAge',
      'jwksCooldown',
      'jwksStaleFor',
    ]),
    ...(options.maxTokenAge === undefined ? {} : { maxTokenAge: options.maxTokenAge }),
    ...(options.strict === undefined ? {} : { strict: options.strict }),
    issuers: list,
  });
  const scopes = options.scopes ? [...options.scopes] : [];
  const checks = compileChecks(options);
  return tokenPipeline({
    realm,
    format,
    scopes,
    challengeScopes: [...new Set([...scopes, ...checks.challengeScopes])],
    resourceMetadata: options.resourceMetadata,
    checks,
    getToken: options.getToken,
    isRevoked: options.isRevoked,
    credentialsRequired: options.credentialsRequired ?? true,
    // No proofs here (no kit, no replay cache): a DPoP-bound token (RFC 9449 §6) is refused.
    extra: (auth) => {
      if (boundJkt(auth.claims) !== undefined)
        throw new TokenError('invalid_token', 'DPoP-bound access token sent as Bearer');
    },
    verify: (token) => verifier.verify(token),
    remembered: undefined,
    onRefused: undefined,
  });
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The token of a request: `getToken`, else the `Authorization` header (RFC 6750 §2.1 only). */
async function tokenOf(p: Pipeline, req: Request): Promise<string> {
  if (p.getToken === undefined) {
    // Express parses the query string on every read of req.query: read it only when there is one
    const query = req.url.includes('?') ? (req.query as Record<string, unknown> | undefined) : undefined;
    return extractBearerToken({
      authorization: authorizationValues(req),
      queryToken: query && Object.hasOwn(query, 'access_token') ? query.access_token : undefined,
    });
  }
  let token: unknown;
  try {
    token = await p.getToken(req);
  } catch (cause) {
    throw new TokenError('invalid_request', 'Malformed token', { status: 400, cause });
  }
  if (token === undefined || token === null || token === '') throw new TokenError('missing_token');
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new TokenError('invalid_token');
  return token;
}

function tokenPipeline(p: Pipeline): RequestHandler {
  const refuse = (res: Response, err: unknown): void =>
    sendBearerError(res, err, p.realm, p.format, p.challengeScopes, p.resourceMetadata);

  const accept = async (auth: AuthInfo, req: Request): Promise<void> => {
    p.extra?.(auth);
    p.checks.run(auth);
    if (p.scopes.some((s) => !auth.scopes.includes(s))) throw new TokenError('insufficient_scope');
    if (p.isRevoked !== undefined) {
      let revoked: boolean;
      try {
        revoked = (await p.isRevoked(auth, req)) === true;
      } catch (cause) {
        throw serviceUnavailable(cause);
      }
      if (revoked) throw new TokenError('invalid_token', 'Access token revoked');
    }
  };

  return function requireTokenMiddleware(req: Request, res: Response, next: NextFunction): void {
    req.auth = undefined;
    void (async () => {
      let stage: 'token' | 'verify' | 'checks' = 'token';
      // DPoP (RFC 9449 §7.1): the DPoP scheme, or any request of a route that requires it, is
      // answered with the DPoP challenge.
      let dpopToken: string | undefined;
      const dpop = p.dpop;
      const refuseWith = (err: unknown): void =>
        dpop !== undefined && (dpopToken !== undefined || dpop.required)
          ? dpop.refuse(res, err)
          : refuse(res, err);
      try {
        let token: string;
        try {
          if (dpop !== undefined && p.getToken === undefined)
            dpopToken = dpop.token(authorizationValues(req));
          token = dpopToken ?? (await tokenOf(p, req));
        } catch (err) {
          if (p.credentialsRequired || !(err instanceof TokenError) || err.code !== 'missing_token')
            throw err;
          next();
          return;
        }
        stage = 'verify';
        const auth = p.remembered?.(token) ?? (await p.verify(token));
        if (dpop !== undefined) {
          if (dpopToken === undefined) dpop.checkBearer(auth);
          else await dpop.check(req, res, dpopToken, auth);
        }
        stage = 'checks';
        await accept(auth, req);
        req.auth = auth;
      } catch (err) {
        if (stage === 'verify' && err instanceof TokenError && err.code !== 'service_unavailable') {
          p.onRefused?.(err, req);
        }
        refuseWith(err);
        return;
      }
      next();
    })().catch(next);
  };
}
