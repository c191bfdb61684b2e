/**
 * Resource-server mode: verifying access tokens of issuers that run elsewhere (another service of
 * this kit, Auth0, Keycloak, oidc-provider…) with no kit and no store in this process. A JWT's
 * `iss` selects the issuer's configuration, and only that issuer's keys can verify it; revocation
 * comes from the issuer's shared store (same deployment) or from RFC 7662 introspection; opaque
 * tokens are verified by introspection alone.
 *
 * @see RFC 8414, RFC 7517, RFC 7662, RFC 9068
 */
import { serviceUnavailable, TokenError } from '../errors';
import { DEFAULT_CLOCK_TOLERANCE, MAX_TOKEN_LENGTH } from '../defaults';
import type { AuthInfo, BoundEntity } from '../types';
import type { TokenStore } from '../stores/token-store';
import type { RevocationView } from '../stores/revocation-view';
import { issuedAtMsOf } from '../core/issuance';
import { freezeAuth, splitScope } from '../core/token/auth-info';
import { isRevoked, revocationQuery, revocationState, type RevocationContext } from '../core/token/verify';
import {
  atLeast,
  booleanOption,
  hasMethod,
  httpUrl,
  invalidOption,
  missingOption,
  nonEmptyString,
  objectOption,
  optionalFunction,
  optionConflict,
  positiveInteger,
} from '../util/options';
import { DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT_MS, type FetchLimits } from './fetch';
import { Introspector, type IntrospectionOptions } from './introspection';
import { JwksCache, REMOTE_ALGORITHMS, type RemoteAlgorithm } from './jwks-cache';
import { checkClaims, checkSignature, decodeJwt, headerKey, invalidToken } from './remote-jwt';

/** Revocation through the issuer's own token store (the service shares the issuer's Redis). */
export interface SharedRevocationOptions {
  /** The issuer's token store (e.g. a `RedisTokenStore` on the same Redis and key prefix). */
  readonly store: TokenStore;
  /** The issuer's revocation view (e.g. a `RedisRevocationView`), so repeats skip the store. */
  readonly view?: RevocationView;
}

/** One trusted issuer. */
export interface RemoteIssuerOptions {
  /** The issuer identifier; a token's `iss` must equal it exactly. */
  readonly issuer: string;
  /** Accepted audience(s); one member of the token's `aud` must equal one. */
  readonly audience: string | readonly string[];
  /**
   * The issuer's JWK Set URL. @default discovered: `jwks_uri` of the issuer's RFC 8414 metadata,
   * then of its OpenID Connect Discovery document.
   */
  readonly jwksUri?: string;
  /** Algorithms accepted from this issuer (asymmetric only). @default all of {@link RemoteAlgorithm} */
  readonly algorithms?: readonly RemoteAlgorithm[];
  /** RFC 7662 introspection: every token of this issuer is also checked there (opaque tokens only there). */
  readonly introspection?: Readonly<IntrospectionOptions>;
  /** Revocation from the issuer's shared store. */
  readonly revocation?: Readonly<SharedRevocationOptions>;
}

/** Options of {@link createRemoteVerifier}; times in seconds unless named `…Ms`. */
export interface RemoteVerifierOptions {
  /** The trusted issuers; at least one, each identifier once. */
  readonly issuers: readonly Readonly<RemoteIssuerOptions>[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. @default 0 */
  readonly clockTolerance?: number;
  /** Largest accepted token age (`now − iat`), in seconds; tokens without `iat` are refused. */
  readonly maxTokenAge?: number;
  /** RFC 9068 strict mode: `typ` `at+jwt` and `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti` required. @default false */
  readonly strict?: boolean;
  /** Now, in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Timeout of every metadata, JWKS and introspection request, in ms. @default 3000 */
  readonly fetchTimeoutMs?: number;
  /** Size cap of every metadata, JWKS and introspection response, in bytes. @default 1048576 */
  readonly maxResponseBytes?: number;
  /** Shortest time a JWKS is cached, whatever its `Cache-Control`. @default 30 */
  readonly jwksMinCacheAge?: number;
  /** Longest time a JWKS is cached (also when it sends no `max-age`). @default 600 */
  readonly jwksMaxCacheAge?: number;
  /** Least time between two JWKS fetches of one issuer (an unknown `kid` waits for it). @default 30 */
  readonly jwksCooldown?: number;
  /** How long cached keys keep verifying past their cache age while the issuer cannot answer. @default 3600 */
  readonly jwksStaleFor?: number;
}

/** Verifies tokens of remote issuers; built by {@link createRemoteVerifier}. */
export interface RemoteVerifier {
  /** The identity of a valid token; throws `TokenError` (`invalid_token`, `expired_token`, 503). */
  verify(token: string): Promise<AuthInfo>;
  /** JWKS requests sent, per issuer (for diagnostics). */
  jwksFetches(issuer: string): number;
}

interface ResolvedIssuer {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly keys: JwksCache;
  readonly introspector: Introspector | undefined;
  readonly revocation: RevocationContext | undefined;
}

const DEFAULTS = {
  jwksMinCacheAge: 30,
  jwksMaxCacheAge: 600,
  jwksCooldown: 30,
  jwksStaleFor: 3600,
} as const;

/** A non-negative number of seconds (fractions allowed); `fallback` when `value` is undefined. */
function seconds(value: unknown, option: string, fallback: number): number {
  return atLeast(value, fallback, option, 0);
}

function positiveInt(value: unknown, option: string, fallback: number): number {
  return positiveInteger(value, fallback, option);
}

/** Asserts a storage-shaped object by the methods resource-server mode calls. */
function assertStore(store: unknown, option: string): asserts store is TokenStore {
  if (!hasMethod(store, 'checkRevocation')) {
    throw invalidOption(`${option} must be a TokenStore (with checkRevocation)`);
  }
}

/**
 * Builds a verifier of remote issuers' tokens. Options are asserted once; nothing is fetched until
 * the first token arrives.
 *
 * @example
 * ```ts
 * const verifier = createRemoteVerifier({
 *   issuers: [{ issuer: 'https://auth.example.com', audience: 'https://api.example.com' }],
 * });
 * const auth = await verifier.verify(token);
 * ```
 * @see RFC 8414 §3, RFC 7662, RFC 9068 §4
 */
export function createRemoteVerifier(options: Readonly<RemoteVerifierOptions>): RemoteVerifier {
  if (!options || typeof options !== 'object') throw missingOption('createRemoteVerifier needs options');
  const now = optionalFunction(options.now, 'now') ?? Date.now;
  const clockTolerance = seconds(options.clockTolerance, 'clockTolerance', DEFAULT_CLOCK_TOLERANCE);
  const maxTokenAge =
    // Set means a number: the fallback of -1 refuses a null rather than reading it as 0.
    options.maxTokenAge === undefined ? undefined : seconds(options.maxTokenAge, 'maxTokenAge', -1);
  const strict = booleanOption(options.strict, false, 'strict');
  const limits: FetchLimits = Object.freeze({
    timeoutMs: positiveInt(options.fetchTimeoutMs, 'fetchTimeoutMs', DEFAULT_FETCH_TIMEOUT_MS),
    maxBytes: positiveInt(options.maxResponseBytes, 'maxResponseBytes', DEFAULT_FETCH_MAX_BYTES),
  });
  const minAge = seconds(options.jwksMinCacheAge, 'jwksMinCacheAge', DEFAULTS.jwksMinCacheAge);
  const maxAge = seconds(options.jwksMaxCacheAge, 'jwksMaxCacheAge', DEFAULTS.jwksMaxCacheAge);
  if (minAge > maxAge) throw optionConflict('jwksMinCacheAge must not exceed jwksMaxCacheAge');
  const timing = Object.freeze({
    minMaxAgeMs: minAge * 1000,
    maxMaxAgeMs: maxAge * 1000,
    cooldownMs: seconds(options.jwksCooldown, 'jwksCooldown', DEFAULTS.jwksCooldown) * 1000,
    staleMs: seconds(options.jwksStaleFor, 'jwksStaleFor', DEFAULTS.jwksStaleFor) * 1000,
  });
  if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
    throw invalidOption('issuers must be a non-empty list of { issuer, audience }');
  }
  const byIssuer = new Map<string, ResolvedIssuer>();
  options.issuers.forEach((config: Readonly<RemoteIssuerOptions>, i: number) => {
    const at = `issuers[${i}]`;
    objectOption(config, at);
    const issuer = httpUrl(config.issuer, `${at}.issuer`);
    if (byIssuer.has(issuer)) throw invalidOption(`${at}.issuer ${issuer} is listed twice`);
    const audiences = typeof config.audience === 'string' ? [config.audience] : config.audience;
    if (!Array.isArray(audiences) || audiences.length === 0)
      throw missingOption(`${at}.audience is required`);
    audiences.forEach((a: unknown, j: number) => nonEmptyString(a, `${at}.audience[${j}]`));
    const algorithms = config.algorithms ?? REMOTE_ALGORITHMS;
    if (
      !Array.isArray(algorithms) ||
      algorithms.length === 0 ||
      algorithms.some((a) => !REMOTE_ALGORITHMS.includes(a))
    ) {
      throw invalidOption(
        `${at}.algorithms must be a non-empty list of ${REMOTE_ALGORITHMS.join(', ')} (asymmetric only)`,
      );
    }
    const jwksUri = config.jwksUri === undefined ? undefined : httpUrl(config.jwksUri, `${at}.jwksUri`);
    const intro = config.introspection;
    let introspector: Introspector | undefined;
    if (intro !== undefined) {
      httpUrl(intro?.endpoint, `${at}.introspection.endpoint`);
      nonEmptyString(intro.clientId, `${at}.introspection.clientId`);
      nonEmptyString(intro.clientSecret, `${at}.introspection.clientSecret`);
      seconds(intro.cacheMaxAge, `${at}.introspection.cacheMaxAge`, 0);
      positiveInt(intro.maxEntries, `${at}.introspection.maxEntries`, 1);
      introspector = new Introspector(intro, limits, now);
    }
    let revocation: RevocationContext | undefined;
    if (config.revocation !== undefined) {
      const { store, view } = config.revocation;
      assertStore(store, `${at}.revocation.store`);
      revocation = Object.freeze({
        store,
        view,
        nowMs: now,
        options: { clockTolerance },
        guard: async <T>(call: () => Promise<T>): Promise<T> => {
          try {
            return await call();
          } catch (err) {
            throw err instanceof TokenError ? err : serviceUnavailable(err);
          }
        },
      });
    }
    byIssuer.set(
      issuer,
      Object.freeze({
        issuer,
        audiences: [...audiences],
        keys: new JwksCache({ issuer, ...(jwksUri ? { jwksUri } : {}), algorithms, timing, limits, now }),
        introspector,
        revocation,
      }),
    );
  });
  const introspecting = [...byIssuer.values()].filter((i) => i.introspector !== undefined);
  const rules = { clockTolerance, maxTokenAge, strict };

  async function verifyJwt(token: string): Promise<AuthInfo> {
    const decoded = decodeJwt(token);
    const iss = decoded.payload.iss;
    const config = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
    if (config === undefined) throw invalidToken('issuer not trusted');
    const { alg, kid } = headerKey(decoded.header);
    const found = await config.keys.lookup(kid, alg);
    if (found.key === undefined) {
      if (found.reason === 'unavailable') throw serviceUnavailable(found.cause);
      throw invalidToken('no key of this issuer for (kid, alg)');
    }
    checkSignature(decoded, found.key);
    checkClaims(decoded, {
      ...rules,
      issuer: config.issuer,
      audiences: config.audiences,
      now: Math.floor(now() / 1000),
    });
    const auth = remoteAuth('jwt', decoded.payload);
    if (config.revocation !== undefined) await checkShared(config.revocation, auth);
    if (config.introspector !== undefined) {
      const result = await introspect(config.introspector, token);
      if (!result.active) throw new TokenError('invalid_token', 'Access token revoked');
      if (result.claims.iss !== undefined && result.claims.iss !== config.issuer) {
        throw invalidToken('introspection names another issuer');
      }
    }
    return auth;
  }

  async function verifyOpaque(token: string): Promise<AuthInfo> {
    let failure: unknown;
    for (const config of introspecting) {
      let claims: Readonly<Record<string, unknown>>;
      try {
        const result = await introspect(config.introspector!, token);
        if (!result.active) continue;
        claims = result.claims;
      } catch (err) {
        failure = err;
        continue;
      }
      if (claims.iss !== undefined && claims.iss !== config.issuer) continue;
      const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
      if (!aud.some((a: unknown) => typeof a === 'string' && config.audiences.includes(a))) {
        throw invalidToken('unexpected aud');
      }
      const exp = claims.exp;
      if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalidToken('introspection gave no exp');
      if (exp + clockTolerance <= Math.floor(now() / 1000)) throw new TokenError('expired_token');
      return remoteAuth('opaque', { ...claims, iss: claims.iss ?? config.issuer });
    }
    if (failure !== undefined) throw failure;
    throw invalidToken('no issuer knows this token');
  }

  return Object.freeze({
    verify(token: string): Promise<AuthInfo> {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        return Promise.reject(invalidToken('token length'));
      }
      return token.split('.').length === 3 ? verifyJwt(token) : verifyOpaque(token);
    },
    jwksFetches(issuer: string): number {
      return byIssuer.get(issuer)?.keys.fetches ?? 0;
    },
  });
}

async function introspect(introspector: Introspector, token: string) {
  try {
    return await introspector.introspect(token);
  } catch (err) {
    // Fail closed: an endpoint that cannot answer never lets the token through.
    throw serviceUnavailable(err);
  }
}

/** Revocation of a token of this kit's issuer, from the issuer's own store (and view). */
async function checkShared(ctx: RevocationContext, auth: AuthInfo): Promise<void> {
  if (auth.jti === '') throw invalidToken('no jti to check revocation against');
  const query = revocationQuery(auth.jti, auth.subject, auth.clientId, auth.familyId);
  const state = await revocationState(ctx, query, auth.expiresAt);
  if (isRevoked(state, issuedAtMsOf(auth.jti, auth.issuedAt))) {
    throw new TokenError('invalid_token', 'Access token revoked');
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function boundEntityOf(value: unknown): BoundEntity | null {
  if (typeof value !== 'object' || value === null) return null;
  const { type, id } = value as { type?: unknown; id?: unknown };
  return typeof type === 'string' && typeof id === 'string' ? { type, id } : null;
}

/** The {@link AuthInfo} of a verified remote token (claims copied, null-prototype, frozen). */
function remoteAuth(format: 'jwt' | 'opaque', source: Readonly<Record<string, unknown>>): AuthInfo {
  const claims = Object.assign(Object.create(null) as Record<string, unknown>, source);
  const aud = claims.aud;
  const sid = claims.sid;
  return freezeAuth({
    format,
    jti: str(claims.jti),
    subject: str(claims.sub),
    clientId: str(claims.client_id),
    scopes: splitScope(claims.scope),
    boundEntity: boundEntityOf(claims.bound_entity),
    issuer: str(claims.iss),
    audience:
      typeof aud === 'string'
        ? [aud]
        : Array.isArray(aud)
          ? aud.filter((a): a is string => typeof a === 'string')
          : [],
    issuedAt: num(claims.iat),
    expiresAt: num(claims.exp),
    ...(typeof sid === 'string' ? { familyId: sid } : {}),
    claims,
  });
}
