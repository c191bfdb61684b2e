/**
 * The refresh-token format: `prefix + familyId + generation + proof + secret + checksum`, all
 * base62 (see opaque-token.ts for the prefix and checksum).
 *
 * - `familyId` (22 characters, 128 bits) names the family;
 * - `generation` (6 characters) is 1 for a family's first token and one more on every rotation;
 * - `proof` (43 characters, 256 bits) is random, issued with the family and the same in every one
 *   of its tokens; the store keeps only its hash;
 * - `secret` (43 characters, 256 bits) is random per token.
 *
 * The store keeps the hash of the current token, of the previous one, the current generation and
 * the proof's hash: a constant-size record. A presented token that is not current but carries the
 * family's proof and a generation at or below the current one is an authentic rotated-out token
 * (reuse); a token with another proof is a forgery and changes nothing. The checksum only rejects
 * garbage offline; authenticity comes from the hashes in the store.
 *
 * Tokens of the legacy format (`familyId + secret`, issued by older versions) are still parsed;
 * they carry no proof and count as generation 0.
 */
import {
  decodeBase62Int,
  encodeBase62Int,
  formatOpaqueToken,
  ID_LENGTH,
  parseOpaqueToken,
  randomBase62,
  SECRET_LENGTH,
} from './opaque-token';

/** Characters of the generation field. */
export const GENERATION_LENGTH = 6;
/** Characters of the family proof. */
export const PROOF_LENGTH = SECRET_LENGTH;
/** The highest generation the format can carry (62^6 − 1). */
export const MAX_GENERATION = 62 ** GENERATION_LENGTH - 1;
/** Characters of a refresh token's body. */
export const REFRESH_BODY_LENGTH = ID_LENGTH + GENERATION_LENGTH + PROOF_LENGTH + SECRET_LENGTH;
/** Characters of the body of a legacy refresh token (family id and secret only). */
export const LEGACY_REFRESH_BODY_LENGTH = ID_LENGTH + SECRET_LENGTH;

/** What a well-formed refresh token says about itself (nothing of it is verified yet). */
export interface RefreshTokenParts {
  readonly familyId: string;
  /** 0 for a legacy token. */
  readonly generation: number;
  /** The family proof; null for a legacy token. */
  readonly proof: string | null;
}

/** A new random family proof. */
export function newFamilyProof(): string {
  return randomBase62(PROOF_LENGTH);
}

/** A new refresh token of `familyId` at `generation` with the family's `proof` and a fresh secret. */
export function formatRefreshToken(
  prefix: string,
  familyId: string,
  generation: number,
  proof: string,
): string {
  if (generation < 1 || generation > MAX_GENERATION) {
    throw new RangeError(`refresh token generation must be from 1 to ${MAX_GENERATION}`);
  }
  return formatOpaqueToken(
    prefix,
    familyId + encodeBase62Int(generation, GENERATION_LENGTH) + proof + randomBase62(SECRET_LENGTH),
  );
}

/** The parts of a well-formed refresh token with this prefix and a valid checksum, or null. */
export function parseRefreshToken(token: unknown, prefix: string): RefreshTokenParts | null {
  const body = parseOpaqueToken(token, prefix);
  if (body === null) return null;
  const familyId = body.slice(0, ID_LENGTH);
  if (body.length === LEGACY_REFRESH_BODY_LENGTH) return { familyId, generation: 0, proof: null };
  if (body.length !== REFRESH_BODY_LENGTH) return null;
  const generation = decodeBase62Int(body.slice(ID_LENGTH, ID_LENGTH + GENERATION_LENGTH));
  if (generation === null || generation < 1 || generation >= MAX_GENERATION) return null;
  const start = ID_LENGTH + GENERATION_LENGTH;
  return { familyId, generation, proof: body.slice(start, start + PROOF_LENGTH) };
}
