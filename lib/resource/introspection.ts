/**
 * RFC 7662 token introspection as a client: one request per token at a time (later callers share
 * it), answers remembered in a bounded cache for at most `cacheMaxAge` and never past the token's
 * `exp`, and fail closed — an endpoint that cannot answer (timeout, status other than 200, not
 * JSON, too large, malformed) makes the request a 503, never a pass.
 *
 * @see RFC 7662 §2.1 (request), §2.2 (response), §4 (caching)
 */
import { createHash } from 'node:crypto';
import { BoundedCache } from '../util/bounded-cache';
import { fetchJson, RemoteFetchError, type FetchLimits } from './fetch';

/** Options of introspection for one remote issuer. */
export interface IntrospectionOptions {
  /** The issuer's introspection endpoint (RFC 7662 §2). */
  readonly endpoint: string;
  /** Client id this resource server authenticates with (`client_secret_basic`, RFC 6749 §2.3.1). */
  readonly clientId: string;
  /** Its client secret. */
  readonly clientSecret: string;
  /**
   * Longest time an answer is reused, in seconds; `0` asks the endpoint on every request. Never
   * past the token's `exp`. @default 60
   */
  readonly cacheMaxAge?: number;
  /** Most answers remembered; oldest evicted first. @default 10000 */
  readonly maxEntries?: number;
}

/** An introspection answer, reduced to what resource-server mode reads. */
export interface IntrospectionResult {
  readonly active: boolean;
  /** The RFC 7662 §2.2 members of an active answer, as received. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Default `cacheMaxAge`, in seconds. */
export const DEFAULT_INTROSPECTION_CACHE_MAX_AGE = 60;
const DEFAULT_MAX_ENTRIES = 10_000;
const INACTIVE: IntrospectionResult = Object.freeze({ active: false, claims: Object.freeze({}) });

/** RFC 6749 Appendix B encoding, applied before Basic (RFC 6749 §2.3.1). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** The introspection client of one issuer. */
export class Introspector {
  readonly #endpoint: string;
  readonly #authorization: string;
  readonly #maxAgeMs: number;
  readonly #cache: BoundedCache<string, IntrospectionResult> | undefined;
  readonly #inflight = new Map<string, Promise<IntrospectionResult>>();
  readonly #limits: FetchLimits;
  readonly #now: () => number;
  #requests = 0;

  constructor(options: Readonly<IntrospectionOptions>, limits: FetchLimits, now: () => number) {
    this.#endpoint = options.endpoint;
    this.#authorization = `Basic ${Buffer.from(
      `${formEncode(options.clientId)}:${formEncode(options.clientSecret)}`,
    ).toString('base64')}`;
    this.#maxAgeMs = (options.cacheMaxAge ?? DEFAULT_INTROSPECTION_CACHE_MAX_AGE) * 1000;
    this.#cache =
      this.#maxAgeMs > 0 ? new BoundedCache(options.maxEntries ?? DEFAULT_MAX_ENTRIES) : undefined;
    this.#limits = limits;
    this.#now = now;
  }

  /** Requests sent so far. */
  get requests(): number {
    return this.#requests;
  }

  /**
   * The endpoint's answer for `token`. Throws {@link RemoteFetchError} when the endpoint cannot
   * answer; the caller turns that into a 503.
   */
  introspect(token: string): Promise<IntrospectionResult> {
    // The cache is keyed by a digest: no raw token is kept in memory longer than its request.
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cache?.get(key, this.#now());
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      pending = this.#request(token, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #request(token: string, key: string): Promise<IntrospectionResult> {
    this.#requests++;
    const { body } = await fetchJson(this.#endpoint, this.#limits, {
      method: 'POST',
      headers: {
        authorization: this.#authorization,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    const result = parseAnswer(body);
    if (this.#cache !== undefined) {
      const nowMs = this.#now();
      const exp = result.claims.exp;
      const untilMs = Math.min(nowMs + this.#maxAgeMs, typeof exp === 'number' ? exp * 1000 : Infinity);
      if (untilMs > nowMs) this.#cache.set(key, result, untilMs);
    }
    return result;
  }
}

/** RFC 7662 §2.2: a JSON object whose `active` is a boolean; anything else is a failed answer. */
function parseAnswer(body: unknown): IntrospectionResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RemoteFetchError('introspection answer is not a JSON object');
  }
  const { active } = body as { active?: unknown };
  if (typeof active !== 'boolean') throw new RemoteFetchError('introspection answer has no boolean active');
  if (!active) return INACTIVE;
  const claims = Object.assign(Object.create(null) as Record<string, unknown>, body);
  return Object.freeze({ active: true, claims: Object.freeze(claims) });
}
