/**
 * The token core: issue, verify, refresh and revoke access and refresh tokens. No Express here.
 *
 * `TokenService` is a thin facade over one private, frozen context (lib/core/token/context.ts,
 * built from the options resolved in lib/core/token-options.ts) and the modules by verb in
 * lib/core/token/: issue, verify (with its caches in verify-cache), refresh, revoke.
 */
import type { JwksDocument, KeySet } from '../keys/key-set';
import type { TokenStore } from '../stores/token-store';
import type { AuthInfo } from '../types';
import type { TokenEvent } from './events';
import type { BindingProfile } from './binding';
import type { SecretHasher } from './opaque-token';
import type { RevocationNotice } from '../stores/revocation-view';
import { resolveTokenOptions, type TokenServiceOptions } from './token-options';
import { createTokenContext, type TokenContext } from './token/context';
import {
  issueAccessToken,
  signIdToken,
  signIdTokenAsync,
  type IssueAccessTokenInput,
  type IssuedAccessToken,
} from './token/issue';
import {
  refresh,
  startRefreshFamily,
  type IssuedRefreshToken,
  type RefreshInput,
  type StartRefreshFamilyInput,
} from './token/refresh';
import {
  inspect,
  revokeClient,
  revokeFamily,
  revokeJti,
  revokeSubject,
  revokeToken,
  type InspectedToken,
  type TokenOwnerCheck,
} from './token/revoke';
import {
  DEFAULT_VERIFY_OPTIONS,
  verifyAccessToken,
  verifyNow,
  verifyRemembered,
  type VerifyAccessTokenOptions,
} from './token/verify';
import { createVerifyCaches, type VerifyCaches } from './token/verify-cache';
import {
  createDpopVerifier,
  type DpopProofInput,
  type DpopVerifier,
  type VerifiedDpopProof,
} from './dpop/dpop-verifier';

export type { TokenServiceOptions } from './token-options';
export type { ActorClaim, IssueAccessTokenInput, IssuedAccessToken } from './token/issue';
export type { VerifyAccessTokenOptions } from './token/verify';
export type { DpopOptions, DpopProofInput, VerifiedDpopProof } from './dpop/dpop-verifier';
export type { IssuedRefreshToken, RefreshInput, StartRefreshFamilyInput } from './token/refresh';
export type { InspectedToken, TokenOwner, TokenOwnerCheck } from './token/revoke';
export { storeUnavailable } from './token/context';

/**
 * Issues, verifies, refreshes and revokes tokens. One instance per app; shared by every router
 * and by `requireToken`.
 *
 * @example
 * ```ts
 * const tokens = new TokenService({ store: new MemoryTokenStore(), keys, issuer: 'https://auth.example.com' });
 * const { token } = await tokens.issueAccessToken({ subject: 'user-1', clientId: 'app-1' });
 * const auth = await tokens.verifyAccessToken(token);
 * ```
 */
export class TokenService {
  readonly store: TokenStore;
  readonly keys: KeySet;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly issuers: readonly string[];
  readonly accessTokenTtl: number;
  readonly maxTokenLifetime: number;
  readonly accessTokenPrefix: string;
  readonly refreshTokenPrefix: string;
  readonly clockTolerance: number;
  readonly refreshAbsoluteTtl: number;
  readonly refreshIdleTtl: number;
  readonly refreshGraceSeconds: number;
  readonly expiredRecordRetention: number;
  readonly hasher: SecretHasher;
  /** The bound-entity types tokens may be bound to. */
  readonly binding: BindingProfile;
  readonly #ctx: TokenContext;
  readonly #caches: VerifyCaches;
  readonly #dpop: DpopVerifier;

  constructor(options: Readonly<TokenServiceOptions>) {
    const resolved = resolveTokenOptions(options);
    const ctx = createTokenContext(resolved);
    this.#ctx = ctx;
    this.#caches = createVerifyCaches(ctx);
    this.#dpop = createDpopVerifier(ctx, options.dpop);
    this.store = ctx.store;
    this.keys = ctx.keys;
    this.issuer = resolved.issuer;
    this.audiences = resolved.audiences;
    this.issuers = resolved.issuers;
    this.accessTokenTtl = resolved.accessTokenTtl;
    this.maxTokenLifetime = resolved.maxTokenLifetime;
    this.accessTokenPrefix = resolved.accessTokenPrefix;
    this.refreshTokenPrefix = resolved.refreshTokenPrefix;
    this.clockTolerance = resolved.clockTolerance;
    this.refreshAbsoluteTtl = resolved.refreshAbsoluteTtl;
    this.refreshIdleTtl = resolved.refreshIdleTtl;
    this.refreshGraceSeconds = resolved.refreshGraceSeconds;
    this.expiredRecordRetention = resolved.expiredRecordRetention;
    this.hasher = ctx.hasher;
    this.binding = resolved.binding;
  }

  /**
   * The public JWK Set of the kit's key set: the public members of its asymmetric keys, never an
   * HS256 key.
   * @see RFC 7517 §5
   */
  jwks(): JwksDocument {
    return this.#ctx.keys.jwks();
  }

  /** Now, in whole seconds since the epoch. */
  now(): number {
    return this.#ctx.now();
  }

  /**
   * Emits an audit event; listener failures never affect the request. For the kit's own services
   * (credentials, grants); the layers above report through the named methods below.
   * @internal
   */
  emit(event: Omit<TokenEvent, 'at'>): void {
    this.#ctx.emit(event);
  }

  /**
   * Reports a refused bearer token as an `auth_failed` audit event.
   *
   * @param reason - the refusal's error code, e.g. `invalid_token` or `expired_token`
   * @param ip - the client address, when known
   */
  reportAuthFailure(reason: string, ip?: string): void {
    this.#ctx.emit({ type: 'auth_failed', reason, ...(ip ? { ip } : {}) });
  }

  /**
   * Reports an outage of a store outside the core (e.g. the rate-limit counters) as a
   * `store_unavailable` audit event; the core reports its own store's outages itself.
   *
   * @param reason - which store failed, e.g. `rate_limit_store`
   * @param ip - the client address, when known
   */
  reportStoreOutage(reason: string, ip?: string): void {
    this.#ctx.emit({ type: 'store_unavailable', reason, ...(ip ? { ip } : {}) });
  }

  /**
   * Reports a request refused by a binding guard as a `binding_denied` audit event, naming the
   * token (its `jti`, client, subject and bound entity) but never carrying it.
   *
   * @param auth - the identity of the refused token
   * @param reason - why, e.g. `bad_target`, `unbound` or `not_owner`
   * @param ip - the client address, when known
   */
  reportBindingDenied(auth: Readonly<AuthInfo>, reason: string, ip?: string): void {
    this.#ctx.emit({
      type: 'binding_denied',
      jti: auth.jti,
      clientId: auth.clientId,
      subject: auth.subject,
      boundEntity: auth.boundEntity,
      ...(ip ? { ip } : {}),
      reason,
    });
  }

  /**
   * Closes the token store: it releases the timers and connections it owns itself, never an
   * injected client (a Redis connection passed to `RedisTokenStore` stays the application's to close).
   */
  close(): Promise<void> {
    return this.#ctx.store.close();
  }

  /**
   * Runs a store call; any failure becomes 503 `service_unavailable` (fail closed). For the kit's
   * own services (credentials, grants).
   * @internal
   */
  guard<T>(call: () => Promise<T>): Promise<T> {
    return this.#ctx.guard(call);
  }

  /** Registers another opaque access-token prefix (e.g. a router's `vit_at_`). */
  registerAccessTokenPrefix(prefix: string): void {
    this.#ctx.opaquePrefixes.register(prefix);
  }

  /** Issues a JWT (RFC 9068) or opaque access token. Opaque tokens are stored (hashed) before they are returned. */
  issueAccessToken(input: Readonly<IssueAccessTokenInput>): Promise<IssuedAccessToken> {
    return issueAccessToken(this.#ctx, input);
  }

  /**
   * Signs an OpenID-style ID token (typ `JWT`, `aud` = client id, no `client_id` claim), which
   * access-token verification always rejects.
   */
  signIdToken(subject: string, clientId: string, ttl = this.accessTokenTtl): string {
    return signIdToken(this.#ctx, subject, clientId, ttl);
  }

  /**
   * {@link TokenService.signIdToken}, also when the signing key is held by an external signer
   * (`Signer`: KMS, HSM), which signs asynchronously; `signIdToken` throws a TypeError then.
   */
  signIdTokenAsync(subject: string, clientId: string, ttl = this.accessTokenTtl): Promise<string> {
    return signIdTokenAsync(this.#ctx, subject, clientId, ttl);
  }

  /**
   * Verifies an access token (JWT or opaque) including revocation: one store round trip at most.
   * Throws `TokenError` `invalid_token`, `expired_token` or `service_unavailable`.
   */
  verifyAccessToken(
    token: string,
    options: Readonly<VerifyAccessTokenOptions> = DEFAULT_VERIFY_OPTIONS,
  ): Promise<AuthInfo> {
    return verifyAccessToken(this.#ctx, this.#caches, token, options);
  }

  /**
   * The synchronous fast path of {@link verifyAccessToken}: the identity of a token verified before,
   * when its verification is remembered (same options object, same key set, not expired) and a live
   * revocation view knows it is not revoked. Anything else — unknown, expired, revoked, no live view
   * — answers undefined, and the caller must use {@link verifyAccessToken}, which decides and
   * explains. Never throws.
   * @internal
   */
  verifyRemembered(
    token: string,
    options: Readonly<VerifyAccessTokenOptions> = DEFAULT_VERIFY_OPTIONS,
  ): AuthInfo | undefined {
    return verifyRemembered(this.#ctx, this.#caches, token, options);
  }

  /**
   * {@link verifyAccessToken} without a promise where nothing needs waiting for (a synced
   * revocation replica answers revocation; the token is a JWT, or an opaque token remembered): the
   * identity, or the same `TokenError` {@link verifyAccessToken} would reject with, thrown. Undefined
   * when only {@link verifyAccessToken} can answer; the caller then uses it.
   * @internal
   */
  verifyNow(
    token: string,
    options: Readonly<VerifyAccessTokenOptions> = DEFAULT_VERIFY_OPTIONS,
  ): AuthInfo | undefined {
    return verifyNow(this.#ctx, this.#caches, token, options);
  }

  /**
   * Tells every instance's revocation view that something changed (a revocation, a credential);
   * a failure to announce fails the change's request with 503. A no-op without a view.
   */
  announce(notice: RevocationNotice): Promise<void> {
    return this.#ctx.announce(notice);
  }

  /**
   * The revocation view's generation while the view is live, else undefined. Answers remembered
   * under one generation are valid only while it lasts: any announcement, anywhere, ends it.
   */
  cacheGeneration(): number | undefined {
    const view = this.#ctx.view;
    return view !== undefined && view.ready ? view.generation : undefined;
  }

  /**
   * The kit's DPoP settings (option `dpop`): the accepted proof algorithms, whether proofs must
   * carry a server nonce, and whether confidential clients' refresh tokens are bound too.
   * @see RFC 9449
   */
  get dpop(): {
    readonly enabled: boolean;
    readonly algorithms: readonly string[];
    readonly requireNonce: boolean;
    readonly bindConfidentialRefreshTokens: boolean;
  } {
    const { enabled, algorithms, requireNonce, bindConfidentialRefreshTokens } = this.#dpop;
    return { enabled, algorithms, requireNonce, bindConfidentialRefreshTokens };
  }

  /** The current DPoP nonce (RFC 9449 §8), when the kit requires nonces; else undefined. */
  dpopNonce(): string | undefined {
    return this.#dpop.nonce();
  }

  /**
   * Verifies a request's DPoP proof (RFC 9449 §4.3): exactly one proof, its signature with the
   * embedded public key, `typ`, `htm`, `htu`, `iat`, `ath` and the token's `jkt` when given, the
   * nonce when required — then marks its `jti` used in the store, on every instance. Throws
   * `invalid_dpop_proof`, `use_dpop_nonce` (with `DPoP-Nonce`) or `service_unavailable`.
   */
  verifyDpopProof(input: Readonly<DpopProofInput>): Promise<VerifiedDpopProof> {
    return this.#dpop.verify(input);
  }

  /** Starts a refresh-token family and returns its first refresh token. */
  startRefreshFamily(input: Readonly<StartRefreshFamilyInput>): Promise<IssuedRefreshToken> {
    return startRefreshFamily(this.#ctx, input);
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
  refresh(refreshToken: string, input: Readonly<RefreshInput> = {}): Promise<IssuedRefreshToken> {
    return refresh(this.#ctx, refreshToken, input);
  }

  /**
   * Identifies a token (access JWT, opaque access token or refresh token) without throwing on
   * invalid ones: garbage, foreign and unknown tokens are `unknown`. Expired or revoked known tokens
   * are reported with `active: false`. Store failures still throw `service_unavailable`.
   */
  inspect(token: unknown): Promise<InspectedToken> {
    return inspect(this.#ctx, this.#caches, token);
  }

  /**
   * Revokes any token: an access token by its `jti`, a refresh token by its whole family.
   * When `owner` is given — a client id, or a {@link TokenOwnerCheck} (e.g. "any client id this
   * application has held") — tokens it does not own are left alone (RFC 7009 §2.1) and `false` is
   * returned. Unknown tokens resolve `false` and write nothing.
   */
  revokeToken(token: unknown, owner?: string | TokenOwnerCheck): Promise<boolean> {
    return revokeToken(this.#ctx, this.#caches, token, owner);
  }

  /** Puts a `jti` on the denylist until the token's expiry (plus tolerance). */
  revokeJti(jti: string, expiresAt: number): Promise<void> {
    return revokeJti(this.#ctx, jti, expiresAt);
  }

  /** Revokes a refresh family: its refresh tokens and every access token issued from it. */
  revokeFamily(familyId: string): Promise<void> {
    return revokeFamily(this.#ctx, familyId);
  }

  /**
   * Revokes every token of a subject issued up to now ("log out everywhere"), to the millisecond: a
   * token issued after it (even in the same second) works.
   */
  revokeSubject(subject: string): Promise<void> {
    return revokeSubject(this.#ctx, subject);
  }

  /** Revokes every token of a client issued up to now, to the millisecond (see {@link revokeSubject}). */
  revokeClient(clientId: string): Promise<void> {
    return revokeClient(this.#ctx, clientId);
  }
}
