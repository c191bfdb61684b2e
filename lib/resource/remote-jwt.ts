/**
 * Verifying a JWT access token of a remote issuer: compact form, header, the key by (`kid`, `alg`)
 * from that issuer's own key set (the algorithm is the key's pinned one), signature, then the
 * claims — `typ`, `iss`, `aud`, the RFC 9068 §2.2 required claims in strict mode, and time last, so
 * a token both expired and wrong otherwise is `invalid_token`.
 *
 * @see RFC 7515 §5.2, RFC 8725 §3, RFC 9068 §2.2 and §4
 */
import { TokenError } from '../errors';
import { jwsSignatureValid, type RemoteKey } from '../keys/public-jwk';

/** The decoded, not yet verified parts of a compact JWS. */
export interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** What {@link checkClaims} checks. Times in seconds. */
export interface RemoteClaimRules {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly clockTolerance: number;
  /** Largest accepted `now − iat`; requires `iat`. */
  readonly maxTokenAge: number | undefined;
  /** RFC 9068: `typ` `at+jwt` and the §2.2 claims required. */
  readonly strict: boolean;
  readonly now: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `invalid_token` with the generic public message and the reason as `cause`. */
export function invalidToken(reason: string, cause?: unknown): TokenError {
  return new TokenError('invalid_token', undefined, { cause: cause ?? new Error(reason) });
}

/** Splits and decodes a compact JWS; `invalid_token` when it is not one. */
export function decodeJwt(token: string): DecodedJwt {
  if (!COMPACT_JWS.test(token)) throw invalidToken('not a compact JWS');
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = jsonObject(h);
  const payload = jsonObject(p);
  if (header === undefined || payload === undefined)
    throw invalidToken('header or payload is not a JSON object');
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    return Object.assign(Object.create(null) as Record<string, unknown>, value);
  } catch {
    return undefined;
  }
}

/** The header's `alg` and `kid` after the RFC 7515 checks that need no key (`crit` refused). */
export function headerKey(header: Readonly<Record<string, unknown>>): {
  alg: string;
  kid: string | undefined;
} {
  const { alg, kid } = header;
  if (typeof alg !== 'string' || alg === 'none') throw invalidToken('no usable alg');
  if (kid !== undefined && typeof kid !== 'string') throw invalidToken('kid is not a string');
  // RFC 7515 §4.1.11: no extension is understood here, so any crit makes the token unusable.
  if (header.crit !== undefined) throw invalidToken('crit header present');
  return { alg, kid };
}

/** Verifies the signature with the key's pinned algorithm; `invalid_token` when it fails. */
export function checkSignature(decoded: DecodedJwt, key: RemoteKey): void {
  let ok = false;
  try {
    ok = jwsSignatureValid(key, Buffer.from(decoded.signingInput, 'ascii'), decoded.signature);
  } catch (cause) {
    throw invalidToken('signature verification failed', cause);
  }
  if (!ok) throw invalidToken('signature verification failed');
}

function typOk(typ: unknown, strict: boolean): boolean {
  if (typ === undefined) return !strict;
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase().replace(/^application\//, '');
  return t === 'at+jwt' || (!strict && t === 'jwt');
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The claim checks, after the signature. Without strict mode, `typ` may be absent, `JWT` or
 * `at+jwt` (any other explicit type — an ID token's `id_token+jwt`, a `logout+jwt` — is refused,
 * RFC 8725 §3.11); `sub`, `client_id`, `jti`, `iat` are optional but typed when present. Throws
 * `invalid_token`, or `expired_token` last.
 */
export function checkClaims(decoded: DecodedJwt, rules: RemoteClaimRules): void {
  const { header, payload: c } = decoded;
  const { now, clockTolerance: tol } = rules;
  if (!typOk(header.typ, rules.strict)) throw invalidToken('unexpected typ');
  if (c.iss !== rules.issuer) throw invalidToken('unexpected iss');
  const aud = typeof c.aud === 'string' ? [c.aud] : Array.isArray(c.aud) ? (c.aud as unknown[]) : [];
  if (!aud.some((a) => typeof a === 'string' && rules.audiences.includes(a)))
    throw invalidToken('unexpected aud');
  for (const name of ['sub', 'client_id', 'jti', 'scope'] as const) {
    const value = c[name];
    if (value === undefined ? rules.strict && name !== 'scope' : typeof value !== 'string') {
      throw invalidToken(`missing or malformed ${name}`);
    }
  }
  if (!isNumber(c.exp)) throw invalidToken('missing or malformed exp');
  if (c.iat !== undefined || rules.strict || rules.maxTokenAge !== undefined) {
    if (!isNumber(c.iat)) throw invalidToken('missing or malformed iat');
    if (c.iat > now + tol) throw invalidToken('iat in the future');
    if (rules.maxTokenAge !== undefined && c.iat <= now - tol - rules.maxTokenAge) {
      throw invalidToken('token older than maxTokenAge');
    }
  }
  if (c.nbf !== undefined && (!isNumber(c.nbf) || c.nbf > now + tol)) throw invalidToken('not yet valid');
  if (c.exp + tol <= now) throw new TokenError('expired_token');
}
