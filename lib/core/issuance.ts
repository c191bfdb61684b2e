/**
 * Issuance instants in milliseconds, so that subject and client cut-offs (stored in milliseconds)
 * order tokens minted in the same second.
 *
 * Every access token's `jti` is a UUIDv7 (RFC 9562 §5.7) whose 48-bit `unix_ts_ms` field is the
 * token's issuance instant on the issuer's clock; `iat` is that instant's whole second. A token
 * whose `jti` carries no such timestamp (minted by an older version, or by another issuer) is
 * treated as issued at the START of its `iat` second, so any cut-off in that second covers it: the
 * old whole-second rule, failing closed.
 */
import { randomBytes } from 'node:crypto';

const UUID_V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_UNIX_TS_MS = 2 ** 48 - 1;

/** A UUIDv7 (RFC 9562 §5.7) carrying `ms` (a whole, non-negative millisecond) and 74 random bits. */
export function uuidV7(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_UNIX_TS_MS) {
    throw new RangeError(`uuidV7: ms must be a whole number from 0 to 2^48-1, got ${String(ms)}`);
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 0b10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The `unix_ts_ms` of a lowercase UUIDv7, or undefined for anything else. */
export function uuidV7Ms(id: unknown): number | undefined {
  if (typeof id !== 'string') return undefined;
  const m = UUID_V7.exec(id);
  return m === null ? undefined : parseInt(m[1]! + m[2]!, 16);
}

/**
 * The issuance instant (ms) of a token with this `jti` and `iat` (seconds): the jti's UUIDv7
 * timestamp when it lies in the `iat` second, else the start of that second (fail closed: any
 * cut-off in the second covers the token).
 */
export function issuedAtMsOf(jti: unknown, iatSeconds: number): number {
  const ms = uuidV7Ms(jti);
  return ms !== undefined && Math.floor(ms / 1000) === iatSeconds ? ms : iatSeconds * 1000;
}

/**
 * Issuance and cut-off instants of one process, in ms on an injected clock, ordered even when the
 * clock stands still (a frozen test clock, or two calls in one millisecond): a token minted after a
 * cut-off set by this process gets an instant strictly after it, and a cut-off set after a token
 * was minted gets an instant at or after the token's (a tie counts as covered).
 *
 * An instant never leaves the clock's current second, so `iat` is always the clock's second (never
 * in the future). Hence the one exception: a token minted right after a cut-off set in the last
 * millisecond of a second (…999), with the clock still in that millisecond, ties with it and is
 * covered. Between processes the instants come from each one's own clock.
 */
export class IssuanceClock {
  readonly #now: () => number;
  #lastIssuedMs = -Infinity;
  #lastCutoffMs = -Infinity;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The instant of a token or family minted now: after every cut-off this process set in this second. */
  issue(): number {
    const now = Math.floor(this.#now());
    const end = lastMsOfSecond(now);
    const ms = this.#lastCutoffMs >= now && this.#lastCutoffMs < end ? this.#lastCutoffMs + 1 : now;
    if (ms > this.#lastIssuedMs || this.#lastIssuedMs > end) this.#lastIssuedMs = ms;
    return ms;
  }

  /** The instant of a cut-off set now: at or after every token this process minted in this second. */
  cutoff(): number {
    const now = Math.floor(this.#now());
    const end = lastMsOfSecond(now);
    let ms = now;
    if (this.#lastIssuedMs > ms && this.#lastIssuedMs <= end) ms = this.#lastIssuedMs;
    if (this.#lastCutoffMs > ms && this.#lastCutoffMs <= end) ms = this.#lastCutoffMs;
    this.#lastCutoffMs = ms;
    return ms;
  }
}

function lastMsOfSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000 + 999;
}
