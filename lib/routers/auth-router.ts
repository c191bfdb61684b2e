/**
 * Router C — auth tokens (seed 002): client credentials and password grants, refresh, validate and
 * credential rotation, with `{"errors":[…]}` bodies.
 */
import type { Request, Response, Router } from 'express';
import { TokenError } from '../errors';
import type { TokenKit } from '../core/token-kit';
import type { AuthInfo } from '../types';
import { DEFAULT_REALM } from '../defaults';
import { authorizationValues, extractBearerToken } from '../middleware/bearer';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { identifyCredential, routerRateLimits, type RouterRateLimitOption } from '../middleware/rate-limit';
import { bearerChallenge, requireToken } from '../middleware/require-token';
import {
  asyncHandler,
  createBaseRouter,
  finishRouter,
  jsonParser,
  methodNotAllowed,
  readBody,
  stringField,
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
   * of this router's own (in memory unless given a Redis store). Give router D the same object: a
   * client id or a username then has one failure budget on both (docs/production.md).
   * @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

/** Router C answers `invalid_grant` with 401 (CONTRACT §5). */
function asUnauthorized(err: unknown): unknown {
  return err instanceof TokenError && err.code === 'invalid_grant' ? err.with({ status: 401 }) : err;
}

/**
 * Router C: mount at `/api` to serve `/api/auth/tokens/`, `/api/auth/tokens/refresh/`,
 * `/api/auth/tokens/validate/` and `/api/applications/rotate_credentials/`.
 *
 * @example
 * ```ts
 * app.use('/api', createAuthRouter({ kit }));
 * ```
 */
export function createAuthRouter(options: Readonly<AuthRouterOptions>): Router {
  if (!options?.kit?.grants) throw new TypeError('createAuthRouter needs { kit }');
  const { kit } = options;
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  const realm = options.realm ?? DEFAULT_REALM;
  const passwordClientId = options.passwordClientId ?? 'password-grant';
  if (typeof passwordClientId !== 'string' || passwordClientId === '')
    throw new TypeError('passwordClientId must be a string');
  const revokeTokens = options.revokeTokensOnRotation ?? true;
  const revokeUserTokens = options.revokeUserTokensOnRotation ?? false;
  if (typeof revokeTokens !== 'boolean' || typeof revokeUserTokens !== 'boolean')
    throw new TypeError('revokeTokensOnRotation and revokeUserTokensOnRotation must be booleans');
  if (revokeUserTokens && !revokeTokens)
    throw new TypeError('revokeUserTokensOnRotation needs revokeTokensOnRotation');
  const guard = requireToken({ kit, realm, errorFormat: format });

  /** The bearer token of a request, verified; expired tokens accepted when `ignoreExpiration`. */
  async function bearerAuth(req: Request, ignoreExpiration: boolean): Promise<AuthInfo | undefined> {
    const values = authorizationValues(req);
    if (values.length === 0) return undefined;
    const token = extractBearerToken({ authorization: values });
    return kit.tokens.verifyAccessToken(token, { ignoreExpiration });
  }

  function challenge(err: unknown): unknown {
    if (!(err instanceof TokenError)) return err;
    const value = bearerChallenge(err, realm);
    return value === undefined ? err : err.with({ headers: { 'WWW-Authenticate': value } });
  }

  const limitStages = routerRateLimits(options.rateLimit, (event) => kit.tokens.emit(event));
  /**
   * The client (client_credentials) or the user, and its client if any (password) a token request
   * names: the same kinds as router D's, so that a credential has one budget on both.
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
      if (grantType === 'client_credentials') {
        const clientId = stringField(body, 'client_id');
        const clientSecret = stringField(body, 'client_secret');
        if (clientId === undefined || clientSecret === undefined) {
          throw new TokenError('invalid_request', 'client_id and client_secret are required');
        }
        const result = await kit.grants.clientCredentials({
          clientId,
          clientSecret,
          scope: stringField(body, 'scope'),
          ip: req.ip,
        });
        res.status(200).json({
          access_token: result.accessToken.token,
          token_type: 'Bearer',
          expires_in: result.accessToken.expiresIn,
        });
        return;
      }
      if (grantType === 'password') {
        const username = stringField(body, 'username');
        const password = stringField(body, 'password');
        if (username === undefined || password === undefined) {
          throw new TokenError('invalid_request', 'username and password are required');
        }
        const clientId = stringField(body, 'client_id');
        const clientSecret = stringField(body, 'client_secret');
        const client =
          clientId === undefined && clientSecret === undefined
            ? { clientId: passwordClientId }
            : await kit.grants.authenticateClient(clientId, clientSecret, req.ip);
        try {
          const result = await kit.grants.password({
            username,
            password,
            client,
            scope: stringField(body, 'scope'),
            ip: req.ip,
          });
          res.status(200).json({
            id_token: result.idToken,
            access_token: result.accessToken.token,
            refresh_token: result.refreshToken,
            sub: result.subject,
            token_type: 'Bearer',
            expires_in: result.accessToken.expiresIn,
          });
        } catch (err) {
          throw asUnauthorized(err);
        }
        return;
      }
      throw new TokenError('unsupported_grant_type');
    }),
  );
  router.all('/auth/tokens', methodNotAllowed('POST', format));

  router.post(
    '/auth/tokens/refresh',
    jsonParser,
    // Refresh tokens carry 256 random bits: only the per-IP failure budget applies here.
    ...limitStages,
    asyncHandler(async function refreshTokens(req: Request, res: Response) {
      let auth: AuthInfo | undefined;
      try {
        auth = await bearerAuth(req, true);
      } catch (err) {
        throw challenge(err);
      }
      const body = readBody(req);
      const refreshToken = stringField(body, 'refresh_token');
      if (refreshToken === undefined) throw new TokenError('invalid_request', 'refresh_token is required');
      try {
        const result = await kit.grants.refresh({
          refreshToken,
          ...(auth === undefined ? {} : { subject: auth.subject }),
          ip: req.ip,
        });
        res.status(200).json({
          access_token: result.accessToken.token,
          refresh_token: result.refreshToken,
          token_type: 'Bearer',
          expires_in: result.accessToken.expiresIn,
          sub: result.subject,
        });
      } catch (err) {
        throw asUnauthorized(err);
      }
    }),
  );
  router.all('/auth/tokens/refresh', methodNotAllowed('POST', format));

  router.get(
    '/auth/tokens/validate',
    asyncHandler(async function validateToken(req: Request, res: Response) {
      let auth: AuthInfo | undefined;
      try {
        auth = await bearerAuth(req, false);
      } catch (err) {
        // CONTRACT §5: anything but an expired token is `invalid_token` here, another scheme included.
        const invalid =
          err instanceof TokenError && (err.code === 'invalid_request' || err.code === 'missing_token');
        throw challenge(invalid ? new TokenError('invalid_token') : err);
      }
      if (auth === undefined) throw challenge(new TokenError('invalid_token'));
      res.status(200).json({
        valid: true,
        sub: auth.subject,
        client_id: auth.clientId,
        scope: auth.scopes.join(' '),
        bound_entity: auth.boundEntity,
        expires_in: Math.max(0, auth.expiresAt - kit.tokens.now()),
      });
    }),
  );
  router.all('/auth/tokens/validate', methodNotAllowed('GET', format));

  router.post(
    '/applications/rotate_credentials',
    guard,
    jsonParser,
    asyncHandler(async function rotateCredentials(req: Request, res: Response) {
      const body = readBody(req);
      const applicationId = stringField(body, 'application_id');
      if (applicationId === undefined) throw new TokenError('invalid_request', 'application_id is required');
      const app = await kit.credentials.getApplication(applicationId.toLowerCase());
      if (app === null) throw new TokenError('not_found');
      // Only the application's own (client_credentials) token — subject = client id, no family —
      // under its current client id or one it held before a rotation: a user's password-grant
      // token belongs to the application too, but must never obtain the application's new secret.
      const auth = req.auth;
      if (
        auth === undefined ||
        auth.subject !== auth.clientId ||
        auth.familyId !== undefined ||
        !(await kit.credentials.applicationOwns(app, { clientId: auth.clientId }))
      ) {
        throw challenge(new TokenError('insufficient_scope'));
      }
      // A token of this application under a client id it no longer holds: a concurrent rotation
      // replaced the credentials it was minted with.
      if (auth.clientId !== app.clientId) throw new TokenError('conflict');
      // Tied to the client id the caller authenticated as: of concurrent rotations exactly one wins.
      const rotated = await kit.credentials.rotateApplication(app.id, {
        revokeTokens,
        revokeUserTokens,
        expectedClientId: auth.clientId,
      });
      if (rotated === null) throw new TokenError('not_found');
      res.status(200).json({
        id: rotated.id,
        name: rotated.name,
        organization: rotated.organization,
        client_id: rotated.clientId,
        client_secret: rotated.clientSecret,
        application_types: rotated.applicationTypes,
      });
    }),
  );
  router.all('/applications/rotate_credentials', methodNotAllowed('POST', format));

  return finishRouter(router, format);
}
