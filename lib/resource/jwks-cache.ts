/**
 * One remote issuer's public keys: found through its metadata (RFC 8414, then OpenID Connect
 * Discovery) or a configured `jwks_uri`, each key pinned to one asymmetric algorithm taken from the
 * JWK itself, cached per `Cache-Control` within bounds, refetched for an unknown `kid` at most once
 * per cooldown (one request in flight, shared), and served stale for a bounded time while the
 * issuer cannot answer.
 *
 * @see RFC 7517 §5 (JWK Set), RFC 7518 §6 (key types), RFC 8414 §3 (metadata), RFC 8725 §3.1
 */
import { parseJwks, REMOTE_ALGORITHMS, type RemoteAlgorithm, type RemoteKey } from '../keys/public-jwk';
import { fetchJson, RemoteFetchError, type FetchLimits } from './fetch';

export { parseJwks, REMOTE_ALGORITHMS, type RemoteAlgorithm, type RemoteKey };

/** Timing bounds of a {@link JwksCache}, in ms. */
export interface JwksTiming {
  /** Shortest time a JWKS is kept, whatever its `Cache-Control` says. */
  readonly minMaxAgeMs: number;
  /** Longest time a JWKS is kept (also when it has no `max-age`). */
  readonly maxMaxAgeMs: number;
  /** Least time between two fetches of the JWKS. */
  readonly cooldownMs: number;
  /** How long past its freshness a JWKS is still used while the issuer cannot answer. */
  readonly staleMs: number;
}

/** Options of a {@link JwksCache}. */
export interface JwksCacheOptions {
  /** The issuer identifier (metadata `issuer` must equal it exactly). */
  readonly issuer: string;
  /** The JWKS URL; discovered from the issuer's metadata when absent. */
  readonly jwksUri?: string;
  /** Algorithms accepted from this issuer; @default every {@link RemoteAlgorithm}. */
  readonly algorithms?: readonly RemoteAlgorithm[];
  readonly timing: JwksTiming;
  readonly limits: FetchLimits;
  /** Now, in ms. */
  readonly now: () => number;
}

/** The result of a key lookup: the key, or why there is none. */
export type KeyLookup =
  | { readonly key: RemoteKey }
  | { readonly key: undefined; readonly reason: 'unknown_key' | 'unavailable'; readonly cause?: unknown };

/** The RFC 8414 §3.1 and OpenID Connect Discovery §4 metadata URLs of an issuer, in that order. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/** The `max-age` of a `Cache-Control` value in ms (0 for `no-store`/`no-cache`); undefined when absent. */
export function maxAgeMs(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  if (/(?:^|,)\s*no-(?:store|cache)\s*(?:,|$)/i.test(cacheControl)) return 0;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(cacheControl);
  return match ? Number(match[1]) * 1000 : undefined;
}

interface KeySnapshot {
  readonly keys: readonly RemoteKey[];
  readonly fetchedAtMs: number;
  readonly freshUntilMs: number;
}

/**
 * The key cache of one remote issuer. {@link JwksCache.lookup} never throws: it answers a key, an
 * unknown key (401), or unavailable (503: no usable key set and the issuer cannot answer).
 */
export class JwksCache {
  readonly #options: JwksCacheOptions;
  readonly #algorithms: readonly RemoteAlgorithm[];
  #snapshot: KeySnapshot | undefined;
  #jwksUri: { readonly url: string; readonly untilMs: number } | undefined;
  #lastAttemptMs = Number.NEGATIVE_INFINITY;
  #lastError: unknown;
  #inflight: Promise<void> | undefined;
  #fetches = 0;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#algorithms = options.algorithms ?? REMOTE_ALGORITHMS;
  }

  /** JWKS documents requested so far (metadata requests not counted). */
  get fetches(): number {
    return this.#fetches;
  }

  /** The key for a token's `kid` and `alg`, refreshing the set when that is allowed. */
  async lookup(kid: string | undefined, alg: string): Promise<KeyLookup> {
    const { now, timing } = this.#options;
    let snapshot = this.#snapshot;
    const fresh = snapshot !== undefined && now() < snapshot.freshUntilMs;
    const found = fresh ? this.#find(snapshot!, kid, alg) : undefined;
    if (found !== undefined) return { key: found };
    // Stale, empty, or an unknown kid: refresh, unless a fetch was tried within the cooldown.
    if (now() - this.#lastAttemptMs >= timing.cooldownMs || this.#inflight !== undefined) {
      await this.#refresh();
    }
    snapshot = this.#snapshot;
    const usable = snapshot !== undefined && now() < snapshot.freshUntilMs + timing.staleMs;
    if (!usable) return { key: undefined, reason: 'unavailable', cause: this.#lastError };
    const key = this.#find(snapshot!, kid, alg);
    return key === undefined ? { key: undefined, reason: 'unknown_key' } : { key };
  }

  /** A key of the snapshot for (kid, alg); a token without `kid` matches only a lone key of that alg. */
  #find(snapshot: KeySnapshot, kid: string | undefined, alg: string): RemoteKey | undefined {
    if (kid === undefined) {
      const candidates = snapshot.keys.filter((k) => k.alg === alg);
      return candidates.length === 1 ? candidates[0] : undefined;
    }
    return snapshot.keys.find((k) => k.kid === kid && k.alg === alg);
  }

  /** One refresh at a time: every caller waits for the same request. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    const { now, timing, limits } = this.#options;
    this.#lastAttemptMs = now();
    try {
      const url = await this.#resolveJwksUri();
      this.#fetches++;
      const { headers, body } = await fetchJson(url, limits);
      const keys = parseJwks(body, this.#algorithms);
      if (keys === null) throw new RemoteFetchError('not a JWK Set');
      const declared = maxAgeMs(headers.get('cache-control')) ?? timing.maxMaxAgeMs;
      const ageMs = Math.min(timing.maxMaxAgeMs, Math.max(timing.minMaxAgeMs, declared));
      const fetchedAtMs = now();
      this.#snapshot = { keys, fetchedAtMs, freshUntilMs: fetchedAtMs + ageMs };
      this.#lastError = undefined;
    } catch (err) {
      // Keep the previous snapshot: it stays usable until its stale bound.
      this.#lastError = err;
      this.#jwksUri = undefined;
    }
  }

  async #resolveJwksUri(): Promise<string> {
    const { jwksUri, issuer, limits, now, timing } = this.#options;
    if (jwksUri !== undefined) return jwksUri;
    if (this.#jwksUri !== undefined && now() < this.#jwksUri.untilMs) return this.#jwksUri.url;
    let lastError: unknown;
    for (const url of metadataUrls(issuer)) {
      let body: unknown;
      try {
        ({ body } = await fetchJson(url, limits));
      } catch (err) {
        lastError = err;
        continue;
      }
      const metadata = body as { issuer?: unknown; jwks_uri?: unknown } | null;
      // RFC 8414 §3.3: the metadata's issuer must be identical to the issuer it was fetched for.
      if (typeof metadata !== 'object' || metadata === null || metadata.issuer !== issuer) {
        throw new RemoteFetchError('metadata issuer does not match the configured issuer');
      }
      if (typeof metadata.jwks_uri !== 'string' || !/^https?:\/\//i.test(metadata.jwks_uri)) {
        throw new RemoteFetchError('metadata has no jwks_uri');
      }
      this.#jwksUri = { url: metadata.jwks_uri, untilMs: now() + timing.maxMaxAgeMs };
      return metadata.jwks_uri;
    }
    throw lastError instanceof Error ? lastError : new RemoteFetchError('no metadata');
  }
}
