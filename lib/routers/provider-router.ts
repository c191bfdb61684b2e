/**
 * createProviderRouter — provider client tokens, `{code, message}` errors (docs/router-b-providers.md).
 */
import type { Request, Response, Router } from 'express';
import { TokenError } from '../errors';
import type { TokenKit } from '../core/token-kit';
import { isUuid } from '../core/credentials';
import type { ProviderTokenInput } from '../core/grants';
import type { IssuedAccessToken } from '../core/token-service';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { identifyCredential, type RouterRateLimitOption } from '../middleware/rate-limit';
import {
  asyncHandler,
  assertKit,
  bearerCredential,
  booleanField,
  createBaseRouter,
  defined,
  finishRouter,
  isoSeconds,
  jsonParser,
  kitRateLimits,
  methodNotAllowed,
  readBody,
  requireBearerCredential,
  type Body,
} from './shared';

/** Options of {@link createProviderRouter}. */
export interface ProviderRouterOptions {
  readonly kit: TokenKit;
  /** Error body format; @default `code` (`{"code","message"}`). */
  readonly errorFormat?: ErrorFormatOption;
  /**
   * Brute-force limits: shared {@link RateLimits} from `createRateLimits()`, or options for limits
   * of this router's own (in memory unless given a Redis store). @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

function optionalExpiresIn(body: Body): number | undefined {
  const value = body.expiresIn;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TokenError('invalid_request', 'expiresIn must be a non-negative whole number of seconds');
  }
  return value;
}

/** The provider, client and token options of a request (everything but the key). */
function parseClientTokenRequest(req: Request): Omit<ProviderTokenInput, 'apiKey' | 'ip'> {
  const providerId = String(req.params.providerId);
  const clientId = String(req.params.clientId);
  if (!isUuid(providerId) || !isUuid(clientId)) {
    throw new TokenError('invalid_request', 'providerId and clientId must be UUIDs');
  }
  const body = readBody(req, true);
  return {
    providerId: providerId.toLowerCase(),
    clientId: clientId.toLowerCase(),
    ...defined('expiresIn', optionalExpiresIn(body)),
    ...defined('useJwtType', booleanField(body, 'useJwtType')),
    ...defined('audienceAsArray', booleanField(body, 'audienceAsArray')),
    ...defined('forceDefaultDomain', booleanField(body, 'forceDefaultDomain')),
  };
}

/** The answer to a successful request (`expiresAt` in ISO 8601 UTC). */
function clientTokenResponse(issued: IssuedAccessToken): object {
  return { accessToken: issued.token, expiresAt: isoSeconds(issued.expiresAt), type: 'Bearer' };
}

/**
 * createProviderRouter: `POST /providers/:providerId/clients/:clientId/tokens` issues an RFC 9068 JWT for a
 * provider's client, authenticated by the provider's API key.
 *
 * @example
 * ```ts
 * app.use('/v1', createProviderRouter({ kit }));
 * ```
 */
export function createProviderRouter(options: Readonly<ProviderRouterOptions>): Router {
  const kit = assertKit(options, 'createProviderRouter');
  const format = options.errorFormat ?? 'code';
  assertErrorFormat(format);
  const router = createBaseRouter();
  const path = '/providers/:providerId/clients/:clientId/tokens';
  router.post(
    path,
    jsonParser,
    identifyCredential('provider_key', bearerCredential),
    ...kitRateLimits(kit, options.rateLimit),
    asyncHandler(async function createClientToken(req: Request, res: Response) {
      const apiKey = requireBearerCredential(req, 'unauthorized');
      const input = parseClientTokenRequest(req);
      const issued = await kit.grants.providerToken({ apiKey, ...input, ip: req.ip });
      res.status(201).json(clientTokenResponse(issued));
    }),
  );
  router.all(path, methodNotAllowed('POST', format));
  return finishRouter(router, format);
}
