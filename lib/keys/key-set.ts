/**
 * The signing and verification keys of the library, each pinned to exactly one algorithm, and the
 * public JWKS built from them.
 *
 * Keys are converted to `KeyObject`s and validated once, when added. Verification looks a key up by
 * the (kid, alg) pair, so an algorithm is never inferred from a token.
 *
 * @see RFC 8725 §3.1 (each key used with exactly one algorithm)
 */
import {
  type JsonWebKey,
  KeyObject,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPair as generateKeyPairCallback,
  randomBytes,
} from 'node:crypto';
import { promisify } from 'node:util';

import type { SigningAlgorithm } from '../types';
import type { PublicJwk, Signer } from './signer';

export type { PublicJwk } from './signer';
import { invalidOption, objectOption, oneOf } from '../util/options';

const generateKeyPair = promisify(generateKeyPairCallback);

/** The algorithms a key may be pinned to. */
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'HS256'];

/** Smallest accepted RSA modulus, in bits. */
const MIN_RSA_BITS = 2048;
/** Smallest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size). */
const MIN_HMAC_BYTES = 32;
/** Longest accepted `kid`, in characters. */
const MAX_KID_LENGTH = 128;
/** Printable ASCII without spaces, so a `kid` is safe in headers, logs and JWKS documents. */
const KID_PATTERN = /^[\x21-\x7e]+$/;

/**
 * A JSON Web Key (RFC 7517 §4) as {@link KeyInput} accepts it: an RSA or EC key (RFC 7518 §6.2,
 * §6.3) for `privateKey`/`publicKey`, an `oct` key (RFC 7518 §6.4) for `secret`. When present,
 * `alg` must be the key's pinned algorithm, `kid` the key's kid and `use` `sig`.
 */
export interface JwkInput {
  /** Key type: `RSA` (RS256), `EC` (ES256, with `crv` `P-256`) or `oct` (HS256); required. */
  readonly kty?: string;
  /** Key id; must equal {@link KeyInput.kid} when present. */
  readonly kid?: string;
  /** Algorithm; must equal {@link KeyInput.alg} when present. */
  readonly alg?: string;
  /** Public key use; must be `sig` when present. */
  readonly use?: string;
  /** EC curve (`P-256`). */
  readonly crv?: string;
  /** EC public point coordinates, base64url. */
  readonly x?: string;
  /** EC public point coordinates, base64url. */
  readonly y?: string;
  /** RSA modulus, base64url. */
  readonly n?: string;
  /** RSA public exponent, base64url. */
  readonly e?: string;
  /** Private exponent (RSA) or private scalar (EC), base64url: present in private JWKs only. */
  readonly d?: string;
  /** RSA private members (RFC 7518 §6.3.2), base64url. */
  readonly p?: string;
  /** RSA private members (RFC 7518 §6.3.2), base64url. */
  readonly q?: string;
  /** RSA private members (RFC 7518 §6.3.2), base64url. */
  readonly dp?: string;
  /** RSA private members (RFC 7518 §6.3.2), base64url. */
  readonly dq?: string;
  /** RSA private members (RFC 7518 §6.3.2), base64url. */
  readonly qi?: string;
  /** Symmetric key value (`oct`), base64url. */
  readonly k?: string;
}

/**
 * One key to add to a {@link KeySet}. Asymmetric keys (`RS256`, `ES256`) take a `privateKey`
 * (signing and verification) and/or a `publicKey` (verification only); `HS256` takes a `secret`.
 *
 * The JSON that `express-token-kit keys generate` prints is a `KeyInput` as it is.
 */
export interface KeyInput {
  /** Key id, written to the JWT header and the JWKS: 1–128 printable ASCII characters, unique. */
  readonly kid: string;
  /** The one algorithm this key is used with. */
  readonly alg: SigningAlgorithm;
  /**
   * Private key: a `KeyObject`, a PEM string, or a private JWK (object or JSON string) with `kty`
   * `RSA` or `EC`. Its public key is derived from it.
   */
  readonly privateKey?: KeyObject | string | JwkInput;
  /**
   * Public key: a `KeyObject`, a PEM string, or a JWK (object or JSON string). Must match
   * `privateKey` when both are given.
   */
  readonly publicKey?: KeyObject | string | JwkInput;
  /**
   * HS256 secret, at least 32 bytes: a secret `KeyObject`, bytes, an `oct` JWK (its `k` is
   * base64url-decoded), or a string — taken as its UTF-8 bytes, never decoded.
   */
  readonly secret?: KeyObject | Buffer | string | JwkInput;
  /**
   * An external signer (a KMS or HSM key, see `Signer`) instead of `privateKey`: the key signs
   * through it and verifies with its `publicJwk`. `RS256` and `ES256` only; `kid` and `alg` must be
   * the signer's.
   */
  readonly signer?: Signer;
}

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** Keys to add, in order. The first one that can sign becomes the signing key. @default [] */
  readonly keys?: readonly KeyInput[];
}

/** The key a token is signed with. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The private key (`RS256`, `ES256`) or the secret (`HS256`). */
  readonly key: KeyObject;
}

/** A JWK Set document (RFC 7517 §5). */
export interface JwksDocument {
  readonly keys: PublicJwk[];
}

interface KeyEntry {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Private key or secret; absent for verification-only keys. */
  readonly signer: KeyObject | undefined;
  /** Public key or secret. */
  readonly verifier: KeyObject;
  /** The external signer holding the private key, when it is not in the process. */
  readonly external?: Signer;
}

/**
 * A set of keys, each pinned to one algorithm, with one active signing key.
 *
 * Supports rotation: add a new key, make it the signer, and retire the old key once the tokens it
 * signed have expired. {@link KeySet.version} changes on every change, for caches of the JWKS.
 *
 * @example
 * ```ts
 * const keys = await KeySet.generate('ES256');
 * keys.add(await KeySet.generateKey('ES256', '2026-06'));
 * keys.setSigningKey('2026-06');
 * ```
 */
export class KeySet {
  readonly #entries = new Map<string, KeyEntry>();
  readonly #retired = new Set<string>();
  #signer: string | undefined;
  #version = 0;
  #unknownKid: (() => Promise<void>) | undefined;

  /** Builds a key set from `options.keys`; see {@link KeySet.add}. */
  constructor(options: KeySetOptions = {}) {
    objectOption(options, 'createKeySet: options');
    const keys = options.keys ?? [];
    if (!Array.isArray(keys)) {
      throw invalidOption('createKeySet: options.keys must be an array of KeyInput');
    }
    for (const input of keys) {
      this.add(input);
    }
  }

  /**
   * Generates key material: RSA 2048 for `RS256`, P-256 for `ES256`, 32 random bytes for `HS256`.
   *
   * @param alg - the algorithm to pin the key to. @default 'RS256'
   * @param kid - the key id. @default 16 random bytes, base64url
   */
  static async generateKey(alg: SigningAlgorithm = 'RS256', kid: string = randomKid()): Promise<KeyInput> {
    switch (oneOf(alg, ALGORITHMS, 'KeySet.generateKey: alg')) {
      case 'RS256': {
        const { privateKey, publicKey } = await generateKeyPair('rsa', { modulusLength: MIN_RSA_BITS });
        return { kid, alg, privateKey, publicKey };
      }
      case 'ES256': {
        const { privateKey, publicKey } = await generateKeyPair('ec', { namedCurve: 'prime256v1' });
        return { kid, alg, privateKey, publicKey };
      }
      case 'HS256':
        return { kid, alg, secret: createSecretKey(randomBytes(MIN_HMAC_BYTES)) };
    }
  }

  /**
   * A key set holding one freshly generated key, which is its signing key.
   *
   * @param alg - @default 'RS256'
   * @param kid - @default 16 random bytes, base64url
   */
  static async generate(alg: SigningAlgorithm = 'RS256', kid?: string): Promise<KeySet> {
    return new KeySet({ keys: [await KeySet.generateKey(alg, kid)] });
  }

  /** Changes on every add, retire or change of signer; starts at the number of keys given. */
  get version(): number {
    return this.#version;
  }

  /**
   * Validates `input`, converts it to `KeyObject`s and adds it. The first key that can sign
   * becomes the signing key.
   *
   * @throws TypeError or RangeError naming the bad option; never printing key material.
   */
  add(input: KeyInput): this {
    const entry = toEntry(input);
    if (this.#entries.has(entry.kid)) {
      throw new RangeError(`KeySet.add: kid ${JSON.stringify(entry.kid)} is already in the key set`);
    }
    if (this.#retired.has(entry.kid)) {
      throw new RangeError(`KeySet.add: kid ${JSON.stringify(entry.kid)} was retired and cannot be reused`);
    }
    this.#entries.set(entry.kid, entry);
    if (this.#signer === undefined && (entry.signer !== undefined || entry.external !== undefined)) {
      this.#signer = entry.kid;
    }
    this.#version += 1;
    return this;
  }

  /**
   * Makes the key `kid` the one new tokens are signed with.
   *
   * @throws RangeError when `kid` is not in the set; TypeError when the key cannot sign.
   */
  setSigningKey(kid: string): void {
    const entry = this.#get('setSigningKey', kid);
    if (entry.signer === undefined && entry.external === undefined) {
      throw new TypeError(
        `KeySet.setSigningKey: kid ${JSON.stringify(kid)} has no private key or secret and cannot sign`,
      );
    }
    if (this.#signer !== kid) {
      this.#signer = kid;
      this.#version += 1;
    }
  }

  /**
   * Removes the key `kid` from verification and from the JWKS. Tokens it signed become invalid, and
   * the kid can never be added again.
   *
   * @throws RangeError when `kid` is not in the set; TypeError when it is the signing key.
   */
  retire(kid: string): void {
    this.#get('retire', kid);
    if (this.#signer === kid) {
      throw new TypeError(
        `KeySet.retire: kid ${JSON.stringify(kid)} is the signing key; set another signing key first`,
      );
    }
    this.#entries.delete(kid);
    this.#retired.add(kid);
    this.#version += 1;
  }

  /**
   * The active signing key.
   *
   * @throws TypeError when the set holds no key that can sign.
   */
  signingKey(): SigningKey {
    const entry = this.#signer === undefined ? undefined : this.#entries.get(this.#signer);
    if (entry?.external !== undefined) {
      throw new TypeError(
        `KeySet.signingKey: the signing key ${JSON.stringify(entry.kid)} is held by an external signer; use externalSigner()`,
      );
    }
    if (entry?.signer === undefined) {
      throw new TypeError('KeySet.signingKey: the key set has no signing key (add a private key or secret)');
    }
    return { kid: entry.kid, alg: entry.alg, key: entry.signer };
  }

  /**
   * The external {@link Signer} of the signing key, or `undefined` when the signing key is in the
   * process (then {@link KeySet.signingKey} returns it) or there is none.
   */
  externalSigner(): Signer | undefined {
    return this.#signer === undefined ? undefined : this.#entries.get(this.#signer)?.external;
  }

  /**
   * Replaces every key at once (one version step; nothing changes when any input is invalid), as a
   * key manager does when the shared key store changed: `inputs` are the keys that verify and are
   * published, `signingKid` the one that signs, `retiredKids` kids never to be accepted again.
   *
   * @throws TypeError or RangeError as {@link KeySet.add}, when `signingKid` is not among `inputs`
   *   or cannot sign, or when an input's kid was retired.
   */
  replaceAll(
    inputs: readonly KeyInput[],
    signingKid: string | undefined,
    retiredKids: readonly string[] = [],
  ): void {
    const entries = new Map<string, KeyEntry>();
    const retired = new Set([...this.#retired, ...retiredKids]);
    for (const input of inputs) {
      const entry = toEntry(input);
      if (entries.has(entry.kid)) {
        throw new RangeError(`KeySet.replaceAll: kid ${JSON.stringify(entry.kid)} is given twice`);
      }
      if (retired.has(entry.kid)) {
        throw new RangeError(
          `KeySet.replaceAll: kid ${JSON.stringify(entry.kid)} was retired and cannot be reused`,
        );
      }
      entries.set(entry.kid, entry);
    }
    if (signingKid !== undefined) {
      const entry = entries.get(signingKid);
      if (entry === undefined || (entry.signer === undefined && entry.external === undefined)) {
        throw new TypeError(
          `KeySet.replaceAll: signing kid ${safeKidForMessage(signingKid)} is not a key that can sign`,
        );
      }
    }
    this.#entries.clear();
    for (const [kid, entry] of entries) this.#entries.set(kid, entry);
    for (const kid of retiredKids) this.#retired.add(kid);
    this.#signer = signingKid;
    this.#version += 1;
  }

  /**
   * Installs the handler {@link KeySet.reloadForUnknownKid} calls (a key manager reloading the
   * shared store, at most once per cooldown). `undefined` removes it.
   */
  onUnknownKid(handler: (() => Promise<void>) | undefined): void {
    this.#unknownKid = handler;
  }

  /**
   * For a token that failed verification: when its header names a (kid, alg) this set has no key
   * for and an unknown-kid handler is installed, runs the handler (a store reload) and resolves
   * `true` when the key is known afterwards — the caller then verifies once more. Never rejects.
   */
  async reloadForUnknownKid(token: string): Promise<boolean> {
    const handler = this.#unknownKid;
    const header = this.#unknownKidOf(token);
    if (handler === undefined || header === undefined) return false;
    try {
      await handler();
    } catch {
      return false;
    }
    return this.verificationKey(header.kid, header.alg) !== undefined;
  }

  /**
   * True when {@link KeySet.reloadForUnknownKid} would run its handler for this token: a handler is
   * installed and the header names a well-formed (kid, alg) this set has never held. Synchronous,
   * for a caller that verifies without waiting and leaves such a token to the asynchronous path.
   * @internal
   */
  wouldReloadFor(token: string): boolean {
    return this.#unknownKid !== undefined && this.#unknownKidOf(token) !== undefined;
  }

  #unknownKidOf(token: string): { kid: string; alg: 'RS256' | 'ES256' } | undefined {
    if (typeof token !== 'string') return undefined;
    const header = headerOf(token);
    if (header === undefined) return undefined;
    const { kid, alg } = header;
    if (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH || !KID_PATTERN.test(kid)) return undefined;
    if (alg !== 'RS256' && alg !== 'ES256') return undefined;
    // A known or retired kid (whatever the token's alg) is never a reason to reload.
    if (this.#retired.has(kid) || this.#entries.has(kid)) return undefined;
    return { kid, alg };
  }

  /**
   * The key that verifies tokens with header `kid` and `alg`, or `undefined` when `kid` is not a
   * string, is unknown or retired, or `alg` is not the algorithm the key is pinned to.
   */
  verificationKey(kid: unknown, alg: unknown): KeyObject | undefined {
    if (typeof kid !== 'string' || typeof alg !== 'string' || kid.length > MAX_KID_LENGTH) {
      return undefined;
    }
    const entry = this.#entries.get(kid);
    return entry !== undefined && entry.alg === alg ? entry.verifier : undefined;
  }

  /** The pinned algorithm of the key `kid`, or `undefined` when there is none. */
  algorithmOf(kid: string): SigningAlgorithm | undefined {
    return this.#entries.get(kid)?.alg;
  }

  /** The kids of the keys in the set (retired keys excluded), in the order they were added. */
  kids(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * The public JWKS: every asymmetric key with `kid`, `alg` and `use: 'sig'` and only its public
   * members. HS256 keys are never published.
   *
   * @see RFC 7517 §5, RFC 7518 §6
   */
  jwks(): JwksDocument {
    const keys: PublicJwk[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.alg === 'HS256') {
        continue;
      }
      const jwk = entry.verifier.export({ format: 'jwk' });
      // Copy public members one by one so no private member can ever slip through.
      keys.push(
        entry.alg === 'RS256'
          ? { kty: 'RSA', kid: entry.kid, alg: entry.alg, use: 'sig', n: String(jwk.n), e: String(jwk.e) }
          : {
              kty: 'EC',
              kid: entry.kid,
              alg: entry.alg,
              use: 'sig',
              crv: String(jwk.crv),
              x: String(jwk.x),
              y: String(jwk.y),
            },
      );
    }
    return { keys };
  }

  #get(method: string, kid: unknown): KeyEntry {
    const entry = typeof kid === 'string' ? this.#entries.get(kid) : undefined;
    if (entry === undefined) {
      throw new RangeError(`KeySet.${method}: no key with kid ${safeKidForMessage(kid)} in the key set`);
    }
    return entry;
  }
}

/**
 * Creates a {@link KeySet} from `options.keys`; the first key that can sign is the signing key.
 *
 * @example
 * ```ts
 * const keys = createKeySet({ keys: [{ kid: 'k1', alg: 'ES256', privateKey: pem }] });
 * ```
 */
export function createKeySet(options: KeySetOptions = {}): KeySet {
  return new KeySet(options);
}

/** Longest JWT header part {@link KeySet.reloadForUnknownKid} decodes, in characters. */
const MAX_HEADER_PART = 512;

/** The decoded header of a compact JWS, or `undefined` when it is not a small JSON object. */
function headerOf(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > MAX_HEADER_PART) return undefined;
  const part = token.slice(0, dot);
  if (!BASE64URL.test(part)) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return isJwkObject(header) ? header : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A random key id: `bytes` random bytes, base64url, never starting with `-` or `_`, so that it can
 * follow a command-line flag (`--kid <kid>`) without being taken for an option.
 */
export function randomKid(bytes = 16): string {
  for (;;) {
    const kid = randomBytes(bytes).toString('base64url');
    if (/^[A-Za-z0-9]/.test(kid)) return kid;
  }
}

function safeKidForMessage(kid: unknown): string {
  return typeof kid === 'string' && kid.length <= MAX_KID_LENGTH && KID_PATTERN.test(kid)
    ? JSON.stringify(kid)
    : `(${typeof kid})`;
}

function toEntry(input: KeyInput): KeyEntry {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('KeySet.add: key must be an object { kid, alg, privateKey | publicKey | secret }');
  }
  const { kid, alg } = input;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH || !KID_PATTERN.test(kid)) {
    throw new TypeError(
      `KeySet.add: kid must be 1-${MAX_KID_LENGTH} printable ASCII characters without spaces, got ${safeKidForMessage(kid)}`,
    );
  }
  const where = `KeySet.add (kid ${JSON.stringify(kid)})`;
  if (!ALGORITHMS.includes(alg)) {
    throw new TypeError(
      `${where}: alg must be one of ${ALGORITHMS.join(', ')}, got ${typeof alg === 'string' ? JSON.stringify(alg.slice(0, 16)) : typeof alg}`,
    );
  }
  if (alg === 'HS256') {
    if (input.privateKey !== undefined || input.publicKey !== undefined || input.signer !== undefined) {
      throw new TypeError(`${where}: HS256 keys take a secret, not privateKey, publicKey or signer`);
    }
    const secret = toSecretKey(input.secret, kid, where);
    return { kid, alg, signer: secret, verifier: secret };
  }
  if (input.secret !== undefined) {
    throw new TypeError(`${where}: ${alg} keys take privateKey and/or publicKey, not a secret`);
  }
  if (input.signer !== undefined) {
    return externalEntry(input, kid, alg, where);
  }
  if (input.privateKey === undefined && input.publicKey === undefined) {
    throw new TypeError(`${where}: ${alg} keys need a privateKey or a publicKey`);
  }
  const privateKey =
    input.privateKey === undefined ? undefined : toPrivateKey(input.privateKey, kid, alg, where);
  let publicKey = input.publicKey === undefined ? undefined : toPublicKey(input.publicKey, kid, alg, where);
  if (privateKey !== undefined) {
    const derived = createPublicKey(privateKey);
    if (publicKey !== undefined && !publicKey.equals(derived)) {
      throw new TypeError(`${where}: publicKey does not match privateKey`);
    }
    publicKey = derived;
  }
  assertAsymmetricKey(publicKey!, alg, where);
  return { kid, alg, signer: privateKey, verifier: publicKey! };
}

function externalEntry(input: KeyInput, kid: string, alg: 'RS256' | 'ES256', where: string): KeyEntry {
  const signer = input.signer!;
  if (input.privateKey !== undefined || input.publicKey !== undefined) {
    throw new TypeError(`${where}: a key with an external signer takes no privateKey or publicKey`);
  }
  if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') {
    throw new TypeError(`${where}: signer must be a Signer { kid, alg, publicJwk, sign(bytes) }`);
  }
  if (signer.kid !== kid || signer.alg !== alg) {
    throw new TypeError(`${where}: the signer's kid and alg must be the key's`);
  }
  const verifier = toPublicKey(signer.publicJwk, kid, alg, where);
  assertAsymmetricKey(verifier, alg, where);
  return { kid, alg, signer: undefined, verifier, external: signer };
}

function assertAsymmetricKey(key: KeyObject, alg: 'RS256' | 'ES256', where: string): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'RS256') {
    if (type !== 'rsa') {
      throw new TypeError(`${where}: RS256 needs an RSA key, got ${String(type)}`);
    }
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
      throw new RangeError(
        `${where}: RS256 needs an RSA key of at least ${MIN_RSA_BITS} bits, got ${String(details.modulusLength)}`,
      );
    }
    return;
  }
  if (type !== 'ec') {
    throw new TypeError(`${where}: ES256 needs an EC key, got ${String(type)}`);
  }
  if (details.namedCurve !== 'prime256v1') {
    throw new RangeError(`${where}: ES256 needs an EC key on P-256, got ${String(details.namedCurve)}`);
  }
}

/** JWK `kty` of each algorithm (RFC 7518 §6.1). */
const JWK_KTY: Readonly<Record<SigningAlgorithm, string>> = { RS256: 'RSA', ES256: 'EC', HS256: 'oct' };

/** Base64url without padding (RFC 7515 §2). */
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** True for a plain object that may be a JWK (not a KeyObject, Buffer, array or string). */
function isJwkObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof KeyObject) &&
    !Buffer.isBuffer(value) &&
    !Array.isArray(value)
  );
}

/** A JWK given as a JSON string (`{…}`), parsed; `undefined` for any other string (PEM). */
function jwkFromString(value: string, option: string, where: string): Record<string, unknown> | undefined {
  if (!value.trimStart().startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // The text may hold key material: it is never printed, nor is the parser's message about it.
    throw new TypeError(`${where}: ${option} is neither a PEM string nor a JSON JWK`);
  }
  if (!isJwkObject(parsed)) {
    throw new TypeError(`${where}: ${option} is neither a PEM string nor a JSON JWK`);
  }
  return parsed;
}

/**
 * Checks the members of a JWK against the key it is given for: `kty` of the pinned algorithm,
 * and `alg`, `kid`, `use` and (EC) `crv` when present. Values in messages are names, never key
 * material.
 */
function assertJwkMembers(
  jwk: Record<string, unknown>,
  kid: string,
  alg: SigningAlgorithm,
  option: string,
  where: string,
): void {
  const show = (value: unknown): string =>
    typeof value === 'string' ? JSON.stringify(value.slice(0, 16)) : typeof value;
  const kty = JWK_KTY[alg];
  if (jwk.kty !== kty) {
    throw new TypeError(`${where}: ${option} is a JWK with kty ${show(jwk.kty)}; ${alg} needs kty "${kty}"`);
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw new TypeError(
      `${where}: ${option} is a JWK with alg ${show(jwk.alg)}, but the key is pinned to ${alg}`,
    );
  }
  if (jwk.kid !== undefined && jwk.kid !== kid) {
    throw new TypeError(`${where}: ${option} is a JWK with another kid (${safeKidForMessage(jwk.kid)})`);
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') {
    throw new TypeError(`${where}: ${option} is a JWK with use ${show(jwk.use)}; a signing key needs "sig"`);
  }
  if (alg === 'ES256' && jwk.crv !== 'P-256') {
    throw new TypeError(`${where}: ${option} is a JWK with crv ${show(jwk.crv)}; ES256 needs crv "P-256"`);
  }
}

function toPrivateKey(value: unknown, kid: string, alg: SigningAlgorithm, where: string): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== 'private') {
      throw new TypeError(`${where}: privateKey must be a private KeyObject, got a ${value.type} one`);
    }
    return value;
  }
  const jwk =
    typeof value === 'string'
      ? jwkFromString(value, 'privateKey', where)
      : isJwkObject(value)
        ? value
        : undefined;
  if (jwk !== undefined) {
    assertJwkMembers(jwk, kid, alg, 'privateKey', where);
    if (jwk.d === undefined) {
      throw new TypeError(
        `${where}: privateKey is a public JWK (no "d" member) and cannot sign; ` +
          'give the private JWK, or pass a public JWK as publicKey for a verification-only key',
      );
    }
    try {
      return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw new TypeError(`${where}: privateKey is not a readable private JWK`, { cause });
    }
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${where}: privateKey must be a KeyObject, a PEM string or a private JWK`);
  }
  try {
    return createPrivateKey(value);
  } catch (cause) {
    // The cause comes from OpenSSL and holds no key material; the value itself is never printed.
    throw new TypeError(`${where}: privateKey is not a readable private key`, { cause });
  }
}

function toPublicKey(value: unknown, kid: string, alg: SigningAlgorithm, where: string): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== 'public') {
      throw new TypeError(`${where}: publicKey must be a public KeyObject, got a ${value.type} one`);
    }
    return value;
  }
  const jwk =
    typeof value === 'string'
      ? jwkFromString(value, 'publicKey', where)
      : isJwkObject(value)
        ? value
        : undefined;
  if (jwk !== undefined) {
    assertJwkMembers(jwk, kid, alg, 'publicKey', where);
    try {
      return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw new TypeError(`${where}: publicKey is not a readable public JWK`, { cause });
    }
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${where}: publicKey must be a KeyObject, a PEM string or a JWK`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(value);
  } catch (cause) {
    throw new TypeError(`${where}: publicKey is not a readable public key`, { cause });
  }
  return key;
}

/** The bytes of an `oct` JWK's `k` (RFC 7518 §6.4.1), refusing anything but canonical base64url. */
function octBytes(jwk: Record<string, unknown>, kid: string, where: string): Buffer {
  assertJwkMembers(jwk, kid, 'HS256', 'secret', where);
  const k = jwk.k;
  if (typeof k !== 'string' || k.length === 0) {
    throw new TypeError(`${where}: secret is an oct JWK without its "k" member`);
  }
  const bytes = BASE64URL.test(k) ? Buffer.from(k, 'base64url') : undefined;
  // Canonical only: no padding, no stray characters, no non-zero trailing bits.
  if (bytes === undefined || bytes.toString('base64url') !== k) {
    throw new TypeError(`${where}: secret.k must be base64url without padding (RFC 7515 §2)`);
  }
  return bytes;
}

function toSecretKey(value: unknown, kid: string, where: string): KeyObject {
  let bytes: Buffer;
  if (value instanceof KeyObject) {
    if (value.type !== 'secret') {
      throw new TypeError(`${where}: secret must be a secret KeyObject, got a ${value.type} one`);
    }
    bytes = value.export();
  } else if (Buffer.isBuffer(value)) {
    bytes = value;
  } else if (typeof value === 'string') {
    bytes = Buffer.from(value, 'utf8');
  } else if (isJwkObject(value)) {
    bytes = octBytes(value, kid, where);
  } else {
    throw new TypeError(`${where}: HS256 keys need a secret (KeyObject, Buffer, oct JWK or string)`);
  }
  if (bytes.length < MIN_HMAC_BYTES) {
    throw new RangeError(
      `${where}: secret must be at least ${MIN_HMAC_BYTES} bytes, got ${bytes.length} (use 32 random bytes)`,
    );
  }
  if (looksWeak(bytes)) {
    throw new RangeError(`${where}: secret is too regular to be random (use 32 random bytes)`);
  }
  return value instanceof KeyObject ? value : createSecretKey(Buffer.from(bytes));
}

/**
 * True for obviously non-random secrets: few distinct bytes (`'aaaa…'`, `'0101…'`) or a short
 * word repeated (`'secretsecret…'`). Random or hex/base64-encoded random secrets never match.
 */
function looksWeak(bytes: Buffer): boolean {
  if (new Set(bytes).size < 8) {
    return true;
  }
  for (let period = 1; period <= bytes.length / 2; period += 1) {
    let periodic = true;
    for (let i = period; i < bytes.length; i += 1) {
      if (bytes[i] !== bytes[i - period]) {
        periodic = false;
        break;
      }
    }
    if (periodic) {
      return true;
    }
  }
  return false;
}
