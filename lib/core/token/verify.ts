/**
 * Verifying access tokens (RFC 9068 JWTs and opaque tokens), revocation included: at most one store
 * round trip, none on repeats while a revocation view is live.
 */
import { TokenError } from '../../errors';
import { MAX_TOKEN_LENGTH } from '../../defaults';
import type { AccessTokenRecord, RevocationQuery, RevocationState } from '../../stores/token-store';
import type { AuthInfo } from '../../types';
import { issuedAtMsOf } from '../issuance';
import { audienceList, verifyJwt } from '../jwt';
import { parseOpaqueToken, SECRET_LENGTH } from '../opaque-token';
import { authFromRecord } from './auth-info';
import type { TokenContext } from './context';
import {
  opaqueExpired,
  RECORD_ENTRY_BYTES,
  rememberedJwt,
  rememberVerified,
  revocationQuery,
  verifiedEntry,
  type OpaqueEntry,
  type VerifiedEntry,
  type VerifyCaches,
} from './verify-cache';

/** Per-call verification options. */
export interface VerifyAccessTokenOptions {
  /** Accepted issuers; @default the service's issuer and trusted issuers. */
  readonly issuers?: readonly string[];
  /** Accepted audiences; @default the service's audiences. */
  readonly audiences?: readonly string[];
  /** Accepted JWT `typ` values; @default `['at+jwt']`. */
  readonly typ?: readonly string[];
  /** Accept expired tokens (signature, claims and revocation still checked). @default false */
  readonly ignoreExpiration?: boolean;
}

/** One shared default, so the verified-token cache recognises calls without options. */
export const DEFAULT_VERIFY_OPTIONS: Readonly<VerifyAccessTokenOptions> = Object.freeze({});

/**
 * The options of the kit's own inspection (introspection, revocation): expired tokens too, and
 * any audience — a token issued for an RFC 8707 resource carries that resource as its `aud`, and
 * is still the kit's to introspect and revoke. Recognised by identity; never public.
 */
export const INSPECT_OPTIONS: Readonly<VerifyAccessTokenOptions> = Object.freeze({ ignoreExpiration: true });

/**
 * The options of token exchange's subject and actor tokens (RFC 8693 §2.1): active tokens only,
 * of any audience (a token issued for a resource, or for the exchanging client itself, is still
 * the kit's to exchange; the grant then checks who may). Recognised by identity; never public.
 */
export const EXCHANGE_OPTIONS: Readonly<VerifyAccessTokenOptions> = Object.freeze({});

/** True for the kit's own options that accept any audience. */
function anyAudience(options: Readonly<VerifyAccessTokenOptions>): boolean {
  return options === INSPECT_OPTIONS || options === EXCHANGE_OPTIONS;
}
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export { revocationQuery };

/** Revoked by the state, for a token issued at `issuedMs` (a cut-off at that very instant covers it). */
export function isRevoked(state: RevocationState, issuedMs: number): boolean {
  return (
    state.jtiRevoked ||
    state.familyRevoked ||
    (state.subjectCutoffMs !== null && issuedMs <= state.subjectCutoffMs) ||
    (state.clientCutoffMs !== null && issuedMs <= state.clientCutoffMs)
  );
}

/**
 * Verifies an access token (JWT or opaque) including revocation: one store round trip at most.
 * Throws `TokenError` `invalid_token`, `expired_token` or `service_unavailable`.
 */
export async function verifyAccessToken(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: Readonly<VerifyAccessTokenOptions>,
): Promise<AuthInfo> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new TokenError('invalid_token');
  }
  const prefix = ctx.opaquePrefixes.of(token);
  if (prefix !== undefined) return verifyOpaque(ctx, caches, token, prefix, options);
  const now = ctx.now();
  let verified: VerifiedEntry;
  try {
    verified = verifiedJwt(ctx, caches, token, options, now);
  } catch (error) {
    // A kid this instance has not loaded yet (a shared key another instance just created): one
    // store reload (at most one per cooldown, see createKeyManager), then verify once more.
    if (!JWT_SHAPE.test(token) || !(await ctx.keys.reloadForUnknownKid(token))) throw error;
    verified = verifyJwtCached(ctx, caches, token, options, now);
  }
  const { auth, query } = verified;
  refuseRevoked(await revocationState(ctx, query, auth.expiresAt), verified.issuedMs);
  return auth;
}

/** The remembered verification of a JWT, else its full verification (remembered for next time); throws as verifyJwt does. */
function verifiedJwt(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: Readonly<VerifyAccessTokenOptions>,
  now: number,
): VerifiedEntry {
  // verifyJwt checks the compact form itself, before any decoding
  return (
    rememberedJwt(ctx, caches, token, options, now * 1000) ??
    verifyJwtCached(ctx, caches, token, options, now)
  );
}

/** Throws `invalid_token` `Access token revoked` when the state revokes a token issued at `issuedMs`. */
function refuseRevoked(state: RevocationState, issuedMs: number): void {
  if (isRevoked(state, issuedMs)) throw new TokenError('invalid_token', 'Access token revoked');
}

/**
 * The synchronous fast path of {@link verifyAccessToken}: the identity of a token verified before,
 * when its verification is remembered (same options object, same key set, not expired) and a live
 * revocation view knows it is not revoked; else undefined. Never throws; allocates nothing for a token it holds whole (one known by digest only gets its identity rebuilt).
 */
export function verifyRemembered(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: Readonly<VerifyAccessTokenOptions>,
): AuthInfo | undefined {
  const view = ctx.view;
  if (view === undefined || !view.ready || options.ignoreExpiration) return undefined;
  const nowMs = ctx.nowMs();
  let auth: AuthInfo | undefined;
  let query: RevocationQuery;
  const jwt = rememberedJwt(ctx, caches, token, options, nowMs);
  if (jwt !== undefined) {
    ({ auth, query } = jwt);
  } else {
    const records = caches.records;
    if (records === undefined || ctx.opaquePrefixes.of(token) === undefined) return undefined;
    const opaque = records.get(ctx.hasher.hash(token), nowMs);
    if (opaque === undefined || opaque.options !== options) return undefined;
    if (opaqueExpired(ctx, opaque.record, Math.floor(nowMs / 1000))) return undefined;
    ({ auth, query } = opaque);
    if (auth === undefined) return undefined;
  }
  const state = view.check?.(query) ?? view.lookup(query.jti, nowMs);
  return state === undefined || isRevoked(state, jwt?.issuedMs ?? issuedAtMsOf(auth.jti, auth.issuedAt))
    ? undefined
    : auth;
}

/**
 * {@link verifyAccessToken} without waiting, where nothing needs waiting for: with a synced
 * revocation replica (which answers for any `jti`), a JWT is verified in full on the spot — the
 * identity, or a `TokenError` thrown exactly as {@link verifyAccessToken} rejects. Undefined when
 * only the asynchronous path can answer (no live replica, an opaque token not remembered, a kid
 * this instance may have to load, a replica that stops answering): the caller then calls
 * {@link verifyAccessToken}, which starts over.
 */
export function verifyNow(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: Readonly<VerifyAccessTokenOptions>,
): AuthInfo | undefined {
  const view = ctx.view;
  if (
    view?.check === undefined ||
    view.replicating !== true ||
    !view.ready ||
    options.ignoreExpiration ||
    typeof token !== 'string' ||
    token.length === 0 ||
    token.length > MAX_TOKEN_LENGTH ||
    ctx.opaquePrefixes.of(token) !== undefined
  ) {
    return verifyRemembered(ctx, caches, token, options);
  }
  let verified: VerifiedEntry;
  try {
    verified = verifiedJwt(ctx, caches, token, options, ctx.now());
  } catch (error) {
    // a kid another instance may just have created: the asynchronous path reloads the keys
    if (JWT_SHAPE.test(token) && ctx.keys.wouldReloadFor(token)) return undefined;
    throw error;
  }
  const state = view.check(verified.query);
  if (state === undefined) return undefined;
  refuseRevoked(state, verified.issuedMs);
  return verified.auth;
}

/**
 * Signature and claims, remembered per exact token string (and options object, and key-set
 * version) until `exp`, so repeats skip the signature. Expired tokens are always re-verified.
 * The caller looked the cache up first.
 * The remembered {@link AuthInfo} is deeply frozen: no request can change what the next one sees.
 */
function verifyJwtCached(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  options: Readonly<VerifyAccessTokenOptions>,
  now: number,
): VerifiedEntry {
  const { keys } = ctx;
  const { issuers, audiences, clockTolerance, maxTokenLifetime } = ctx.options;
  const { claims } = verifyJwt(keys, token, {
    issuers: options.issuers ?? issuers,
    audiences: anyAudience(options) ? unverifiedAudiences(token) : (options.audiences ?? audiences),
    typ: options.typ ?? ['at+jwt'],
    clockToleranceSeconds: clockTolerance,
    maxLifetimeSeconds: maxTokenLifetime,
    now,
    ignoreExpiration: options.ignoreExpiration ?? false,
    binding: ctx.options.binding,
  });
  const entry = verifiedEntry(token, claims, options, keys.version);
  if (!options.ignoreExpiration)
    rememberVerified(caches, token, entry, (entry.auth.expiresAt + clockTolerance) * 1000);
  return entry;
}

/** The `aud` members of a JWT's payload, before verification (the signature is still checked); none when unreadable. */
function unverifiedAudiences(token: string): string[] {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as unknown;
    const aud =
      typeof payload === 'object' && payload !== null ? (payload as { aud?: unknown }).aud : undefined;
    return audienceList(aud) ?? [];
  } catch {
    return [];
  }
}
/** What {@link revocationState} reads of the context; a resource server passes its own store and view. */
export type RevocationContext = Pick<TokenContext, 'view' | 'store' | 'guard' | 'nowMs'> & {
  readonly options: Pick<TokenContext['options'], 'clockTolerance'>;
};

/** Revocation state: from the view when it is live, else one store round trip (remembered). */
export async function revocationState(
  ctx: RevocationContext,
  query: RevocationQuery,
  expiresAt: number,
): Promise<RevocationState> {
  const { view, store } = ctx;
  if (view === undefined || !view.ready) return ctx.guard(() => store.checkRevocation(query));
  // a synced replica answers for any token, seen before or not
  const replicated = view.check?.(query);
  if (replicated !== undefined) return replicated;
  const nowMs = ctx.nowMs();
  const known = view.lookup(query.jti, nowMs);
  if (known !== undefined) return known;
  const generation = view.generation;
  const state = await ctx.guard(() => store.checkRevocation(query));
  view.remember(query.jti, state, (expiresAt + ctx.options.clockTolerance) * 1000, generation);
  return state;
}

/**
 * An opaque token's record and state: with a synced replica and a store that can read the record
 * alone, one read (the replica answers revocation); else the store's combined lookup.
 */
async function readOpaque(
  ctx: TokenContext,
  hash: string,
): Promise<{ record: AccessTokenRecord | null; state: RevocationState; replicated?: boolean }> {
  const { store, view } = ctx;
  if (
    view?.check !== undefined &&
    view.replicating === true &&
    view.ready &&
    store.readAccessToken !== undefined
  ) {
    const record = await ctx.guard(() => store.readAccessToken!(hash));
    const state =
      record === null
        ? undefined
        : view.check(revocationQuery(record.jti, record.sub, record.clientId, record.familyId));
    if (record === null) return { record, state: NOT_REVOKED, replicated: true };
    if (state !== undefined) return { record, state, replicated: true };
  }
  return ctx.guard(() => store.lookupAccessToken(hash));
}

const NOT_REVOKED: RevocationState = Object.freeze({
  jtiRevoked: false,
  familyRevoked: false,
  subjectCutoffMs: null,
  clientCutoffMs: null,
});

async function verifyOpaque(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  prefix: string,
  options: Readonly<VerifyAccessTokenOptions>,
): Promise<AuthInfo> {
  const { entry, state } = await lookupOpaque(ctx, caches, token, prefix);
  if (entry === null) throw new TokenError('invalid_token');
  const { record } = entry;
  let auth = entry.options === options ? entry.auth : undefined;
  if (auth === undefined) {
    const issuers = options.issuers ?? ctx.options.issuers;
    const audiences = options.audiences ?? ctx.options.audiences;
    if (
      !issuers.includes(record.iss) ||
      (!anyAudience(options) && !record.aud.some((a) => audiences.includes(a)))
    ) {
      throw new TokenError('invalid_token');
    }
    auth = authFromRecord(record);
    // the last options object seen for the token: requireToken passes the same one every time
    entry.options = options;
    entry.auth = auth;
  }
  refuseRevoked(state, issuedAtMsOf(record.jti, record.iat));
  if (!options.ignoreExpiration && opaqueExpired(ctx, record, ctx.now()))
    throw new TokenError('expired_token');
  return auth;
}

/**
 * An opaque token's record and revocation state. With a live revocation view, records (which never
 * change) are remembered per exact token string and the state comes from the view; otherwise the
 * token's shape and checksum are checked and the store asked, in one round trip.
 */
async function lookupOpaque(
  ctx: TokenContext,
  caches: VerifyCaches,
  token: string,
  prefix: string,
): Promise<{ entry: OpaqueEntry | null; state: RevocationState }> {
  const { records } = caches;
  const { view } = ctx;
  const live = records !== undefined && view?.ready === true;
  const hash = live ? ctx.hasher.hash(token) : undefined;
  if (hash !== undefined) {
    const cached = records!.get(hash, ctx.nowMs());
    if (cached !== undefined) {
      const state = await revocationState(ctx, cached.query, cached.record.exp);
      return { entry: cached, state };
    }
  }
  if (parseOpaqueToken(token, prefix, SECRET_LENGTH) === null) throw new TokenError('invalid_token');
  const generation = view?.generation;
  const found = await readOpaque(ctx, hash ?? ctx.hasher.hash(token));
  if (found.record === null) return { entry: null, state: found.state };
  const { record } = found;
  const entry: OpaqueEntry = {
    record,
    query: revocationQuery(record.jti, record.sub, record.clientId, record.familyId),
    options: undefined,
    auth: undefined,
  };
  if (records !== undefined && view !== undefined && generation !== undefined) {
    records.set(hash ?? ctx.hasher.hash(token), entry, record.exp * 1000, RECORD_ENTRY_BYTES);
    if (found.replicated !== true)
      view.remember(record.jti, found.state, (record.exp + ctx.options.clockTolerance) * 1000, generation);
  }
  return { entry, state: found.state };
}
