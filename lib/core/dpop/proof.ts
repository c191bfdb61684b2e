/**
 * Verification of a DPoP proof JWT (RFC 9449 §4.3), pure and in a fixed order: size and form,
 * header (`typ` `dpop+jwt`, an accepted asymmetric `alg`, a public `jwk`, no `crit`), signature
 * with the embedded key, then the claims — `jti`, `htm`, `htu` (normalised, RFC 9449 §4.3 and
 * RFC 3986 §6), `iat` within its window, `ath` for a request with an access token, the key the
 * token is bound to, and the server nonce when one is required. The replay check (`jti` seen
 * before) is the caller's, once all of these passed.
 */
import { createHash } from 'node:crypto';
import { TokenError } from '../../errors';
import { jwsSignatureValid } from '../../keys/public-jwk';
import { importProofKey, type DpopAlgorithm } from './jwk';

/** Longest proof accepted, in characters (an RSA-8192 key and signature fit). */
export const MAX_PROOF_LENGTH = 8192;
/** Longest `jti` accepted, in characters. */
const MAX_JTI_LENGTH = 256;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What a proof is checked against. Times in seconds. */
export interface ProofExpectations {
  /** The request's method, e.g. `POST`. */
  readonly method: string;
  /** The request's absolute URL, as the client addressed it. */
  readonly url: string;
  /** Now, in seconds since the epoch. */
  readonly now: number;
  /** Accepted signature algorithms. */
  readonly algorithms: readonly DpopAlgorithm[];
  /** Oldest accepted `iat`: `now − maxAge`. */
  readonly maxAge: number;
  /** Latest accepted `iat`: `now + leeway`. */
  readonly leeway: number;
  /** The access token the request presents; the proof's `ath` must be its hash (RFC 9449 §4.3). */
  readonly accessToken?: string;
  /** The thumbprint of the key the access token is bound to. */
  readonly jkt?: string;
  /** Checks the `nonce` claim; absent when no nonce is required. */
  readonly nonce?: { accepts(nonce: unknown): boolean; current(): string };
}

/** A proof that passed {@link checkProof}. */
export interface CheckedProof {
  /** Thumbprint of the proof's key (RFC 7638). */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

/** `invalid_dpop_proof`, the reason kept in `cause` only. */
export function invalidProof(reason: string): TokenError {
  return new TokenError('invalid_dpop_proof', undefined, { cause: new Error(reason) });
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  const bytes = Buffer.from(part, 'base64url');
  // Canonical base64url only: anything that does not re-encode to itself is refused.
  if (bytes.toString('base64url') !== part) throw invalidProof(`${what} is not canonical base64url`);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw invalidProof(`${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidProof(`${what} is not a JSON object`);
  return Object.setPrototypeOf(value, null) as Record<string, unknown>;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §6.2.2: percent-encodings in upper case, and decoded where they encode an unreserved character. */
function normalisePercent(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * The `htu` form of a URL: scheme, host (lower case, default port dropped) and path with dot
 * segments removed and percent-encodings normalised, without query and fragment (RFC 9449 §4.3,
 * RFC 3986 §6.2.2–§6.2.3). Undefined when `value` is not an absolute http(s) URL.
 */
export function normaliseHtu(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_PROOF_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.protocol}//${url.host}${normalisePercent(url.pathname)}`;
}

/** `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * Checks a DPoP proof against the request; throws `invalid_dpop_proof` (or `use_dpop_nonce`
 * with a `DPoP-Nonce` header) and never anything else. Writes nothing.
 * @see RFC 9449 §4.3
 */
export function checkProof(proof: unknown, expect: ProofExpectations): CheckedProof {
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw invalidProof('not a compact JWS of acceptable size');
  }
  const [headerPart, payloadPart, signaturePart] = proof.split('.') as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt')
    throw invalidProof('typ is not dpop+jwt');
  const alg = header.alg;
  if (typeof alg !== 'string' || !expect.algorithms.includes(alg as DpopAlgorithm))
    throw invalidProof('alg is missing or not accepted');
  if (Object.hasOwn(header, 'crit')) throw invalidProof('crit is not understood');
  const proofKey = importProofKey(header.jwk, alg as DpopAlgorithm);
  if (proofKey === undefined) throw invalidProof('jwk is missing, private, weak or not of the algorithm');
  const signature = Buffer.from(signaturePart, 'base64url');
  if (signature.toString('base64url') !== signaturePart) throw invalidProof('signature is not base64url');
  let valid: boolean;
  try {
    const input = Buffer.from(proof.slice(0, headerPart.length + 1 + payloadPart.length), 'latin1');
    valid = jwsSignatureValid(proofKey.key, input, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw invalidProof('signature verification failed');

  const claims = decodeJson(payloadPart, 'payload');
  const { jti, htm, htu, iat } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    throw invalidProof('jti is missing or malformed');
  if (typeof htm !== 'string' || htm !== expect.method) throw invalidProof('htm does not match');
  const wanted = normaliseHtu(expect.url);
  if (wanted === undefined || normaliseHtu(htu) !== wanted) throw invalidProof('htu does not match');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidProof('iat is missing or malformed');
  if (iat > expect.now + expect.leeway) throw invalidProof('iat is in the future');
  if (iat < expect.now - expect.maxAge) throw invalidProof('iat is too old');
  if (expect.accessToken !== undefined) {
    if (typeof claims.ath !== 'string' || claims.ath !== accessTokenHash(expect.accessToken))
      throw invalidProof('ath does not match the access token');
  }
  if (expect.jkt !== undefined && proofKey.jkt !== expect.jkt)
    throw invalidProof('the proof key is not the one the token is bound to');
  if (expect.nonce !== undefined && !expect.nonce.accepts(claims.nonce)) {
    throw new TokenError('use_dpop_nonce', undefined, {
      headers: { 'DPoP-Nonce': expect.nonce.current() },
      cause: new Error('nonce is missing, stale or not ours'),
    });
  }
  return { jkt: proofKey.jkt, jti, iat };
}
