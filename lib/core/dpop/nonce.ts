/**
 * Stateless DPoP nonces (RFC 9449 §8, §9): `base64url(window ‖ HMAC-SHA-256(secret, window))`,
 * where `window` is the current time divided by the window length. Every instance sharing the
 * secret issues and accepts the same nonces, with no store; a nonce is accepted in its own window
 * and the next one, so it rotates every window and lives at most two.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Bytes of a nonce before encoding: an 8-byte big-endian window number and a 32-byte MAC. */
const NONCE_BYTES = 40;
/** base64url length of {@link NONCE_BYTES}. */
const NONCE_LENGTH = Math.ceil((NONCE_BYTES * 4) / 3);

/** Issues and checks the nonces of one secret. */
export interface DpopNonces {
  /** The nonce of the current window. */
  current(nowSeconds: number): string;
  /** True when `nonce` is one of the current or the previous window, made with the secret. */
  accepts(nonce: unknown, nowSeconds: number): boolean;
}

/** Nonces over `secret`, rotating every `windowSeconds`. */
export function createDpopNonces(secret: KeyObject, windowSeconds: number): DpopNonces {
  const windowOf = (now: number): number => Math.floor(now / windowSeconds);
  const raw = (window: number): Buffer => {
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(window));
    const mac = createHmac('sha256', secret).update('dpop-nonce:').update(head).digest();
    return Buffer.concat([head, mac]);
  };
  return {
    current: (now) => raw(windowOf(now)).toString('base64url'),
    accepts(nonce, now) {
      if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH) return false;
      const bytes = Buffer.from(nonce, 'base64url');
      if (bytes.length !== NONCE_BYTES || bytes.toString('base64url') !== nonce) return false;
      const window = Number(bytes.readBigUInt64BE(0));
      const current = windowOf(now);
      if (window !== current && window !== current - 1) return false;
      return timingSafeEqual(bytes, raw(window));
    },
  };
}
