/**
 * Builds the {@link AuthInfo} of a verified token, deeply frozen so that a remembered one can be
 * handed to every later request unchanged.
 */
import type { AccessTokenRecord } from '../../stores/token-store';
import type { AuthInfo, BoundEntity } from '../../types';
import { deepFreeze } from '../access-token-claims';

/** The scopes of a space-separated `scope` claim (RFC 6749 §3.3); none when absent. */
export function splitScope(scope: unknown): string[] {
  if (typeof scope !== 'string' || scope.length === 0) return [];
  // the usual single-spaced list needs no filtering
  return scope.includes('  ') || scope.startsWith(' ') || scope.endsWith(' ')
    ? scope.split(' ').filter(Boolean)
    : scope.split(' ');
}

/** Freezes an {@link AuthInfo} and everything it holds, so a remembered one can be handed out again. */
export function freezeAuth(auth: AuthInfo): AuthInfo {
  Object.freeze(auth.scopes);
  Object.freeze(auth.audience);
  if (auth.boundEntity !== null) Object.freeze(auth.boundEntity);
  deepFreeze(auth.claims);
  return Object.freeze(auth);
}

/**
 * {@link freezeAuth} for the identity of a verified JWT, whose claims are a tree parsed from JSON
 * (no cycles, nothing shared): each nested object or array is frozen once, without the visited-set
 * bookkeeping a general graph needs.
 */
export function freezeJwtAuth(auth: AuthInfo): AuthInfo {
  Object.freeze(auth.scopes);
  Object.freeze(auth.audience);
  freezeJsonTree(auth.claims);
  return Object.freeze(auth);
}

function freezeJsonTree(value: object): void {
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const inner of value as unknown[])
      if (typeof inner === 'object' && inner !== null) freezeJsonTree(inner);
    return;
  }
  for (const name in value) {
    const inner = (value as Record<string, unknown>)[name];
    if (typeof inner === 'object' && inner !== null) freezeJsonTree(inner);
  }
}

/** The identity of an opaque access token, from its stored record (frozen). */
export function authFromRecord(record: AccessTokenRecord): AuthInfo {
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
      ...(record.act === undefined ? {} : { act: structuredClone(record.act) }),
      ...(record.jkt === undefined ? {} : { cnf: { jkt: record.jkt } }),
    }),
  });
}

/** The identity of a JWT access token, from its verified claims (not yet frozen). */
export function authFromClaims(claims: Readonly<Record<string, unknown>>): AuthInfo {
  const aud = claims.aud;
  const sid = claims.sid;
  const auth: AuthInfo = {
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
    claims,
  };
  if (typeof sid === 'string') (auth as { familyId?: string }).familyId = sid;
  return auth;
}
