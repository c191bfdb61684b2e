/**
 * The public key of a DPoP proof (RFC 9449 §4.2): the header's `jwk`, checked and imported as
 * every public JWK of the kit is (lib/keys/public-jwk.ts), and its RFC 7638 thumbprint (`jkt`), which binds tokens to it.
 */
import { createHash } from 'node:crypto';
import { parseJwk, PRIVATE_MEMBERS, type RemoteKey } from '../../keys/public-jwk';

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

/** Largest RSA modulus accepted, in bits: bounds the cost of a verification. */
const MAX_RSA_BITS = 8192;

/** A proof key that passed {@link importProofKey}. */
export interface ProofKey {
  /** The key, pinned to the proof's algorithm (for {@link jwsSignatureValid}). */
  readonly key: RemoteKey;
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
 * Checks and imports the `jwk` of a proof signed with `alg`: a public key (no private or symmetric
 * member, RFC 9449 §4.3) that fits the algorithm as `parseJwk` checks it (the algorithm's curve,
 * RSA of at least 2048 bits), and RSA of at most 8192 bits. Returns undefined for anything else,
 * never throws.
 */
export function importProofKey(jwk: unknown, alg: DpopAlgorithm): ProofKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(members, name))) return undefined;
  const jkt = jwkThumbprint(members);
  if (jkt === undefined) return undefined;
  // Only the required members go to the import, pinned to the proof's algorithm: nothing else of
  // the header (its own `alg`, `use`, `kid`) reaches node:crypto or decides the algorithm.
  const required = Object.fromEntries(THUMBPRINT_MEMBERS[members.kty as string]!.map((n) => [n, members[n]]));
  const key = parseJwk({ ...required, alg }, [alg]);
  if (key === undefined) return undefined;
  if ((key.key.asymmetricKeyDetails?.modulusLength ?? 0) > MAX_RSA_BITS) return undefined;
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
