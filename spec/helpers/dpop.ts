/**
 * DPoP proofs made by hand (RFC 9449 §4.2), for the cases no conforming client sends: a key pair
 * per test client, proofs with any header or claim changed, and the thumbprint of the key.
 */
import { constants, createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

/** A proof key: the private key and its public JWK. */
export interface ProofKeyPair {
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, unknown>;
  /** RFC 7638 thumbprint of `jwk`. */
  readonly jkt: string;
}

const MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** The RFC 7638 thumbprint of a public JWK, written independently of lib/. */
export function thumbprint(jwk: Record<string, unknown>): string {
  const members = MEMBERS[jwk.kty as string]!;
  const json = `{${members.map((m) => `"${m}":${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(json).digest('base64url');
}

/** A fresh key pair for `alg` (ES256 by default). */
export function proofKey(
  alg: 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA' = 'ES256',
  rsaBits = 2048,
): ProofKeyPair {
  const { privateKey, publicKey } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg.startsWith('ES')
        ? generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: rsaBits });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { alg, privateKey, jwk, jkt: thumbprint(jwk) };
}

/** What a proof says; anything left out gets a valid default. `undefined` members are dropped. */
export interface ProofSpec {
  readonly htm?: unknown;
  readonly htu?: unknown;
  /** Seconds since the epoch. @default now */
  readonly iat?: unknown;
  readonly jti?: unknown;
  /** The access token whose hash goes in `ath`. */
  readonly accessToken?: string;
  readonly nonce?: string;
  /** Extra or replaced header members (`undefined` removes one). */
  readonly header?: Record<string, unknown>;
  /** Extra or replaced claims (`undefined` removes one). */
  readonly claims?: Record<string, unknown>;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A signed proof with `key`. */
export function makeProof(key: ProofKeyPair, spec: ProofSpec): string {
  const header = dropUndefined({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...spec.header });
  const claims = dropUndefined({
    jti: spec.jti ?? randomUUID(),
    htm: spec.htm ?? 'GET',
    htu: spec.htu,
    iat: spec.iat ?? Math.floor(Date.now() / 1000),
    ...(spec.accessToken === undefined
      ? {}
      : { ath: createHash('sha256').update(spec.accessToken).digest('base64url') }),
    ...(spec.nonce === undefined ? {} : { nonce: spec.nonce }),
    ...spec.claims,
  });
  const input = `${b64(header)}.${b64(claims)}`;
  const signature =
    key.alg === 'EdDSA'
      ? sign(null, Buffer.from(input), key.privateKey)
      : key.alg.startsWith('ES')
        ? sign(key.alg === 'ES256' ? 'sha256' : 'sha384', Buffer.from(input), {
            key: key.privateKey,
            dsaEncoding: 'ieee-p1363',
          })
        : key.alg === 'PS256'
          ? sign('sha256', Buffer.from(input), {
              key: key.privateKey,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: 32,
            })
          : sign('sha256', Buffer.from(input), key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}
