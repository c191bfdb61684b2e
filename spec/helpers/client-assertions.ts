/**
 * Client assertions (RFC 7523 §2.2) signed by hand on node:crypto, with any header and claims —
 * including the malformed ones a conforming library refuses to make — and the clients registered
 * for them.
 */
import { constants, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { TokenKit } from '../../lib/core/token-kit';

/** The `client_assertion_type` of a JWT assertion. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A signing key of a client, with its public JWK (kid and alg set). */
export interface ClientKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: Record<string, unknown>;
}

/** A key pair for `alg` (RS256, PS256, ES256, ES384, EdDSA), with its public JWK. */
export function clientKey(
  alg: string,
  kid: string = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`,
): ClientKey {
  const pair =
    alg.startsWith('RS') || alg.startsWith('PS')
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'ES384'
          ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
          : generateKeyPairSync('ed25519');
  return {
    alg,
    kid,
    ...pair,
    jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS of `header` and `claims`, signed with `key` by the header's `alg` (a Buffer: HMAC). */
export function signJws(
  header: Record<string, unknown>,
  claims: Record<string, unknown> | string,
  key: KeyObject | Buffer | undefined,
): string {
  const input = `${b64(header)}.${typeof claims === 'string' ? Buffer.from(claims).toString('base64url') : b64(claims)}`;
  const alg = String(header.alg);
  const data = Buffer.from(input);
  let signature: Buffer;
  if (key === undefined) signature = Buffer.alloc(0);
  else if (Buffer.isBuffer(key))
    signature = createHmac(`sha${alg.slice(2)}`, key)
      .update(data)
      .digest();
  else if (alg.startsWith('PS'))
    signature = sign(`sha${alg.slice(2)}`, data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Number(alg.slice(2)) / 8,
    });
  else if (alg.startsWith('ES'))
    signature = sign(`sha${alg.slice(2)}`, data, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') signature = sign(null, data, key);
  else signature = sign(`sha${alg.slice(2)}`, data, key);
  return `${input}.${signature.toString('base64url')}`;
}

/** The claims of a valid assertion of `clientId` for `aud` at `now` (seconds): exp a minute ahead. */
export function assertionClaims(clientId: string, aud: string, now: number): Record<string, unknown> {
  return { iss: clientId, sub: clientId, aud, jti: randomUUID(), iat: now, nbf: now, exp: now + 60 };
}

/** A form body authenticating by `assertion`, with `params`. */
export function assertionForm(assertion: string, params: Record<string, string> = {}): string {
  return new URLSearchParams({
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
    ...params,
  }).toString();
}

/** A `private_key_jwt` application with `keys` registered as its JWK Set. */
export async function privateKeyJwtClient(
  kit: TokenKit,
  keys: readonly ClientKey[],
  name = 'Signed',
): Promise<{ id: string; clientId: string; clientSecret: string }> {
  return kit.credentials.createApplication({
    name,
    grantTypes: ['client_credentials'],
    scopes: ['read'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: keys.map((k) => k.jwk) },
  });
}
