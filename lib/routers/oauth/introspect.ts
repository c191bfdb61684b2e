/**
 * `POST /oauth/introspect` (RFC 7662): the state of a token of the authenticated client, or of any
 * application's access token for a client with `introspection: 'any'` (a resource server).
 */
import type { Request, RequestHandler, Response } from 'express';
import type { ApplicationInfo } from '../../core/credentials';
import { introspectsAny } from '../../core/introspection-access';
import type { TokenKit } from '../../core/token-kit';
import { asyncHandler } from '../shared';
import { boundJkt } from '../../core/dpop/dpop-verifier';
import { readTokenRequest, type OAuthContext } from './context';

type Inspected = Awaited<ReturnType<TokenKit['tokens']['inspect']>>;

/** True when `found` is active and belongs to `client`'s application (rotations included). */
async function ownedActive(kit: TokenKit, client: ApplicationInfo, found: Inspected): Promise<boolean> {
  if (found.kind === 'access' && found.active)
    return kit.credentials.applicationOwns(client, { clientId: found.auth.clientId });
  if (found.kind === 'refresh' && found.active) {
    const { family } = found;
    return kit.credentials.applicationOwns(
      client,
      family.applicationId === undefined
        ? { clientId: family.clientId }
        : { clientId: family.clientId, applicationId: family.applicationId },
    );
  }
  return false;
}

/** The RFC 7662 §2.2 members of an active token. */
function activeResponse(kit: TokenKit, found: Inspected): Record<string, unknown> | null {
  if (found.kind === 'access' && found.active) {
    const { auth } = found;
    const jkt = boundJkt(auth.claims);
    return {
      active: true,
      ...(auth.scopes.length > 0 ? { scope: auth.scopes.join(' ') } : {}),
      client_id: auth.clientId,
      sub: auth.subject,
      exp: auth.expiresAt,
      iat: auth.issuedAt,
      iss: auth.issuer,
      aud: auth.audience.length === 1 ? auth.audience[0] : [...auth.audience],
      jti: auth.jti,
      // RFC 9449 §6.2: a DPoP-bound token's type and confirmation.
      token_type: jkt === undefined ? 'Bearer' : 'DPoP',
      ...(jkt === undefined ? {} : { cnf: { jkt } }),
      ...(auth.boundEntity === null ? {} : { bound_entity: auth.boundEntity }),
      // RFC 8693 §4.1: the delegation of an exchanged token.
      ...(auth.claims.act === undefined ? {} : { act: auth.claims.act }),
    };
  }
  if (found.kind === 'refresh' && found.active) {
    const { family } = found;
    return {
      active: true,
      ...(family.scope ? { scope: family.scope } : {}),
      client_id: family.clientId,
      sub: family.sub,
      exp: Math.min(family.expiresAt, family.lastUsedAt + kit.tokens.refreshIdleTtl),
      iat: family.createdAt,
      iss: kit.tokens.issuer,
      token_type: 'refresh_token',
      ...(family.jkt === undefined ? {} : { cnf: { jkt: family.jkt } }),
      ...(family.boundEntity === null ? {} : { bound_entity: family.boundEntity }),
    };
  }
  return null;
}

/** The introspection endpoint's handler. */
export function introspectEndpoint(context: OAuthContext): RequestHandler {
  const { kit } = context;
  return asyncHandler(async function oauthIntrospect(req: Request, res: Response) {
    const { client, token } = await readTokenRequest(context, req);
    const found = await kit.tokens.inspect(token);
    // RFC 7662 §2.2: inactive, unknown and other clients' tokens all get the same bare answer.
    // RFC 7662 §4: a resource server ('any') is told about every access token, never another
    // application's refresh tokens, which only their owner ever presents.
    const visible =
      (introspectsAny(client) && found.kind === 'access' && found.active) ||
      (await ownedActive(kit, client, found));
    const active = visible ? activeResponse(kit, found) : null;
    res.status(200).json(active ?? { active: false });
  });
}
