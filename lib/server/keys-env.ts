/**
 * The signing keys of the demo server and the `keys` commands of the CLI, from the environment
 * (docs/keys.md): fixed keys from `TOKEN_KIT_KEYS_FILE`, the rotation schedule
 * (`TOKEN_KIT_KEY_ALG`, `TOKEN_KIT_ROTATE_EVERY`, `TOKEN_KIT_PUBLISH_AHEAD`, `TOKEN_KIT_KEY_LEEWAY`)
 * and the issuer the shared key store is kept under.
 *
 * Every configuration mistake is a TypeError or RangeError naming the variable; a message never
 * holds key material.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { kekFromEnv } from '../keys/kek';
import { createKeyManager, DEFAULT_PUBLISH_AHEAD, type KeyManager } from '../keys/key-manager';
import { KeySet, type KeyInput } from '../keys/key-set';
import type { KeyStore } from '../keys/key-store';
import { MemoryKeyStore } from '../stores/memory-key-store';
import { MAX_ACCESS_TOKEN_LIFETIME } from '../defaults';
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
  const lead = publishAhead ?? DEFAULT_PUBLISH_AHEAD;
  if (rotateEvery !== 0 && rotateEvery <= lead) {
    throw new RangeError(
      `TOKEN_KIT_ROTATE_EVERY (${rotateEvery} s) must be longer than TOKEN_KIT_PUBLISH_AHEAD (${lead} s${publishAhead === undefined ? ', the default' : ''})`,
    );
  }
  return {
    algorithm: alg as SharedKeyAlgorithm,
    rotateEvery,
    ...(publishAhead === undefined ? {} : { publishAhead }),
    ...(leeway === undefined ? {} : { leeway }),
  };
}

/**
 * The longest lifetime of a JWT the demo server signs, in seconds: `createProviderRouter` signs up
 * to 48 hours, the longest any verifier accepts. An old key verifies this long after it last
 * signed (plus the leeway) before it retires.
 */
export const DEMO_KEY_TOKEN_LIFETIME = MAX_ACCESS_TOKEN_LIFETIME;

/** The key manager options of a schedule (the CLI and the server pass the same). */
export function keyManagerSchedule(schedule: KeySchedule): {
  algorithm: SharedKeyAlgorithm;
  rotateEvery: number;
  tokenLifetime: number;
  publishAhead?: number;
  leeway?: number;
} {
  return {
    algorithm: schedule.algorithm,
    rotateEvery: schedule.rotateEvery,
    tokenLifetime: DEMO_KEY_TOKEN_LIFETIME,
    ...(schedule.publishAhead === undefined ? {} : { publishAhead: schedule.publishAhead }),
    ...(schedule.leeway === undefined ? {} : { leeway: schedule.leeway }),
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

/** A key to import into the shared key store, checked: what `keys import FILE` adds. */
export interface KeyImport {
  readonly kid: string;
  readonly alg: SharedKeyAlgorithm;
  /** The file's text, as `KeyManager.import` takes it. */
  readonly text: string;
}

/**
 * Checks the text of a `keys import` file: the JSON `express-token-kit keys generate` prints for
 * RS256 or ES256 (PEM or JWK), or a private JWK with `kid` and `alg`. The private key must be
 * readable, match its public key and fit its algorithm, before anything reaches the store.
 *
 * @throws TypeError or RangeError naming `file`; never printing key material.
 */
export function parseKeyImport(text: string, file: string): KeyImport {
  const where = `${file}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError(
      `${where} is not JSON: give the file express-token-kit keys generate --alg RS256|ES256 wrote`,
    );
  }
  const input = keyInputOf(parsed, where);
  if (input.alg === ('HS256' as SigningAlgorithm) || input.secret !== undefined) {
    throw new TypeError(
      `${where} holds an HS256 secret; the shared key store takes RS256 or ES256 keys (a JWKS publishes them)`,
    );
  }
  if (!(SHARED_KEY_ALGORITHMS as readonly string[]).includes(input.alg)) {
    throw new TypeError(`${where}: alg must be RS256 or ES256`);
  }
  if (input.privateKey === undefined) {
    throw new TypeError(
      `${where} holds no private key ("privateKey" or a private JWK): a public key cannot sign`,
    );
  }
  try {
    new KeySet({ keys: [input] });
  } catch (err) {
    const Kind = err instanceof RangeError ? RangeError : TypeError;
    throw new Kind(`${where}: ${(err as Error).message}`);
  }
  return { kid: input.kid, alg: input.alg as SharedKeyAlgorithm, text };
}

/** The demo server's key settings, read before it connects to anything. */
export interface DemoKeyConfig {
  /** `TOKEN_KIT_KEYS_FILE`, when set: fixed keys, no key store. */
  readonly keysFile: string | undefined;
  readonly schedule: KeySchedule;
  /** The key-encryption key and where it came from, when set. */
  readonly kek: { readonly kek: Buffer; readonly source: string } | undefined;
  /** The issuer the keys are reported under (messages, `keys list`). */
  readonly issuer: string;
}

/**
 * Reads the demo server's key settings: `TOKEN_KIT_KEYS_FILE`, the schedule
 * ({@link parseKeySchedule}) and the key-encryption key (`TOKEN_KIT_KEK`/`TOKEN_KIT_KEK_FILE`).
 *
 * @throws KeyEncryptionKeyError for a malformed key-encryption key; TypeError or RangeError naming
 *   another malformed variable.
 */
export function readDemoKeyConfig(env: NodeJS.ProcessEnv): DemoKeyConfig {
  const keysFile = env.TOKEN_KIT_KEYS_FILE?.trim();
  return {
    keysFile: keysFile === undefined || keysFile === '' ? undefined : keysFile,
    schedule: parseKeySchedule(env),
    kek: kekFromEnv(env),
    issuer: keyStoreIssuer(env),
  };
}

/** True when the configuration keeps its keys in the shared store of a Redis the server has. */
export function sharesKeys(config: DemoKeyConfig): boolean {
  return config.keysFile === undefined && config.kek !== undefined;
}

/** The signing keys of a demo server. */
export interface DemoKeys {
  /** The live key set to give `createTokenKit`. */
  readonly keys: KeySet;
  /** The key manager, unless the keys are fixed (`TOKEN_KIT_KEYS_FILE`). */
  readonly manager: KeyManager | undefined;
  /** One line for the start banner: where the keys live and what survives a restart. */
  readonly description: string;
  /** Stops the key manager's timers and subscription. Idempotent. */
  close(): Promise<void>;
}

/** What {@link openDemoKeys} needs besides the configuration. */
export interface DemoKeysOptions {
  /**
   * The shared key store in the server's Redis, when it has one and {@link sharesKeys} (built
   * with the token store, before the first command, so every script is defined on the client).
   */
  readonly store?: KeyStore;
  /** True when the server keeps its tokens in Redis (no KEK then means a warning). */
  readonly redis: boolean;
  /** Warnings (stderr). */
  readonly warn: (line: string) => void;
}

/**
 * The demo server's signing keys, read (and decrypted) before it listens:
 *
 * - `TOKEN_KIT_KEYS_FILE`: fixed keys from the file (see {@link loadKeysFile}); no key store, no
 *   schedule.
 * - Redis and a key-encryption key: the shared key store in Redis (`options.store`); every
 *   instance on it signs and verifies with the same keys, and a restart keeps them.
 * - Redis without one: a key-encryption key is generated for this process and the keys stay in
 *   memory (nothing is written that a restart could not read back); a warning says so.
 * - The memory store: the keys stay in memory, as before.
 *
 * @throws KeyEncryptionKeyError when the key-encryption key is wrong for the stored keys;
 *   StoreUnavailableError when the key store cannot be read; TypeError or RangeError for a
 *   malformed keys file.
 */
export async function openDemoKeys(config: DemoKeyConfig, options: DemoKeysOptions): Promise<DemoKeys> {
  const { schedule } = config;
  if (config.keysFile !== undefined) {
    const keys = await loadKeysFile(config.keysFile);
    const signing = keys.signingKey();
    return {
      keys,
      manager: undefined,
      description:
        `signing keys: fixed, from TOKEN_KIT_KEYS_FILE (${keys.kids().join(', ')}; ${signing.alg} ${signing.kid} signs); ` +
        'no key store, no rotation schedule.',
      close: () => Promise.resolve(),
    };
  }
  const shared = options.store !== undefined && config.kek !== undefined;
  if (options.redis && config.kek === undefined) {
    options.warn(
      'express-token-kit: warning: no key-encryption key (TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE): generated one for ' +
        'this process only, so the signing keys stay in memory and nothing is written to Redis that a restart ' +
        "could not decrypt. Other instances cannot verify this instance's JWTs, and every JWT stops verifying on " +
        'a restart. Set TOKEN_KIT_KEK to 32 random bytes (openssl rand -base64 32) on every instance to share the keys.',
    );
  }
  const manager = await createKeyManager({
    store: shared ? options.store! : new MemoryKeyStore(),
    kek: config.kek?.kek ?? randomBytes(32),
    issuer: config.issuer,
    ...keyManagerSchedule(schedule),
  });
  const rotation = schedule.rotateEvery === 0 ? 'manual rotation' : `rotated every ${schedule.rotateEvery} s`;
  let closed: Promise<void> | undefined;
  return {
    keys: manager.keys,
    manager,
    description: shared
      ? `signing keys: ${schedule.algorithm}, shared by every instance on this Redis and key prefix, sealed with the ` +
        `key-encryption key from ${config.kek!.source}; ${rotation} (express-token-kit keys list).`
      : `signing key: ${schedule.algorithm}, generated at start — every issued JWT stops verifying when the server restarts.`,
    close: () => (closed ??= manager.close()),
  };
}
