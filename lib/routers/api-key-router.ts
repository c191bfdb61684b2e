/**
 * createApiKeyRouter — API key exchange: `POST <mount>/access-tokens` (docs/router-a-api-keys.md).
 */
import type { Request, Response, Router } from 'express';
import { TokenError } from '../errors';
import type { BindingProfile } from '../core/binding';
import type { TokenKit } from '../core/token-kit';
import type { BindingAuthorizer } from '../core/grants';
import { assertTokenPrefix } from '../core/opaque-token';
import type { IssuedAccessToken } from '../core/token-service';
import { DEFAULT_API_KEY_TOKEN_TTL, MAX_ACCESS_TOKEN_LIFETIME } from '../defaults';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { identifyCredential, type RouterRateLimitOption } from '../middleware/rate-limit';
import type { BoundEntity } from '../types';
import { optionalFunction, wholeSeconds } from '../util/options';
import {
  asyncHandler,
  bearerCredential,
  createBaseRouter,
  finishRouter,
  jsonParser,
  kitRateLimits,
  methodNotAllowed,
  readBody,
  requireBearerCredential,
  assertKit,
  type Body,
} from './shared';

/** Options of {@link createApiKeyRouter}. */
export interface ApiKeyRouterOptions {
  readonly kit: TokenKit;
  /** Prefix of the opaque access tokens; @default `vit_at_`. */
  readonly tokenPrefix?: string;
  /** Access-token lifetime in seconds; @default 900. */
  readonly ttl?: number;
  /**
   * Which entities an API key may bind tokens to; a refused binding answers 403 `insufficient_scope`
   * and nothing is issued. It runs after the key is authenticated; a rejection (or throw) of the
   * authorizer is 503 `service_unavailable`.
   * @default none: every request with a `bound_entity` is refused (403), unbound requests are served
   */
  readonly authorizeBinding?: BindingAuthorizer;
  /** Error body format; @default `errors`. */
  readonly errorFormat?: ErrorFormatOption;
  /**
   * Brute-force limits: shared {@link RateLimits} from `createRateLimits()`, or options for limits
   * of this router's own (in memory unless given a Redis store). @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

/** The binding a `client_credentials` exchange body asks for (null: unbound). */
function parseExchange(body: Body, binding: BindingProfile): BoundEntity | null {
  const grantType = body.grant_type;
  if (grantType === undefined || grantType === null || grantType === '') {
    throw new TokenError('invalid_request', 'grant_type is required');
  }
  if (typeof grantType !== 'string') throw new TokenError('invalid_request', 'grant_type must be a string');
  if (grantType !== 'client_credentials') throw new TokenError('unsupported_grant_type');
  const boundEntity = binding.parseBoundEntity(body.bound_entity);
  if (boundEntity === undefined) {
    throw new TokenError(
      'invalid_request',
      `bound_entity must be {id, type} with an ${binding.prefixList} id matching type`,
    );
  }
  return boundEntity;
}

/** The answer to a successful exchange. */
function exchangeResponse(issued: IssuedAccessToken, boundEntity: BoundEntity | null): object {
  return {
    access_token: issued.token,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    bound_entity: boundEntity,
  };
}

/** The checked options of {@link createApiKeyRouter}. */
function resolveOptions(options: Readonly<ApiKeyRouterOptions>) {
  const kit = assertKit(options, 'createApiKeyRouter');
  const prefix = options.tokenPrefix ?? 'vit_at_';
  assertTokenPrefix(prefix, 'tokenPrefix');
  kit.tokens.registerAccessTokenPrefix(prefix);
  const ttl = wholeSeconds(options.ttl, DEFAULT_API_KEY_TOKEN_TTL, 'ttl', 1, MAX_ACCESS_TOKEN_LIFETIME);
  optionalFunction(options.authorizeBinding, 'createApiKeyRouter: authorizeBinding');
  // Without an authorizer the core refuses every binding (fail closed).
  const authorizeBinding: BindingAuthorizer | undefined = options.authorizeBinding;
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  return { kit, prefix, ttl, authorizeBinding, format };
}

/**
 * createApiKeyRouter: exchanges an API key (`Authorization: Bearer <key>`) for a short-lived opaque access
 * token, optionally bound to an entity of the kit's binding profile (by default an employer or employee).
 *
 * @example
 * ```ts
 * app.use('/v1/auth', createApiKeyRouter({ kit }));
 * ```
 */
export function createApiKeyRouter(options: Readonly<ApiKeyRouterOptions>): Router {
  const { kit, prefix, ttl, authorizeBinding, format } = resolveOptions(options);
  const router = createBaseRouter();
  router.post(
    '/access-tokens',
    jsonParser,
    identifyCredential('api_key', bearerCredential),
    ...kitRateLimits(kit, options.rateLimit),
    asyncHandler(async function issueAccessToken(req: Request, res: Response) {
      const apiKey = requireBearerCredential(req, 'invalid_api_key');
      const boundEntity = parseExchange(readBody(req), kit.binding);
      const issued = await kit.grants.exchangeApiKey({
        apiKey,
        boundEntity,
        ttl,
        prefix,
        ip: req.ip,
        ...(authorizeBinding === undefined ? {} : { authorizeBinding }),
      });
      res.status(200).json(exchangeResponse(issued, boundEntity));
    }),
  );
  router.all('/access-tokens', methodNotAllowed('POST', format));
  return finishRouter(router, format);
}
