/**
 * The token core: issue, verify, refresh and revoke access and refresh tokens. No Express here.
 */
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import { StoreUnavailableError, TokenError } from '../errors';
import type { KeySet } from '../keys/key-set';
import type {
  AccessTokenRecord,
  RefreshFamily,
  RefreshTokenProof,
  RevocationQuery,
  RevocationState,
  TokenStore,
} from '../stores/token-store';
import { MAX_REFRESH_GRACE_SECONDS } from '../stores/token-store';
import type { AccessTokenFormat, AuthInfo, BoundEntity } from '../types';
import {
  DEFAULT_ACCESS_TOKEN_PREFIX,
  DEFAULT_ACCESS_TOKEN_TTL,
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_EXPIRED_RECORD_RETENTION,
  DEFAULT_REFRESH_ABSOLUTE_TTL,
  DEFAULT_REFRESH_IDLE_TTL,
  DEFAULT_REFRESH_TOKEN_PREFIX,
  DEFAULT_RETRY_AFTER,
  MAX_ACCESS_TOKEN_LIFETIME,
  MAX_CLOCK_TOLERANCE,
  MAX_TOKEN_LENGTH,
} from '../defaults';
import { signJwt, verifyJwt } from './jwt';
import type { TokenEvent, TokenEventListener } from './events';
import {
  assertTokenPrefix,
  formatOpaqueToken,
  ID_LENGTH,
  parseOpaqueToken,
  randomBase62,
  SECRET_LENGTH,
  SecretHasher,
} from './opaque-token';
import { assertIssueInputFields, customAccessTokenClaims, deepFreeze } from './access-token-claims';
import { toBindingProfile, type BindingProfile, type BindingProfileOptions } from './binding';
import {
  formatRefreshToken,
  newFamilyProof,
  parseRefreshToken,
  type RefreshTokenParts,
} from './refresh-token';
import { IssuanceClock, issuedAtMsOf, uuidV7 } from './issuance';
import { BoundedCache } from './bounded-cache';
import type { RevocationNotice, RevocationView } from './revocation-view';

/** Options of {@link TokenService}. */
export interface TokenServiceOptions {
  /** Where revocations, opaque tokens and refresh families live. */
  readonly store: TokenStore;
  /** Signing and verification keys. */
  readonly keys: KeySet;
  /** Default issuer (`iss`) of issued tokens, e.g. `https://auth.example.com`. */
  readonly issuer: string;
  /** Default audience of issued tokens and the audiences verification accepts; @default the issuer. */
  readonly audience?: string | readonly string[];
  /** Other issuers whose tokens (signed by these keys) verification accepts, e.g. provider domains. */
  readonly trustedIssuers?: readonly string[];
  /** Default access-token lifetime in seconds; @default 3600. */
  readonly accessTokenTtl?: number;
  /** Longest `exp - iat` accepted when verifying, in seconds; @default 172800. */
  readonly maxTokenLifetime?: number;
  /** Prefix of opaque access tokens; @default `etk_at_`. */
  readonly accessTokenPrefix?: string;
  /** Prefix of refresh tokens; @default `etk_rt_`. */
  readonly refreshTokenPrefix?: string;
  /** Clock tolerance for `exp`/`nbf`/`iat` in seconds (0–60); @default 0. */
  readonly clockTolerance?: number;
  /** Absolute lifetime of a refresh family in seconds; @default 30 days. */
  readonly refreshAbsoluteTtl?: number;
  /** Idle lifetime of a refresh family in seconds; @default 7 days. */
  readonly refreshIdleTtl?: number;
  /**
   * Refresh grace window in seconds (0–60; 0 = off): a client whose refresh reply was lost may
   * present the immediately previous refresh token again while its successor is unused; the unused
   * successor is replaced, never kept alongside. See docs/operations.md. @default 0
   */
  readonly refreshGraceSeconds?: number;
  /** How long an expired opaque token's record is kept to answer `expired_token`, seconds; @default 3600. */
  readonly expiredRecordRetention?: number;
  /** Server-side pepper (>= 32 bytes) for hashing tokens and secrets with HMAC-SHA-256; @default plain SHA-256. */
  readonly pepper?: KeyObject | Buffer | string;
  /** Audit-event listener. */
  readonly onEvent?: TokenEventListener;
  /** Bound-entity types (`createBindingProfile`); @default employer (`empr_`) / employee (`empl_`). */
  readonly binding?: BindingProfile | BindingProfileOptions;
  /**
   * A revocation view (e.g. `RedisRevocationView`) that remembers revocation answers and is cleared
   * by announcements, so repeat checks need no store round trip. @default none: one round trip per check.
   */
  readonly revocationView?: RevocationView;
  /** Most verified JWTs (and opaque records) remembered to skip signature checks on repeats; 0 disables; @default 10000. */
  readonly verifiedCacheSize?: number;
  /** Clock in milliseconds; @default `Date.now`. */
  readonly now?: () => number;
}

/** Input of {@link TokenService.issueAccessToken}. */
export interface IssueAccessTokenInput {
  readonly subject: string;
  readonly clientId: string;
  /** @default `jwt` */
  readonly format?: AccessTokenFormat;
  /** @default the service's audience. */
  readonly audience?: string | readonly string[];
  /** Emit `aud` as an array even with one member. @default false */
  readonly audienceAsArray?: boolean;
  /** @default the service's issuer. */
  readonly issuer?: string;
  /** Space-separated scopes. */
  readonly scope?: string;
  readonly boundEntity?: BoundEntity | null;
  /** Lifetime in seconds; @default the service's accessTokenTtl. */
  readonly ttl?: number;
  /** JWT header `typ`; @default `at+jwt`. */
  readonly typ?: 'at+jwt' | 'JWT';
  /** Opaque token prefix; @default the service's accessTokenPrefix. */
  readonly prefix?: string;
  /** The refresh family this token comes from. */
  readonly familyId?: string;
  /**
   * Extra JWT claims (JSON values), added to the payload and so to `AuthInfo.claims`. Reserved
   * claims (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`, `cnf`, `client_id`, `scope`,
   * `bound_entity`, `sid`, `typ`) are refused, and so are claims on an opaque token. @default none
   */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Every field of {@link IssueAccessTokenInput}: any other is refused, so a typo is never dropped. */
const ISSUE_ACCESS_TOKEN_FIELDS = {
  subject: true,
  clientId: true,
  format: true,
  audience: true,
  audienceAsArray: true,
  issuer: true,
  scope: true,
  boundEntity: true,
  ttl: true,
  typ: true,
  prefix: true,
  familyId: true,
  claims: true,
} as const satisfies Record<keyof IssueAccessTokenInput, true>;

/** An issued access token. */
export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly format: AccessTokenFormat;
  /** Lifetime in seconds. */
  readonly expiresIn: number;
  /** Expiry, seconds since the epoch. */
  readonly expiresAt: number;
  readonly issuedAt: number;
}

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

/** A new refresh token and its family. */
export interface IssuedRefreshToken {
  readonly refreshToken: string;
  readonly family: RefreshFamily;
}

/** Input of {@link TokenService.startRefreshFamily}. */
export interface StartRefreshFamilyInput {
  readonly subject: string;
  readonly clientId: string;
  readonly scope?: string;
  readonly boundEntity?: BoundEntity | null;
  readonly data?: Readonly<Record<string, unknown>>;
  /** The stable id of the application the family is issued to (kept across credential rotations). */
  readonly applicationId?: string;
}

/** Input of {@link TokenService.refresh}. */
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

/**
 * Who a token belongs to, as {@link TokenService.revokeToken} shows it to an owner check: the
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

/** One shared default, so the verified-token cache recognises calls without options. */
const DEFAULT_VERIFY_OPTIONS: Readonly<VerifyAccessTokenOptions> = Object.freeze({});
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function toKeyObject(value: KeyObject | Buffer | string, option: string): KeyObject {
  const key =
    typeof value === 'object' && 'type' in value && !Buffer.isBuffer(value)
      ? value
      : createSecretKey(Buffer.from(value));
  if (key.type !== 'secret' || (key.symmetricKeySize ?? 0) < 32) {
    throw new RangeError(`${option} must be a secret of at least 32 bytes`);
  }
  return key;
}

function positiveInt(
  value: number | undefined,
  fallback: number,
  option: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0 || v > max) {
    throw new RangeError(
      `${option} must be a whole number of seconds from 1 to ${max}, got ${String(value)}`,
    );
  }
  return v;
}

function audienceArray(
  aud: string | readonly string[] | undefined,
  fallback: readonly string[],
): readonly string[] {
  if (aud === undefined) return fallback;
  const list = typeof aud === 'string' ? [aud] : [...aud];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new TypeError(`audience must be a non-empty string or array of strings`);
  }
  return list;
}

/** Turns any store failure into a 503 `service_unavailable`; fail closed. */
export function storeUnavailable(cause: unknown): TokenError {
  return new TokenError('service_unavailable', undefined, {
    headers: { 'Retry-After': String(DEFAULT_RETRY_AFTER) },
    cause,
  });
}

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
  readonly #onEvent: TokenEventListener | undefined;
  readonly #now: () => number;
  /** Issuance and cut-off instants in ms, ordered on this instance (see {@link IssuanceClock}). */
  readonly #issuance: IssuanceClock;
  readonly #opaquePrefixes = new Set<string>();
  readonly #view: RevocationView | undefined;
  readonly #verified: BoundedCache<string, VerifiedEntry> | undefined;
  readonly #records: BoundedCache<string, OpaqueEntry> | undefined;

  constructor(options: Readonly<TokenServiceOptions>) {
    if (!options || typeof options !== 'object') throw new TypeError('TokenService options are required');
    const { store, keys, issuer } = options;
    if (!store || typeof store.checkRevocation !== 'function')
      throw new TypeError('store must implement TokenStore');
    if (!keys || typeof keys.signingKey !== 'function') throw new TypeError('keys must be a KeySet');
    if (typeof issuer !== 'string' || issuer.length === 0)
      throw new TypeError('issuer must be a non-empty string');
    this.store = store;
    this.keys = keys;
    this.issuer = issuer;
    this.binding = toBindingProfile(options.binding);
    this.audiences = audienceArray(options.audience, [issuer]);
    this.issuers = [issuer, ...(options.trustedIssuers ?? [])];
    this.maxTokenLifetime = positiveInt(
      options.maxTokenLifetime,
      MAX_ACCESS_TOKEN_LIFETIME,
      'maxTokenLifetime',
    );
    this.accessTokenTtl = positiveInt(
      options.accessTokenTtl,
      DEFAULT_ACCESS_TOKEN_TTL,
      'accessTokenTtl',
      this.maxTokenLifetime,
    );
    this.accessTokenPrefix = options.accessTokenPrefix ?? DEFAULT_ACCESS_TOKEN_PREFIX;
    this.refreshTokenPrefix = options.refreshTokenPrefix ?? DEFAULT_REFRESH_TOKEN_PREFIX;
    assertTokenPrefix(this.accessTokenPrefix, 'accessTokenPrefix');
    assertTokenPrefix(this.refreshTokenPrefix, 'refreshTokenPrefix');
    if (this.accessTokenPrefix === this.refreshTokenPrefix) {
      throw new TypeError('accessTokenPrefix and refreshTokenPrefix must differ');
    }
    this.#opaquePrefixes.add(this.accessTokenPrefix);
    const tolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE;
    if (!Number.isSafeInteger(tolerance) || tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE) {
      throw new RangeError(
        `clockTolerance must be a whole number of seconds from 0 to ${MAX_CLOCK_TOLERANCE}`,
      );
    }
    this.clockTolerance = tolerance;
    this.refreshAbsoluteTtl = positiveInt(
      options.refreshAbsoluteTtl,
      DEFAULT_REFRESH_ABSOLUTE_TTL,
      'refreshAbsoluteTtl',
    );
    this.refreshIdleTtl = positiveInt(options.refreshIdleTtl, DEFAULT_REFRESH_IDLE_TTL, 'refreshIdleTtl');
    const grace = options.refreshGraceSeconds ?? 0;
    if (!Number.isSafeInteger(grace) || grace < 0 || grace > MAX_REFRESH_GRACE_SECONDS) {
      throw new RangeError(
        `refreshGraceSeconds must be a whole number of seconds from 0 to ${MAX_REFRESH_GRACE_SECONDS}, got ${String(grace)}`,
      );
    }
    this.refreshGraceSeconds = grace;
    this.expiredRecordRetention = positiveInt(
      options.expiredRecordRetention,
      DEFAULT_EXPIRED_RECORD_RETENTION,
      'expiredRecordRetention',
    );
    this.hasher = new SecretHasher(
      options.pepper === undefined ? undefined : toKeyObject(options.pepper, 'pepper'),
    );
    this.#onEvent = options.onEvent;
    this.#now = options.now ?? Date.now;
    this.#issuance = new IssuanceClock(this.#now);
    this.#view = options.revocationView;
    const cacheSize = options.verifiedCacheSize ?? 10_000;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0)
      throw new RangeError('verifiedCacheSize must be a whole number');
    this.#verified = cacheSize > 0 ? new BoundedCache(cacheSize) : undefined;
    this.#records = cacheSize > 0 && this.#view ? new BoundedCache(cacheSize) : undefined;
  }

  /** Now, in whole seconds since the epoch. */
  now(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Emits an audit event; listener failures never affect the request. */
  emit(event: Omit<TokenEvent, 'at'>): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent({ at: this.now(), ...event });
    } catch {
      // an audit sink must not break authentication
    }
  }

  /** Runs a store call; any failure becomes 503 `service_unavailable` (fail closed). */
  async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof TokenError) throw err;
      this.emit({
        type: 'store_unavailable',
        reason: err instanceof StoreUnavailableError ? 'store' : 'error',
      });
      throw storeUnavailable(err);
    }
  }

  /** Registers another opaque access-token prefix (e.g. a router's `vit_at_`). */
  registerAccessTokenPrefix(prefix: string): void {
    assertTokenPrefix(prefix, 'prefix');
    if (prefix === this.refreshTokenPrefix)
      throw new TypeError('an access-token prefix must differ from the refresh-token prefix');
    this.#opaquePrefixes.add(prefix);
  }

  /** Issues a JWT (RFC 9068) or opaque access token. Opaque tokens are stored (hashed) before they are returned. */
  async issueAccessToken(input: Readonly<IssueAccessTokenInput>): Promise<IssuedAccessToken> {
    assertIssueInputFields(input, ISSUE_ACCESS_TOKEN_FIELDS);
    const custom = customAccessTokenClaims(input.claims, input.format);
    const ttl = positiveInt(input.ttl, this.accessTokenTtl, 'ttl', this.maxTokenLifetime);
    const boundEntity = input.boundEntity ?? null;
    if (boundEntity !== null) this.binding.assertBoundEntity(boundEntity);
    // The jti carries the issuance instant in ms (UUIDv7), ordering the token against cut-offs
    // set in the same second; iat is that instant's second.
    const issuedMs = this.#issuance.issue();
    const iat = Math.floor(issuedMs / 1000);
    const exp = iat + ttl;
    const jti = uuidV7(issuedMs);
    const iss = input.issuer ?? this.issuer;
    const aud = audienceArray(input.audience, this.audiences);
    const scope = input.scope ?? '';
    if (input.format === 'opaque') {
      const prefix = input.prefix ?? this.accessTokenPrefix;
      if (!this.#opaquePrefixes.has(prefix)) this.registerAccessTokenPrefix(prefix);
      const token = formatOpaqueToken(prefix, randomBase62(SECRET_LENGTH));
      const record: AccessTokenRecord = {
        jti,
        sub: input.subject,
        clientId: input.clientId,
        iss,
        aud: [...aud],
        scope,
        boundEntity,
        iat,
        exp,
        ...(input.familyId === undefined ? {} : { familyId: input.familyId }),
      };
      await this.guard(() =>
        this.store.saveAccessToken(this.hasher.hash(token), record, ttl + this.expiredRecordRetention),
      );
      return this.#issued(input, {
        token,
        jti,
        format: 'opaque',
        expiresIn: ttl,
        expiresAt: exp,
        issuedAt: iat,
      });
    }
    const claims: Record<string, unknown> = {
      ...custom,
      iss,
      sub: input.subject,
      aud: aud.length === 1 && !input.audienceAsArray ? aud[0] : [...aud],
      exp,
      iat,
      jti,
      client_id: input.clientId,
    };
    if (scope) claims.scope = scope;
    if (boundEntity) claims.bound_entity = { id: boundEntity.id, type: boundEntity.type };
    if (input.familyId !== undefined) claims.sid = input.familyId;
    const token = signJwt(this.keys, claims, { typ: input.typ ?? 'at+jwt' });
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new RangeError(
        `issueAccessToken: the token is ${token.length} characters, more than the ${MAX_TOKEN_LENGTH} verifiers accept; send fewer claims`,
      );
    }
    return this.#issued(input, { token, jti, format: 'jwt', expiresIn: ttl, expiresAt: exp, issuedAt: iat });
  }

  /** Emits the `issued` audit event (ids only) and returns the issued token. */
  #issued(input: Readonly<IssueAccessTokenInput>, issued: IssuedAccessToken): IssuedAccessToken {
    this.emit({
      type: 'issued',
      jti: issued.jti,
      clientId: input.clientId,
      subject: input.subject,
      boundEntity: input.boundEntity ?? null,
      familyId: input.familyId,
    });
    return issued;
  }

  /**
   * Signs an OpenID-style ID token (typ `JWT`, `aud` = client id, no `client_id` claim), which
   * access-token verification always rejects.
   */
  signIdToken(subject: string, clientId: string, ttl = this.accessTokenTtl): string {
    const iat = this.now();
    return signJwt(
      this.keys,
      { iss: this.issuer, sub: subject, aud: clientId, iat, exp: iat + ttl, jti: randomUUID() },
      { typ: 'JWT' },
    );
  }

  /** True when `token` has the shape of one of our opaque access tokens (checksum included). */
  #opaquePrefixOf(token: string): string | undefined {
    for (const prefix of this.#opaquePrefixes) if (token.startsWith(prefix)) return prefix;
    return undefined;
  }

  /**
   * Verifies an access token (JWT or opaque) including revocation: one store round trip at most.
   * Throws `TokenError` `invalid_token`, `expired_token` or `service_unavailable`.
   */
  async verifyAccessToken(
    token: string,
    options: Readonly<VerifyAccessTokenOptions> = DEFAULT_VERIFY_OPTIONS,
  ): Promise<AuthInfo> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new TokenError('invalid_token');
    }
    const prefix = this.#opaquePrefixOf(token);
    if (prefix !== undefined) return this.#verifyOpaque(token, prefix, options);
    if (!JWT_SHAPE.test(token)) throw new TokenError('invalid_token');
    const now = this.now();
    const { auth, query } = this.#verifyJwtCached(token, options, now);
    const state = await this.#revocationState(query, auth.expiresAt);
    if (isRevoked(state, issuedAtMsOf(auth.jti, auth.issuedAt)))
      throw new TokenError('invalid_token', 'Access token revoked');
    return auth;
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
    const view = this.#view;
    if (view === undefined || !view.ready || options.ignoreExpiration) return undefined;
    const nowMs = this.#now();
    let auth: AuthInfo | undefined;
    let query: RevocationQuery;
    const jwt = this.#rememberedJwt(token, options, nowMs);
    if (jwt !== undefined) {
      ({ auth, query } = jwt);
    } else {
      const opaque = this.#records?.get(token, nowMs);
      if (opaque === undefined || opaque.options !== options) return undefined;
      if (this.#opaqueExpired(opaque.record, Math.floor(nowMs / 1000))) return undefined;
      ({ auth, query } = opaque);
      if (auth === undefined) return undefined;
    }
    const state = view.lookup(query.jti, nowMs);
    return state === undefined || isRevoked(state, issuedAtMsOf(auth.jti, auth.issuedAt)) ? undefined : auth;
  }

  /** The remembered verification of `token` for these options and this key set, unless it expired. */
  #rememberedJwt(
    token: string,
    options: Readonly<VerifyAccessTokenOptions>,
    nowMs: number,
  ): VerifiedEntry | undefined {
    if (options.ignoreExpiration) return undefined;
    const hit = this.#verified?.get(token, nowMs);
    return hit !== undefined && hit.options === options && hit.keys === this.keys.version ? hit : undefined;
  }

  /** True once an opaque token's record is past `exp` and the clock tolerance. */
  #opaqueExpired(record: AccessTokenRecord, nowSeconds: number): boolean {
    return nowSeconds >= record.exp + this.clockTolerance;
  }

  /**
   * Signature and claims, remembered per exact token string (and options object, and key-set
   * version) until `exp`, so repeats skip the signature. Expired tokens are always re-verified.
   * The remembered {@link AuthInfo} is deeply frozen: no request can change what the next one sees.
   */
  #verifyJwtCached(token: string, options: Readonly<VerifyAccessTokenOptions>, now: number): VerifiedEntry {
    const hit = this.#rememberedJwt(token, options, now * 1000);
    if (hit !== undefined) return hit;
    const cache = options.ignoreExpiration ? undefined : this.#verified;
    const { claims } = verifyJwt(this.keys, token, {
      issuers: options.issuers ?? this.issuers,
      audiences: options.audiences ?? this.audiences,
      typ: options.typ ?? ['at+jwt'],
      clockToleranceSeconds: this.clockTolerance,
      maxLifetimeSeconds: this.maxTokenLifetime,
      now,
      ignoreExpiration: options.ignoreExpiration ?? false,
      binding: this.binding,
    });
    const auth = freezeAuth(authFromClaims(claims));
    const entry: VerifiedEntry = {
      auth,
      query: revocationQuery(auth.jti, auth.subject, auth.clientId, auth.familyId),
      options,
      keys: this.keys.version,
    };
    cache?.set(token, entry, (auth.expiresAt + this.clockTolerance) * 1000);
    return entry;
  }

  /** Revocation state: from the view when it is live, else one store round trip (remembered). */
  async #revocationState(query: RevocationQuery, expiresAt: number): Promise<RevocationState> {
    const view = this.#view;
    if (view === undefined || !view.ready) return this.guard(() => this.store.checkRevocation(query));
    const nowMs = this.#now();
    const known = view.lookup(query.jti, nowMs);
    if (known !== undefined) return known;
    const generation = view.generation;
    const state = await this.guard(() => this.store.checkRevocation(query));
    view.remember(query.jti, state, (expiresAt + this.clockTolerance) * 1000, generation);
    return state;
  }

  /**
   * Tells every instance's revocation view that something changed (a revocation, a credential);
   * a failure to announce fails the change's request with 503. A no-op without a view.
   */
  async announce(notice: RevocationNotice): Promise<void> {
    if (this.#view) await this.guard(() => this.#view!.announce(notice));
  }

  /**
   * The revocation view's generation while the view is live, else undefined. Answers remembered
   * under one generation are valid only while it lasts: any announcement, anywhere, ends it.
   */
  cacheGeneration(): number | undefined {
    const view = this.#view;
    return view !== undefined && view.ready ? view.generation : undefined;
  }

  async #verifyOpaque(
    token: string,
    prefix: string,
    options: Readonly<VerifyAccessTokenOptions>,
  ): Promise<AuthInfo> {
    const { entry, state } = await this.#lookupOpaque(token, prefix);
    if (entry === null) throw new TokenError('invalid_token');
    const { record } = entry;
    let auth = entry.options === options ? entry.auth : undefined;
    if (auth === undefined) {
      const issuers = options.issuers ?? this.issuers;
      const audiences = options.audiences ?? this.audiences;
      if (!issuers.includes(record.iss) || !record.aud.some((a) => audiences.includes(a))) {
        throw new TokenError('invalid_token');
      }
      auth = authFromRecord(record);
      // the last options object seen for the token: requireToken passes the same one every time
      entry.options = options;
      entry.auth = auth;
    }
    if (isRevoked(state, issuedAtMsOf(record.jti, record.iat)))
      throw new TokenError('invalid_token', 'Access token revoked');
    if (!options.ignoreExpiration && this.#opaqueExpired(record, this.now()))
      throw new TokenError('expired_token');
    return auth;
  }

  /**
   * An opaque token's record and revocation state. With a live revocation view, records (which never
   * change) are remembered per exact token string and the state comes from the view; otherwise the
   * token's shape and checksum are checked and the store asked, in one round trip.
   */
  async #lookupOpaque(
    token: string,
    prefix: string,
  ): Promise<{ entry: OpaqueEntry | null; state: RevocationState }> {
    const records = this.#records;
    const view = this.#view;
    if (records !== undefined && view?.ready) {
      const cached = records.get(token, this.#now());
      if (cached !== undefined) {
        const state = await this.#revocationState(cached.query, cached.record.exp);
        return { entry: cached, state };
      }
    }
    if (parseOpaqueToken(token, prefix, SECRET_LENGTH) === null) throw new TokenError('invalid_token');
    const generation = view?.generation;
    const found = await this.guard(() => this.store.lookupAccessToken(this.hasher.hash(token)));
    if (found.record === null) return { entry: null, state: found.state };
    const { record } = found;
    const entry: OpaqueEntry = {
      record,
      query: revocationQuery(record.jti, record.sub, record.clientId, record.familyId),
      options: undefined,
      auth: undefined,
    };
    if (records !== undefined && view !== undefined && generation !== undefined) {
      records.set(token, entry, record.exp * 1000);
      view.remember(record.jti, found.state, (record.exp + this.clockTolerance) * 1000, generation);
    }
    return { entry, state: found.state };
  }

  /** Starts a refresh-token family and returns its first refresh token. */
  async startRefreshFamily(input: Readonly<StartRefreshFamilyInput>): Promise<IssuedRefreshToken> {
    const createdAtMs = this.#issuance.issue();
    const now = Math.floor(createdAtMs / 1000);
    const familyId = randomBase62(ID_LENGTH);
    const proof = newFamilyProof();
    const refreshToken = formatRefreshToken(this.refreshTokenPrefix, familyId, 1, proof);
    const family: RefreshFamily = {
      familyId,
      sub: input.subject,
      clientId: input.clientId,
      scope: input.scope ?? '',
      boundEntity: input.boundEntity ?? null,
      createdAt: now,
      createdAtMs,
      expiresAt: now + this.refreshAbsoluteTtl,
      lastUsedAt: now,
      ...(input.data === undefined ? {} : { data: input.data }),
      ...(input.applicationId === undefined ? {} : { applicationId: input.applicationId }),
    };
    await this.guard(() =>
      this.store.createRefreshFamily(family, this.hasher.hash(refreshToken), this.hasher.hash(proof)),
    );
    return { refreshToken, family };
  }

  #parseRefreshToken(token: unknown): RefreshTokenParts | null {
    return parseRefreshToken(token, this.refreshTokenPrefix);
  }

  /**
   * The successor of a presented refresh token (next generation, same proof) and the proof the
   * store checks. A legacy token carries no proof: its successor gets a new one, which the family
   * adopts on rotation.
   */
  #successor(parts: RefreshTokenParts): { next: string; proof: RefreshTokenProof } {
    const proof = parts.proof ?? newFamilyProof();
    const next = formatRefreshToken(this.refreshTokenPrefix, parts.familyId, parts.generation + 1, proof);
    return { next, proof: { generation: parts.generation, proofHash: this.hasher.hash(proof) } };
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
  async refresh(refreshToken: string, input: Readonly<RefreshInput> = {}): Promise<IssuedRefreshToken> {
    const parts = this.#parseRefreshToken(refreshToken);
    if (parts === null) throw new TokenError('invalid_grant');
    const { familyId } = parts;
    const presentedHash = this.hasher.hash(refreshToken);
    const { next, proof } = this.#successor(parts);
    // An authentic rotated-out token is found through its proof, so that reuse still reaches the
    // rotation (and revokes the family) once every check has passed.
    const presentedProof = parts.proof === null ? undefined : proof;
    const found = await this.guard(() =>
      this.store.inspectRefreshToken(familyId, presentedHash, this.now(), presentedProof),
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
    const result = await this.guard(() =>
      this.store.rotateRefreshToken({
        familyId,
        presentedHash,
        nextHash: this.hasher.hash(next),
        proof,
        now: this.now(),
        idleSeconds: this.refreshIdleTtl,
        expectedClientId: read.clientId,
        expectedSubject: read.sub,
        ...(this.refreshGraceSeconds > 0 ? { graceSeconds: this.refreshGraceSeconds } : {}),
      }),
    );
    switch (result.status) {
      case 'rotated':
        this.emit({
          type: 'refreshed',
          familyId,
          clientId: result.family.clientId,
          subject: result.family.sub,
        });
        return { refreshToken: next, family: result.family };
      case 'reused':
        // The store revoked the family atomically; extend the marker so it outlives every access
        // token the family issued, even one minted just before its absolute expiry.
        await this.guard(() => this.store.revokeFamily(familyId, this.#cutoffTtl()));
        await this.announce({ kind: 'family', id: familyId });
        this.emit({
          type: 'refresh_reuse_detected',
          familyId,
          clientId: result.family.clientId,
          subject: result.family.sub,
          reason: 'reuse',
        });
        throw new TokenError('invalid_grant');
      case 'expired':
        // the store revoked the expired family; its access tokens must be refused everywhere
        await this.announce({ kind: 'family', id: familyId });
        throw new TokenError('invalid_grant', undefined, { cause: result.status });
      default:
        throw new TokenError('invalid_grant', undefined, { cause: result.status });
    }
  }

  /**
   * Identifies a token (access JWT, opaque access token or refresh token) without throwing on
   * invalid ones: garbage, foreign and unknown tokens are `unknown`. Expired or revoked known tokens
   * are reported with `active: false`. Store failures still throw `service_unavailable`.
   */
  async inspect(token: unknown): Promise<InspectedToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
      return { kind: 'unknown' };
    const rt = this.#parseRefreshToken(token);
    if (rt !== null) {
      const proof =
        rt.proof === null ? undefined : { generation: rt.generation, proofHash: this.hasher.hash(rt.proof) };
      const state = await this.guard(() =>
        this.store.inspectRefreshToken(rt.familyId, this.hasher.hash(token), this.now(), proof),
      );
      return state === null
        ? { kind: 'unknown' }
        : { kind: 'refresh', family: state.family, active: state.active };
    }
    try {
      const auth = await this.verifyAccessToken(token, { ignoreExpiration: true });
      return { kind: 'access', auth, active: this.now() < auth.expiresAt + this.clockTolerance };
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
  async revokeToken(token: unknown, owner?: string | TokenOwnerCheck): Promise<boolean> {
    const owns = async (candidate: TokenOwner): Promise<boolean> =>
      owner === undefined ||
      (typeof owner === 'string' ? candidate.clientId === owner : (await owner(candidate)) === true);
    const found = await this.inspect(token);
    if (found.kind === 'unknown') return false;
    if (found.kind === 'refresh') {
      const { family } = found;
      const candidate: TokenOwner =
        family.applicationId === undefined
          ? { clientId: family.clientId }
          : { clientId: family.clientId, applicationId: family.applicationId };
      if (!(await owns(candidate))) return false;
      await this.revokeFamily(family.familyId);
      return true;
    }
    if (!(await owns({ clientId: found.auth.clientId }))) return false;
    await this.revokeJti(found.auth.jti, found.auth.expiresAt);
    if (found.auth.familyId !== undefined) await this.revokeFamily(found.auth.familyId);
    return true;
  }

  /** Puts a `jti` on the denylist until the token's expiry (plus tolerance). */
  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    const ttl = Math.max(1, expiresAt - this.now() + this.clockTolerance + 1);
    await this.guard(() => this.store.revokeJti(jti, ttl));
    await this.announce({ kind: 'jti', id: jti });
    this.emit({ type: 'revoked', jti, reason: 'jti' });
  }

  /** Revokes a refresh family: its refresh tokens and every access token issued from it. */
  async revokeFamily(familyId: string): Promise<void> {
    await this.guard(() => this.store.revokeFamily(familyId, this.#cutoffTtl()));
    await this.announce({ kind: 'family', id: familyId });
    this.emit({ type: 'revoked', familyId, reason: 'family' });
  }

  /**
   * Revokes every token of a subject issued up to now ("log out everywhere"), to the millisecond: a
   * token issued after it (even in the same second) works.
   */
  async revokeSubject(subject: string): Promise<void> {
    const at = this.#issuance.cutoff();
    await this.guard(() => this.store.setCutoff('subject', subject, at, this.#cutoffTtl()));
    await this.announce({ kind: 'subject', id: subject });
    this.emit({ type: 'revoked', subject, reason: 'subject' });
  }

  /** Revokes every token of a client issued up to now, to the millisecond (see {@link revokeSubject}). */
  async revokeClient(clientId: string): Promise<void> {
    const at = this.#issuance.cutoff();
    await this.guard(() => this.store.setCutoff('client', clientId, at, this.#cutoffTtl()));
    await this.announce({ kind: 'client', id: clientId });
    this.emit({ type: 'revoked', clientId, reason: 'client' });
  }

  #cutoffTtl(): number {
    return Math.max(this.maxTokenLifetime, this.refreshAbsoluteTtl) + this.clockTolerance + 60;
  }
}

function splitScope(scope: unknown): string[] {
  return typeof scope === 'string' && scope.length > 0 ? scope.split(' ').filter(Boolean) : [];
}

/** A verified JWT, remembered until `exp`. */
interface VerifiedEntry {
  readonly auth: AuthInfo;
  readonly query: RevocationQuery;
  readonly options: object;
  readonly keys: number;
}

/** An opaque token's record, remembered while the revocation view lives; `auth` for the last options seen. */
interface OpaqueEntry {
  readonly record: AccessTokenRecord;
  readonly query: RevocationQuery;
  options: object | undefined;
  auth: AuthInfo | undefined;
}

/** Freezes an {@link AuthInfo} and everything it holds, so a remembered one can be handed out again. */
function freezeAuth(auth: AuthInfo): AuthInfo {
  Object.freeze(auth.scopes);
  Object.freeze(auth.audience);
  if (auth.boundEntity !== null) Object.freeze(auth.boundEntity);
  deepFreeze(auth.claims);
  return Object.freeze(auth);
}

function authFromRecord(record: AccessTokenRecord): AuthInfo {
  return freezeAuth({
    format: 'opaque',
    jti: record.jti,
    subject: record.sub,
    clientId: record.clientId,
    scopes: splitScope(record.scope),
    boundEntity: record.boundEntity === null ? null : { ...record.boundEntity },
    issuer: record.iss,
    audience: [...record.aud],
    issuedAt: record.iat,
    expiresAt: record.exp,
    ...(record.familyId === undefined ? {} : { familyId: record.familyId }),
    claims: Object.assign(Object.create(null) as Record<string, unknown>, {
      iss: record.iss,
      sub: record.sub,
      aud: [...record.aud],
      iat: record.iat,
      exp: record.exp,
      jti: record.jti,
      client_id: record.clientId,
      ...(record.scope ? { scope: record.scope } : {}),
      bound_entity: record.boundEntity === null ? null : { ...record.boundEntity },
    }),
  });
}

function revocationQuery(jti: string, subject: string, clientId: string, familyId?: string): RevocationQuery {
  return familyId === undefined ? { jti, subject, clientId } : { jti, subject, clientId, familyId };
}

/** Revoked by the state, for a token issued at `issuedMs` (a cut-off at that very instant covers it). */
function isRevoked(state: RevocationState, issuedMs: number): boolean {
  return (
    state.jtiRevoked ||
    state.familyRevoked ||
    (state.subjectCutoffMs !== null && issuedMs <= state.subjectCutoffMs) ||
    (state.clientCutoffMs !== null && issuedMs <= state.clientCutoffMs)
  );
}

function authFromClaims(claims: Readonly<Record<string, unknown>>): AuthInfo {
  const aud = claims.aud;
  const sid = claims.sid;
  return {
    format: 'jwt',
    jti: claims.jti as string,
    subject: claims.sub as string,
    clientId: claims.client_id as string,
    scopes: splitScope(claims.scope),
    boundEntity: (claims.bound_entity as BoundEntity | null | undefined) ?? null,
    issuer: claims.iss as string,
    audience: typeof aud === 'string' ? [aud] : (aud as string[]),
    issuedAt: claims.iat as number,
    expiresAt: claims.exp as number,
    ...(typeof sid === 'string' ? { familyId: sid } : {}),
    claims,
  };
}
