/**
 * The key-encryption key (KEK): 32 bytes from the environment or a secret file, never stored. It
 * seals the private signing keys a key store holds (AES-256-GCM with a random 96-bit IV and the
 * key's kid and alg as additional authenticated data), so a store dump holds ciphertext only and a
 * sealed key cannot be moved to another kid or algorithm.
 *
 * @see NIST SP 800-38D (GCM; 96-bit IVs, 128-bit tags)
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Bytes of a KEK (AES-256). */
const KEK_BYTES = 32;
/** Bytes of a GCM IV. */
const IV_BYTES = 12;
/** Bytes of a GCM tag. */
const TAG_BYTES = 16;
/** Prefix of a sealed key: the envelope version, so the format can change without ambiguity. */
const ENVELOPE_V1 = 'etk-kek-v1';
const BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The key-encryption key is missing, malformed or wrong (a sealed key does not open with it). The
 * message always names the key-encryption key and its source, never its value.
 */
export class KeyEncryptionKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyEncryptionKeyError';
  }
}

/**
 * Reads a KEK: 32 bytes written as base64 (44 characters, one `=`) or hex (64 characters).
 * Surrounding whitespace (a trailing newline in a file) is ignored.
 *
 * @param text - the written KEK.
 * @param source - where it came from, for the error message (e.g. `TOKEN_KIT_KEK`).
 * @throws KeyEncryptionKeyError for anything else.
 * @example
 * ```ts
 * const kek = parseKek(process.env.TOKEN_KIT_KEK ?? '', 'TOKEN_KIT_KEK');
 * ```
 */
export function parseKek(text: string, source: string): Buffer {
  const value = typeof text === 'string' ? text.trim() : '';
  let kek: Buffer | undefined;
  if (HEX.test(value)) kek = Buffer.from(value, 'hex');
  else if (BASE64.test(value)) kek = Buffer.from(value, 'base64');
  if (kek?.length !== KEK_BYTES) {
    throw new KeyEncryptionKeyError(
      `the key-encryption key in ${source} must be 32 random bytes written as base64 (44 characters) ` +
        `or hex (64 characters); got ${value.length} characters (generate one with ` +
        '`openssl rand -base64 32`)',
    );
  }
  return kek;
}

/**
 * The KEK from `TOKEN_KIT_KEK` (its value) or `TOKEN_KIT_KEK_FILE` (a file holding it), or
 * `undefined` when neither is set.
 *
 * @throws KeyEncryptionKeyError when both are set, when the file cannot be read, or when the value
 *   is malformed (see {@link parseKek}).
 */
export function kekFromEnv(
  env: NodeJS.ProcessEnv,
): { kek: Buffer; source: 'TOKEN_KIT_KEK' | 'TOKEN_KIT_KEK_FILE' } | undefined {
  const value = env.TOKEN_KIT_KEK;
  const file = env.TOKEN_KIT_KEK_FILE;
  const hasValue = value !== undefined && value !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasValue && hasFile) {
    throw new KeyEncryptionKeyError(
      'set the key-encryption key in TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE, not both',
    );
  }
  if (hasValue) return { kek: parseKek(value, 'TOKEN_KIT_KEK'), source: 'TOKEN_KIT_KEK' };
  if (!hasFile) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new KeyEncryptionKeyError(
      `cannot read the key-encryption key file TOKEN_KIT_KEK_FILE=${JSON.stringify(file)}`,
      { cause },
    );
  }
  return {
    kek: parseKek(text, `TOKEN_KIT_KEK_FILE (${JSON.stringify(file)})`),
    source: 'TOKEN_KIT_KEK_FILE',
  };
}

function assertKek(kek: unknown): asserts kek is Buffer {
  if (!Buffer.isBuffer(kek) || kek.length !== KEK_BYTES) {
    throw new KeyEncryptionKeyError('the key-encryption key must be a Buffer of 32 bytes (see parseKek)');
  }
}

/**
 * Seals `plaintext` (a private key) with the KEK: AES-256-GCM, a random 96-bit IV, `aad` bound as
 * additional authenticated data. The result is text: `etk-kek-v1.<iv>.<ciphertext>.<tag>` (base64url).
 */
export function sealPrivateKey(kek: Buffer, plaintext: Buffer, aad: string): string {
  assertKek(kek);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [ENVELOPE_V1, iv, ciphertext, tag]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/**
 * Opens a key sealed by {@link sealPrivateKey} with the same KEK and `aad`.
 *
 * @throws KeyEncryptionKeyError when the KEK is wrong, the envelope is malformed or tampered with,
 *   or `aad` differs (a sealed key copied to another kid or algorithm).
 */
export function openPrivateKey(kek: Buffer, sealed: string, aad: string): Buffer {
  assertKek(kek);
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  const [version, ivText, ciphertextText, tagText] = parts;
  if (
    parts.length !== 4 ||
    version !== ENVELOPE_V1 ||
    ![ivText, ciphertextText, tagText].every((p) => p !== undefined && BASE64URL.test(p))
  ) {
    throw new KeyEncryptionKeyError(
      'a stored private key is not sealed with a key-encryption key (bad envelope)',
    );
  }
  const iv = Buffer.from(ivText!, 'base64url');
  const tag = Buffer.from(tagText!, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new KeyEncryptionKeyError(
      'a stored private key is not sealed with a key-encryption key (bad envelope)',
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ciphertextText!, 'base64url')), decipher.final()]);
  } catch (cause) {
    throw new KeyEncryptionKeyError(
      'a stored private key does not open with this key-encryption key: the key-encryption key is wrong, ' +
        'or the stored key was tampered with',
      { cause },
    );
  }
}
