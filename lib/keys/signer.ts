/**
 * The signing seam: a {@link Signer} holds one asymmetric key and signs bytes with it, so a key can
 * live in a KMS or an HSM instead of in the process. The built-in signer ({@link createLocalSigner})
 * uses node:crypto; {@link signJwsCompact} builds a compact JWS on any signer.
 *
 * @see RFC 7515 §3.1 (JWS compact serialisation), RFC 7518 §3.3 (RS256), §3.4 (ES256: R || S)
 */
import { KeyObject, createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { nonEmptyString, objectOption, oneOf } from '../util/options';

/** A public JSON Web Key as published in the JWKS: public members only. */
export interface PublicJwk {
  readonly kty: 'RSA' | 'EC';
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly use: 'sig';
  /** RSA modulus (base64url). */
  readonly n?: string;
  /** RSA public exponent (base64url). */
  readonly e?: string;
  /** EC curve, always `P-256`. */
  readonly crv?: string;
  /** EC x coordinate (base64url). */
  readonly x?: string;
  /** EC y coordinate (base64url). */
  readonly y?: string;
}

/** An asymmetric algorithm a {@link Signer} can sign with. */
export type SignerAlgorithm = 'RS256' | 'ES256';

/**
 * One signing key, wherever it lives: its kid, algorithm and public JWK, and a `sign` that returns
 * the JOSE signature of the signing input (`base64url(header) "." base64url(payload)` as bytes).
 *
 * For `RS256` the signature is the RSASSA-PKCS1-v1_5 SHA-256 signature; for `ES256` it is `R || S`,
 * 64 bytes (RFC 7518 §3.4) — a KMS returning DER (AWS KMS, GCP KMS, Vault Transit with
 * `marshaling_algorithm=asn1`) must convert it with {@link derToJoseSignature}.
 */
export interface Signer {
  /** Key id, as written to the JWT header and the JWKS. */
  readonly kid: string;
  /** The one algorithm the key signs with. */
  readonly alg: SignerAlgorithm;
  /** The public key, as published in the JWKS (`kty`, `kid`, `alg`, `use`, public members only). */
  readonly publicJwk: PublicJwk;
  /** Signs `signingInput`; resolves to the JOSE signature bytes. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

/** Options of {@link createLocalSigner}. */
export interface LocalSignerOptions {
  /** Key id. */
  readonly kid: string;
  /** Algorithm: `RS256` (RSA, at least 2048 bits) or `ES256` (P-256). */
  readonly alg: SignerAlgorithm;
  /** The private key: a `KeyObject` or a PEM string. */
  readonly privateKey: KeyObject | string;
}

/**
 * The built-in {@link Signer}: signs with a private key held in the process, on node:crypto.
 *
 * @example
 * ```ts
 * const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
 * const signer = createLocalSigner({ kid: 'k1', alg: 'ES256', privateKey });
 * ```
 */
export function createLocalSigner(options: Readonly<LocalSignerOptions>): Signer {
  objectOption(options, 'createLocalSigner: options');
  const kid = nonEmptyString(options.kid, 'createLocalSigner: options.kid');
  const alg = oneOf(options.alg, ['RS256', 'ES256'], 'createLocalSigner: options.alg');
  let key: KeyObject;
  try {
    key = options.privateKey instanceof KeyObject ? options.privateKey : createPrivateKey(options.privateKey);
  } catch (cause) {
    throw new TypeError('createLocalSigner: options.privateKey is not a readable private key', { cause });
  }
  if (key.type !== 'private') {
    throw new TypeError('createLocalSigner: options.privateKey must be a private key');
  }
  const publicJwk = publicJwkOf(createPublicKey(key), kid, alg);
  const dsaEncoding = alg === 'ES256' ? 'ieee-p1363' : undefined;
  return Object.freeze({
    kid,
    alg,
    publicJwk,
    sign(signingInput: Uint8Array): Promise<Uint8Array> {
      return Promise.resolve(
        cryptoSign('sha256', signingInput, dsaEncoding === undefined ? key : { key, dsaEncoding }),
      );
    },
  });
}

/**
 * The public JWK of `key` for `kid` and `alg`, public members only.
 *
 * @throws TypeError when the key does not fit the algorithm.
 */
export function publicJwkOf(key: KeyObject, kid: string, alg: SignerAlgorithm): PublicJwk {
  const jwk = key.export({ format: 'jwk' });
  if (alg === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw new TypeError('RS256 needs an RSA key of at least 2048 bits');
    }
    return { kty: 'RSA', kid, alg, use: 'sig', n: String(jwk.n), e: String(jwk.e) };
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('ES256 needs an EC key on P-256');
  }
  return { kty: 'EC', kid, alg, use: 'sig', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
}

/**
 * Converts an ECDSA signature in DER (`SEQUENCE { INTEGER r, INTEGER s }`, what AWS KMS
 * `ECDSA_SHA_256`, GCP KMS `EC_SIGN_P256_SHA256` and Vault Transit return) to the JOSE form
 * `R || S`, each left-padded to 32 bytes for ES256.
 *
 * @throws TypeError when `der` is not a well-formed DER ECDSA signature of that size.
 * @see RFC 7518 §3.4
 */
export function derToJoseSignature(der: Uint8Array, alg: 'ES256' = 'ES256'): Uint8Array {
  const size = alg === 'ES256' ? 32 : 0;
  const bytes = Buffer.from(der);
  const fail = (): never => {
    throw new TypeError('derToJoseSignature: not a DER-encoded ECDSA P-256 signature');
  };
  let offset = 0;
  const byte = (): number => {
    const b = bytes[offset];
    if (b === undefined) fail();
    offset += 1;
    return b!;
  };
  if (byte() !== 0x30) fail();
  const seqLength = byte();
  if (seqLength >= 0x80 || seqLength !== bytes.length - 2) fail();
  const out = Buffer.alloc(size * 2);
  for (let i = 0; i < 2; i += 1) {
    if (byte() !== 0x02) fail();
    const length = byte();
    if (length === 0 || length >= 0x80 || offset + length > bytes.length) fail();
    let value = bytes.subarray(offset, offset + length);
    offset += length;
    // DER integers are signed: a leading 0x00 keeps a high bit from reading as negative.
    if (value[0]! & 0x80) fail();
    if (value.length > 1 && value[0] === 0 && !(value[1]! & 0x80)) fail();
    if (value[0] === 0) value = value.subarray(1);
    if (value.length > size) fail();
    value.copy(out, i * size + (size - value.length));
  }
  if (offset !== bytes.length) fail();
  return out;
}

/** The protected header {@link signJwsCompact} writes: exactly `{alg, typ, kid}`, as the kit does. */
export interface JwsHeader {
  readonly alg: SignerAlgorithm;
  readonly typ: string;
  readonly kid: string;
}

/**
 * Builds a compact JWS (RFC 7515 §3.1) of `payload` signed by `signer`: the header is exactly
 * `{alg, typ, kid}` (the signer's alg and kid), then `base64url(header).base64url(payload)`, signed.
 *
 * @throws TypeError when the signer returns a signature of the wrong length for its algorithm
 *   (e.g. a DER ECDSA signature not converted with {@link derToJoseSignature}).
 */
export async function signJwsCompact(
  signer: Signer,
  payload: Readonly<Record<string, unknown>>,
  typ: string,
): Promise<string> {
  const header: JwsHeader = { alg: signer.alg, typ, kid: signer.kid };
  const signingInput = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const signature = Buffer.from(await signer.sign(Buffer.from(signingInput, 'ascii')));
  const expected = signer.alg === 'ES256' ? 64 : rsaSignatureLength(signer.publicJwk);
  if (signature.length !== expected) {
    throw new TypeError(
      `signer ${JSON.stringify(signer.kid)} returned a ${signature.length}-byte signature; ${signer.alg} needs ${expected}` +
        (signer.alg === 'ES256' ? ' (R || S: convert DER with derToJoseSignature)' : ''),
    );
  }
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** The base64url of a value's UTF-8 JSON, as a JWS header or payload part (RFC 7515 §3.1). */
export function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function rsaSignatureLength(jwk: PublicJwk): number {
  return Buffer.from(jwk.n ?? '', 'base64url').length;
}
