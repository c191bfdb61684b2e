/**
 * One remote issuer's public keys: found through its metadata (RFC 8414, then OpenID Connect
 * Discovery) or a configured `jwks_uri`, each key pinned to one asymmetric algorithm taken from the
 * JWK itself, cached per `Cache-Control` within bounds, refetched for an unknown `kid` at most once
 * per cooldown (one request in flight, shared), and served stale for a bounded time while the
 * issuer cannot answer.
 *
 * @see RFC 7517 §5 (JWK Set), RFC 7518 §6 (key types), RFC 8414 §3 (metadata), RFC 8725 §3.1
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { fetchJson, RemoteFetchError, type FetchLimits } from './fetch';

/** Asymmetric JWS algorithms a remote key may be pinned to (RFC 7518 §3.1, RFC 8037 §3.1). */
export type RemoteAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** Every {@link RemoteAlgorithm}. */
export const REMOTE_ALGORITHMS: readonly RemoteAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** A verification key of a remote issuer, pinned to one algorithm. */
export interface RemoteKey {
  readonly kid: string | undefined;
  readonly alg: RemoteAlgorithm;
  readonly key: KeyObject;
}

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

/** Most keys read from one JWKS; the rest are ignored. */
const MAX_KEYS = 100;
const MIN_RSA_BITS = 2048;
const CURVE_ALG: Readonly<Record<string, RemoteAlgorithm>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
  Ed25519: 'EdDSA',
  Ed448: 'EdDSA',
};
const NODE_CURVE: Readonly<Record<string, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/** The RFC 8414 §3.1 and OpenID Connect Discovery §4 metadata URLs of an issuer, in that order. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * The keys of a JWK Set document that this library will verify with: RSA (≥ 2048 bits), EC (P-256,
 * P-384, P-521) and OKP (Ed25519, Ed448) public keys, each pinned to the JWK's `alg`, or to the one
 * algorithm its `kty`/`crv` implies (RSA → RS256). Symmetric (`oct`) keys, `alg: none`, keys whose
 * `use` is not `sig`, unknown algorithms and keys that do not parse are skipped. Null when the
 * document is not a JWK Set at all.
 */
export function parseJwks(document: unknown, algorithms: readonly RemoteAlgorithm[]): RemoteKey[] | null {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return null;
  const list = (document as { keys?: unknown }).keys;
  if (!Array.isArray(list)) return null;
  const keys: RemoteKey[] = [];
  for (const jwk of list.slice(0, MAX_KEYS) as unknown[]) {
    const key = parseJwk(jwk, algorithms);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

function parseJwk(jwk: unknown, algorithms: readonly RemoteAlgorithm[]): RemoteKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const { kty, kid, alg, use, crv, n, e, x, y } = jwk as Record<string, unknown>;
  if (use !== undefined && use !== 'sig') return undefined;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > 256))
    return undefined;
  let pinned: RemoteAlgorithm | undefined;
  if (alg !== undefined) {
    if (typeof alg !== 'string' || !(REMOTE_ALGORITHMS as readonly string[]).includes(alg)) return undefined;
    pinned = alg as RemoteAlgorithm;
  } else if (kty === 'RSA') pinned = 'RS256';
  else if ((kty === 'EC' || kty === 'OKP') && typeof crv === 'string') pinned = CURVE_ALG[crv];
  if (pinned === undefined || !algorithms.includes(pinned)) return undefined;
  // Public members only: a JWKS that leaks private members must not make us hold a private key.
  let members: JsonWebKey;
  if (kty === 'RSA' && typeof n === 'string' && typeof e === 'string') members = { kty, n, e };
  else if (kty === 'EC' && typeof crv === 'string' && typeof x === 'string' && typeof y === 'string')
    members = { kty, crv, x, y };
  else if (kty === 'OKP' && typeof crv === 'string' && typeof x === 'string') members = { kty, crv, x };
  else return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (!keyFitsAlgorithm(key, pinned)) return undefined;
  return { kid: kid as string | undefined, alg: pinned, key };
}

function keyFitsAlgorithm(key: KeyObject, alg: RemoteAlgorithm): boolean {
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case 'ES256':
    case 'ES384':
    case 'ES512':
      return key.asymmetricKeyType === 'ec' && details?.namedCurve === NODE_CURVE[alg];
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448';
  }
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
