/**
 * Router D — the OAuth 2.0 standards surface: token (RFC 6749), revocation (RFC 7009),
 * introspection (RFC 7662), JWKS and authorization-server metadata (RFC 8414), with RFC 6749 §5.2
 * `{"error","error_description"}` bodies.
 */
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import { TokenError } from '../errors';
import type { ApplicationInfo } from '../core/credentials';
import type { GrantResult } from '../core/grants';
import { grantContext } from '../core/grants/context';
import { findGrant, supportedGrantTypes } from '../core/grants/registry';
import type { TokenKit } from '../core/token-kit';
import { DEFAULT_REALM } from '../defaults';
import { authorizationValues } from '../middleware/bearer';
import {
  assertErrorFormat,
  createErrorHandler,
  toTokenError,
  type ErrorFormatOption,
} from '../middleware/error-response';
import { identifyCredential, routerRateLimits, type RouterRateLimitOption } from '../middleware/rate-limit';
import {
  asyncHandler,
  BODY_LIMIT,
  copyParams,
  createBaseRouter,
  MAX_PARAMETERS,
  jsonParser,
  methodNotAllowed,
  stringField,
  utf8Parser,
  type Body,
} from './shared';

/** Options of {@link createOAuthRouter}. */
export interface OAuthRouterOptions {
  readonly kit: TokenKit;
  /** Error body format; @default `oauth` (`{"error","error_description"}`, RFC 6749 §5.2). */
  readonly errorFormat?: ErrorFormatOption;
  /** `max-age` of the JWKS response, in seconds (0–86400); @default 300. */
  readonly jwksMaxAge?: number;
  /**
   * Absolute URL the router is mounted at, used for the endpoint URLs in the metadata document
   * (`${baseUrl}/oauth/token`…); @default the kit's issuer.
   */
  readonly baseUrl?: string;
  /** Realm in the `WWW-Authenticate: Basic` challenge; @default `api`. */
  readonly realm?: string;
  /**
   * Brute-force limits of the token, revocation and introspection endpoints: shared
   * {@link RateLimits} from `createRateLimits()`, or options for limits of this router's own (in
   * memory unless given a Redis store). Give router C the same object: a client id or a username
   * then has one failure budget on both (docs/production.md). @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

/** Client authentication methods of the token, revocation and introspection endpoints. */
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
const TOKEN_TYPE_HINTS = new Set(['access_token', 'refresh_token']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const MAX_JWKS_MAX_AGE = 86_400;
/** The paths this router answers, lower-case and without a trailing slash. */
const ROUTER_PATHS: ReadonlySet<string> = new Set([
  '/oauth/token',
  '/oauth/revoke',
  '/oauth/introspect',
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
]);

/**
 * Reads `application/x-www-form-urlencoded` bodies as text; they are parsed by {@link parseForm}
 * because `express.urlencoded` silently turns repeated parameters into arrays. UTF-8 only
 * (RFC 6749 Appendix B): a body declared in another charset is refused before it is decoded.
 */
const formTextParser: RequestHandler = utf8Parser(
  FORM_TYPE,
  express.text({ type: FORM_TYPE, limit: BODY_LIMIT, defaultCharset: 'utf-8' }),
);

/** The client of a request and how it authenticated. */
interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  /** True when the client used HTTP Basic (the challenge then goes with `invalid_client`). */
  readonly basic: boolean;
}

/**
 * Parses a form body into a null-prototype object; a parameter sent twice is `invalid_request`.
 * @see RFC 6749 §3.2 ("parameters MUST NOT be included more than once")
 */
function parseForm(text: string): Body {
  const out = Object.create(null) as Record<string, unknown>;
  let count = 0;
  for (const [name, value] of new URLSearchParams(text)) {
    if (++count > MAX_PARAMETERS) throw new TokenError('invalid_request', 'Too many parameters');
    if (Object.hasOwn(out, name)) throw new TokenError('invalid_request', 'A parameter was repeated');
    out[name] = value;
  }
  return out;
}

/** The request's parameters, from a form or JSON object body; anything else is `invalid_request`. */
function readParams(req: Request): Body {
  if (req.url.includes('?') && new URL(req.url, 'http://localhost').search !== '') {
    throw new TokenError('invalid_request', 'Parameters must not be sent in the query string');
  }
  const raw: unknown = req.body;
  if (req.is(FORM_TYPE)) return parseForm(typeof raw === 'string' ? raw : '');
  if (req.is('application/json')) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new TokenError('invalid_request', 'The body must be a JSON object');
    }
    return copyParams(raw);
  }
  throw new TokenError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
}

/** RFC 6749 Appendix B decoding of one Basic credential part; undefined when malformed. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads client credentials from HTTP Basic or the body (never both).
 * @see RFC 6749 §2.3.1
 */
function readClientCredentials(req: Request, body: Body): ClientCredentials {
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

function assertAbsoluteUrl(value: unknown, option: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(`${option} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (
    typeof value !== 'string' ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.search ||
    url.hash
  ) {
    throw new TypeError(
      `${option} must be an absolute http(s) URL without query or fragment, got ${JSON.stringify(value)}`,
    );
  }
  return value.replace(/\/+$/, '');
}

/**
 * Router D: the OAuth 2.0 standards surface, so that any OAuth client library or JWT validator
 * works with the kit unchanged. Mount it at the root of `baseUrl` (by default the issuer).
 *
 * - `POST /oauth/token` — `client_credentials`, `password` (clients allowed to use it) and
 *   `refresh_token` grants; form or JSON bodies; `client_secret_basic` or `client_secret_post`.
 * - `POST /oauth/revoke` — RFC 7009. `POST /oauth/introspect` — RFC 7662.
 * - `GET /.well-known/jwks.json` — public keys. `GET /.well-known/oauth-authorization-server` — RFC 8414.
 *
 * @example
 * ```ts
 * app.use(createOAuthRouter({ kit }));
 * ```
 * @see RFC 6749, RFC 7009, RFC 7662, RFC 8414, RFC 9068
 */
export function createOAuthRouter(options: Readonly<OAuthRouterOptions>): Router {
  if (!options?.kit?.grants) throw new TypeError('createOAuthRouter needs { kit }');
  const { kit } = options;
  const format = options.errorFormat ?? 'oauth';
  assertErrorFormat(format);
  const jwksMaxAge = options.jwksMaxAge ?? 300;
  if (!Number.isSafeInteger(jwksMaxAge) || jwksMaxAge < 0 || jwksMaxAge > MAX_JWKS_MAX_AGE) {
    throw new RangeError(
      `jwksMaxAge must be a whole number of seconds from 0 to ${MAX_JWKS_MAX_AGE}, got ${String(jwksMaxAge)}`,
    );
  }
  const realm = options.realm ?? DEFAULT_REALM;
  if (typeof realm !== 'string' || !QUOTABLE.test(realm))
    throw new TypeError('realm must be printable ASCII without quotes');
  const baseUrl = assertAbsoluteUrl(
    options.baseUrl ?? kit.tokens.issuer,
    options.baseUrl === undefined ? 'issuer' : 'baseUrl',
  );
  const basicChallenge = `Basic realm="${realm}"`;
  const grants = grantContext(kit.grants);

  /** Adds the Basic challenge to `invalid_client` when the client used Basic (RFC 6749 §5.2). */
  function withChallenge(err: unknown, credentials: ClientCredentials | undefined): unknown {
    if (credentials?.basic && err instanceof TokenError && err.code === 'invalid_client') {
      return err.with({ headers: { 'WWW-Authenticate': basicChallenge } });
    }
    return err;
  }

  /** Authenticates the request's client or throws `invalid_client` (with the challenge when Basic). */
  async function authenticate(req: Request, credentials: ClientCredentials): Promise<ApplicationInfo> {
    try {
      return await kit.grants.authenticateClient(credentials.clientId, credentials.clientSecret, req.ip);
    } catch (err) {
      throw withChallenge(err, credentials);
    }
  }

  /**
   * Revocation and introspection requests: the authenticated client and the `token` parameter;
   * a `token_type_hint` must be known (RFC 7009 §2.2.1) but is otherwise unused, since the core
   * recognises every token it issued.
   */
  async function readTokenRequest(req: Request): Promise<{ client: ApplicationInfo; token: string }> {
    const body = readParams(req);
    const credentials = readClientCredentials(req, body);
    const token = stringField(body, 'token');
    const hint = stringField(body, 'token_type_hint');
    const client = await authenticate(req, credentials);
    if (token === undefined) throw new TokenError('invalid_request', 'token is required');
    if (hint !== undefined && !TOKEN_TYPE_HINTS.has(hint)) throw new TokenError('unsupported_token_type');
    return { client, token };
  }

  function tokenResponse(res: Response, result: GrantResult): void {
    res.status(200).json({
      access_token: result.accessToken.token,
      token_type: 'Bearer',
      expires_in: result.accessToken.expiresIn,
      ...(result.scope ? { scope: result.scope } : {}),
      ...(result.refreshToken === undefined ? {} : { refresh_token: result.refreshToken }),
    });
  }

  const limitStages = routerRateLimits(options.rateLimit, (event) => kit.tokens.emit(event));
  /**
   * The authenticating client, and for the password grant the user too: the same kinds as router
   * C's, so that a credential has one budget on both.
   */
  const clientCredential = identifyCredential('client', (req) => {
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

  const router = createBaseRouter();
  // Per route, never router.use: mounted at the root, this router sees every request of the app.
  const parsers = [jsonParser, formTextParser, clientCredential, ...limitStages];

  router.post(
    '/oauth/token',
    ...parsers,
    asyncHandler(async function oauthToken(req: Request, res: Response) {
      const body = readParams(req);
      const credentials = readClientCredentials(req, body);
      const grantType = stringField(body, 'grant_type');
      const scope = stringField(body, 'scope');
      try {
        if (grantType === undefined) throw new TokenError('invalid_request', 'grant_type is required');
        const grant = findGrant(grantType);
        if (grant === undefined) throw new TokenError('unsupported_grant_type');
        const result = await grant.token(grants, {
          param: (name) => stringField(body, name),
          scope,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
          authenticate: () => authenticate(req, credentials),
          ip: req.ip,
        });
        tokenResponse(res, result);
      } catch (err) {
        throw withChallenge(err, credentials);
      }
    }),
  );
  router.all('/oauth/token', methodNotAllowed('POST', format));

  router.post(
    '/oauth/revoke',
    ...parsers,
    asyncHandler(async function oauthRevoke(req: Request, res: Response) {
      const { client, token } = await readTokenRequest(req);
      // Tokens of other clients are left alone and answered 200 like unknown ones (RFC 7009 §2.2).
      // A token issued before a credential rotation still belongs to the application.
      await kit.tokens.revokeToken(token, (owner) => kit.credentials.applicationOwns(client, owner));
      // RFC 7009 §2.2 only asks for a 200 (the body is ignored); an empty JSON object rather than
      // no body, because common clients parse the answer as JSON and fail on an empty one.
      res.status(200).json({});
    }),
  );
  router.all('/oauth/revoke', methodNotAllowed('POST', format));

  router.post(
    '/oauth/introspect',
    ...parsers,
    asyncHandler(async function oauthIntrospect(req: Request, res: Response) {
      const { client, token } = await readTokenRequest(req);
      const found = await kit.tokens.inspect(token);
      // RFC 7662 §2.2: inactive, unknown and other clients' tokens all get the same bare answer.
      // A token issued before a credential rotation still belongs to the application.
      const owned =
        (found.kind === 'access' &&
          found.active &&
          (await kit.credentials.applicationOwns(client, { clientId: found.auth.clientId }))) ||
        (found.kind === 'refresh' &&
          found.active &&
          (await kit.credentials.applicationOwns(
            client,
            found.family.applicationId === undefined
              ? { clientId: found.family.clientId }
              : { clientId: found.family.clientId, applicationId: found.family.applicationId },
          )));
      if (owned && found.kind === 'access') {
        const { auth } = found;
        res.status(200).json({
          active: true,
          ...(auth.scopes.length > 0 ? { scope: auth.scopes.join(' ') } : {}),
          client_id: auth.clientId,
          sub: auth.subject,
          exp: auth.expiresAt,
          iat: auth.issuedAt,
          iss: auth.issuer,
          aud: auth.audience.length === 1 ? auth.audience[0] : [...auth.audience],
          jti: auth.jti,
          token_type: 'Bearer',
          ...(auth.boundEntity === null ? {} : { bound_entity: auth.boundEntity }),
        });
        return;
      }
      if (owned && found.kind === 'refresh') {
        const { family } = found;
        res.status(200).json({
          active: true,
          ...(family.scope ? { scope: family.scope } : {}),
          client_id: family.clientId,
          sub: family.sub,
          exp: Math.min(family.expiresAt, family.lastUsedAt + kit.tokens.refreshIdleTtl),
          iat: family.createdAt,
          iss: kit.tokens.issuer,
          token_type: 'refresh_token',
          ...(family.boundEntity === null ? {} : { bound_entity: family.boundEntity }),
        });
        return;
      }
      res.status(200).json({ active: false });
    }),
  );
  router.all('/oauth/introspect', methodNotAllowed('POST', format));

  router.get('/.well-known/jwks.json', function jwks(_req: Request, res: Response) {
    // Public keys only, and cacheable: the one response of this router that is not no-store.
    res.removeHeader('Pragma');
    res.set('Cache-Control', `public, max-age=${jwksMaxAge}`);
    res.status(200).json(kit.tokens.keys.jwks());
  });
  router.all('/.well-known/jwks.json', methodNotAllowed('GET, HEAD', format));

  router.get('/.well-known/oauth-authorization-server', function metadata(_req: Request, res: Response) {
    res.status(200).json({
      issuer: kit.tokens.issuer,
      token_endpoint: `${baseUrl}/oauth/token`,
      revocation_endpoint: `${baseUrl}/oauth/revoke`,
      introspection_endpoint: `${baseUrl}/oauth/introspect`,
      jwks_uri: `${baseUrl}/.well-known/jwks.json`,
      grant_types_supported: supportedGrantTypes(grants),
      // No authorization endpoint, hence no response types (RFC 8414 §2).
      response_types_supported: [],
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      revocation_endpoint_auth_methods_supported: AUTH_METHODS,
      introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    });
  });
  router.all('/.well-known/oauth-authorization-server', methodNotAllowed('GET, HEAD', format));

  // Mounted at the root, this router sees every request of the app: format only its own errors.
  const handleError = createErrorHandler(format);
  router.use(function oauthErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction) {
    if (!ROUTER_PATHS.has(req.path.toLowerCase().replace(/\/+$/, ''))) {
      next(err);
      return;
    }
    const mapped = toTokenError(err);
    // A content type or charset the body parsers refuse is a malformed request here (RFC 6749 §3.2);
    // the kit's own refusals (a charset other than UTF-8) keep their message.
    const oauthError =
      mapped instanceof TokenError && mapped.code === 'unsupported_media_type'
        ? new TokenError('invalid_request', err instanceof TokenError ? err.message : undefined, {
            cause: err,
          })
        : mapped;
    handleError(oauthError, req, res, next);
  });

  return router;
}
