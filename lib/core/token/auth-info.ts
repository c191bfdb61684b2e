/**
 * Builds the {@link AuthInfo} of a verified token, deeply frozen so that a remembered one can be
 * handed to every later request unchanged.
 */
import type { AccessTokenRecord } from '../../stores/token-store';
import type { AuthInfo, BoundEntity } from '../../types';
import { deepFreeze } from '../access-token-claims';

/** The scopes of a space-separated `scope` claim (RFC 6749 §3.3); none when absent. */
export function splitScope(scope: unknown): string[] {
  return typeof scope === 'string' && scope.length > 0 ? scope.split(' ').filter(Boolean) : [];
}

/** Freezes an {@link AuthInfo} and everything it holds, so a remembered one can be handed out again. */
export function freezeAuth(auth: AuthInfo): AuthInfo {
  Object.freeze(auth.scopes);
  Object.freeze(auth.audience);
  if (auth.boundEntity !== null) Object.freeze(auth.boundEntity);
  deepFreeze(auth.claims);
  return Object.freeze(auth);
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
