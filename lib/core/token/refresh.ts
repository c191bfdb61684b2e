/**
 * Refresh-token families: starting one, and rotating its refresh token (RFC 6749 §6, with reuse
 * detection: presenting a rotated-out token revokes the whole family).
 */
import { TokenError } from '../../errors';
import type { RefreshFamily, RefreshTokenProof } from '../../stores/token-store';
import type { BoundEntity } from '../../types';
import { ID_LENGTH, randomBase62 } from '../opaque-token';
import {
  formatRefreshToken,
  newFamilyProof,
  parseRefreshToken,
  type RefreshTokenParts,
} from '../refresh-token';
import type { TokenContext } from './context';
import { assertJkt } from '../dpop/jwk';

/** A new refresh token and its family. */
export interface IssuedRefreshToken {
  readonly refreshToken: string;
  readonly family: RefreshFamily;
}

/** Input of `TokenService.startRefreshFamily`. */
export interface StartRefreshFamilyInput {
  readonly subject: string;
  readonly clientId: string;
  readonly scope?: string;
  readonly boundEntity?: BoundEntity | null;
  readonly data?: Readonly<Record<string, unknown>>;
  /** The stable id of the application the family is issued to (kept across credential rotations). */
  readonly applicationId?: string;
  /** Binds the family's refresh tokens to a DPoP key (RFC 7638 thumbprint, RFC 9449 §5). */
  readonly jkt?: string;
}

/** Input of `TokenService.refresh`. */
export interface RefreshInput {
  /** The family must belong to this client id (checked before anything is consumed). */
  readonly clientId?: string;
  /** The family must belong to this subject (checked before anything is consumed). */
  readonly subject?: string;
  /**
   * More checks of the request against the family, run after the family is read and before
   * anything is consumed: throwing refuses the refresh and leaves no trace (RFC 6749 §6) — the
   * refresh token stays current, nothing is revoked, announced or emitted by the core.
   */
  readonly check?: (family: RefreshFamily) => void | Promise<void>;
}

/** The parts of one of this instance's refresh tokens, or null for anything else. */
export function parseOwnRefreshToken(ctx: TokenContext, token: unknown): RefreshTokenParts | null {
  return parseRefreshToken(token, ctx.options.refreshTokenPrefix);
}

/** Starts a refresh-token family and returns its first refresh token. */
export async function startRefreshFamily(
  ctx: TokenContext,
  input: Readonly<StartRefreshFamilyInput>,
): Promise<IssuedRefreshToken> {
  const createdAtMs = ctx.issuance.issue();
  const now = Math.floor(createdAtMs / 1000);
  const familyId = randomBase62(ID_LENGTH);
  const proof = newFamilyProof();
  const refreshToken = formatRefreshToken(ctx.options.refreshTokenPrefix, familyId, 1, proof);
  const family: RefreshFamily = {
    familyId,
    sub: input.subject,
    clientId: input.clientId,
    scope: input.scope ?? '',
    boundEntity: input.boundEntity ?? null,
    createdAt: now,
    createdAtMs,
    expiresAt: now + ctx.options.refreshAbsoluteTtl,
    lastUsedAt: now,
    ...(input.data === undefined ? {} : { data: input.data }),
    ...(input.applicationId === undefined ? {} : { applicationId: input.applicationId }),
    ...(input.jkt === undefined ? {} : { jkt: assertJkt(input.jkt) }),
  };
  await ctx.guard(() =>
    ctx.store.createRefreshFamily(family, ctx.hasher.hash(refreshToken), ctx.hasher.hash(proof)),
  );
  return { refreshToken, family };
}

/**
 * The successor of a presented refresh token (next generation, same proof) and the proof the
 * store checks. A legacy token carries no proof: its successor gets a new one, which the family
 * adopts on rotation.
 */
function successor(ctx: TokenContext, parts: RefreshTokenParts): { next: string; proof: RefreshTokenProof } {
  const proof = parts.proof ?? newFamilyProof();
  const next = formatRefreshToken(
    ctx.options.refreshTokenPrefix,
    parts.familyId,
    parts.generation + 1,
    proof,
  );
  return { next, proof: { generation: parts.generation, proofHash: ctx.hasher.hash(proof) } };
}

/**
 * Rotates a refresh token: returns its successor, or throws `invalid_grant`. Presenting a
 * rotated-out token revokes the whole family, access tokens included. Atomic across processes.
 *
 * The family is read first, without consuming anything, and every check runs against it —
 * `clientId`, `subject`, then `check` — so a refused refresh leaves the token current and the
 * family alive (RFC 6749 §6). The rotation then still checks, atomically in the store, that the
 * family is the one checked (same client id and subject).
 */
export async function refresh(
  ctx: TokenContext,
  refreshToken: string,
  input: Readonly<RefreshInput>,
): Promise<IssuedRefreshToken> {
  const { store, hasher, options } = ctx;
  const parts = parseOwnRefreshToken(ctx, refreshToken);
  if (parts === null) throw new TokenError('invalid_grant');
  const { familyId } = parts;
  const presentedHash = hasher.hash(refreshToken);
  const { next, proof } = successor(ctx, parts);
  // An authentic rotated-out token is found through its proof, so that reuse still reaches the
  // rotation (and revokes the family) once every check has passed.
  const presentedProof = parts.proof === null ? undefined : proof;
  const found = await ctx.guard(() =>
    store.inspectRefreshToken(familyId, presentedHash, ctx.now(), presentedProof),
  );
  if (found === null) throw new TokenError('invalid_grant', undefined, { cause: 'not_found' });
  const { family: read } = found;
  if (
    (input.clientId !== undefined && read.clientId !== input.clientId) ||
    (input.subject !== undefined && read.sub !== input.subject)
  ) {
    throw new TokenError('invalid_grant', undefined, { cause: 'mismatch' });
  }
  if (input.check) await input.check(read);
  const result = await ctx.guard(() =>
    store.rotateRefreshToken({
      familyId,
      presentedHash,
      nextHash: hasher.hash(next),
      proof,
      now: ctx.now(),
      idleSeconds: options.refreshIdleTtl,
      expectedClientId: read.clientId,
      expectedSubject: read.sub,
      ...(options.refreshGraceSeconds > 0 ? { graceSeconds: options.refreshGraceSeconds } : {}),
    }),
  );
  switch (result.status) {
    case 'rotated':
      ctx.emit({
        type: 'refreshed',
        familyId,
        clientId: result.family.clientId,
        subject: result.family.sub,
      });
      return { refreshToken: next, family: result.family };
    case 'reused':
      // The store revoked the family atomically; extend the marker so it outlives every access
      // token the family issued, even one minted just before its absolute expiry.
      await ctx.guard(() => store.revokeFamily(familyId, options.cutoffTtl));
      await ctx.announce({ kind: 'family', id: familyId });
      ctx.emit({
        type: 'refresh_reuse_detected',
        familyId,
        clientId: result.family.clientId,
        subject: result.family.sub,
        reason: 'reuse',
      });
      throw new TokenError('invalid_grant');
    case 'expired':
      // the store revoked the expired family; its access tokens must be refused everywhere
      await ctx.announce({ kind: 'family', id: familyId });
      throw new TokenError('invalid_grant', undefined, { cause: result.status });
    default:
      throw new TokenError('invalid_grant', undefined, { cause: result.status });
  }
}
