/**
 * Public JWKs turned into verification keys, each pinned to one asymmetric JWS algorithm taken from
 * the JWK itself, and the signature check on such a key. Shared by resource-server mode (a remote
 * issuer's JWKS) and client authentication with `private_key_jwt` (an application's registered
 * keys), so both read JWKs and verify signatures the same way.
 *
 * @see RFC 7517 §4–§5 (JWK, JWK Set), RFC 7518 §3.3–§3.5 and §6, RFC 8037 §3.1, RFC 8725 §3.1
 */
import {
  constants,
  createPublicKey,
  verify as verifySignature,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

/** Asymmetric JWS algorithms a remote key may be pinned to (RFC 7518 §3.1, RFC 8037 §3.1). */
export type RemoteAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** Every {@link RemoteAlgorithm}. */
export const REMOTE_ALGORITHMS: readonly RemoteAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** A verification key of a remote issuer, pinned to one algorithm. */
export interface RemoteKey {
  readonly kid: string | undefined;
  readonly alg: RemoteAlgorithm;
  readonly key: KeyObject;
}

/** Most keys read from one JWKS; the rest are ignored. */
const MAX_KEYS = 100;
const MIN_RSA_BITS = 2048;
const CURVE_ALG: Readonly<Record<string, RemoteAlgorithm>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
  Ed25519: 'EdDSA',
  Ed448: 'EdDSA',
};
const NODE_CURVE: Readonly<Record<string, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/**
 * The keys of a JWK Set document that this library will verify with: RSA (≥ 2048 bits), EC (P-256,
 * P-384, P-521) and OKP (Ed25519, Ed448) public keys, each pinned to the JWK's `alg`, or to the one
 * algorithm its `kty`/`crv` implies (RSA → RS256). Symmetric (`oct`) keys, `alg: none`, keys whose
 * `use` is not `sig`, unknown algorithms and keys that do not parse are skipped. Null when the
 * document is not a JWK Set at all.
 */
export function parseJwks(document: unknown, algorithms: readonly RemoteAlgorithm[]): RemoteKey[] | null {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return null;
  const list = (document as { keys?: unknown }).keys;
  if (!Array.isArray(list)) return null;
  const keys: RemoteKey[] = [];
  for (const jwk of list.slice(0, MAX_KEYS) as unknown[]) {
    const key = parseJwk(jwk, algorithms);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

/** One JWK as a {@link RemoteKey}, or undefined when {@link parseJwks} would skip it. */
export function parseJwk(jwk: unknown, algorithms: readonly RemoteAlgorithm[]): RemoteKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const { kty, kid, alg, use, crv, n, e, x, y } = jwk as Record<string, unknown>;
  if (use !== undefined && use !== 'sig') return undefined;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > 256))
    return undefined;
  let pinned: RemoteAlgorithm | undefined;
  if (alg !== undefined) {
    if (typeof alg !== 'string' || !(REMOTE_ALGORITHMS as readonly string[]).includes(alg)) return undefined;
    pinned = alg as RemoteAlgorithm;
  } else if (kty === 'RSA') pinned = 'RS256';
  else if ((kty === 'EC' || kty === 'OKP') && typeof crv === 'string') pinned = CURVE_ALG[crv];
  if (pinned === undefined || !algorithms.includes(pinned)) return undefined;
  // Public members only: a JWKS that leaks private members must not make us hold a private key.
  let members: JsonWebKey;
  if (kty === 'RSA' && typeof n === 'string' && typeof e === 'string') members = { kty, n, e };
  else if (kty === 'EC' && typeof crv === 'string' && typeof x === 'string' && typeof y === 'string')
    members = { kty, crv, x, y };
  else if (kty === 'OKP' && typeof crv === 'string' && typeof x === 'string') members = { kty, crv, x };
  else return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (!keyFitsAlgorithm(key, pinned)) return undefined;
  return { kid: kid as string | undefined, alg: pinned, key };
}

function keyFitsAlgorithm(key: KeyObject, alg: RemoteAlgorithm): boolean {
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case 'ES256':
    case 'ES384':
    case 'ES512':
      return key.asymmetricKeyType === 'ec' && details?.namedCurve === NODE_CURVE[alg];
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448';
  }
}

/** Private (or symmetric) JWK members: a JWK that has one is no public key (RFC 7518 §6.2.2, §6.3.2, §6.4). */
export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * Why a JWK cannot be registered as a public verification key, or undefined when it can: it must be
 * an object without private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), not `oct`, and
 * usable by {@link parseJwk} (RSA ≥ 2048 bits, P-256/P-384/P-521, Ed25519/Ed448, a known `alg`
 * that fits the key, `use` absent or `sig`).
 */
export function publicJwkProblem(jwk: unknown): string | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'is not a JSON object';
  const members = jwk as Record<string, unknown>;
  if (members.kty === 'oct') return 'is a symmetric (oct) key; only public keys may be registered';
  const secret = PRIVATE_MEMBERS.find((name) => Object.hasOwn(members, name));
  if (secret !== undefined) return `has the private member "${secret}"; only public keys may be registered`;
  if (parseJwk(jwk, REMOTE_ALGORITHMS) === undefined) {
    return (
      'is not a usable public signing key (RSA of at least 2048 bits, EC P-256/P-384/P-521 or OKP ' +
      `Ed25519/Ed448, with an alg among ${REMOTE_ALGORITHMS.join(', ')} that fits it, use "sig" if any)`
    );
  }
  return undefined;
}

const HASH: Readonly<Record<RemoteAlgorithm, string | null>> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  EdDSA: null,
};
const PSS_SALT: Readonly<Record<string, number>> = { PS256: 32, PS384: 48, PS512: 64 };

/**
 * Verifies a JWS signature over `input` (the ASCII signing input, RFC 7515 §5.2) with the key's
 * pinned algorithm: RSASSA-PKCS1-v1_5, RSASSA-PSS (salt = hash length), ECDSA in the R‖S form, or
 * EdDSA. False for a bad signature; throws only what node:crypto throws for a malformed one.
 */
export function jwsSignatureValid(key: RemoteKey, input: Buffer, signature: Buffer): boolean {
  const { alg } = key;
  const keyInput: KeyObject | Parameters<typeof verifySignature>[2] = alg.startsWith('PS')
    ? { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT[alg] }
    : alg.startsWith('ES')
      ? { key: key.key, dsaEncoding: 'ieee-p1363' }
      : key.key;
  return verifySignature(HASH[alg], input, keyInput, signature);
}
