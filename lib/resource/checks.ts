/**
 * The claim checks of `requireToken`, with the meaning express-oauth2-jwt-bearer gives them:
 * `requiredScopes` and `scopeIncludesAny` answer 403 `insufficient_scope`; `claimEquals`,
 * `claimIncludes` and `claimCheck` answer 401 `invalid_token` (`Missing 'x' claim`,
 * `Unexpected 'x' value`). Asserted once, at factory time; run after the token is verified.
 *
 * @see RFC 6750 §3.1 (error codes)
 */
import { TokenError } from '../errors';
import type { AuthInfo } from '../types';
import { invalidOption, optionalFunction } from '../util/options';

/** A JSON primitive, as `claimEquals`/`claimIncludes` compare them. */
export type JsonPrimitive = string | number | boolean | null;

/** The claim and scope checks, available with a kit and without one. */
export interface TokenCheckOptions {
  /** Scopes the token must all carry (space-separated string or list); 403 `insufficient_scope` otherwise. */
  readonly requiredScopes?: string | readonly string[];
  /** Scopes of which the token must carry at least one; 403 `insufficient_scope` otherwise. */
  readonly scopeIncludesAny?: string | readonly string[];
  /** Claims that must equal the given JSON primitive (`===`); 401 `invalid_token` otherwise. */
  readonly claimEquals?: Readonly<Record<string, JsonPrimitive>>;
  /**
   * Claims (an array, or a space-separated string) that must include every given value; 401
   * `invalid_token` otherwise.
   */
  readonly claimIncludes?: Readonly<Record<string, readonly JsonPrimitive[]>>;
  /**
   * A predicate over the verified claims (and the {@link AuthInfo}); false → 401 `invalid_token`
   * `Unexpected claim value`. It must not throw; if it does, the request is refused the same way.
   */
  readonly claimCheck?: (claims: Readonly<Record<string, unknown>>, auth: AuthInfo) => boolean;
}

/** Checks compiled from {@link TokenCheckOptions}: throw a `TokenError` or return. */
export interface CompiledChecks {
  /** The scopes to name in a 403 challenge (RFC 6750 §3). */
  readonly challengeScopes: readonly string[];
  /** True when at least one check is configured. */
  readonly any: boolean;
  run(auth: AuthInfo): void;
}

function scopeList(value: unknown, option: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? value.split(' ').filter(Boolean) : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))
  ) {
    throw invalidOption(`${option} must be a non-empty scope string or list of scope tokens (RFC 6749 §3.3)`);
  }
  return [...(list as string[])];
}

function isPrimitive(v: unknown): v is JsonPrimitive {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function claimMap<T>(value: unknown, option: string, valid: (v: unknown) => v is T): [string, T][] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(`${option} must be an object of claim name → expected value`);
  }
  const entries = Object.entries(value);
  for (const [name, expected] of entries) {
    if (!valid(expected))
      throw invalidOption(
        `${option}.${name} must be ${option === 'claimEquals' ? 'a JSON primitive' : 'a non-empty array of JSON primitives'}`,
      );
  }
  return entries as [string, T][];
}

const isPrimitiveList = (v: unknown): v is readonly JsonPrimitive[] =>
  Array.isArray(v) && v.length > 0 && v.every(isPrimitive);

function unexpected(claim: string): TokenError {
  return new TokenError('invalid_token', `Unexpected '${claim}' value`);
}

function missing(claim: string): TokenError {
  return new TokenError('invalid_token', `Missing '${claim}' claim`);
}

/** Asserts and compiles the checks; `TypeError` on a bad option. */
export function compileChecks(options: Readonly<TokenCheckOptions>): CompiledChecks {
  const all = scopeList(options.requiredScopes, 'requiredScopes');
  const some = scopeList(options.scopeIncludesAny, 'scopeIncludesAny');
  const equals = claimMap(options.claimEquals, 'claimEquals', isPrimitive);
  const includes = claimMap(options.claimIncludes, 'claimIncludes', isPrimitiveList);
  const predicate = optionalFunction(options.claimCheck, 'claimCheck');
  const any =
    all !== undefined ||
    some !== undefined ||
    equals.length > 0 ||
    includes.length > 0 ||
    predicate !== undefined;
  return Object.freeze({
    challengeScopes: all ?? some ?? [],
    any,
    run(auth: AuthInfo): void {
      const { claims, scopes } = auth;
      for (const [name, expected] of equals) {
        if (!Object.hasOwn(claims, name)) throw missing(name);
        if (claims[name] !== expected) throw unexpected(name);
      }
      for (const [name, expected] of includes) {
        if (!Object.hasOwn(claims, name)) throw missing(name);
        const actual = claims[name];
        const values: unknown[] =
          typeof actual === 'string' ? actual.split(' ') : Array.isArray(actual) ? actual : [];
        if (!expected.every((e) => values.includes(e))) throw unexpected(name);
      }
      if (predicate !== undefined) {
        let ok = false;
        try {
          ok = predicate(claims, auth) === true;
        } catch (cause) {
          throw new TokenError('invalid_token', 'Unexpected claim value', { cause });
        }
        if (!ok) throw new TokenError('invalid_token', 'Unexpected claim value');
      }
      if (all !== undefined && all.some((s) => !scopes.includes(s)))
        throw new TokenError('insufficient_scope');
      if (some !== undefined && !some.some((s) => scopes.includes(s)))
        throw new TokenError('insufficient_scope');
    },
  });
}
