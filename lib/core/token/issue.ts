/**
 * Issuing access tokens: RFC 9068 JWTs (signed, never stored) and opaque tokens (stored hashed
 * before they are returned), and OpenID-style ID tokens.
 */
import { randomUUID } from 'node:crypto';
import { MAX_TOKEN_LENGTH } from '../../defaults';
import { TokenError } from '../../errors';
import type { AccessTokenRecord } from '../../stores/token-store';
import type { AccessTokenFormat, BoundEntity } from '../../types';
import { assertIssueInputFields, customAccessTokenClaims } from '../access-token-claims';
import { uuidV7 } from '../issuance';
import { signJwsCompact } from '../../keys/signer';
import { signJwt } from '../jwt';
import { formatOpaqueToken, randomBase62, SECRET_LENGTH } from '../opaque-token';
import { audienceArray, wholeSeconds } from '../../util/options';
import type { TokenContext } from './context';
import { assertJkt } from '../dpop/jwk';

/** Input of `TokenService.issueAccessToken`. */
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
   * `bound_entity`, `sid`, `typ`, `act`) are refused, and so are claims on an opaque token. @default none
   */
  readonly claims?: Readonly<Record<string, unknown>>;
  /**
   * The delegation of a token obtained by token exchange: the JWT's `act` claim, or the opaque
   * record's `act` (RFC 8693 §4.1). @default none
   */
  readonly act?: Readonly<ActorClaim>;
  /**
   * Latest expiry, seconds since the epoch: `exp` is at most this (a token exchanged from another
   * never outlives it, RFC 8693 §2.1). `invalid_request` when it is not after the issuance second.
   * @default none (only `ttl` decides)
   */
  readonly notAfter?: number;
  /**
   * Binds the token to a DPoP key: its RFC 7638 thumbprint, written as `cnf.jkt` (RFC 9449 §6).
   * @default unbound
   */
  readonly jkt?: string;
}

/** The `act` claim (RFC 8693 §4.1): the acting party's `sub`, and the prior actors, nested. */
export interface ActorClaim {
  readonly sub: string;
  readonly act?: ActorClaim;
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
  act: true,
  notAfter: true,
  jkt: true,
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
  /** The DPoP key the token is bound to (RFC 9449 §6), if any. */
  readonly jkt?: string;
}

/** Issues a JWT (RFC 9068) or opaque access token. Opaque tokens are stored (hashed) before they are returned. */
export async function issueAccessToken(
  ctx: TokenContext,
  input: Readonly<IssueAccessTokenInput>,
): Promise<IssuedAccessToken> {
  const { options } = ctx;
  assertIssueInputFields(input, ISSUE_ACCESS_TOKEN_FIELDS);
  const custom = customAccessTokenClaims(input.claims, input.format);
  const ttl = wholeSeconds(input.ttl, options.accessTokenTtl, 'ttl', 1, options.maxTokenLifetime);
  const boundEntity = input.boundEntity ?? null;
  if (boundEntity !== null) ctx.options.binding.assertBoundEntity(boundEntity);
  // The jti carries the issuance instant in ms (UUIDv7), ordering the token against cut-offs
  // set in the same second; iat is that instant's second.
  const issuedMs = ctx.issuance.issue();
  const iat = Math.floor(issuedMs / 1000);
  const notAfter = input.notAfter ?? Infinity;
  const exp = Math.min(iat + ttl, notAfter);
  if (!(exp > iat)) throw new TokenError('invalid_request', 'The token would expire at issuance');
  const jti = uuidV7(issuedMs);
  const iss = input.issuer ?? options.issuer;
  const aud = audienceArray(input.audience, options.audiences);
  const scope = input.scope ?? '';
  const jkt = input.jkt === undefined ? undefined : assertJkt(input.jkt);
  if (input.format === 'opaque') {
    const prefix = input.prefix ?? options.accessTokenPrefix;
    if (!ctx.opaquePrefixes.has(prefix)) ctx.opaquePrefixes.register(prefix);
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
      ...(input.act === undefined ? {} : { act: input.act }),
      ...(jkt === undefined ? {} : { jkt }),
    };
    await ctx.guard(() =>
      ctx.store.saveAccessToken(ctx.hasher.hash(token), record, ttl + options.expiredRecordRetention),
    );
    return issued(ctx, input, {
      token,
      jti,
      format: 'opaque',
      expiresIn: exp - iat,
      expiresAt: exp,
      issuedAt: iat,
      ...(jkt === undefined ? {} : { jkt }),
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
  if (input.act !== undefined) claims.act = input.act;
  if (jkt !== undefined) claims.cnf = { jkt };
  const typ = input.typ ?? 'at+jwt';
  // A key held by an external signer (KMS, HSM) signs asynchronously, and a KMS that cannot
  // answer is a 503 like a store outage (fail closed: no other key signs instead).
  const external = ctx.keys.externalSigner();
  const token =
    external === undefined
      ? signJwt(ctx.keys, claims, { typ })
      : await ctx.guard(() => signJwsCompact(external, claims, typ));
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new RangeError(
      `issueAccessToken: the token is ${token.length} characters, more than the ${MAX_TOKEN_LENGTH} verifiers accept; send fewer claims`,
    );
  }
  return issued(ctx, input, {
    token,
    jti,
    format: 'jwt',
    expiresIn: exp - iat,
    expiresAt: exp,
    issuedAt: iat,
    ...(jkt === undefined ? {} : { jkt }),
  });
}

/** Emits the `issued` audit event (ids only) and returns the issued token. */
function issued(
  ctx: TokenContext,
  input: Readonly<IssueAccessTokenInput>,
  token: IssuedAccessToken,
): IssuedAccessToken {
  ctx.emit({
    type: 'issued',
    jti: token.jti,
    clientId: input.clientId,
    subject: input.subject,
    boundEntity: input.boundEntity ?? null,
    familyId: input.familyId,
  });
  return token;
}

/**
 * Signs an OpenID-style ID token (typ `JWT`, `aud` = client id, no `client_id` claim), which
 * access-token verification always rejects.
 */
export function signIdToken(ctx: TokenContext, subject: string, clientId: string, ttl: number): string {
  return signJwt(ctx.keys, idTokenClaims(ctx, subject, clientId, ttl), { typ: 'JWT' });
}

/** {@link signIdToken}, also when the signing key is held by an external signer. */
export async function signIdTokenAsync(
  ctx: TokenContext,
  subject: string,
  clientId: string,
  ttl: number,
): Promise<string> {
  const external = ctx.keys.externalSigner();
  if (external === undefined) return signIdToken(ctx, subject, clientId, ttl);
  return ctx.guard(() => signJwsCompact(external, idTokenClaims(ctx, subject, clientId, ttl), 'JWT'));
}

function idTokenClaims(
  ctx: TokenContext,
  subject: string,
  clientId: string,
  ttl: number,
): Record<string, unknown> {
  const iat = ctx.now();
  return { iss: ctx.options.issuer, sub: subject, aud: clientId, iat, exp: iat + ttl, jti: randomUUID() };
}
