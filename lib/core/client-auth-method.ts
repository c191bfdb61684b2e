/**
 * How an application authenticates at `createOAuthRouter`'s token, revocation and introspection
 * endpoints (RFC 7591 §2 `token_endpoint_auth_method`, `jwks`, `jwks_uri`), and the checks of those
 * settings when an application is registered: a configuration value, so a TypeError names the field.
 *
 * @see RFC 6749 §2.3.1, RFC 7523 §2.2, RFC 7591 §2, docs/client-auth.md
 */
import { publicJwkProblem, REMOTE_ALGORITHMS } from '../keys/public-jwk';
import type { PublicJwkSet, TokenEndpointAuthMethod } from './credential-types';

export type { PublicJwkSet, TokenEndpointAuthMethod } from './credential-types';

/** Every {@link TokenEndpointAuthMethod}, in the order the CLI, the seed file and the metadata list them. */
export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
];

/** The methods that authenticate with a JWT assertion (RFC 7523 §2.2) rather than the secret itself. */
export const ASSERTION_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_jwt', 'private_key_jwt'];

/** The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2). */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** HMAC algorithms of `client_secret_jwt` assertions (RFC 7518 §3.2). */
export const CLIENT_SECRET_JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

/**
 * Asymmetric algorithms of `private_key_jwt` assertions, each pinned to the registered key (RFC 7518
 * §3.3–§3.5, RFC 8037), and RFC 9864's fully-specified `Ed25519` and `Ed448` for EdDSA keys.
 */
export const PRIVATE_KEY_JWT_ALGORITHMS: readonly string[] = [...REMOTE_ALGORITHMS, 'Ed25519', 'Ed448'];

/** Most keys in a registered JWK Set. */
export const MAX_CLIENT_JWKS_KEYS = 20;
/** Largest registered JWK Set, in characters of its JSON. */
export const MAX_CLIENT_JWKS_LENGTH = 32_768;
/** Longest registered `jwksUri`, in characters. */
export const MAX_JWKS_URI_LENGTH = 2048;

/** True when `value` is a {@link TokenEndpointAuthMethod}. */
export function isTokenEndpointAuthMethod(value: unknown): value is TokenEndpointAuthMethod {
  return (TOKEN_ENDPOINT_AUTH_METHODS as readonly unknown[]).includes(value);
}

/** True for `client_secret_jwt` and `private_key_jwt`. */
export function isAssertionMethod(method: TokenEndpointAuthMethod | undefined): boolean {
  return method !== undefined && ASSERTION_METHODS.includes(method);
}

/** True for a loopback host name: `localhost`, 127.0.0.0/8 or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Why `value` cannot be a registered JWK Set, or undefined when it can: `{ "keys": [ … ] }` with 1 to
 * {@link MAX_CLIENT_JWKS_KEYS} public signing keys (see `publicJwkProblem`), distinct `kid`s, at most
 * {@link MAX_CLIENT_JWKS_LENGTH} characters of JSON.
 */
export function clientJwksProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be a JWK Set: an object { "keys": [ … ] }';
  }
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'must be a JWK Set with a non-empty "keys" array';
  if (keys.length > MAX_CLIENT_JWKS_KEYS) return `must hold at most ${MAX_CLIENT_JWKS_KEYS} keys`;
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    return 'must be plain JSON';
  }
  if (json.length > MAX_CLIENT_JWKS_LENGTH)
    return `must be at most ${MAX_CLIENT_JWKS_LENGTH} characters of JSON`;
  const kids = new Set<unknown>();
  for (const [i, jwk] of (keys as unknown[]).entries()) {
    const problem = publicJwkProblem(jwk);
    if (problem !== undefined) return `keys[${i}] ${problem}`;
    const { kid } = jwk as { kid?: unknown };
    if (kid !== undefined && kids.has(kid)) return `keys[${i}] repeats the kid ${JSON.stringify(kid)}`;
    kids.add(kid);
  }
  return undefined;
}

/**
 * Why `value` cannot be a registered `jwksUri`, or undefined when it can: an absolute `https:` URL
 * without a fragment or credentials, or `http:` on a loopback host (for tests and local
 * development; createOAuthRouter fetches those only when told to, see `clientJwks.allowHttpLoopback`).
 */
export function jwksUriProblem(value: unknown): string | undefined {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && value.length <= MAX_JWKS_URI_LENGTH ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined) return `must be an absolute https URL of at most ${MAX_JWKS_URI_LENGTH} characters`;
  if (url.hash !== '' || url.username !== '' || url.password !== '') {
    return 'must have no fragment and no credentials';
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    return undefined;
  return 'must be an https URL (http only on a loopback host)';
}

/** An application's client-authentication settings, checked. */
export interface ApplicationClientAuth {
  /** Absent for the default: `client_secret_basic` or `client_secret_post`. */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  readonly jwks?: PublicJwkSet;
  readonly jwksUri?: string;
}

/**
 * Checks an application's `tokenEndpointAuthMethod`, `jwks` and `jwksUri` (a TypeError names the
 * field): `jwks` and `jwksUri` are mutually exclusive (RFC 7591 §2), and `private_key_jwt` needs one
 * of them; the other methods take neither.
 */
export function applicationClientAuth(input: {
  readonly tokenEndpointAuthMethod?: unknown;
  readonly jwks?: unknown;
  readonly jwksUri?: unknown;
}): ApplicationClientAuth {
  const method = input.tokenEndpointAuthMethod;
  if (method !== undefined && !isTokenEndpointAuthMethod(method)) {
    throw new TypeError(
      `tokenEndpointAuthMethod must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}, got ${JSON.stringify(method)}`,
    );
  }
  const problem = clientAuthProblem(method, input.jwks, input.jwksUri);
  if (problem !== undefined) throw new TypeError(`${problem.field} ${problem.message}`);
  return {
    ...(method === undefined ? {} : { tokenEndpointAuthMethod: method }),
    ...(input.jwks === undefined ? {} : { jwks: structuredClone(input.jwks) as PublicJwkSet }),
    ...(input.jwksUri === undefined ? {} : { jwksUri: input.jwksUri as string }),
  };
}

/**
 * What is wrong with a method, `jwks` and `jwksUri` taken together, naming the field; undefined
 * when nothing is. The seed file and the CLI report it in their own words.
 */
export function clientAuthProblem(
  method: TokenEndpointAuthMethod | undefined,
  jwks: unknown,
  jwksUri: unknown,
): { readonly field: 'jwks' | 'jwksUri' | 'tokenEndpointAuthMethod'; readonly message: string } | undefined {
  if (jwks !== undefined) {
    const problem = clientJwksProblem(jwks);
    if (problem !== undefined) return { field: 'jwks', message: problem };
  }
  if (jwksUri !== undefined) {
    const problem = jwksUriProblem(jwksUri);
    if (problem !== undefined) return { field: 'jwksUri', message: problem };
  }
  if (jwks !== undefined && jwksUri !== undefined) {
    return { field: 'jwksUri', message: 'must be absent when jwks is given (RFC 7591 §2: one or the other)' };
  }
  if (method === 'private_key_jwt' && jwks === undefined && jwksUri === undefined) {
    return { field: 'tokenEndpointAuthMethod', message: 'private_key_jwt needs jwks or jwksUri' };
  }
  if (method !== 'private_key_jwt' && (jwks !== undefined || jwksUri !== undefined)) {
    return {
      field: jwks === undefined ? 'jwksUri' : 'jwks',
      message: 'is only for tokenEndpointAuthMethod private_key_jwt',
    };
  }
  return undefined;
}
