/**
 * createOAuthRouter's options, checked once, and what its endpoints share: the kit, the error format, the
 * absolute base URL, and client authentication with the `WWW-Authenticate: Basic` challenge.
 */
import type { Request } from 'express';
import { TokenError } from '../../errors';
import type { ApplicationInfo } from '../../core/credentials';
import { grantContext, type GrantContext } from '../../core/grants/context';
import type { TokenKit } from '../../core/token-kit';
import { DEFAULT_REALM } from '../../defaults';
import { assertErrorFormat, type ErrorFormatOption } from '../../middleware/error-response';
import type { RouterRateLimitOption } from '../../middleware/rate-limit';
import { stringField } from '../shared';
import { readClientCredentials, type ClientCredentials } from './client-auth';
import { clientKeyResolver, type ClientJwksOptions } from './client-keys';
import { OAUTH_PATHS } from './errors';
import { readParams } from './form';
import { absoluteHttpUrl, missingOption, quotableString, wholeSeconds } from '../../util/options';

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
   * Fetching the keys of `private_key_jwt` clients registered with a `jwksUri` (bounded, cached,
   * https only unless `allowHttpLoopback`). See docs/client-auth.md. @default `{}`
   */
  readonly clientJwks?: ClientJwksOptions;
  /**
   * Brute-force limits of the token, revocation and introspection endpoints: shared
   * {@link RateLimits} from `createRateLimits()`, or options for limits of this router's own (in
   * memory unless given a Redis store). Give createAuthRouter the same object: a client id or a username
   * then has one failure budget on both (docs/production.md). @default `{}` (on, in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
}

/** What createOAuthRouter's endpoints share. */
export interface OAuthContext {
  readonly kit: TokenKit;
  /** The grants' context, for the registry's grants. */
  readonly grants: GrantContext;
  readonly format: ErrorFormatOption;
  readonly jwksMaxAge: number;
  /** Absolute, without a trailing slash. */
  readonly baseUrl: string;
  /** Adds the Basic challenge to `invalid_client` when the client used Basic (RFC 6749 §5.2). */
  withChallenge(err: unknown, credentials: ClientCredentials | undefined): unknown;
  /** Authenticates the request's client or throws `invalid_client` (with the challenge when Basic). */
  authenticate(req: Request, credentials: ClientCredentials): Promise<ApplicationInfo>;
}

const MAX_JWKS_MAX_AGE = 86_400;
const TOKEN_TYPE_HINTS = new Set(['access_token', 'refresh_token']);

function assertAbsoluteUrl(value: unknown, option: string): string {
  return absoluteHttpUrl(value, option).replace(/\/+$/, '');
}

/** Checks the options of createOAuthRouter once (a `TypeError` or `RangeError` names the bad one). */
export function createOAuthContext(options: Readonly<OAuthRouterOptions>): OAuthContext {
  if (!options?.kit?.grants) throw missingOption('createOAuthRouter needs { kit }');
  const { kit } = options;
  const format = options.errorFormat ?? 'oauth';
  assertErrorFormat(format);
  const jwksMaxAge = wholeSeconds(options.jwksMaxAge, 300, 'jwksMaxAge', 0, MAX_JWKS_MAX_AGE);
  const realm = quotableString(options.realm, DEFAULT_REALM, 'createOAuthRouter: realm');
  const baseUrl = assertAbsoluteUrl(
    options.baseUrl ?? kit.tokens.issuer,
    options.baseUrl === undefined ? 'issuer' : 'baseUrl',
  );
  const basicChallenge = `Basic realm="${realm}"`;
  const grants = grantContext(kit.grants);
  const remoteKeys = clientKeyResolver(options.clientJwks, () => kit.tokens.now() * 1000);
  const tokenEndpoint = `${baseUrl}${OAUTH_PATHS.token}`;

  /** RFC 7523 §3 item 3: the issuer identifier, the token endpoint, or the endpoint called. */
  function audiences(req: Request): string[] {
    const path = req.path.toLowerCase().replace(/\/+$/, '');
    const called = Object.values(OAUTH_PATHS).includes(path as never) ? [`${baseUrl}${path}`] : [];
    return [...new Set([kit.tokens.issuer, tokenEndpoint, ...called])];
  }

  function withChallenge(err: unknown, credentials: ClientCredentials | undefined): unknown {
    if (credentials?.basic && err instanceof TokenError && err.code === 'invalid_client') {
      return err.with({ headers: { 'WWW-Authenticate': basicChallenge } });
    }
    return err;
  }

  return {
    kit,
    grants,
    format,
    jwksMaxAge,
    baseUrl,
    withChallenge,
    async authenticate(req, credentials) {
      try {
        const { assertion } = credentials;
        return await kit.grants.authenticateClientRequest(
          assertion === undefined
            ? {
                method: credentials.basic ? 'client_secret_basic' : 'client_secret_post',
                clientId: credentials.clientId,
                clientSecret: credentials.clientSecret,
                ip: req.ip,
              }
            : {
                method: 'client_assertion',
                assertion: assertion.value,
                clientId: assertion.clientIdParam,
                claimedClientId: credentials.clientId,
                audiences: audiences(req),
                remoteKeys,
                ip: req.ip,
              },
        );
      } catch (err) {
        throw withChallenge(err, credentials);
      }
    },
  };
}

/**
 * Revocation and introspection requests: the authenticated client and the `token` parameter;
 * a `token_type_hint` must be known (RFC 7009 §2.2.1) but is otherwise unused, since the core
 * recognises every token it issued.
 */
export async function readTokenRequest(
  context: OAuthContext,
  req: Request,
): Promise<{ client: ApplicationInfo; token: string }> {
  const body = readParams(req);
  const credentials = readClientCredentials(req, body);
  const token = stringField(body, 'token');
  const hint = stringField(body, 'token_type_hint');
  const client = await context.authenticate(req, credentials);
  if (token === undefined) throw new TokenError('invalid_request', 'token is required');
  if (hint !== undefined && !TOKEN_TYPE_HINTS.has(hint)) throw new TokenError('unsupported_token_type');
  return { client, token };
}
