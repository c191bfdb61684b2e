/**
 * Token exchange (RFC 8693): an access token of this kit (the subject token) for a new access token
 * that can only be narrower — fewer scopes, a narrower audience, a binding equal to or below the
 * subject's, a lifetime that ends no later — and that records the delegation in `act` (RFC 8693
 * §4.1). The new token carries the subject's refresh family, or the family derived from the
 * subject's `jti` (`exchangeFamilyId`), so revoking the subject token, its family or its subject
 * revokes what was exchanged from it. See docs/token-exchange.md.
 */
import { assertDpopRequired } from './dpop-binding';
import { boundJkt } from '../dpop/dpop-verifier';
import { serviceUnavailable, TokenError } from '../../errors';
import type { AuthInfo, BoundEntity } from '../../types';
import type { ApplicationInfo } from '../credential-types';
import type { ActorClaim } from '../token/issue';
import { exchangeFamilyId } from '../token/revoke';
import { EXCHANGE_OPTIONS } from '../token/verify';
import { optionalFunction, optionConflict, objectOption } from '../../util/options';
import { assertGrantAllowed, type GrantContext } from './context';
import { issuanceClaims } from './claims';
import type { OAuthGrant, TokenEndpointRequest } from './oauth-grant';
import { parseScope } from './scope';
import type { GrantResult, TokenExchangeOptions } from './types';

/** The `grant_type` of token exchange (RFC 8693 §2.1). */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3 token type identifiers. */
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const REFUSED_TOKEN_TYPES: ReadonlySet<string> = new Set([
  'urn:ietf:params:oauth:token-type:refresh_token',
  'urn:ietf:params:oauth:token-type:id_token',
  'urn:ietf:params:oauth:token-type:saml1',
  'urn:ietf:params:oauth:token-type:saml2',
]);

/** Most levels of `act` a token carries: the newest actor and its prior actors (RFC 8693 §4.1). */
export const MAX_ACT_DEPTH = 4;

/** Longest `audience` value, in characters. */
const MAX_AUDIENCE_LENGTH = 2048;

/** Checks the kit's `tokenExchange` option once (a TypeError names the bad field). @internal */
export function resolveTokenExchange(
  option: Readonly<TokenExchangeOptions> | undefined,
): GrantContext['exchange'] {
  if (option === undefined) return Object.freeze({});
  const value = objectOption(option, 'tokenExchange');
  const known = new Set(['employerOf', 'belongsTo', 'authorizeBinding', 'mayExchange']);
  for (const key of Object.keys(value)) {
    if (!known.has(key))
      throw new TypeError(`tokenExchange.${key} is not an option (${[...known].join(', ')})`);
  }
  const employerOf = optionalFunction(value.employerOf, 'tokenExchange.employerOf');
  const belongsTo = optionalFunction(value.belongsTo, 'tokenExchange.belongsTo');
  if (employerOf !== undefined && belongsTo !== undefined)
    throw optionConflict('tokenExchange takes employerOf or belongsTo, not both');
  const authorizeBinding = optionalFunction(value.authorizeBinding, 'tokenExchange.authorizeBinding');
  const mayExchange = optionalFunction(value.mayExchange, 'tokenExchange.mayExchange');
  const resolver: TokenExchangeOptions['belongsTo'] =
    belongsTo ?? (employerOf && ((ancestorId, targetId) => employerOf(ancestorId, targetId)));
  return Object.freeze({
    ...(resolver === undefined ? {} : { belongsTo: resolver }),
    ...(authorizeBinding === undefined ? {} : { authorizeBinding }),
    ...(mayExchange === undefined ? {} : { mayExchange }),
  });
}

/** The parsed parameters of a token-exchange request (RFC 8693 §2.1), before anything is verified. */
interface ExchangeParams {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken: string | undefined;
  readonly actorTokenType: string | undefined;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  /** Undefined when no binding is asked for. */
  readonly binding: BoundEntity | undefined;
}

/** An accepted RFC 8693 §3 token type of a subject or actor token; `invalid_request` for any other. */
function tokenType(value: string | undefined, name: string): string {
  if (value === undefined) throw new TokenError('invalid_request', `${name} is required`);
  if (value === ACCESS_TOKEN_TYPE || value === JWT_TOKEN_TYPE) return value;
  if (REFUSED_TOKEN_TYPES.has(value))
    throw new TokenError('invalid_request', `${name}: only access tokens can be exchanged`);
  throw new TokenError('invalid_request', `${name} is not a supported token type`);
}

/** Reads and checks the request's parameters; nothing is verified or written yet. */
function readParams(context: GrantContext, request: TokenEndpointRequest): ExchangeParams {
  const subjectToken = request.param('subject_token');
  if (subjectToken === undefined) throw new TokenError('invalid_request', 'subject_token is required');
  const subjectTokenType = tokenType(request.param('subject_token_type'), 'subject_token_type');
  const actorToken = request.param('actor_token');
  const actorType = request.param('actor_token_type');
  // RFC 8693 §2.1: actor_token_type is REQUIRED with an actor_token and MUST NOT come without one.
  if (actorToken === undefined && actorType !== undefined)
    throw new TokenError('invalid_request', 'actor_token_type without actor_token');
  const actorTokenType = actorToken === undefined ? undefined : tokenType(actorType, 'actor_token_type');
  const requested = request.param('requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE)
    throw new TokenError('invalid_request', 'requested_token_type: only access tokens are issued');
  const scopes = parseScope(request.scope);
  if (scopes === null) throw new TokenError('invalid_request', 'scope is malformed');
  const audience = request.param('audience');
  if (audience !== undefined && audience.length > MAX_AUDIENCE_LENGTH)
    throw new TokenError('invalid_target', 'audience is too long');
  const audiences = [
    ...new Set([...(request.resources ?? []), ...(audience === undefined ? [] : [audience])]),
  ];
  const id = request.param('bound_entity_id');
  const type = request.param('bound_entity_type');
  let binding: BoundEntity | undefined;
  if (id !== undefined || type !== undefined) {
    if (id === undefined || type === undefined)
      throw new TokenError('invalid_request', 'bound_entity_id and bound_entity_type go together');
    const parsed = context.tokens.binding.parseBoundEntity({ id, type });
    if (parsed == null)
      throw new TokenError(
        'invalid_request',
        `bound_entity_id must be an ${context.tokens.binding.prefixList} id matching bound_entity_type`,
      );
    binding = parsed;
  }
  return { subjectToken, subjectTokenType, actorToken, actorTokenType, scopes, audiences, binding };
}

/**
 * Verifies a subject or actor token through the kit's one verify path (signature or record,
 * revocation, expiry): an active access token of this kit's own issuer, of the declared type, that
 * the client may present. Anything else is `invalid_request` (RFC 8693 §2.2.2) with an
 * `auth_failed` event; a store outage stays 503.
 */
async function verifyPresented(
  context: GrantContext,
  presented: { readonly token: string; readonly type: string; readonly name: string },
  client: ApplicationInfo,
  ip: string | undefined,
): Promise<AuthInfo> {
  const { token, type, name } = presented;
  const refuse = (reason: string, message: string, cause?: unknown): TokenError => {
    // ids only, never the token
    context.tokens.emit({
      type: 'auth_failed',
      clientId: client.clientId,
      ...(ip === undefined ? {} : { ip }),
      reason,
    });
    return new TokenError('invalid_request', message, cause === undefined ? undefined : { cause });
  };
  let auth: AuthInfo;
  try {
    auth = await context.tokens.verifyAccessToken(token, EXCHANGE_OPTIONS);
  } catch (err) {
    if (err instanceof TokenError && err.code === 'service_unavailable') throw err;
    throw refuse(name, `${name} is invalid, expired or revoked`, err);
  }
  if (auth.issuer !== context.tokens.issuer || (type === JWT_TOKEN_TYPE && auth.format !== 'jwt'))
    throw refuse(name, `${name} is invalid, expired or revoked`);
  if (!(await mayPresent(context, auth, client)))
    throw refuse(`${name}:not_acceptable`, `${name} is not acceptable for this client`);
  return auth;
}

/** Runs an application callback: its `true` allows, anything else refuses, a failure is 503. */
async function ask(call: () => boolean | Promise<boolean>): Promise<boolean> {
  try {
    return (await call()) === true;
  } catch (err) {
    throw serviceUnavailable(err);
  }
}

/**
 * May `client` present `token` (RFC 8693 §2.1, §5)? When the token was issued to it (to its
 * application, under any client id it held), when the token's `aud` names it (it is the resource
 * server the token was sent to), or when the kit's `mayExchange` says so.
 */
async function mayPresent(context: GrantContext, token: AuthInfo, client: ApplicationInfo): Promise<boolean> {
  if (token.audience.includes(client.clientId)) return true;
  if (await context.credentials.applicationOwns(client, { clientId: token.clientId })) return true;
  const hook = context.exchange.mayExchange;
  return hook !== undefined && ask(() => hook(token, client));
}

/**
 * The binding of the new token: the subject's when none is asked for or the same is; below it
 * (an employee of the subject's employer) when the resolver says so; a binding of an unbound
 * subject when `authorizeBinding` says so. Anything else — another entity of the same type, an
 * ancestor, an unrelated type, no resolver — is `invalid_target`: the binding names the token's
 * target, and the exchange may only narrow it (RFC 8693 §2.2.2).
 */
async function narrowedBinding(
  context: GrantContext,
  subject: AuthInfo,
  client: ApplicationInfo,
  wanted: BoundEntity | undefined,
): Promise<BoundEntity | null> {
  const bound = subject.boundEntity;
  if (wanted === undefined) return bound;
  if (bound !== null && bound.type === wanted.type && bound.id === wanted.id) return bound;
  const refuse = (reason: string): never => {
    context.tokens.emit({ type: 'binding_denied', clientId: client.clientId, boundEntity: wanted, reason });
    throw new TokenError(
      'invalid_target',
      'The requested binding is not within the binding of the subject token',
    );
  };
  const { binding } = context.tokens;
  const { belongsTo, authorizeBinding } = context.exchange;
  if (bound === null) {
    if (authorizeBinding !== undefined && (await ask(() => authorizeBinding(wanted, subject, client))))
      return wanted;
    return refuse('exchange:unbound');
  }
  if (belongsTo === undefined || !binding.isAncestor(bound.type, wanted.type))
    return refuse('exchange:not_below');
  const types = Object.freeze({ ancestor: bound.type, target: wanted.type });
  if (await ask(() => belongsTo(bound.id, wanted.id, types))) return wanted;
  return refuse(`exchange:not_${bound.type}`);
}

/** The `act` of the new token: the actor, with the subject token's own `act` nested (RFC 8693 §4.1). */
function actorClaim(actor: string, subject: AuthInfo): ActorClaim {
  const prior = subject.claims.act;
  if (prior === undefined || prior === null) return { sub: actor };
  let depth = 1;
  for (let a: unknown = prior; typeof a === 'object' && a !== null; a = (a as { act?: unknown }).act) depth++;
  if (depth > MAX_ACT_DEPTH)
    throw new TokenError('invalid_request', 'subject_token has too long a delegation chain');
  return { sub: actor, act: prior as ActorClaim };
}

/**
 * Token exchange: verifies the subject (and actor) token, checks that the client may present them
 * and that every requested narrowing is one, then issues the new access token. Every check runs
 * before anything is written.
 */
export async function exchangeToken(
  context: GrantContext,
  request: TokenEndpointRequest,
): Promise<GrantResult> {
  const params = readParams(context, request);
  const client = await request.authenticate();
  assertGrantAllowed(client, TOKEN_EXCHANGE_GRANT_TYPE, true);
  assertDpopRequired(client, request.dpopJkt);
  const subject = await verifyPresented(
    context,
    { token: params.subjectToken, type: params.subjectTokenType, name: 'subject_token' },
    client,
    request.ip,
  );
  const actor =
    params.actorToken === undefined
      ? undefined
      : await verifyPresented(
          context,
          { token: params.actorToken, type: params.actorTokenType!, name: 'actor_token' },
          client,
          request.ip,
        );
  // A DPoP-bound token (RFC 9449 §6) is exchanged only by the holder of its key: the request must
  // carry a proof of that key, so an exchange never turns a stolen bound token into a usable one.
  for (const [name, presented] of [
    ['subject_token', subject],
    ['actor_token', actor],
  ] as const) {
    const jkt = presented === undefined ? undefined : boundJkt(presented.claims);
    if (jkt !== undefined && jkt !== request.dpopJkt)
      throw new TokenError('invalid_request', `${name} is DPoP-bound: send a DPoP proof of its key`);
  }
  if (params.scopes.some((s) => !subject.scopes.includes(s))) throw new TokenError('invalid_scope');
  const scope = (params.scopes.length > 0 ? params.scopes : subject.scopes).join(' ');
  if (params.audiences.some((a) => !subject.audience.includes(a)))
    throw new TokenError(
      'invalid_target',
      'The requested audience is not within the audience of the subject token',
    );
  const audience = params.audiences.length > 0 ? params.audiences : [...subject.audience];
  const boundEntity = await narrowedBinding(context, subject, client, params.binding);
  const act = actorClaim(actor?.subject ?? client.clientId, subject);
  const familyId = subject.familyId ?? exchangeFamilyId(subject.jti);
  const notAfter = Math.min(subject.expiresAt, actor?.expiresAt ?? Infinity);
  if (notAfter <= context.tokens.now())
    throw new TokenError('invalid_request', 'subject_token is invalid, expired or revoked');
  const claims = await issuanceClaims(context, context.format, {
    grantType: TOKEN_EXCHANGE_GRANT_TYPE,
    subject: subject.subject,
    clientId: client.clientId,
    scope,
    audience,
    boundEntity,
    application: client,
    familyId,
  });
  const accessToken = await context.tokens.issueAccessToken({
    subject: subject.subject,
    clientId: client.clientId,
    scope,
    audience,
    boundEntity,
    familyId,
    act,
    notAfter,
    ...(request.dpopJkt === undefined ? {} : { jkt: request.dpopJkt }),
    format: context.format,
    ...claims,
  });
  return { accessToken, subject: subject.subject, scope, client, issuedTokenType: ACCESS_TOKEN_TYPE };
}

/** The token-exchange grant of createOAuthRouter's token endpoint (RFC 8693). */
export const tokenExchangeGrant: OAuthGrant = {
  async token(context, request) {
    return exchangeToken(context, request);
  },
};
