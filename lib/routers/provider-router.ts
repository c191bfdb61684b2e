/**
 * Router B — provider client tokens (seed 001), `{code, message}` errors.
 */
import type { Request, Response, Router } from 'express';
import { TokenError } from '../errors';
import type { TokenKit } from '../core/token-kit';
import { isUuid } from '../core/credentials';
import { authorizationValues, extractBearerToken } from '../middleware/bearer';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { identifyCredential, routerRateLimits, type RouterRateLimitOption } from '../middleware/rate-limit';
import {
  asyncHandler,
  createBaseRouter,
  finishRouter,
  isoSeconds,
  jsonParser,
  methodNotAllowed,
  readBody,
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

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TokenError('invalid_request', `${name} must be a boolean`);
  return value;
}

function optionalExpiresIn(body: Body): number | undefined {
  const value = body.expiresIn;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TokenError('invalid_request', 'expiresIn must be a non-negative whole number of seconds');
  }
  return value;
}

/**
 * Router B: `POST /providers/:providerId/clients/:clientId/tokens` issues an RFC 9068 JWT for a
 * provider's client, authenticated by the provider's API key.
 *
 * @example
 * ```ts
 * app.use('/v1', createProviderRouter({ kit }));
 * ```
 */
export function createProviderRouter(options: Readonly<ProviderRouterOptions>): Router {
  if (!options?.kit?.grants) throw new TypeError('createProviderRouter needs { kit }');
  const { kit } = options;
  const format = options.errorFormat ?? 'code';
  assertErrorFormat(format);

  const limitStages = routerRateLimits(options.rateLimit, (event) => kit.tokens.emit(event));

  const router = createBaseRouter();
  const path = '/providers/:providerId/clients/:clientId/tokens';
  router.post(
    path,
    jsonParser,
    identifyCredential('provider_key', (req) =>
      extractBearerToken({ authorization: authorizationValues(req) }),
    ),
    ...limitStages,
    asyncHandler(async function createClientToken(req: Request, res: Response) {
      let apiKey: string;
      try {
        apiKey = extractBearerToken({ authorization: authorizationValues(req) });
      } catch {
        throw new TokenError('unauthorized');
      }
      const providerId = String(req.params.providerId);
      const clientId = String(req.params.clientId);
      if (!isUuid(providerId) || !isUuid(clientId)) {
        throw new TokenError('invalid_request', 'providerId and clientId must be UUIDs');
      }
      const body = readBody(req, true);
      const expiresIn = optionalExpiresIn(body);
      const useJwtType = optionalBoolean(body, 'useJwtType');
      const audienceAsArray = optionalBoolean(body, 'audienceAsArray');
      const forceDefaultDomain = optionalBoolean(body, 'forceDefaultDomain');
      const issued = await kit.grants.providerToken({
        apiKey,
        providerId: providerId.toLowerCase(),
        clientId: clientId.toLowerCase(),
        ...(expiresIn === undefined ? {} : { expiresIn }),
        ...(useJwtType === undefined ? {} : { useJwtType }),
        ...(audienceAsArray === undefined ? {} : { audienceAsArray }),
        ...(forceDefaultDomain === undefined ? {} : { forceDefaultDomain }),
        ip: req.ip,
      });
      res
        .status(201)
        .json({ accessToken: issued.token, expiresAt: isoSeconds(issued.expiresAt), type: 'Bearer' });
    }),
  );
  router.all(path, methodNotAllowed('POST', format));
  return finishRouter(router, format);
}
