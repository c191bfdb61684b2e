/**
 * The signing keys of the demo server and the `keys` commands of the CLI, from the environment
 * (docs/keys.md): fixed keys from `TOKEN_KIT_KEYS_FILE`, the rotation schedule
 * (`TOKEN_KIT_KEY_ALG`, `TOKEN_KIT_ROTATE_EVERY`, `TOKEN_KIT_PUBLISH_AHEAD`, `TOKEN_KIT_KEY_LEEWAY`)
 * and the issuer the shared key store is kept under.
 *
 * Every configuration mistake is a TypeError or RangeError naming the variable; a message never
 * holds key material.
 */
import { readFile } from 'node:fs/promises';
import { KeySet, type KeyInput } from '../keys/key-set';
import type { SigningAlgorithm } from '../types';

/** The algorithms of keys in the shared key store (a published JWKS holds no HS256 secret). */
export const SHARED_KEY_ALGORITHMS = ['RS256', 'ES256'] as const;

/** An algorithm of the shared key store. */
export type SharedKeyAlgorithm = (typeof SHARED_KEY_ALGORITHMS)[number];

/** The rotation schedule the environment sets; an unset value is left to the key manager's default. */
export interface KeySchedule {
  /** `TOKEN_KIT_KEY_ALG`: the algorithm of new keys. @default 'RS256' */
  readonly algorithm: SharedKeyAlgorithm;
  /** `TOKEN_KIT_ROTATE_EVERY` in seconds; 0 for manual rotation only. @default 0 */
  readonly rotateEvery: number;
  /** `TOKEN_KIT_PUBLISH_AHEAD` in seconds: how long a `next` key is in the JWKS before it signs. */
  readonly publishAhead?: number;
  /** `TOKEN_KIT_KEY_LEEWAY` in seconds: how long an old key outlives its longest token. */
  readonly leeway?: number;
}

/** Seconds per unit of a duration such as `30d`. */
const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** The longest duration a schedule variable takes (10 years, in seconds). */
const MAX_DURATION = 10 * 365 * 86_400;

/**
 * A duration from `env[name]`: whole seconds (`3600`) or a whole number with a unit `s`, `m`, `h`
 * or `d` (`30d`); undefined when unset or empty.
 *
 * @throws RangeError naming the variable for anything else.
 */
function parseDuration(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return undefined;
  const match = /^(\d{1,12})([smhd]?)$/.exec(value);
  const seconds = match === null ? NaN : Number(match[1]) * UNITS[match[2] || 's']!;
  if (!Number.isSafeInteger(seconds) || seconds > MAX_DURATION) {
    throw new RangeError(
      `${name} must be a duration: whole seconds or a number with s, m, h or d (e.g. 30d), at most 10 years; ` +
        `got ${JSON.stringify(value.slice(0, 32))}`,
    );
  }
  return seconds;
}

/**
 * Reads the rotation schedule: `TOKEN_KIT_KEY_ALG` (`RS256` or `ES256`), `TOKEN_KIT_ROTATE_EVERY`,
 * `TOKEN_KIT_PUBLISH_AHEAD` and `TOKEN_KIT_KEY_LEEWAY` (durations such as `30d`, `12h`, `300`).
 *
 * @throws TypeError or RangeError naming a malformed variable.
 */
export function parseKeySchedule(env: NodeJS.ProcessEnv): KeySchedule {
  const alg = (env.TOKEN_KIT_KEY_ALG?.trim() || 'RS256').toUpperCase();
  if (!(SHARED_KEY_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new TypeError(
      `TOKEN_KIT_KEY_ALG must be ${SHARED_KEY_ALGORITHMS.join(' or ')}, got ${JSON.stringify(alg.slice(0, 16))}`,
    );
  }
  const rotateEvery = parseDuration(env, 'TOKEN_KIT_ROTATE_EVERY') ?? 0;
  if (rotateEvery !== 0 && rotateEvery < 60) {
    throw new RangeError('TOKEN_KIT_ROTATE_EVERY must be 0 (manual rotation) or at least 60 seconds');
  }
  const publishAhead = parseDuration(env, 'TOKEN_KIT_PUBLISH_AHEAD');
  const leeway = parseDuration(env, 'TOKEN_KIT_KEY_LEEWAY');
  return {
    algorithm: alg as SharedKeyAlgorithm,
    rotateEvery,
    ...(publishAhead === undefined ? {} : { publishAhead }),
    ...(leeway === undefined ? {} : { leeway }),
  };
}

/** The host to put in URLs: a wildcard bind address is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The issuer the shared key store is kept under: `TOKEN_KIT_ISSUER`, or the demo server's default
 * issuer `http://<HOST>:<PORT>` (`http://127.0.0.1:3000`), so the CLI finds the server's keys
 * with the same variables.
 */
export function keyStoreIssuer(env: NodeJS.ProcessEnv): string {
  const issuer = env.TOKEN_KIT_ISSUER?.trim();
  if (issuer !== undefined && issuer !== '') return issuer;
  return `http://${urlHost(env.HOST || '127.0.0.1')}:${env.PORT || '3000'}`;
}

/** True for a plain JSON object. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One entry of a keys file as a {@link KeyInput}: what `keys generate` prints (`kid`, `alg` and
 * `privateKey`/`publicKey` or `secret`), or a JWK with `kid` and `alg` (private: signs and
 * verifies; public: verifies only; `oct`: an HS256 secret).
 */
function keyInputOf(entry: unknown, where: string): KeyInput {
  if (!isObject(entry)) throw new TypeError(`${where} must be a JSON object`);
  if (typeof entry.kty === 'string') {
    const { kid, alg } = entry;
    if (typeof kid !== 'string' || typeof alg !== 'string') {
      throw new TypeError(`${where} is a JWK without "kid" and "alg"; both are required`);
    }
    const algorithm = alg as SigningAlgorithm;
    if (entry.kty === 'oct') return { kid, alg: algorithm, secret: entry };
    return entry.d === undefined
      ? { kid, alg: algorithm, publicKey: entry }
      : { kid, alg: algorithm, privateKey: entry };
  }
  const { kid, alg, privateKey, publicKey, secret } = entry;
  if (typeof kid !== 'string' || typeof alg !== 'string') {
    throw new TypeError(
      `${where} needs "kid" and "alg" (the JSON that express-token-kit keys generate prints, or a JWK)`,
    );
  }
  return {
    kid,
    alg: alg as SigningAlgorithm,
    ...(privateKey === undefined ? {} : { privateKey: privateKey as KeyInput['privateKey'] }),
    ...(publicKey === undefined ? {} : { publicKey: publicKey as KeyInput['publicKey'] }),
    ...(secret === undefined ? {} : { secret: secret as KeyInput['secret'] }),
  };
}

/**
 * Fixed signing keys from `TOKEN_KIT_KEYS_FILE`: the JSON `express-token-kit keys generate` prints
 * (PEM or JWK), or a JWKS-like `{ "keys": [ … ] }` of private JWKs (each with `kid` and `alg`) or
 * `keys generate` outputs. The first key that can sign is the signing key; public JWKs verify only.
 *
 * @throws TypeError or RangeError naming the file; never printing key material.
 */
export async function loadKeysFile(file: string): Promise<KeySet> {
  const where = `TOKEN_KIT_KEYS_FILE (${file})`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TypeError(`${where}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the text, which may be key material: never shown.
    throw new TypeError(`${where}: not JSON (expected what express-token-kit keys generate prints)`);
  }
  const entries = isObject(parsed) && Array.isArray(parsed.keys) ? (parsed.keys as unknown[]) : [parsed];
  if (entries.length === 0) throw new TypeError(`${where}: "keys" is empty`);
  const keys = new KeySet();
  entries.forEach((entry, i) => {
    const at = entries.length === 1 && entry === parsed ? where : `${where}: keys[${i}]`;
    try {
      keys.add(keyInputOf(entry, at));
    } catch (err) {
      if (err instanceof TypeError && err.message.startsWith(at)) throw err;
      const Kind = err instanceof RangeError ? RangeError : TypeError;
      throw new Kind(`${at}: ${(err as Error).message}`);
    }
  });
  try {
    keys.signingKey();
  } catch {
    throw new TypeError(`${where}: no key can sign (give a private key, a private JWK or a secret)`);
  }
  return keys;
}
