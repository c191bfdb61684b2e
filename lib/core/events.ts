/**
 * Audit events: what happened, to whom, and why — never a token or a secret.
 */
import type { BoundEntity } from '../types';

/** Kinds of audit events. */
export type TokenEventType =
  | 'issued'
  | 'refreshed'
  | 'refresh_reuse_detected'
  | 'revoked'
  | 'credentials_rotated'
  | 'auth_failed'
  | 'binding_denied'
  | 'claims_refused'
  | 'store_unavailable';

/** One audit event. Carries ids only: never a token, secret or password. */
export interface TokenEvent {
  readonly type: TokenEventType;
  /** Seconds since the epoch. */
  readonly at: number;
  readonly jti?: string;
  readonly familyId?: string;
  readonly clientId?: string;
  readonly subject?: string;
  readonly boundEntity?: BoundEntity | null;
  readonly ip?: string;
  /** A short machine-readable reason, e.g. `bad_secret`, `reuse`, `expired`. */
  readonly reason?: string;
}

/** Receives audit events; exceptions it throws are swallowed. */
export type TokenEventListener = (event: TokenEvent) => void;
