/**
 * The public keys of `private_key_jwt` clients registered with a `jwksUri` (RFC 7591 §2): fetched
 * and cached through resource-server mode's bounded fetches and JWKS cache (lib/resource), one cache
 * per URI — `Cache-Control` within bounds, an unknown `kid` refetched at most once per cooldown,
 * stale keys kept for a bounded time while the URI cannot answer. https only; `http:` on a loopback
 * host only when {@link ClientJwksOptions.allowHttpLoopback} says so (tests, local development).
 */
import type { ClientKeyResolver } from '../../core/client-assertion';
import { isLoopbackHost } from '../../core/client-auth-method';
import { DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT_MS } from '../../resource/fetch';
import { JwksCache } from '../../resource/jwks-cache';
import { BoundedCache } from '../../util/bounded-cache';
import { booleanOption, objectOption, positiveInteger, wholeSeconds } from '../../util/options';

/** Options of the `jwksUri` key fetches of createOAuthRouter (`clientJwks`); times in seconds. */
export interface ClientJwksOptions {
  /** Fetch `http:` jwksUris on a loopback host (127.0.0.0/8, `localhost`, `[::1]`); @default false */
  readonly allowHttpLoopback?: boolean;
  /** Timeout of one JWKS request, in ms. @default 3000 */
  readonly fetchTimeoutMs?: number;
  /** Size cap of one JWKS response, in bytes. @default 1048576 */
  readonly maxResponseBytes?: number;
  /** Least time between two fetches of one jwksUri (an unknown `kid` waits for it). @default 30 */
  readonly cooldown?: number;
  /** Longest time a client's JWKS is cached (also when it sends no `max-age`). @default 300 */
  readonly maxCacheAge?: number;
}

/** Most jwksUris whose keys are kept at once. */
const MAX_CACHED_URIS = 1000;
/** How long an idle jwksUri's cache is kept, in ms. */
const IDLE_MS = 3_600_000;

/** A {@link ClientKeyResolver} over lib/resource's JWKS caches; options checked once. */
export function clientKeyResolver(
  options: Readonly<ClientJwksOptions> | undefined,
  nowMs: () => number,
): ClientKeyResolver {
  const o = options === undefined ? {} : objectOption(options, 'createOAuthRouter: clientJwks');
  const allowHttpLoopback = booleanOption(o.allowHttpLoopback, false, 'clientJwks.allowHttpLoopback');
  const limits = {
    timeoutMs: positiveInteger(o.fetchTimeoutMs, DEFAULT_FETCH_TIMEOUT_MS, 'clientJwks.fetchTimeoutMs'),
    maxBytes: positiveInteger(o.maxResponseBytes, DEFAULT_FETCH_MAX_BYTES, 'clientJwks.maxResponseBytes'),
  };
  const cooldown = wholeSeconds(o.cooldown, 30, 'clientJwks.cooldown', 0, 3600);
  const maxCacheAge = wholeSeconds(o.maxCacheAge, 300, 'clientJwks.maxCacheAge', 0, 86_400);
  const timing = {
    minMaxAgeMs: Math.min(30_000, maxCacheAge * 1000),
    maxMaxAgeMs: maxCacheAge * 1000,
    cooldownMs: cooldown * 1000,
    staleMs: 3_600_000,
  };
  const caches = new BoundedCache<string, JwksCache>(MAX_CACHED_URIS);

  function fetchable(uri: string): boolean {
    const url = new URL(uri);
    return (
      url.protocol === 'https:' ||
      (allowHttpLoopback && url.protocol === 'http:' && isLoopbackHost(url.hostname))
    );
  }

  return async function clientKeys(jwksUri, kid, alg) {
    if (!fetchable(jwksUri)) return undefined;
    const now = nowMs();
    let cache = caches.get(jwksUri, now);
    if (cache === undefined) {
      cache = new JwksCache({ issuer: jwksUri, jwksUri, timing, limits, now: nowMs });
      caches.set(jwksUri, cache, now + IDLE_MS);
    }
    const found = await cache.lookup(kid, alg);
    return found.key;
  };
}
