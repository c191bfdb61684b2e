/**
 * createAuthRouter — auth tokens: client credentials and password grants, refresh, validate and
 * credential rotation, with `{"errors":[…]}` bodies (docs/router-c-auth-tokens.md).
 */
import type { Request, Response, Router } from 'express';
import { TokenError } from '../errors';
import type { ApplicationInfo } from '../core/credentials';
import type { GrantResult } from '../core/grants';
import type { TokenKit } from '../core/token-kit';
import type { AuthInfo } from '../types';
import { DEFAULT_REALM } from '../defaults';
import { authorizationValues } from '../middleware/bearer';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { identifyCredential, type RouterRateLimitOption } from '../middleware/rate-limit';
import { bearerChallenge, requireToken } from '../middleware/require-token';
import { booleanOption, nonEmptyString, optionConflict, quotableString } from '../util/options';
import { externalUrl, setDpopNonce, tokenRequestProof } from '../middleware/dpop';
import { boundJkt } from '../core/dpop/dpop-verifier';
import {
  assertKit,
  asyncHandler,
  bearerCredential,
  createBaseRouter,
  finishRouter,
  jsonParser,
  kitRateLimits,
  mapRejection,
  methodNotAllowed,
  readBody,
  stringField,
  type Body,
} from './shared';

/** Options of {@link createAuthRouter}. */
export interface AuthRouterOptions {
  readonly kit: TokenKit;
  /**
   * Client id that password-grant tokens are issued to when the request names no client.
   * @default `password-grant`
   */
  readonly passwordClientId?: string;
  /**
   * On credential rotation, revoke the tokens the application holds for itself (its
   * client_credentials tokens); users' sessions survive and refresh with the new credentials.
   * `false` revokes nothing. See docs/router-c-auth-tokens.md. @default true
   */
  readonly revokeTokensOnRotation?: boolean;
  /**
   * On credential rotation, also revoke users' sessions (every access token and refresh family of
   * the application): a full revocation on every rotation through this router. Needs
   * `revokeTokensOnRotation`. @default false
   */
  readonly revokeUserTokensOnRotation?: boolean;
  /** Realm in `WWW-Authenticate`; @default `api`. */
  readonly realm?: string;
  /** Error body format; @default `errors`. */
  readonly errorFormat?: ErrorFormatOption;
  /**
   * Brute-force limits: shared {@link RateLimits} from `createRateLimits()`, or options for limits
   * of this router's own (in memory unless given a Redis store). Give createOAuthRouter the same object: a
   * client id or a username then has one failure budget on both (docs/production.md).
   * @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

/** createAuthRouter answers `invalid_grant` with 401 (docs/router-c-auth-tokens.md). */
function asUnauthorized(err: unknown): unknown {
  return err instanceof TokenError && err.code === 'invalid_grant' ? err.with({ status: 401 }) : err;
}

/** Two string fields that must both be present, else `invalid_request` naming both. */
function requiredPair(body: Body, first: string, second: string): [string, string] {
  const a = stringField(body, first);
  const b = stringField(body, second);
  if (a === undefined || b === undefined)
    throw new TokenError('invalid_request', `${first} and ${second} are required`);
  return [a, b];
}

/** `DPoP` for a DPoP-bound access token (RFC 9449 §5), else `Bearer`. */
function tokenType(result: GrantResult): 'DPoP' | 'Bearer' {
  return result.accessToken.jkt === undefined ? 'Bearer' : 'DPoP';
}

/** The answer to a client credentials grant. */
function clientTokenResponse(result: GrantResult): object {
  return {
    access_token: result.accessToken.token,
    token_type: tokenType(result),
    expires_in: result.accessToken.expiresIn,
  };
}

/** The answer to a password grant: ID, access and refresh tokens. */
function userTokenResponse(result: GrantResult): object {
  return {
    id_token: result.idToken,
    access_token: result.accessToken.token,
    refresh_token: result.refreshToken,
    sub: result.subject,
    token_type: tokenType(result),
    expires_in: result.accessToken.expiresIn,
  };
}

/** The answer to a refresh. */
function refreshResponse(result: GrantResult): object {
  return {
    access_token: result.accessToken.token,
    refresh_token: result.refreshToken,
    token_type: tokenType(result),
    expires_in: result.accessToken.expiresIn,
    sub: result.subject,
  };
}

/** The answer to a validation: the token's claims and its seconds left. */
function validateResponse(auth: AuthInfo, now: number): object {
  return {
    valid: true,
    sub: auth.subject,
    client_id: auth.clientId,
    scope: auth.scopes.join(' '),
    bound_entity: auth.boundEntity,
    expires_in: Math.max(0, auth.expiresAt - now),
  };
}

/** The answer to a credential rotation: the application with its new secret, shown once. */
function rotationResponse(rotated: ApplicationInfo & { clientSecret: string }): object {
  return {
    id: rotated.id,
    name: rotated.name,
    organization: rotated.organization,
    client_id: rotated.clientId,
    client_secret: rotated.clientSecret,
    application_types: rotated.applicationTypes,
  };
}

/**
 * The client (client_credentials) or the user, and its client if any (password) a token request
 * names: the same kinds as createOAuthRouter's, so that a credential has one budget on both.
 */
const tokenRequestCredential = identifyCredential('client', (req) => {
  const body = readBody(req);
  const clientId = stringField(body, 'client_id');
  if (stringField(body, 'grant_type') !== 'password') return clientId;
  const username = stringField(body, 'username');
  return [
    ...(clientId === undefined ? [] : [{ id: clientId, failures: 'client-auth' as const }]),
    ...(username === undefined
      ? []
      : [{ kind: 'user' as const, id: username, failures: 'not-client-auth' as const }]),
  ];
});

/** The checked options of {@link createAuthRouter}. */
function resolveOptions(options: Readonly<AuthRouterOptions>) {
  const kit = assertKit(options, 'createAuthRouter');
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  const realm = quotableString(options.realm, DEFAULT_REALM, 'createAuthRouter: realm');
  const passwordClientId = nonEmptyString(
    options.passwordClientId ?? 'password-grant',
    'createAuthRouter: passwordClientId',
  );
  const revokeTokens = booleanOption(
    options.revokeTokensOnRotation,
    true,
    'createAuthRouter: revokeTokensOnRotation',
  );
  const revokeUserTokens = booleanOption(
    options.revokeUserTokensOnRotation,
    false,
    'createAuthRouter: revokeUserTokensOnRotation',
  );
  if (revokeUserTokens && !revokeTokens)
    throw optionConflict('revokeUserTokensOnRotation needs revokeTokensOnRotation');
  return { kit, format, realm, passwordClientId, revokeTokens, revokeUserTokens };
}

/**
 * createAuthRouter: mount at `/api` to serve `/api/auth/tokens/`, `/api/auth/tokens/refresh/`,
 * `/api/auth/tokens/validate/` and `/api/applications/rotate_credentials/`.
 *
 * @example
 * ```ts
 * app.use('/api', createAuthRouter({ kit }));
 * ```
 */
export function createAuthRouter(options: Readonly<AuthRouterOptions>): Router {
  const { kit, format, realm, passwordClientId, revokeTokens, revokeUserTokens } = resolveOptions(options);
  const guard = requireToken({ kit, realm, errorFormat: format });
  const limitStages = kitRateLimits(kit, options.rateLimit);

  /** The bearer token of a request, verified; expired tokens accepted when `ignoreExpiration`. */
  async function bearerAuth(req: Request, ignoreExpiration: boolean): Promise<AuthInfo | undefined> {
    if (authorizationValues(req).length === 0) return undefined;
    const auth = await kit.tokens.verifyAccessToken(bearerCredential(req), { ignoreExpiration });
    // RFC 9449 §7.1: a DPoP-bound token is never accepted as a Bearer token.
    if (boundJkt(auth.claims) !== undefined)
      throw new TokenError('invalid_token', 'DPoP-bound access token sent as Bearer');
    return auth;
  }

  /** Adds the RFC 6750 §3 `WWW-Authenticate: Bearer` challenge of `err`, if it has one. */
  function challenge(err: unknown): unknown {
    if (!(err instanceof TokenError)) return err;
    const value = bearerChallenge(err, realm);
    return value === undefined ? err : err.with({ headers: { 'WWW-Authenticate': value } });
  }

  /** client_credentials: a token for the client itself. */
  async function clientToken(body: Body, ip: string | undefined, dpopJkt?: string): Promise<object> {
    const [clientId, clientSecret] = requiredPair(body, 'client_id', 'client_secret');
    const scope = stringField(body, 'scope');
    return clientTokenResponse(
      await kit.grants.clientCredentials({ clientId, clientSecret, scope, ip, dpopJkt }),
    );
  }

  /** password: the user's tokens, issued to the named client or to `passwordClientId`. */
  async function userToken(body: Body, ip: string | undefined, dpopJkt?: string): Promise<object> {
    const [username, password] = requiredPair(body, 'username', 'password');
    const clientId = stringField(body, 'client_id');
    const clientSecret = stringField(body, 'client_secret');
    const client =
      clientId === undefined && clientSecret === undefined
        ? { clientId: passwordClientId }
        : await kit.grants.authenticateClient(clientId, clientSecret, ip);
    const scope = stringField(body, 'scope');
    const result = await mapRejection(
      kit.grants.password({ username, password, client, scope, ip, dpopJkt }),
      asUnauthorized,
    );
    return userTokenResponse(result);
  }

  const router = createBaseRouter();

  router.post(
    '/auth/tokens',
    jsonParser,
    tokenRequestCredential,
    ...limitStages,
    asyncHandler(async function issueTokens(req: Request, res: Response) {
      const body = readBody(req);
      const grantType = stringField(body, 'grant_type');
      if (grantType === undefined) throw new TokenError('invalid_request', 'grant_type is required');
      if (grantType !== 'client_credentials' && grantType !== 'password')
        throw new TokenError('unsupported_grant_type');
      const dpopJkt = await tokenRequestProof(kit.tokens, req, externalUrl(req));
      const answer =
        grantType === 'client_credentials'
          ? await clientToken(body, req.ip, dpopJkt)
          : await userToken(body, req.ip, dpopJkt);
      setDpopNonce(kit.tokens, res);
      res.status(200).json(answer);
    }),
  );
  router.all('/auth/tokens', methodNotAllowed('POST', format));

  router.post(
    '/auth/tokens/refresh',
    jsonParser,
    // Refresh tokens carry 256 random bits: only the per-IP failure budget applies here.
    ...limitStages,
    asyncHandler(async function refreshTokens(req: Request, res: Response) {
      const auth = await mapRejection(bearerAuth(req, true), challenge);
      const refreshToken = stringField(readBody(req), 'refresh_token');
      if (refreshToken === undefined) throw new TokenError('invalid_request', 'refresh_token is required');
      const subject = auth === undefined ? {} : { subject: auth.subject };
      const dpopJkt = await tokenRequestProof(kit.tokens, req, externalUrl(req));
      const result = await mapRejection(
        kit.grants.refresh({ refreshToken, ...subject, ip: req.ip, dpopJkt }),
        asUnauthorized,
      );
      setDpopNonce(kit.tokens, res);
      res.status(200).json(refreshResponse(result));
    }),
  );
  router.all('/auth/tokens/refresh', methodNotAllowed('POST', format));

  router.get(
    '/auth/tokens/validate',
    asyncHandler(async function validateToken(req: Request, res: Response) {
      // Anything but an expired token is `invalid_token` here, another scheme included
      // (docs/router-c-auth-tokens.md).
      const auth = await mapRejection(bearerAuth(req, false), (err) =>
        challenge(
          err instanceof TokenError && (err.code === 'invalid_request' || err.code === 'missing_token')
            ? new TokenError('invalid_token')
            : err,
        ),
      );
      if (auth === undefined) throw challenge(new TokenError('invalid_token'));
      res.status(200).json(validateResponse(auth, kit.tokens.now()));
    }),
  );
  router.all('/auth/tokens/validate', methodNotAllowed('GET', format));

  router.post(
    '/applications/rotate_credentials',
    guard,
    jsonParser,
    asyncHandler(async function rotateCredentials(req: Request, res: Response) {
      const applicationId = stringField(readBody(req), 'application_id');
      if (applicationId === undefined) throw new TokenError('invalid_request', 'application_id is required');
      const app = await kit.credentials.getApplication(applicationId.toLowerCase());
      if (app === null) throw new TokenError('not_found');
      if (!(await isOwnClientToken(kit, app, req.auth)))
        throw challenge(new TokenError('insufficient_scope'));
      // Tied to the client id the caller authenticated as: a token minted under credentials that a
      // rotation already replaced gets 409, and of concurrent rotations exactly one wins.
      const rotated = await kit.credentials.rotateApplication(app.id, {
        revokeTokens,
        revokeUserTokens,
        expectedClientId: req.auth!.clientId,
      });
      if (rotated === null) throw new TokenError('not_found');
      res.status(200).json(rotationResponse(rotated));
    }),
  );
  router.all('/applications/rotate_credentials', methodNotAllowed('POST', format));

  return finishRouter(router, format);
}

/**
 * Only the application's own (client_credentials) token — subject = client id, no family — under
 * its current client id or one it held before a rotation: a user's password-grant token belongs to
 * the application too, but must never obtain the application's new secret.
 */
async function isOwnClientToken(
  kit: TokenKit,
  app: ApplicationInfo,
  auth: AuthInfo | undefined,
): Promise<boolean> {
  return (
    auth !== undefined &&
    auth.subject === auth.clientId &&
    auth.familyId === undefined &&
    (await kit.credentials.applicationOwns(app, { clientId: auth.clientId }))
  );
}
