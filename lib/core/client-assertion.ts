/**
 * JWT client assertions (RFC 7523 §2.2, §3; RFC 7521 §4.2): `client_secret_jwt` (HMAC with the
 * client's secret) and `private_key_jwt` (a signature by one of the client's registered keys),
 * verified on node:crypto in a fixed order — size and form, header, `iss` = `sub` = the client,
 * the client's registered method and key (the algorithm pinned to the key, never the assertion's
 * choice), signature, `aud`, time (`exp` at most {@link MAX_CLIENT_ASSERTION_LIFETIME} ahead),
 * `jti` — and only then the `jti` is recorded in the token store's replay cache, so a refused
 * assertion consumes nothing. Every refusal is `invalid_client` (RFC 6749 §5.2) with the reason in
 * `cause`, never in the message.
 *
 * @see RFC 7523 §3, RFC 7515 §4.1.11, RFC 7518 §3.2, RFC 8725 §3.1–§3.2, §3.11
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { TokenError } from '../errors';
import { jwsSignatureValid, parseJwks, REMOTE_ALGORITHMS, type RemoteKey } from '../keys/public-jwk';
import { MAX_USED_KEY_LENGTH } from '../stores/token-store';
import type { ApplicationInfo } from './credential-types';
import { CLIENT_SECRET_JWT_ALGORITHMS } from './client-auth-method';

/** Longest accepted assertion, in characters; checked before any decoding. */
export const MAX_CLIENT_ASSERTION_LENGTH = 8192;
/** Latest accepted `exp`, in seconds after now (plus the clock tolerance): a longer-lived assertion is refused. */
export const MAX_CLIENT_ASSERTION_LIFETIME = 300;
/** Longest accepted `jti`, in characters. */
export const MAX_ASSERTION_JTI_LENGTH = 256;

/**
 * The key an application publishes at its `jwksUri` for (`kid`, `alg`), or undefined when there is
 * none (unknown `kid`, the URI unreachable). createOAuthRouter supplies one over lib/resource's
 * bounded, cached fetches.
 */
export type ClientKeyResolver = (
  jwksUri: string,
  kid: string | undefined,
  alg: string,
) => Promise<RemoteKey | undefined>;

/** A client assertion to verify, as the endpoint received it. */
export interface ClientAssertionInput {
  /** The `client_assertion` parameter. */
  readonly assertion: unknown;
  /** The `client_id` parameter when the request sent one: it must name the assertion's client (RFC 7521 §4.2). */
  readonly clientId?: string | undefined;
  /** The accepted `aud` values: the issuer identifier and the endpoint's URL (RFC 7523 §3, item 3). */
  readonly audiences: readonly string[];
  /** Keys of clients registered with a `jwksUri`; without it such clients are refused. */
  readonly remoteKeys?: ClientKeyResolver | undefined;
}

/** What the verification needs of the credential service and the token core. */
export interface ClientAssertionContext {
  /** Now, in whole seconds. */
  readonly now: () => number;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. */
  readonly clockTolerance: number;
  /** The application with this client id and, for `client_secret_jwt`, its secret; null when unknown. */
  readonly findClient: (
    clientId: string,
  ) => Promise<{ readonly app: ApplicationInfo; readonly secret: () => Buffer | undefined } | null>;
  /** The replay cache: true the first time `key` is marked (`TokenStore.markUsed`). */
  readonly markUsed: (key: string, ttlSeconds: number) => Promise<boolean>;
}

/** Header members an assertion may carry; `x5t`, `x5t#S256` are hints only, never used to find a key. */
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['alg', 'kid', 'typ', 'x5t', 'x5t#S256']);
/** `typ` values of a client assertion (absent too); any other explicit type is another kind of JWT (RFC 8725 §3.11). */
const ASSERTION_TYPES: ReadonlySet<string> = new Set(['jwt', 'client-authentication+jwt']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const HMAC: Readonly<Record<string, { readonly hash: string; readonly bytes: number }>> = {
  HS256: { hash: 'sha256', bytes: 32 },
  HS384: { hash: 'sha384', bytes: 48 },
  HS512: { hash: 'sha512', bytes: 64 },
};
/** RFC 9864 §2.2: the fully-specified EdDSA algorithms, by the node key type they need. */
const FULLY_SPECIFIED_EDDSA: Readonly<Record<string, string>> = { Ed25519: 'ed25519', Ed448: 'ed448' };
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `invalid_client` with the reason as `cause` (never shown). */
function refused(reason: string, cause?: unknown): TokenError {
  return new TokenError('invalid_client', undefined, {
    cause: cause === undefined ? new Error(reason) : new Error(reason, { cause }),
  });
}

/** Canonical base64url only (RFC 4648 §5, no padding), so one assertion has one encoding. */
function decodePart(part: string, what: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw refused(`${what} is not canonical base64url`);
  return bytes;
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(decodePart(part, what)));
  } catch (cause) {
    if (cause instanceof TokenError) throw cause;
    throw refused(`${what} is not UTF-8 JSON`, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw refused(`${what} is not a JSON object`);
  }
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}

/** A NumericDate: a non-negative number of seconds (fractions allowed, RFC 7519 §2). */
function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** The decoded, unverified parts of an assertion. */
interface DecodedAssertion {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly input: Buffer;
  readonly signature: Buffer;
}

function decode(assertion: unknown): DecodedAssertion {
  if (typeof assertion !== 'string' || assertion.length === 0) throw refused('client_assertion is missing');
  if (assertion.length > MAX_CLIENT_ASSERTION_LENGTH) throw refused('client_assertion is too long');
  if (!COMPACT_JWS.test(assertion)) throw refused('client_assertion is not a compact JWS');
  const [h, p, s] = assertion.split('.') as [string, string, string];
  const header = jsonObject(h, 'header');
  for (const name in header) {
    if (!HEADER_MEMBERS.has(name)) throw refused(`header member ${JSON.stringify(name)} is not accepted`);
  }
  const { typ, kid } = header;
  if (typ !== undefined && (typeof typ !== 'string' || !ASSERTION_TYPES.has(typ.toLowerCase()))) {
    throw refused('typ is not a client assertion type');
  }
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > 256)) {
    throw refused('kid is malformed');
  }
  return {
    header,
    claims: jsonObject(p, 'payload'),
    input: Buffer.from(`${h}.${p}`, 'ascii'),
    signature: decodePart(s, 'signature'),
  };
}

/**
 * The client an assertion claims to be (`sub`, which must equal `iss`), unverified: for rate limits
 * and audit events only. Undefined when the assertion cannot be read.
 */
export function claimedClientId(assertion: unknown): string | undefined {
  try {
    const { claims } = decode(assertion);
    return typeof claims.sub === 'string' && claims.sub === claims.iss && claims.sub.length <= 128
      ? claims.sub
      : undefined;
  } catch {
    return undefined;
  }
}

/** The replay-cache key of an assertion: `ca:<client_id>:<jti>`, hashed when longer than a store key may be. */
export function assertionReplayKey(clientId: string, jti: string): string {
  const key = `ca:${clientId}:${jti}`;
  if (key.length <= MAX_USED_KEY_LENGTH) return key;
  return `ca#${createHash('sha256').update(`${clientId}\0${jti}`).digest('base64url')}`;
}

async function verificationKey(
  app: ApplicationInfo,
  alg: string,
  kid: string | undefined,
  remoteKeys: ClientKeyResolver | undefined,
): Promise<RemoteKey> {
  // RFC 9864 fully-specified EdDSA names (oauth4webapi sends `Ed25519`): an EdDSA key of that curve only.
  const curve = FULLY_SPECIFIED_EDDSA[alg];
  if (curve !== undefined) {
    const key = await verificationKey(app, 'EdDSA', kid, remoteKeys);
    if (key.key.asymmetricKeyType !== curve) throw refused(`the key is not an ${alg} key`);
    return key;
  }
  if (!(REMOTE_ALGORITHMS as readonly string[]).includes(alg)) {
    throw refused('alg is not an asymmetric algorithm (private_key_jwt)');
  }
  if (app.jwksUri !== undefined) {
    if (remoteKeys === undefined) throw refused('no resolver for the client jwksUri');
    const key = await remoteKeys(app.jwksUri, kid, alg);
    if (key === undefined) throw refused('no key at the client jwksUri for this (kid, alg)');
    return key;
  }
  const keys = parseJwks(app.jwks, REMOTE_ALGORITHMS) ?? [];
  // By (kid, alg); without a kid, only a lone key of that algorithm (RFC 7515 §4.1.4).
  const candidates = keys.filter((k) => k.alg === alg && (kid === undefined || k.kid === kid));
  if (candidates.length !== 1) throw refused('no registered key for this (kid, alg)');
  return candidates[0]!;
}

function macValid(alg: string, secret: Buffer | undefined, decoded: DecodedAssertion): void {
  const mac = HMAC[alg];
  if (mac === undefined || !(CLIENT_SECRET_JWT_ALGORITHMS as readonly string[]).includes(alg)) {
    throw refused('alg is not an HMAC algorithm (client_secret_jwt)');
  }
  if (secret === undefined) throw refused('no secret to check the MAC with');
  // RFC 7518 §3.2: a key at least as long as the hash output.
  if (secret.length < mac.bytes) throw refused(`the client secret is too short for ${alg}`);
  const expected = createHmac(mac.hash, secret).update(decoded.input).digest();
  if (decoded.signature.length !== expected.length || !timingSafeEqual(expected, decoded.signature)) {
    throw refused('MAC verification failed');
  }
}

/**
 * Verifies a client assertion and records its `jti`; resolves the authenticated application.
 *
 * @throws TokenError `invalid_client` for every refusal (the reason in `cause`); a store failure is
 *   whatever `context.markUsed` throws (503 through the core's guard).
 * @see RFC 7523 §3
 */
export async function verifyClientAssertion(
  context: ClientAssertionContext,
  input: Readonly<ClientAssertionInput>,
): Promise<ApplicationInfo> {
  // 1. Size, form, header (no crit, jku, jwk, x5u, x5c…: RFC 7515 §4.1.11, RFC 8725 §3.10).
  const decoded = decode(input.assertion);
  const { header, claims } = decoded;
  const { alg } = header;
  if (typeof alg !== 'string') throw refused('alg is missing');
  const kid = header.kid as string | undefined;

  // 2. The client: iss = sub = client_id (RFC 7523 §3, items 1–2; RFC 7521 §4.2).
  const { iss, sub } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128)
    throw refused('sub is missing or malformed');
  if (iss !== sub) throw refused('iss differs from sub');
  if (input.clientId !== undefined && input.clientId !== sub) throw refused('client_id differs from sub');
  const found = await context.findClient(sub);
  if (found === null) throw refused('unknown client');
  const { app } = found;

  // 3. The registered method decides the algorithm family; the key pins the algorithm.
  if (app.tokenEndpointAuthMethod === 'private_key_jwt') {
    const key = await verificationKey(app, alg, kid, input.remoteKeys);
    let valid: boolean;
    try {
      valid = jwsSignatureValid(key, decoded.input, decoded.signature);
    } catch (cause) {
      throw refused('signature verification failed', cause);
    }
    if (!valid) throw refused('signature verification failed');
  } else if (app.tokenEndpointAuthMethod === 'client_secret_jwt') {
    let secret: Buffer | undefined;
    try {
      secret = found.secret();
    } catch (cause) {
      throw refused('the client secret does not open', cause);
    }
    macValid(alg, secret, decoded);
  } else {
    throw refused('the client is not registered for a JWT assertion method');
  }

  // 4. Audience: the issuer or the endpoint (RFC 7523 §3, item 3).
  const { aud } = claims;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? (aud as unknown[]) : [];
  if (
    audiences.length === 0 ||
    !audiences.some((a) => typeof a === 'string' && input.audiences.includes(a))
  ) {
    throw refused('aud is missing or names another server');
  }

  // 5. Time, on the injected clock: exp required and near, nbf and iat not in the future.
  const now = context.now();
  const tolerance = context.clockTolerance;
  const { exp, nbf, iat } = claims;
  if (!isNumericDate(exp)) throw refused('exp is missing or malformed');
  if (now >= exp + tolerance) throw refused('the assertion is expired');
  if (exp > now + MAX_CLIENT_ASSERTION_LIFETIME + tolerance) {
    throw refused(`exp is more than ${MAX_CLIENT_ASSERTION_LIFETIME} s ahead`);
  }
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > now + tolerance))
    throw refused('nbf is malformed or in the future');
  if (iat !== undefined && (!isNumericDate(iat) || iat > now + tolerance))
    throw refused('iat is malformed or in the future');

  // 6. jti, then the replay cache — the one write, after every other check passed (RFC 7523 §3, item 7).
  const { jti } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_ASSERTION_JTI_LENGTH) {
    throw refused('jti is missing or malformed');
  }
  const ttl = Math.max(1, Math.ceil(exp + tolerance - now));
  if (!(await context.markUsed(assertionReplayKey(app.clientId, jti), ttl))) {
    throw refused('the assertion was used before (jti replay)');
  }
  return app;
}
