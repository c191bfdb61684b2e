/**
 * Option validation shared by every factory: small pure functions that check one option at factory
 * time and throw a `TypeError` (wrong kind of value) or `RangeError` (right kind, out of bounds)
 * whose message names the option and, where it is safe to print, the bad value.
 *
 * `option` is the name as the message should print it: conventionally `<factory>: <option>`
 * (`'createAuthRouter: passwordClientId'`), or the bare option name where a factory's messages have
 * always read that way (`'realm'`). An option that is `undefined` or `null` is absent: it takes the
 * fallback, when the helper has one. A leaf module: it imports nothing else of lib/.
 */

/**
 * A bad value for an error message, without calling anything the value defines (no `toString`,
 * no getters): numbers as written, strings JSON-quoted and cut at 64 characters, anything else by
 * its kind.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'string':
      return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value.toString()}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}

/** `value` when it is a safe integer from `min` to `max`, else undefined. */
function wholeIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
    ? value
    : undefined;
}

/**
 * A whole number of seconds from `min` to `max`; `fallback` when `value` is undefined.
 *
 * @throws RangeError `<option> must be a whole number of seconds from <min> to <max>, got <value>`
 * @example
 * ```ts
 * const ttl = wholeSeconds(options.ttl, 3600, 'createApiKeyRouter: ttl', 1, 86_400);
 * ```
 */
export function wholeSeconds(
  value: number | undefined,
  fallback: number,
  option: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  return wholeUnits(value, fallback, option, min, max, 'seconds');
}

/**
 * A whole number of milliseconds from `min` to `max`; `fallback` when `value` is undefined.
 *
 * @throws RangeError `<option> must be a whole number of milliseconds from <min> to <max>, got <value>`
 */
export function wholeMilliseconds(
  value: unknown,
  fallback: number,
  option: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  return wholeUnits(value, fallback, option, min, max, 'milliseconds');
}

/** {@link wholeSeconds} and {@link wholeMilliseconds}: a whole number of `unit` from `min` to `max`. */
function wholeUnits(
  value: unknown,
  fallback: number,
  option: string,
  min: number,
  max: number,
  unit: string,
): number {
  const v = wholeIn(value ?? fallback, min, max);
  if (v === undefined) {
    throw new RangeError(
      `${option} must be a whole number of ${unit} from ${min} to ${max}, got ${describeValue(value)}`,
    );
  }
  return v;
}

/**
 * A whole number from `min` to `max` (no upper bound when `max` is omitted); `fallback` when
 * `value` is undefined.
 *
 * @throws RangeError `<option> must be a whole number from <min>[ to <max>], got <value>`
 */
export function wholeNumber(value: unknown, fallback: number, option: string, min = 0, max?: number): number {
  const v = wholeIn(value ?? fallback, min, max ?? Number.MAX_SAFE_INTEGER);
  if (v === undefined) {
    const range = max === undefined ? `from ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${option} must be a whole number ${range}, got ${describeValue(value)}`);
  }
  return v;
}

/**
 * A positive integer (a safe integer ≥ 1); `fallback` when `value` is undefined.
 *
 * @throws RangeError `<option> must be a positive integer, got <value>`
 */
export function positiveInteger(value: unknown, fallback: number, option: string): number {
  const v = wholeIn(value ?? fallback, 1, Number.MAX_SAFE_INTEGER);
  if (v === undefined)
    throw new RangeError(`${option} must be a positive integer, got ${describeValue(value)}`);
  return v;
}

/**
 * A finite number greater than zero (fractions allowed); `fallback` when `value` is undefined.
 *
 * @throws RangeError `<option> must be a positive number, got <value>`
 */
export function positiveNumber(value: unknown, fallback: number, option: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${option} must be a positive number, got ${describeValue(value)}`);
  }
  return v;
}

/**
 * A finite number of at least `min` (fractions allowed); `fallback` when `value` is undefined.
 *
 * @throws RangeError `<option> must be at least <min>, got <value>`
 */
export function atLeast(value: unknown, fallback: number, option: string, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new RangeError(`${option} must be at least ${min}, got ${describeValue(value)}`);
  }
  return v;
}

/**
 * `value` when it is a non-empty string (no default: the option is required).
 *
 * @throws TypeError `<option> must be a non-empty string`
 */
export function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new TypeError(`${option} must be a non-empty string`);
  return value;
}

/**
 * Any string, empty included; `fallback` when `value` is undefined.
 *
 * @throws TypeError `<option> must be a string, got <value>`
 */
export function stringOption(value: unknown, fallback: string, option: string): string {
  const v = value ?? fallback;
  if (typeof v !== 'string') throw new TypeError(`${option} must be a string, got ${describeValue(value)}`);
  return v;
}

/**
 * A string matching `pattern`; `fallback` when `value` is undefined.
 *
 * @param what - what the option must be, for the message: `'a lowercase SQL identifier'`
 * @throws TypeError `<option> must be <what>, got <value>`
 */
export function matchingString(
  value: unknown,
  fallback: string,
  option: string,
  pattern: RegExp,
  what: string,
): string {
  const v = value ?? fallback;
  if (typeof v !== 'string' || !pattern.test(v)) {
    throw new TypeError(`${option} must be ${what}, got ${describeValue(value)}`);
  }
  return v;
}

/**
 * An absolute `http:` or `https:` URL without query or fragment (an issuer or base URL, RFC 8414
 * §2), returned as given.
 *
 * @throws TypeError `<option> must be an absolute http(s) URL[ without query or fragment], got <value>`
 * @see RFC 8414 §2
 */
export function absoluteHttpUrl(value: unknown, option: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined) {
    throw new TypeError(`${option} must be an absolute http(s) URL, got ${describeValue(value)}`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new TypeError(
      `${option} must be an absolute http(s) URL without query or fragment, got ${describeValue(value)}`,
    );
  }
  return value as string;
}

/**
 * An absolute `http:` or `https:` URL, query and fragment allowed (an endpoint or a metadata
 * URL), returned as given.
 *
 * @throws TypeError `<option> must be an http(s) URL, got <value>`
 */
export function httpUrl(value: unknown, option: string): string {
  let protocol: string | undefined;
  try {
    protocol = typeof value === 'string' ? new URL(value).protocol : undefined;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new TypeError(`${option} must be an http(s) URL, got ${describeValue(value)}`);
  }
  return value as string;
}

/**
 * Printable ASCII without `"` or `\`: what can stand inside a quoted-string (RFC 7230 §3.2.6)
 * without escaping, as a challenge's `realm` does (RFC 6750 §3). Space is allowed; tab, other
 * controls and non-ASCII are not.
 */
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

/** True when `value` is a string that can be put between double quotes as is (see {@link quotableString}). */
export function isQuotable(value: unknown): value is string {
  return typeof value === 'string' && QUOTABLE.test(value);
}

/**
 * A string for a quoted header parameter such as `realm` (RFC 6750 §3, RFC 7230 §3.2.6): printable
 * ASCII without `"` or `\`, so it never needs escaping and can never end the parameter early;
 * `fallback` when `value` is undefined.
 *
 * @throws TypeError `<option> must be printable ASCII without quotes`
 * @see RFC 6750 §3, RFC 7230 §3.2.6
 */
export function quotableString(value: unknown, fallback: string, option: string): string {
  const v = value ?? fallback;
  if (!isQuotable(v)) throw new TypeError(`${option} must be printable ASCII without quotes`);
  return v;
}

/** One scope token (RFC 6749 §3.3 `scope-token`): one or more NQCHAR, i.e. printable ASCII but space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * A non-empty array of scope tokens (RFC 6749 §3.3), each fit for a challenge's `scope="…"`
 * (RFC 6750 §3); returned as a copy.
 *
 * @throws TypeError `<option> must be a non-empty array of scope tokens (printable ASCII without spaces or quotes)`
 * @see RFC 6749 §3.3, RFC 6750 §3
 */
export function scopeTokens(value: unknown, option: string): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))
  ) {
    throw new TypeError(
      `${option} must be a non-empty array of scope tokens (printable ASCII without spaces or quotes)`,
    );
  }
  return [...(value as string[])];
}

/**
 * An array of non-empty strings (at least one when `nonEmpty`); `fallback` when `value` is
 * undefined. Returned as a copy.
 *
 * @throws TypeError `<option> must be an array of non-empty strings` (`a non-empty array of …` when `nonEmpty`)
 */
export function stringArray(
  value: unknown,
  fallback: readonly string[],
  option: string,
  nonEmpty = false,
): string[] {
  const v = value ?? fallback;
  if (
    !Array.isArray(v) ||
    (nonEmpty && v.length === 0) ||
    v.some((s) => typeof s !== 'string' || s.length === 0)
  ) {
    throw new TypeError(
      `${option} must be ${nonEmpty ? 'a non-empty array' : 'an array'} of non-empty strings`,
    );
  }
  return [...(v as string[])];
}

/**
 * A non-empty array of finite numbers greater than zero (e.g. histogram buckets); `fallback` when
 * `value` is undefined. Returned as a copy.
 *
 * @throws TypeError `<option> must be an array of positive numbers` for a non-array
 * @throws RangeError `<option> must be a non-empty array of positive numbers` for an empty array or a bad entry
 */
export function positiveNumbers(value: unknown, fallback: readonly number[], option: string): number[] {
  const v = value ?? fallback;
  if (!Array.isArray(v)) throw new TypeError(`${option} must be an array of positive numbers`);
  if (v.length === 0 || v.some((n) => typeof n !== 'number' || !Number.isFinite(n) || n <= 0)) {
    throw new RangeError(`${option} must be a non-empty array of positive numbers`);
  }
  return [...(v as number[])];
}

/**
 * A list of audiences from one or many non-empty strings; `fallback` when `value` is undefined.
 *
 * @throws TypeError `audience must be a non-empty string or array of strings`
 */
export function audienceArray(
  value: string | readonly string[] | undefined,
  fallback: readonly string[],
): readonly string[] {
  if (value === undefined) return fallback;
  const list: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? [...value] : [];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new TypeError(`audience must be a non-empty string or array of strings`);
  }
  return list as string[];
}

/**
 * `value` when it is a function, undefined when it is undefined (an optional callback).
 *
 * @throws TypeError `<option> must be a function`
 */
export function optionalFunction<F extends (...args: never[]) => unknown>(
  value: F | undefined,
  option: string,
): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${option} must be a function`);
  return value;
}

/**
 * `value` when it is a function (a required callback).
 *
 * @throws TypeError `<option> must be a function`
 */
export function functionOption<F extends (...args: never[]) => unknown>(value: F, option: string): F {
  if (typeof value !== 'function') throw new TypeError(`${option} must be a function`);
  return value;
}

/** True when `object` is an object whose `method` is a function (an injected object checked by shape). */
export function hasMethod(object: unknown, method: string): boolean {
  return object != null && typeof (object as Record<string, unknown>)[method] === 'function';
}

/**
 * `value` when it has every one of `methods` (an injected object checked by shape).
 *
 * @param what - what the option must be, for the message: `'a pg Pool (query and connect)'`
 * @throws TypeError `<option> must be <what>`
 */
export function objectWith<T>(
  value: T,
  methods: readonly string[],
  option: string,
  what: string,
): NonNullable<T> {
  if (value == null || !methods.every((m) => hasMethod(value, m)))
    throw new TypeError(`${option} must be ${what}`);
  return value;
}

/**
 * `value` when it is an object (not null, not an array): a factory's options bag.
 *
 * @throws TypeError `<option> must be an object`
 */
export function objectOption<T>(value: T, option: string): NonNullable<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${option} must be an object`);
  }
  return value;
}

/** `'a'`, `'a' or 'b'`, `one of 'a', 'b', 'c'`; with `alternative`: `'a', 'b' or <alternative>`. */
function choiceList(choices: readonly string[], alternative?: string): string {
  const quoted = choices.map((c) => `'${c}'`);
  if (alternative !== undefined) return `${quoted.join(', ')} or ${alternative}`;
  if (quoted.length === 1) return quoted[0]!;
  if (quoted.length === 2) return `${quoted[0]} or ${quoted[1]}`;
  return `one of ${quoted.join(', ')}`;
}

/**
 * `value` when it is one of `choices` (compared with `===`); `fallback` when `value` is undefined.
 *
 * @param alternative - another kind of value the caller accepts before calling, named in the
 *   message (`'a function'`)
 * @throws TypeError `<option> must be 'a' or 'b', got <value>`
 */
export function oneOf<const C extends string>(
  value: unknown,
  choices: readonly C[],
  option: string,
  fallback?: C,
  alternative?: string,
): C {
  const v = value ?? fallback;
  if (!choices.includes(v as C)) {
    throw new TypeError(`${option} must be ${choiceList(choices, alternative)}, got ${describeValue(value)}`);
  }
  return v as C;
}

/**
 * `value` when it is a boolean; `fallback` when it is undefined.
 *
 * @throws TypeError `<option> must be a boolean`
 */
export function booleanOption(value: unknown, fallback: boolean, option: string): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new TypeError(`${option} must be a boolean`);
  return v;
}

/**
 * The `TypeError` of options that are each valid but not together (`a takes x or y, not both`).
 * Returned, not thrown, so the caller's `throw` stays visible: `if (x && y) throw optionConflict(…)`.
 */
export function optionConflict(message: string): TypeError {
  return new TypeError(message);
}

/**
 * The `TypeError` of an option a factory's own predicate refused (`binding must be a profile from
 * createBindingProfile()`), for shapes no helper here knows. Returned, not thrown (see
 * {@link optionConflict}).
 */
export function invalidOption(message: string): TypeError {
  return new TypeError(message);
}

/**
 * The `TypeError` of a required option that is missing (`createOAuthRouter needs { kit }`).
 * Returned, not thrown (see {@link optionConflict}).
 */
export function missingOption(message: string): TypeError {
  return new TypeError(message);
}
