/**
 * Checks of {@link TokenService.issueAccessToken}'s input: no unknown fields (a typo is refused, not
 * dropped), and custom `claims` that are JSON and never one of the claims the service sets itself.
 */
import type { AccessTokenFormat } from '../types';

/**
 * Claims the token service sets itself, which `claims` may not hold: the registered JWT claims
 * (RFC 7519 §4.1), the RFC 9068 §2.2 access-token claims, `cnf` (RFC 7800 §3.1), and the kit's own
 * `bound_entity`, `sid` (the refresh family), `typ` and `act` (RFC 8693 §4.1: only token exchange
 * sets it, so that no hook can forge a delegation).
 *
 * @internal
 */
export const RESERVED_ACCESS_TOKEN_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'cnf',
  'client_id',
  'scope',
  'bound_entity',
  'sid',
  'typ',
  'act',
]);

/** Nesting depth a claim value may have (objects and arrays). */
const MAX_CLAIM_DEPTH = 16;

const WHERE = 'issueAccessToken';

/**
 * Throws a TypeError when `input` is not an object or has a field that is not in `fields`.
 *
 * @internal
 */
export function assertIssueInputFields(input: unknown, fields: Readonly<Record<string, true>>): void {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`${WHERE}: input must be an object { subject, clientId, … }`);
  }
  for (const name of Object.keys(input)) {
    if (!Object.hasOwn(fields, name)) {
      throw new TypeError(
        `${WHERE}: unknown input field ${JSON.stringify(name.slice(0, 64))} (expected ${Object.keys(fields).join(', ')})`,
      );
    }
  }
}

/**
 * The custom claims to add to an access token: a fresh JSON copy of `claims`, or `undefined` when
 * there are none. Throws a TypeError naming the claim when one is reserved or not JSON, and when
 * claims are given for an opaque token (its stored record holds no custom claims).
 *
 * @internal
 */
export function customAccessTokenClaims(
  claims: unknown,
  format: AccessTokenFormat | undefined,
): Record<string, unknown> | undefined {
  if (claims === undefined) return undefined;
  if (!isPlainObject(claims)) {
    throw new TypeError(`${WHERE}: claims must be a plain object of JSON values`);
  }
  const names = Object.keys(claims);
  if (names.length === 0) return undefined;
  if (format === 'opaque') {
    throw new TypeError(
      `${WHERE}: claims are carried by JWT access tokens only; an opaque token cannot hold them (use format "jwt")`,
    );
  }
  for (const name of names) {
    const label = `claims[${JSON.stringify(name.slice(0, 64))}]`;
    if (name === '') throw new TypeError(`${WHERE}: claim names must not be empty`);
    if (RESERVED_ACCESS_TOKEN_CLAIMS.has(name)) {
      throw new TypeError(`${WHERE}: ${label} is reserved: the token service sets ${name} itself`);
    }
    // JWT libraries look claim names up in plain objects: `constructor` or `__proto__` breaks signing.
    if (name in Object.prototype) throw new TypeError(`${WHERE}: ${label} names an Object.prototype member`);
    assertJson(claims[name], label, 0);
  }
  return JSON.parse(JSON.stringify(claims)) as Record<string, unknown>;
}

/** Freezes `value` and every object and array inside it (also inside an already frozen one). @internal */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner, seen);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Throws unless `value` is a JSON value that survives `JSON.stringify` unchanged. */
function assertJson(value: unknown, label: string, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
    throw new TypeError(`${WHERE}: ${label} must be a finite number, got ${String(value)}`);
  }
  if (depth >= MAX_CLAIM_DEPTH) {
    throw new TypeError(`${WHERE}: ${label} is nested deeper than ${MAX_CLAIM_DEPTH} levels`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${label}[${i}]`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [name, inner] of Object.entries(value)) {
      assertJson(inner, `${label}[${JSON.stringify(name.slice(0, 64))}]`, depth + 1);
    }
    return;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new TypeError(
    `${WHERE}: ${label} must be a JSON value (string, number, boolean, null, array, object), got ${kind}`,
  );
}
