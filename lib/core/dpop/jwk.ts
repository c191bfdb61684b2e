/**
 * The public key of a DPoP proof (RFC 9449 §4.2): the header's `jwk`, checked and imported with
 * node:crypto, and its RFC 7638 thumbprint (`jkt`), which binds tokens to it.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** Signature algorithms a DPoP proof may use: asymmetric only (RFC 9449 §4.2, never `none` or HMAC). */
export type DpopAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'PS256' | 'EdDSA';

/** Every algorithm the kit can verify a proof with, in the order it advertises them. */
export const DPOP_ALGORITHMS: readonly DpopAlgorithm[] = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'PS256',
  'EdDSA',
]);

/** The members RFC 7638 §3.2 hashes, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** Private or symmetric key members: a proof's `jwk` holding any of them is refused (RFC 9449 §4.3). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The curve each EC algorithm needs (RFC 7518 §3.4). */
const EC_CURVES: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 and §3.5). */
const MIN_RSA_BITS = 2048;
/** Largest RSA modulus accepted, in bits: bounds the cost of a verification. */
const MAX_RSA_BITS = 8192;

/** A proof key that passed {@link importProofKey}. */
export interface ProofKey {
  readonly key: KeyObject;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  readonly jkt: string;
}

/**
 * The RFC 7638 §3 SHA-256 thumbprint of a public JWK: its required members only, in
 * lexicographic order, as compact JSON, hashed and base64url-encoded. Undefined for a key type
 * other than EC, RSA and OKP, or when a required member is not a string.
 * @see RFC 7638 §3.2, RFC 8037 §2
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    canonical[name] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/**
 * Checks and imports the `jwk` of a proof signed with `alg`: a public key of the algorithm's type
 * (no private or symmetric members; the algorithm's curve; RSA of 2048 to 8192 bits). Returns
 * undefined for anything else, never throws.
 */
export function importProofKey(jwk: unknown, alg: DpopAlgorithm): ProofKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(members, name))) return undefined;
  const { kty, crv } = members;
  if (alg.startsWith('ES')) {
    if (kty !== 'EC' || crv !== EC_CURVES[alg]) return undefined;
  } else if (alg === 'EdDSA') {
    if (kty !== 'OKP' || (crv !== 'Ed25519' && crv !== 'Ed448')) return undefined;
  } else if (kty !== 'RSA') {
    return undefined;
  }
  const jkt = jwkThumbprint(members);
  if (jkt === undefined) return undefined;
  let key: KeyObject;
  try {
    // Only the required members go to the import: nothing else of the header reaches node:crypto.
    const required = Object.fromEntries(THUMBPRINT_MEMBERS[kty]!.map((name) => [name, members[name]]));
    key = createPublicKey({ key: required as never, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (key.type !== 'public') return undefined;
  if (kty === 'RSA') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return undefined;
  }
  return { key, jkt };
}

const JKT = /^[A-Za-z0-9_-]{43}$/;

/** `jkt` when it is a SHA-256 thumbprint in base64url (43 characters), else a RangeError. */
export function assertJkt(jkt: unknown): string {
  if (typeof jkt !== 'string' || !JKT.test(jkt)) {
    throw new RangeError('jkt must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)');
  }
  return jkt;
}
