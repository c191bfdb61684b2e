/**
 * The kit option `dpop` (RFC 9449), on its own so that the token options can name it without
 * importing the verifier.
 */
import type { KeyObject } from 'node:crypto';
import type { DpopAlgorithm } from './jwk';

/** Options of DPoP (RFC 9449), the kit option `dpop`. Times in seconds. */
export interface DpopOptions {
  /** Accepted proof algorithms, asymmetric only. @default ES256, ES384, ES512, RS256, PS256, EdDSA */
  readonly algorithms?: readonly DpopAlgorithm[];
  /** Oldest accepted proof: `iat` at least `now − proofMaxAge` (1–600). @default 60 */
  readonly proofMaxAge?: number;
  /** Proofs from clocks ahead of ours: `iat` at most `now + proofLeeway` (0–60). @default 5 */
  readonly proofLeeway?: number;
  /**
   * Require a server nonce in every proof (RFC 9449 §8, §9): a proof without the current one is
   * answered `use_dpop_nonce` with a fresh `DPoP-Nonce` header. @default false
   */
  readonly requireNonce?: boolean;
  /**
   * The secret (at least 32 bytes) nonces are made with: give every instance the same one.
   * @default derived from the kit's `pepper`; required with `requireNonce` when there is no pepper
   */
  readonly nonceSecret?: KeyObject | Buffer | string;
  /** How often nonces rotate; a nonce is accepted for its window and the next (10–3600). @default 60 */
  readonly nonceWindow?: number;
  /**
   * Bind the refresh tokens of confidential clients to the proof's key too, as those of public
   * clients always are (RFC 9449 §5 leaves them unbound): a refresh must then prove the same key.
   * @default true
   */
  readonly bindConfidentialRefreshTokens?: boolean;
}
