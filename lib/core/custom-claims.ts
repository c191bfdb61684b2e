/**
 * The issuer's custom-claims hook: the kit's `claims(context)` and per-grant `grantClaims`, run by
 * the grants before anything is written, whose answer is checked (JSON, no reserved claim,
 * bounded) and added to the JWT access token.
 */
import { serviceUnavailable } from '../errors';
import type { BoundEntity } from '../types';
import { customAccessTokenClaims, deepFreeze, RESERVED_ACCESS_TOKEN_CLAIMS } from './access-token-claims';
import type { ApplicationInfo, ProviderClientInfo, ProviderInfo } from './credential-types';
import type { TokenEvent } from './events';

/** Largest answer of the claims hooks, in bytes of JSON, so the JWT stays within what verifiers accept. */
export const MAX_CUSTOM_CLAIMS_BYTES = 2048;

/**
 * The issuances that run the claims hooks: the OAuth grants (`createOAuthRouter`,
 * `createAuthRouter`) and provider client tokens (`createProviderRouter`, as `provider_token`).
 */
export type ClaimsGrantType =
  | 'client_credentials'
  | 'password'
  | 'refresh_token'
  | 'provider_token'
  | 'urn:ietf:params:oauth:grant-type:token-exchange';

/** What a claims hook is told about the access token being issued (deeply frozen). */
export interface ClaimsContext {
  /** Which issuance this is. */
  readonly grantType: ClaimsGrantType;
  /** The token's `sub`. */
  readonly subject: string;
  /** The token's `client_id`. */
  readonly clientId: string;
  /** The granted scopes (the token's `scope`, split); empty when none. */
  readonly scopes: readonly string[];
  /** The token's `aud`: the requested resources (RFC 8707), or the kit's (or provider client's) audience. */
  readonly audience: readonly string[];
  /** The token's binding, or null. */
  readonly boundEntity: BoundEntity | null;
  /** The application (OAuth client) the token is issued to, without its secret, when there is one. */
  readonly application: ApplicationInfo | null;
  /** For `provider_token`: the provider and its client. */
  readonly provider?: ProviderInfo;
  readonly providerClient?: ProviderClientInfo;
  /** For `refresh_token`: the refresh family the token comes from; for token exchange, the subject token's. */
  readonly familyId?: string;
}

/**
 * Adds claims to JWT access tokens: an object of JSON values (or undefined/null for none), sync or
 * async. Reserved claims — those the kit sets itself: `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`,
 * `jti`, `cnf`, `client_id`, `scope`, `bound_entity`, `sid`, `typ`, `act` — are refused, and so are names
 * of `Object.prototype` members (`constructor`, `__proto__`, …), and an
 * answer that is not JSON or is larger than {@link MAX_CUSTOM_CLAIMS_BYTES}. A hook that throws,
 * rejects or answers something refused fails the issuance with 503 `service_unavailable` (the
 * kit's answer to a failing application callback) and a `claims_refused` audit event; nothing is
 * written. Opaque access tokens carry no custom claims: the hooks are not called for them.
 */
export type ClaimsHook = (
  context: Readonly<ClaimsContext>,
) =>
  | Readonly<Record<string, unknown>>
  | null
  | undefined
  | Promise<Readonly<Record<string, unknown>> | null | undefined>;

/** The claims-hook options of the kit. */
export interface ClaimsHookOptions {
  /** Claims for every JWT access token the grants issue. @default none */
  readonly claims?: ClaimsHook;
  /**
   * Claims per issuance, run after {@link ClaimsHookOptions.claims}; a name both answer takes this
   * hook's value. @default none
   */
  readonly grantClaims?: Readonly<Partial<Record<ClaimsGrantType, ClaimsHook>>>;
}

/** The resolved hooks of a kit. @internal */
export interface ClaimsHooks {
  readonly kit: ClaimsHook | undefined;
  readonly byGrant: ReadonlyMap<ClaimsGrantType, ClaimsHook>;
}

const GRANT_TYPES: ReadonlySet<string> = new Set<ClaimsGrantType>([
  'client_credentials',
  'password',
  'refresh_token',
  'provider_token',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/** Checks the claims-hook options once (a TypeError names the bad one). @internal */
export function resolveClaimsHooks(options: Readonly<ClaimsHookOptions>): ClaimsHooks {
  if (options.claims !== undefined && typeof options.claims !== 'function') {
    throw new TypeError('claims must be a function (context) => claims');
  }
  const byGrant = new Map<ClaimsGrantType, ClaimsHook>();
  const perGrant: unknown = options.grantClaims;
  if (perGrant !== undefined) {
    if (typeof perGrant !== 'object' || perGrant === null || Array.isArray(perGrant)) {
      throw new TypeError('grantClaims must be an object of hooks by grant type');
    }
    for (const [name, hook] of Object.entries(perGrant)) {
      if (!GRANT_TYPES.has(name)) {
        throw new TypeError(
          `grantClaims has an unknown grant ${JSON.stringify(name.slice(0, 64))} (expected ${[...GRANT_TYPES].join(', ')})`,
        );
      }
      if (hook === undefined) continue;
      if (typeof hook !== 'function') throw new TypeError(`grantClaims.${name} must be a function`);
      byGrant.set(name as ClaimsGrantType, hook as ClaimsHook);
    }
  }
  return Object.freeze({ kit: options.claims, byGrant });
}

/** Why an answer of the hooks was refused, for the audit event. */
type Refusal = 'threw' | 'not_object' | 'reserved' | 'not_json' | 'too_large';

/**
 * Runs the kit's and the grant's claims hooks for a JWT access token and returns the checked
 * claims (a fresh JSON copy), or undefined when there are none or no hook is configured. A hook
 * that throws or answers something refused → 503 `service_unavailable` (cause kept, never
 * serialised) and a `claims_refused` event; the caller has written nothing yet.
 * @internal
 */
export async function runClaimsHooks(
  hooks: ClaimsHooks,
  context: ClaimsContext,
  emit: (event: Omit<TokenEvent, 'at'>) => void,
): Promise<Record<string, unknown> | undefined> {
  const grantHook = hooks.byGrant.get(context.grantType);
  if (hooks.kit === undefined && grantHook === undefined) return undefined;
  const frozen = deepFreeze(structuredClone(context));
  const refuse = (reason: Refusal, cause: unknown): never => {
    emit({
      type: 'claims_refused',
      clientId: context.clientId,
      subject: context.subject,
      reason: `${context.grantType}:${reason}`,
    });
    throw serviceUnavailable(cause);
  };
  // Null prototype: an answer's own `__proto__` key stays a claim, never a prototype.
  const merged = Object.create(null) as Record<string, unknown>;
  for (const hook of [hooks.kit, grantHook]) {
    if (hook === undefined) continue;
    let answer: unknown;
    try {
      answer = await hook(frozen);
    } catch (err) {
      return refuse('threw', err);
    }
    if (answer === undefined || answer === null) continue;
    if (!isPlainObject(answer)) {
      return refuse('not_object', new TypeError('claims hook: the answer must be an object of claims'));
    }
    for (const name of Object.keys(answer)) {
      if (RESERVED_ACCESS_TOKEN_CLAIMS.has(name) || name in Object.prototype) {
        return refuse(
          'reserved',
          new TypeError(
            `claims hook: claim ${JSON.stringify(name.slice(0, 64))} is reserved: the kit sets it itself, or it names an Object.prototype member`,
          ),
        );
      }
    }
    Object.assign(merged, answer);
  }
  let claims: Record<string, unknown> | undefined;
  try {
    claims = customAccessTokenClaims(merged, 'jwt');
  } catch (err) {
    return refuse('not_json', err);
  }
  if (claims === undefined) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(claims));
  if (bytes > MAX_CUSTOM_CLAIMS_BYTES) {
    return refuse(
      'too_large',
      new RangeError(
        `claims hook: the claims are ${bytes} bytes of JSON, more than ${MAX_CUSTOM_CLAIMS_BYTES}`,
      ),
    );
  }
  return claims;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
