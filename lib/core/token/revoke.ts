/**
 * Inspecting (RFC 7662) and revoking (RFC 7009) tokens: single access tokens by `jti`, refresh
 * families, and every token of a subject or client up to now (cut-offs, to the millisecond). Every
 * revocation is written to the store first, then announced to the revocation views, then audited.
 */
import { TokenError } from '../../errors';
import { MAX_TOKEN_LENGTH } from '../../defaults';
import type { RefreshFamily } from '../../stores/token-store';
import type { AuthInfo } from '../../types';
import type { TokenContext } from './context';
import { parseOwnRefreshToken } from './refresh';
import { INSPECT_OPTIONS, verifyAccessToken } from './verify';
import type { VerifyCaches } from './verify-cache';

/**
 * Who a token belongs to, as `TokenService.revokeToken` shows it to an owner check: the
 * `client_id` it was issued to and, for refresh families issued to an application, that
 * application's stable id.
 */
export interface TokenOwner {
  readonly clientId: string;
  readonly applicationId?: string;
}

/** Decides whether a token belongs to the caller (e.g. the client of an RFC 7009 request). */
export type TokenOwnerCheck = (owner: TokenOwner) => boolean | Promise<boolean>;

/** What a presented token turned out to be (RFC 7662 / RFC 7009). */
export type InspectedToken =
  | { readonly kind: 'access'; readonly auth: AuthInfo; readonly active: boolean }
  | { readonly kind: 'refresh'; readonly family: RefreshFamily; readonly active: boolean }
  | { readonly kind: 'unknown' };

/**
 * Identifies a token (access JWT, opaque access token or refresh token) without throwing on
 * invalid ones: garbage, foreign and unknown tokens are `unknown`. Expired or revoked known tokens
 * are reported with `active: false`. Store failures still throw `service_unavailable`.
 */
export async function inspect(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: unknown,
): Promise<InspectedToken> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
    return { kind: 'unknown' };
  const rt = parseOwnRefreshToken(ctx, token);
  if (rt !== null) {
    const proof =
      rt.proof === null ? undefined : { generation: rt.generation, proofHash: ctx.hasher.hash(rt.proof) };
    const state = await ctx.guard(() =>
      ctx.store.inspectRefreshToken(rt.familyId, ctx.hasher.hash(token), ctx.now(), proof),
    );
    return state === null
      ? { kind: 'unknown' }
      : { kind: 'refresh', family: state.family, active: state.active };
  }
  try {
    const auth = await verifyAccessToken(ctx, caches, token, INSPECT_OPTIONS);
    return { kind: 'access', auth, active: ctx.now() < auth.expiresAt + ctx.options.clockTolerance };
  } catch (err) {
    // invalid, foreign and revoked tokens all look alike from outside (RFC 7662 §2.2)
    if (err instanceof TokenError && err.code === 'service_unavailable') throw err;
    return { kind: 'unknown' };
  }
}

/**
 * Revokes any token: an access token by its `jti`, a refresh token by its whole family.
 * When `owner` is given — a client id, or a {@link TokenOwnerCheck} (e.g. "any client id this
 * application has held") — tokens it does not own are left alone (RFC 7009 §2.1) and `false` is
 * returned. Unknown tokens resolve `false` and write nothing.
 */
export async function revokeToken(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: unknown,
  owner?: string | TokenOwnerCheck,
): Promise<boolean> {
  const owns = async (candidate: TokenOwner): Promise<boolean> =>
    owner === undefined ||
    (typeof owner === 'string' ? candidate.clientId === owner : (await owner(candidate)) === true);
  const found = await inspect(ctx, caches, token);
  if (found.kind === 'unknown') return false;
  if (found.kind === 'refresh') {
    const { family } = found;
    const candidate: TokenOwner =
      family.applicationId === undefined
        ? { clientId: family.clientId }
        : { clientId: family.clientId, applicationId: family.applicationId };
    if (!(await owns(candidate))) return false;
    await revokeFamily(ctx, family.familyId);
    return true;
  }
  if (!(await owns({ clientId: found.auth.clientId }))) return false;
  await revokeJti(ctx, found.auth.jti, found.auth.expiresAt);
  if (found.auth.familyId !== undefined) await revokeFamily(ctx, found.auth.familyId);
  return true;
}

/**
 * The family of the tokens exchanged (RFC 8693) from an access token that has no refresh family of
 * its own: revoking that token by its `jti` revokes this family too, so what was exchanged from it
 * dies with it.
 */
export function exchangeFamilyId(jti: string): string {
  return `x:${jti}`;
}

/**
 * Puts a `jti` on the denylist until the token's expiry (plus tolerance), and revokes the family of
 * the tokens exchanged from it ({@link exchangeFamilyId}; they never outlive it, so the same TTL).
 */
export async function revokeJti(ctx: TokenContext, jti: string, expiresAt: number): Promise<void> {
  const ttl = Math.max(1, expiresAt - ctx.now() + ctx.options.clockTolerance + 1);
  const exchanged = exchangeFamilyId(jti);
  await ctx.guard(() => ctx.store.revokeJti(jti, ttl));
  await ctx.guard(() => ctx.store.revokeFamily(exchanged, ttl));
  await ctx.announce({ kind: 'jti', id: jti });
  await ctx.announce({ kind: 'family', id: exchanged });
  ctx.emit({ type: 'revoked', jti, reason: 'jti' });
}

/** Revokes a refresh family: its refresh tokens and every access token issued from it. */
export async function revokeFamily(ctx: TokenContext, familyId: string): Promise<void> {
  await ctx.guard(() => ctx.store.revokeFamily(familyId, ctx.options.cutoffTtl));
  await ctx.announce({ kind: 'family', id: familyId });
  ctx.emit({ type: 'revoked', familyId, reason: 'family' });
}

/**
 * Revokes every token of a subject issued up to now ("log out everywhere"), to the millisecond: a
 * token issued after it (even in the same second) works.
 */
export async function revokeSubject(ctx: TokenContext, subject: string): Promise<void> {
  const at = ctx.issuance.cutoff();
  await ctx.guard(() => ctx.store.setCutoff('subject', subject, at, ctx.options.cutoffTtl));
  await ctx.announce({ kind: 'subject', id: subject });
  ctx.emit({ type: 'revoked', subject, reason: 'subject' });
}

/** Revokes every token of a client issued up to now, to the millisecond (see {@link revokeSubject}). */
export async function revokeClient(ctx: TokenContext, clientId: string): Promise<void> {
  const at = ctx.issuance.cutoff();
  await ctx.guard(() => ctx.store.setCutoff('client', clientId, at, ctx.options.cutoffTtl));
  await ctx.announce({ kind: 'client', id: clientId });
  ctx.emit({ type: 'revoked', clientId, reason: 'client' });
}
