/**
 * Signing and strict verification of JWT access tokens.
 *
 * `jsonwebtoken` signs RS256 and HS256; ES256 is signed on `node:crypto` directly. Verification is ours, on `node:crypto` directly, and parses the token once:
 * each part is decoded (canonical base64url only) and parsed once, the signature is checked on the
 * pinned key with the pinned algorithm (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3; ECDSA P-256
 * with SHA-256 in the R‖S form, RFC 7518 §3.4; HMAC SHA-256 compared in constant time, RFC 7518
 * §3.2), then the claims. The checks run in this fixed order: size and form, header (only
 * `{alg, typ, kid}`: no `crit`, `b64`, `jku`, `jwk`…, RFC 7515 §4.1.11 and RFC 7797), key by
 * (kid, alg), signature, payload (a JSON object), `typ`, `iss`, `aud`, required claims, and time
 * last — so expiry never hides another failure.
 *
 * @see RFC 8725 (JWT best current practices), RFC 9068 (JWT access tokens)
 */
import jwt from 'jsonwebtoken';
import {
  createHmac,
  sign as cryptoSign,
  timingSafeEqual,
  verify as verifySignature,
  type KeyObject,
} from 'node:crypto';

import { TokenError } from '../errors';
import type { KeySet } from '../keys/key-set';
import { base64urlJson } from '../keys/signer';
import type { SigningAlgorithm } from '../types';
import { DEFAULT_BINDING_PROFILE, type BindingProfile } from './binding';

/** Longest token accepted by default, in characters. */
export const DEFAULT_MAX_TOKEN_LENGTH = 4096;

/** The `typ` header values {@link signJwt} writes. */
export type JwtType = 'at+jwt' | 'JWT';

/** Options of {@link signJwt}. */
export interface SignJwtOptions {
  /** The header `typ`. @default 'at+jwt' */
  readonly typ?: JwtType;
}

/** Options of {@link verifyJwt}. All times are in seconds. */
export interface VerifyJwtOptions {
  /** Accepted issuers; `iss` must equal one exactly. */
  readonly issuers: readonly string[];
  /** Accepted audiences; one member of `aud` must equal one exactly. */
  readonly audiences: readonly string[];
  /**
   * Accepted `typ` header values, compared case-insensitively and with an optional
   * `application/` prefix (RFC 9068 §4). @default ['at+jwt']
   */
  readonly typ?: readonly string[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. */
  readonly clockToleranceSeconds: number;
  /** Longest accepted `exp − iat`, in seconds. */
  readonly maxLifetimeSeconds: number;
  /** The current time, in seconds since the epoch. */
  readonly now: number;
  /** Skip only the final expiry check (e.g. for revocation of an expired token). @default false */
  readonly ignoreExpiration?: boolean;
  /** Longest accepted token, in characters; checked before any decoding. @default 4096 */
  readonly maxTokenLength?: number;
  /** Bound-entity types a `bound_entity` claim must match. @default employer/employee */
  readonly binding?: BindingProfile;
}

/** The protected header of a verified token. */
export interface VerifiedJwtHeader {
  readonly alg: SigningAlgorithm;
  /** The `typ` exactly as written in the token. */
  readonly typ: string;
  readonly kid: string;
}

/** A token whose signature and claims passed {@link verifyJwt}. */
export interface VerifiedJwt {
  readonly header: VerifiedJwtHeader;
  /** The claims: a frozen, null-prototype copy of the payload's own members. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The entry of `options.typ` the token's `typ` matched (e.g. `'at+jwt'`). */
  readonly typ: string;
}

/** Header members a token may carry; anything else (crit, jku, jwk, x5u, x5c, b64, cty…) is refused. */
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['alg', 'typ', 'kid']);
/** Compact JWS: three non-empty base64url parts, nothing else (no padding, `+`, `/` or spaces). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const DEFAULT_TYP: readonly string[] = ['at+jwt'];
const EXPIRED_MESSAGE = 'Access token expired';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Signs `claims` with the key set's signing key. The header is exactly `{alg, typ, kid}`; the
 * claims are written as given, and must already carry `iat` and `exp` (positive integer seconds).
 *
 * @throws TypeError when the key set has no signing key, `iat`/`exp` is missing or malformed, or
 *   `nbf` is malformed.
 */
export function signJwt(keys: KeySet, claims: Record<string, unknown>, options: SignJwtOptions = {}): string {
  const typ = options.typ ?? 'at+jwt';
  if (typ !== 'at+jwt' && typ !== 'JWT') {
    throw new TypeError("signJwt: options.typ must be 'at+jwt' or 'JWT'");
  }
  if (!isPlainObject(claims)) {
    throw new TypeError('signJwt: claims must be an object');
  }
  for (const name of ['iat', 'exp'] as const) {
    const value = claims[name];
    if (!isNumericDate(value) || value === 0) {
      throw new TypeError(`signJwt: claims.${name} must be a positive integer number of seconds`);
    }
  }
  if (Object.hasOwn(claims, 'nbf') && !isNumericDate(claims.nbf)) {
    throw new TypeError('signJwt: claims.nbf must be a non-negative integer number of seconds');
  }
  const { kid, alg, key } = keys.signingKey();
  if (alg === 'ES256' || alg === 'RS256') {
    // On node:crypto directly (RFC 7515 §5.1: the signature over `header.payload`, both the JSON
    // as written). ES256 gets R‖S out of the box (RFC 7518 §3.4): jsonwebtoken signs DER and
    // converts it in JavaScript, a fifth of an ES256 issuance's signing cost; RS256 (RSASSA-PKCS1-v1_5,
    // RFC 7518 §3.3) skips jsonwebtoken's option and claim handling. The same bytes either way.
    const input = `${base64urlJson({ alg, typ, kid })}.${base64urlJson(claims)}`;
    const data = Buffer.from(input, 'ascii');
    const signature =
      alg === 'ES256'
        ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : cryptoSign('sha256', data, key);
    return `${input}.${signature.toString('base64url')}`;
  }
  // Not `noTimestamp`: jsonwebtoken would delete the given iat. Without it, a non-zero iat is kept as is.
  return jwt.sign(claims, key, { algorithm: alg, keyid: kid, header: { alg, typ, kid } });
}

/**
 * `aud` as a list of strings, or `null` when it is neither a string nor a non-empty array of
 * strings.
 */
export function audienceList(aud: unknown): string[] | null {
  if (typeof aud === 'string') {
    return [aud];
  }
  if (!Array.isArray(aud) || aud.length === 0) {
    return null;
  }
  const list: string[] = [];
  for (const member of aud as unknown[]) {
    if (typeof member !== 'string') {
      return null;
    }
    list.push(member);
  }
  return list;
}

/**
 * Verifies a JWT access token: form, header, signature, `typ`, `iss`, `aud`, required claims
 * (`sub`, `jti`, `client_id`, `iat`, `exp`), optional `nbf`, `scope`, `bound_entity`, and expiry
 * last — so a token that is both expired and wrong in any other way is `invalid_token`.
 *
 * @throws TokenError `invalid_token` (generic message, the reason in `cause`) or `expired_token`
 *   (`Access token expired`). A `TypeError` only for invalid `options`.
 * @see RFC 8725 §3, RFC 9068 §4
 */
export function verifyJwt(keys: KeySet, token: string, options: VerifyJwtOptions): VerifiedJwt {
  assertOptions(options);
  try {
    return verifyStrictly(keys, token, options);
  } catch (error) {
    if (error instanceof TokenError) {
      throw error;
    }
    throw invalid('unexpected failure while verifying', error);
  }
}

function verifyStrictly(keys: KeySet, token: unknown, options: VerifyJwtOptions): VerifiedJwt {
  // 1. Size and form, before any decoding.
  if (typeof token !== 'string') {
    throw invalid('token is not a string');
  }
  if (token.length > (options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH)) {
    throw invalid('token is longer than maxTokenLength');
  }
  if (!COMPACT_JWS.test(token)) {
    throw invalid('token is not a compact JWS');
  }
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  const headerPart = token.slice(0, firstDot);
  const payloadPart = token.slice(firstDot + 1, lastDot);
  const signaturePart = token.slice(lastDot + 1);

  // 2. Header: a JSON object with only {alg, typ, kid} (one issuer's tokens share a few headers).
  const { alg, kid, typ, typKey } = parsedHeader(headerPart);

  // 3. Key by (kid, alg): the algorithm is the key's pinned one, never the token's choice.
  const key = keys.verificationKey(kid, alg);
  const length = key === undefined || !isAlgorithm(alg) ? 0 : signatureLength(alg, key);
  if (key === undefined || typeof kid !== 'string' || !isAlgorithm(alg) || length === 0) {
    throw invalid('no key for this (kid, alg) pair');
  }
  const signature = decodePart(signaturePart, 'signature');
  if (signature.length !== length) {
    throw invalid('signature has the wrong length for the algorithm');
  }

  // 4. Signature over the ASCII signing input (RFC 7515 §5.2), on the pinned key and algorithm.
  let valid: boolean;
  try {
    valid = signatureValid(alg, key, Buffer.from(token.slice(0, lastDot), 'latin1'), signature);
  } catch (cause) {
    throw invalid('signature verification failed', cause);
  }
  if (!valid) {
    throw invalid('signature verification failed');
  }

  // 5. Payload: a JSON object; its own members, on a null prototype, frozen (shallow: one pass).
  const claims = claimsOf(payloadPart);

  // 6. typ, iss, aud.
  const matchedTyp = typKey === undefined ? undefined : matchTyp(typKey, options.typ ?? DEFAULT_TYP);
  if (matchedTyp === undefined) {
    throw invalid('typ is missing or not accepted');
  }
  const iss = own(claims, 'iss');
  if (typeof iss !== 'string' || !options.issuers.includes(iss)) {
    throw invalid('iss is missing or not accepted');
  }
  const aud = audienceList(own(claims, 'aud'));
  if (aud === null || !aud.some((member) => options.audiences.includes(member))) {
    throw invalid('aud is missing, malformed or not accepted');
  }

  // 7. Required and optional claims.
  for (const name of ['sub', 'jti', 'client_id'] as const) {
    const value = own(claims, name);
    if (typeof value !== 'string' || value.length === 0) {
      throw invalid(`${name} is missing or not a non-empty string`);
    }
  }
  const tolerance = options.clockToleranceSeconds;
  const iat = own(claims, 'iat');
  if (!isNumericDate(iat) || iat > options.now + tolerance) {
    throw invalid('iat is missing, malformed or in the future');
  }
  const exp = own(claims, 'exp');
  if (!isNumericDate(exp) || exp <= iat || exp - iat > options.maxLifetimeSeconds) {
    throw invalid('exp is missing, malformed, not after iat or beyond the maximum lifetime');
  }
  if (Object.hasOwn(claims, 'nbf')) {
    const nbf = claims.nbf;
    if (!isNumericDate(nbf) || nbf > options.now + tolerance) {
      throw invalid('nbf is malformed or in the future');
    }
  }
  if (Object.hasOwn(claims, 'scope') && typeof claims.scope !== 'string') {
    throw invalid('scope is not a string');
  }
  if (
    Object.hasOwn(claims, 'bound_entity') &&
    !isBoundEntity(claims.bound_entity, options.binding ?? DEFAULT_BINDING_PROFILE)
  ) {
    throw invalid('bound_entity is malformed');
  }

  // 8. Time last, so expiry never hides another failure.
  if (options.ignoreExpiration !== true && options.now >= exp + tolerance) {
    throw new TokenError('expired_token', EXPIRED_MESSAGE, { cause: new Error('exp is in the past') });
  }

  return { header: { alg, typ: typ as string, kid }, claims, typ: matchedTyp };
}

/**
 * The claims of a token that passed {@link verifyJwt} before, recognised by a collision-resistant
 * digest of the whole token (so its signature and claims need no second check): its payload
 * decoded and parsed again, frozen on a null prototype exactly as {@link verifyJwt} returns them.
 *
 * @throws TokenError `invalid_token` when the token is not three parts with a JSON-object payload.
 */
export function claimsOfVerified(token: string): Readonly<Record<string, unknown>> {
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  if (firstDot <= 0 || lastDot <= firstDot + 1) {
    throw invalid('token is not a compact JWS');
  }
  return claimsOf(token.slice(firstDot + 1, lastDot));
}

/** A payload part as claims: a JSON object's own members, on a null prototype, frozen. */
function claimsOf(payloadPart: string): Readonly<Record<string, unknown>> {
  const payload = decodeJsonPart(payloadPart, 'payload');
  if (!isPlainObject(payload)) {
    throw invalid('payload is not a JSON object');
  }
  // JSON.parse makes `__proto__` an own data member, so nothing is inherited after this.
  Object.setPrototypeOf(payload, null);
  return Object.freeze(payload);
}

function invalid(reason: string, cause?: unknown): TokenError {
  return new TokenError('invalid_token', undefined, {
    cause: cause === undefined ? new Error(reason) : new Error(reason, { cause }),
  });
}

function assertOptions(options: VerifyJwtOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('verifyJwt: options must be an object');
  }
  for (const name of ['issuers', 'audiences'] as const) {
    const list: unknown = options[name];
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item.length === 0)) {
      throw new TypeError(`verifyJwt: options.${name} must be an array of non-empty strings`);
    }
  }
  if (options.typ !== undefined && (!Array.isArray(options.typ) || options.typ.length === 0)) {
    throw new TypeError('verifyJwt: options.typ must be a non-empty array of strings');
  }
  for (const name of ['clockToleranceSeconds', 'maxLifetimeSeconds'] as const) {
    const value = options[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`verifyJwt: options.${name} must be a non-negative integer number of seconds`);
    }
  }
  if (typeof options.now !== 'number' || !Number.isFinite(options.now)) {
    throw new TypeError('verifyJwt: options.now must be a finite number of seconds');
  }
  const max = options.maxTokenLength;
  if (max !== undefined && (typeof max !== 'number' || !Number.isSafeInteger(max) || max <= 0)) {
    throw new TypeError('verifyJwt: options.maxTokenLength must be a positive integer');
  }
}

/** Value of each base64url character (RFC 4648 §5), -1 for anything else. */
const BASE64URL_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Decodes canonical base64url only (RFC 4648 §3.5, §5; no padding): a part whose length leaves a
 * lone character, or whose last character carries non-zero unused bits, would not re-encode to
 * itself and is refused. The alphabet was checked by the compact form before.
 */
function decodePart(part: string, what: string): Buffer {
  const rest = part.length % 4;
  const last = BASE64URL_VALUE[part.charCodeAt(part.length - 1)] ?? -1;
  if (rest === 1 || last < 0 || (rest === 2 && (last & 0x0f) !== 0) || (rest === 3 && (last & 0x03) !== 0)) {
    throw invalid(`${what} is not canonical base64url`);
  }
  return Buffer.from(part, 'base64url');
}

function decodeJsonPart(part: string, what: string): unknown {
  const bytes = decodePart(part, what);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw invalid(`${what} is not valid UTF-8`, cause);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw invalid(`${what} is not valid JSON`, cause);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAlgorithm(alg: unknown): alg is SigningAlgorithm {
  return alg === 'RS256' || alg === 'ES256' || alg === 'HS256';
}

function own(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined;
}

/** A NumericDate we accept: a non-negative safe integer of seconds (so no Infinity, no floats). */
function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Checks a JWS signature with node:crypto on the pinned key (RFC 7518 §3.2–§3.4). */
function signatureValid(alg: SigningAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  switch (alg) {
    case 'HS256':
      return timingSafeEqual(createHmac('sha256', key).update(input).digest(), signature);
    case 'ES256':
      return verifySignature('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return verifySignature('sha256', input, key, signature);
  }
}

/** Signature length per verification key (the key's details are read once, not per token). */
const SIGNATURE_LENGTHS = new WeakMap<KeyObject, number>();

/**
 * The signature length `alg` has with `key`, or 0 when the key's type is not the one the algorithm
 * needs (so no public key is ever used as an HMAC secret, nor a P-384 key for ES256).
 */
function signatureLength(alg: SigningAlgorithm, key: KeyObject): number {
  let length = SIGNATURE_LENGTHS.get(key);
  if (length === undefined) {
    length = key.type === 'secret' ? -1 : -2;
    if (key.type === 'public') {
      const details = key.asymmetricKeyDetails;
      if (key.asymmetricKeyType === 'rsa') length = Math.ceil((details?.modulusLength ?? 0) / 8);
      else if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') length = -3;
    }
    SIGNATURE_LENGTHS.set(key, length);
  }
  switch (alg) {
    case 'HS256':
      return length === -1 ? 32 : 0;
    case 'ES256':
      return length === -3 ? 64 : 0;
    default:
      return length > 0 ? length : 0;
  }
}

const ASCII_UPPER = /[A-Z]/;
const ASCII_UPPER_ALL = /[A-Z]/g;

/** Lower-cases ASCII letters only, so no Unicode case folding can turn another string into a match. */
function asciiLower(value: string): string {
  return ASCII_UPPER.test(value) ? value.replace(ASCII_UPPER_ALL, (c) => c.toLowerCase()) : value;
}

function normaliseTyp(value: string): string {
  const lower = asciiLower(value);
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function matchTyp(wanted: string, accepted: readonly string[]): string | undefined {
  for (const candidate of accepted) if (normaliseTyp(candidate) === wanted) return candidate;
  return undefined;
}

/** A protected header that passed the member check, with its `typ` normalised for {@link matchTyp}. */
interface ParsedHeader {
  readonly alg: unknown;
  readonly kid: unknown;
  readonly typ: unknown;
  /** The normalised `typ` when it is a string. */
  readonly typKey: string | undefined;
}

/**
 * Headers parsed before, by their exact base64url text: an issuer's tokens share one header per
 * key, so this skips decoding and parsing it again. A header text always decodes to the same
 * header, so remembering it changes no outcome. At most {@link HEADER_CACHE_SIZE} entries (about
 * 200 bytes each); full, it starts over.
 */
const HEADERS = new Map<string, ParsedHeader>();
const HEADER_CACHE_SIZE = 64;
/** Longest header text remembered: an issuer's `{alg, typ, kid}` is far shorter. */
const HEADER_CACHE_MAX_LENGTH = 256;

function parsedHeader(part: string): ParsedHeader {
  const known = HEADERS.get(part);
  if (known !== undefined) return known;
  const header = decodeJsonPart(part, 'header');
  if (!isPlainObject(header)) {
    throw invalid('header is not a JSON object');
  }
  for (const name in header) {
    if (!HEADER_MEMBERS.has(name)) {
      throw invalid('header has a member outside {alg, typ, kid}');
    }
  }
  const { alg, kid, typ } = header;
  const parsed: ParsedHeader = Object.freeze({
    alg,
    kid,
    typ,
    typKey: typeof typ === 'string' ? normaliseTyp(typ) : undefined,
  });
  if (part.length <= HEADER_CACHE_MAX_LENGTH) {
    if (HEADERS.size >= HEADER_CACHE_SIZE) HEADERS.clear();
    // a flat copy, so the map holds the header text and not the whole token it was sliced from
    HEADERS.set(flatCopy(part), parsed);
  }
  return parsed;
}

/** A copy of `text` that shares no storage with the string it was sliced from. */
function flatCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function isBoundEntity(value: unknown, binding: BindingProfile): boolean {
  if (value !== null && (!isPlainObject(value) || Object.keys(value).length !== 2)) {
    return false;
  }
  return binding.parseBoundEntity(value) !== undefined;
}
