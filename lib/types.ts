/**
 * Shared public types.
 */

/**
 * The kind of entity a token may be bound to: a type name of the kit's binding profile
 * (`createBindingProfile`). The default profile's types are {@link DefaultBoundEntityType}.
 */
export type BoundEntityType = string;

/** The entity types of the default binding profile: `employer` (`empr_*`) and `employee` (`empl_*`). */
export type DefaultBoundEntityType = 'employer' | 'employee';

/**
 * The entity a token is bound to: its holder may act only on this entity (by default an employer,
 * `empr_*`, or an employee, `empl_*`) and, through the route's resolver, on entities belonging to it.
 */
export interface BoundEntity {
  /** Prefixed entity id, e.g. `empr_*` for an employer, `empl_*` for an employee. */
  readonly id: string;
  /** The entity type; the id starts with its prefix in the binding profile. */
  readonly type: BoundEntityType;
}

/** How an access token is encoded on the wire. */
export type AccessTokenFormat = 'jwt' | 'opaque';

/**
 * What the core knows about a verified access token; exposed to handlers as `req.auth`.
 */
export interface AuthInfo {
  /** The raw token kind. */
  readonly format: AccessTokenFormat;
  /** Token id (`jti`); revocation is keyed on it. */
  readonly jti: string;
  /** Subject (`sub`). */
  readonly subject: string;
  /** OAuth client id (`client_id`). */
  readonly clientId: string;
  /** Granted scopes, split on spaces. Empty when none. */
  readonly scopes: readonly string[];
  /** Entity binding, or null for an unbound token. */
  readonly boundEntity: BoundEntity | null;
  /** Issuer (`iss`). */
  readonly issuer: string;
  /** Audiences (`aud`), always as an array. */
  readonly audience: readonly string[];
  /** Issued-at, seconds since the epoch. */
  readonly issuedAt: number;
  /** Expiry, seconds since the epoch. */
  readonly expiresAt: number;
  /** Refresh-token family the token was issued from, if any. */
  readonly familyId?: string;
  /** The verified JWT claims (null-prototype copy), or the opaque token's record as claims. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Algorithms a signing key may be pinned to. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'HS256';
