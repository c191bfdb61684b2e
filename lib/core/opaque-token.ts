/**
 * Opaque, scannable tokens: `prefix + base62 body + 6-character base62 CRC32`.
 *
 * The checksum lets garbage be rejected offline, before any store round trip; the body carries at
 * least 256 random bits from the CSPRNG.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Characters of a 256-bit base62 secret (43 × log2(62) ≈ 256 bits). */
export const SECRET_LENGTH = 43;
/** Characters of a 128-bit base62 identifier. */
export const ID_LENGTH = 22;
const CHECKSUM_LENGTH = 6;
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}_(?:[a-z0-9]{1,15}_)?$/;
const BODY_PATTERN = /^[0-9A-Za-z]+$/;

/** `length` characters drawn uniformly from base62 with rejection sampling. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** `value` (a whole number >= 0) in base62, left-padded with '0' to `width` characters. */
export function encodeBase62Int(value: number, width: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a whole number >= 0: ${value}`);
  let out = '';
  for (let v = value; v > 0; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  if (out.length > width) throw new RangeError(`${value} needs more than ${width} base62 characters`);
  return out.padStart(width, '0');
}

/** The whole number a base62 string encodes, or null when it has other characters. */
export function decodeBase62Int(text: string): number | null {
  let value = 0;
  for (const char of text) {
    const digit = BASE62.indexOf(char);
    if (digit < 0) return null;
    value = value * 62 + digit;
  }
  return Number.isSafeInteger(value) ? value : null;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(text: string): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** Throws a TypeError unless `prefix` looks like `abc_` or `abc_at_`. */
export function assertTokenPrefix(prefix: unknown, option: string): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new TypeError(
      `${option} must look like "abc_" or "abc_xy_" (lowercase), got ${JSON.stringify(prefix)}`,
    );
  }
}

/** Builds `prefix + body + checksum`; `body` must be base62. */
export function formatOpaqueToken(prefix: string, body: string): string {
  const head = prefix + body;
  return head + checksum(head);
}

/**
 * Returns the body of a well-formed token with this prefix and a valid checksum, or null.
 * Costs no I/O; `bodyLength` pins the body's length when known.
 */
export function parseOpaqueToken(token: unknown, prefix: string, bodyLength?: number): string | null {
  if (typeof token !== 'string' || token.length > 255 || !token.startsWith(prefix)) return null;
  const body = token.slice(prefix.length, token.length - CHECKSUM_LENGTH);
  if (body.length === 0 || !BODY_PATTERN.test(body)) return null;
  if (bodyLength !== undefined && body.length !== bodyLength) return null;
  const sum = token.slice(token.length - CHECKSUM_LENGTH);
  return sum === checksum(prefix + body) ? body : null;
}

/** A fresh opaque token with a 256-bit body. */
export function generateOpaqueToken(prefix: string): string {
  return formatOpaqueToken(prefix, randomBase62(SECRET_LENGTH));
}

/**
 * Hashes high-entropy secrets (tokens, API keys, generated client secrets) for storage and lookup:
 * HMAC-SHA-256 with a server-side pepper when one is configured, SHA-256 otherwise.
 */
export class SecretHasher {
  readonly #pepper: KeyObject | undefined;

  constructor(pepper?: KeyObject) {
    this.#pepper = pepper;
  }

  /** Base64url digest of `secret`. */
  hash(secret: string): string {
    const h = this.#pepper ? createHmac('sha256', this.#pepper) : createHash('sha256');
    return h.update(secret, 'utf8').digest('base64url');
  }

  /** Constant-time comparison of `secret` with a stored digest (any lengths, no throw). */
  matches(secret: string, storedDigest: string): boolean {
    const a = Buffer.from(this.hash(secret));
    const b = Buffer.from(storedDigest);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
