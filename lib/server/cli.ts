#!/usr/bin/env node
/**
 * The `express-token-kit` command: the demo server and the credential admin commands, on the store
 * `REDIS_URL` (or `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS`) names.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError, TokenError } from '../errors';
import {
  isUuid,
  type ApiKeyInfo,
  type ApplicationInfo,
  type ProviderClientInfo,
  type ProviderInfo,
} from '../core/credentials';
import { createTokenKit, type TokenKit } from '../core/token-kit';
import { DEFAULT_GRANT_TYPES, GRANT_TYPES, isGrantType } from '../core/grants/registry';
import { applicationResources } from '../core/resource-indicators';
import {
  INTROSPECTION_ACCESS,
  isIntrospectionAccess,
  type IntrospectionAccess,
} from '../core/introspection-access';
import { KeySet } from '../keys/key-set';
import type { CredentialStore } from '../stores/credential-store';
import { credentialStoreFromEnv, migrateFromEnv } from './credential-store-env';
import {
  createRedisConnectionFromEnv,
  createRevocationAnnouncer,
  RedisKeyStore,
  RedisTokenStore,
  revocationChannel,
  waitForReady,
  type RedisConnection,
} from './optional-redis';
import type { SigningAlgorithm } from '../types';
import { startDemoServer, type DemoServer } from './main';
import { SeedError } from './seed';
import { kekFromEnv, KeyEncryptionKeyError } from '../keys/kek';
import {
  clientAuthProblem,
  isTokenEndpointAuthMethod,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type PublicJwkSet,
  type TokenEndpointAuthMethod,
} from '../core/client-auth-method';
import { createKeyManager, KeyManagerError, type KeyManager } from '../keys/key-manager';
import { keyManagerSchedule, keyStoreIssuer, parseKeyImport, parseKeySchedule } from './keys-env';

/** Exit code of a command that did what it was asked. */
export const EXIT_OK = 0;
/** Exit code of a failure at run time: the store is unreachable, an id or kid is unknown, a wrong key-encryption key, the server cannot start. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error: unknown command or flag, missing or malformed value, no `REDIS_URL`. */
export const EXIT_USAGE = 2;

/** Where {@link runCli} writes, and how `serve` learns that it should stop. */
export interface CliIo {
  /** One line of standard output (JSON results, the server's log). */
  readonly stdout: (line: string) => void;
  /** One line of standard error (errors and warnings). */
  readonly stderr: (line: string) => void;
  /**
   * Resolves with a reason when `serve` should stop.
   * @default the first SIGTERM or SIGINT
   */
  readonly waitForStop?: () => Promise<string>;
  /** Called by `serve` once the server listens (for embedding and tests). */
  readonly onServing?: (server: DemoServer) => void;
}

/** Milliseconds the admin commands wait for Redis before giving up. */
const REDIS_READY_TIMEOUT_MS = 5000;
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'HS256'];

/** One command of the CLI, for the global help and its own `--help`. */
interface CommandDoc {
  /** `noun verb`, e.g. `apikey create`. */
  readonly name: string;
  /** The flags, after the name, as in the usage line. */
  readonly flags: string;
  /** What it does and prints; lines of at most 94 characters, indented by the printer. */
  readonly summary: string;
  /** More detail, printed by the command's own `--help` only. */
  readonly details?: string;
  /** True when the command needs the server's Redis. */
  readonly store?: boolean;
}

const KEYS_DETAILS =
  'The keys live beside the tokens (REDIS_URL, or a Cluster or Sentinel, under REDIS_KEY_PREFIX);\n' +
  'every server on that Redis and prefix sees a change within a second. Each command needs the\n' +
  'key-encryption key the servers use (TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE). See docs/keys.md.';

const COMMANDS: readonly CommandDoc[] = [
  {
    name: 'serve',
    flags: '[--port P] [--host H] [--seed FILE]',
    summary:
      'Start the demo server (all four routers and the guarded sample resources). The flags override\n' +
      'PORT, HOST and TOKEN_KIT_SEED. Stops cleanly on SIGTERM/SIGINT.',
    details: 'Without REDIS_URL (or a Cluster or Sentinel) the store is in memory and forgets on restart.',
  },
  {
    name: 'keys generate',
    flags: '[--alg RS256|ES256|HS256] [--kid KID] [--format pem|jwk]',
    summary:
      'Print a new signing key as JSON for you to store; the JSON is a KeyInput as it is:\n' +
      'createKeySet({ keys: [printed] }). Needs no store.',
    details:
      'RS256, ES256: privateKey and publicKey as PEM (--format pem, the default) or as JWKs\n' +
      '(--format jwk), and publicJwk, the public JWK the server publishes in its JWKS.\n' +
      'HS256: secret, an oct JWK whose "k" is the base64url of 32 random bytes (verifiers need\n' +
      'those decoded bytes, not the text of "k").',
  },
  {
    name: 'keys list',
    flags: '',
    summary:
      'List the signing keys in the shared key store: kid, alg, state (next, active, retiring,\n' +
      'retired) and their times; never key material.',
    details: KEYS_DETAILS,
    store: true,
  },
  {
    name: 'keys rotate',
    flags: '[--now]',
    summary:
      'Start a rotation: a new key is published as next and signs once the publish-ahead lead time\n' +
      '(TOKEN_KIT_PUBLISH_AHEAD) has passed; the active key keeps verifying until its tokens expire.\n' +
      '--now: the new key signs at once (an emergency switch; verifiers that cached the JWKS refetch it).',
    details: KEYS_DETAILS,
    store: true,
  },
  {
    name: 'keys retire',
    flags: '--kid KID [--now]',
    summary:
      'Retire a key: it stops signing and leaves the JWKS once the tokens it signed have expired.\n' +
      '--now (a compromised key): removed from the JWKS and refused on every instance at once.',
    details: KEYS_DETAILS,
    store: true,
  },
  {
    name: 'keys import',
    flags: 'FILE',
    summary:
      'Add a key you made (the JSON that keys generate prints, PEM or JWK, RS256 or ES256) to the\n' +
      'shared key store, sealed with the key-encryption key. Prints the key as keys list does.',
    details: KEYS_DETAILS,
    store: true,
  },
  {
    name: 'db migrate',
    flags: '',
    summary:
      'Create or update the PostgreSQL credential schema that DATABASE_URL (and DATABASE_SCHEMA)\n' +
      'name. Idempotent, and safe to run from several deploys at once. Prints the schema version.',
  },
  {
    name: 'apikey create',
    flags: '--name NAME',
    summary: 'Create a createApiKeyRouter API key; the key is shown once.',
    store: true,
  },
  {
    name: 'apikey list',
    flags: '',
    summary: 'List the API keys: id, name, hint (the first characters), createdAt; never a key.',
    store: true,
  },
  {
    name: 'apikey rotate',
    flags: '--id ID [--keep-tokens]',
    summary:
      'New key for the API key; the old key fails at once, and so do the tokens issued under it\n' +
      'unless --keep-tokens. The new key is shown once.',
    store: true,
  },
  {
    name: 'apikey revoke',
    flags: '--id ID',
    summary: 'Revoke an API key and the tokens it issued.',
    store: true,
  },
  {
    name: 'application create',
    flags:
      '--name NAME [--organization ORG] [--grant-types a,b] [--scopes x,y] [--resources uri,uri] ' +
      '[--introspection own|any] [--token-endpoint-auth-method M] [--jwks FILE | --jwks-uri URL] ' +
      '[--dpop-bound]',
    summary:
      'Create an application (createAuthRouter and createOAuthRouter); the client secret is shown once. Grant types:\n' +
      `${GRANT_TYPES.map((g) => (DEFAULT_GRANT_TYPES.includes(g) ? `${g} (default)` : g)).join(', ')}.\n` +
      "--introspection any: a resource server that may introspect every application's access\n" +
      'tokens; it obtains no tokens (no --grant-types, --scopes or --resources).\n' +
      `--token-endpoint-auth-method: ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')} (default: either of the\n` +
      'first two). private_key_jwt needs --jwks (a JWK Set file of public keys) or --jwks-uri (https);\n' +
      'client_secret_jwt needs TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE, which seals the secret.\n' +
      '--dpop-bound: every token request must carry a DPoP proof (RFC 9449 §5.2).',
    store: true,
  },
  {
    name: 'application list',
    flags: '',
    summary:
      'List the applications: id, name, organization, clientId, grant types, scopes, createdAt;\n' +
      'never a secret.',
    store: true,
  },
  {
    name: 'application rotate',
    flags: '--id ID [--keep-tokens | --revoke-user-tokens]',
    summary:
      "New client_id and client_secret; the old ones fail at once, and so do the application's own\n" +
      "(client_credentials) tokens unless --keep-tokens. Users' sessions survive and refresh with\n" +
      'the new credentials, unless --revoke-user-tokens (full compromise: every token dies).',
    store: true,
  },
  {
    name: 'application keys',
    flags: '--id ID (--jwks FILE | --jwks-uri URL)',
    summary:
      "Replace a private_key_jwt application's public keys (a JWK Set file, or an https jwks URL);\n" +
      'assertions signed with a key no longer registered fail at once.',
    store: true,
  },
  {
    name: 'application revoke',
    flags: '--id ID',
    summary: 'Delete an application; its tokens stop working.',
    store: true,
  },
  {
    name: 'provider create',
    flags: '[--domain DOMAIN]',
    summary: 'Create a createProviderRouter provider with one API key (shown once).',
    store: true,
  },
  {
    name: 'provider list',
    flags: '',
    summary: 'List the providers: id, domain, createdAt; never a key.',
    store: true,
  },
  {
    name: 'provider rotate',
    flags: '--id ID',
    summary: "Replace all of a provider's API keys with one new key (shown once); the old keys fail at once.",
    store: true,
  },
  {
    name: 'client create',
    flags: '--provider ID --audience URL',
    summary: 'Create a client of a provider.',
    store: true,
  },
  {
    name: 'client list',
    flags: '[--provider ID]',
    summary: 'List provider clients (of one provider with --provider): id, providerId, audience, createdAt.',
    store: true,
  },
];

const ENVIRONMENT = `Environment:
  REDIS_URL                      redis://… or rediss://… — required by the keys (but generate), apikey,
                                 application, provider and client commands (an in-memory store would
                                 forget at once)
  REDIS_CLUSTER_NODES            host:port,… — a Redis Cluster instead
  REDIS_SENTINELS, REDIS_SENTINEL_NAME   host:port,… and the primary's name — Sentinel instead
  REDIS_KEY_PREFIX               key prefix of the token store (default etk:); use the server's.
                                 A warning goes to stderr when it holds no kit data but another does
  DATABASE_URL                   postgres://… — keep credentials (API keys, applications, providers,
                                 clients) in PostgreSQL instead of Redis; needs the pg package
  DATABASE_SCHEMA                the credential schema in that database (default token_kit)
  TOKEN_KIT_KEK, TOKEN_KIT_KEK_FILE   the key-encryption key of the shared signing keys: 32 random
                                 bytes as base64 or hex (openssl rand -base64 32), or a file holding it
  TOKEN_KIT_KEY_ALG, TOKEN_KIT_ROTATE_EVERY, TOKEN_KIT_PUBLISH_AHEAD, TOKEN_KIT_KEY_LEEWAY
                                 the key rotation schedule (docs/keys.md); use the server's
  PORT, HOST, TOKEN_KIT_SEED, TOKEN_KIT_ISSUER   the demo server's settings (see docs/getting-started.md)`;

const OUTPUT = `Output: results are JSON on stdout, with camelCase field names (clientId, createdAt) as the
library's JavaScript API returns them; errors and warnings go to stderr. See docs/cli.md.`;

const EXIT_CODES = `Exit codes:
  0  success
  1  failure: the store is unreachable, an id or kid is unknown, a wrong key-encryption key,
     the server cannot start
  2  usage: unknown command or flag, missing or malformed value (e.g. an id that is not a UUID),
     no REDIS_URL for a command that needs a store`;

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

function usageLine(doc: CommandDoc): string {
  return `express-token-kit ${doc.name}${doc.flags === '' ? '' : ` ${doc.flags}`}`;
}

const HELP = `Usage: express-token-kit <command> [options]

Commands:
${COMMANDS.map((doc) => `  ${usageLine(doc).slice('express-token-kit '.length)}\n${indent(doc.summary, '      ')}`).join('\n')}

Options:
  -h, --help       Show this help; with a command, that command's help
                   (express-token-kit apikey --help, express-token-kit apikey create --help).
  -v, --version    Show the version.

${ENVIRONMENT}

${OUTPUT}

${EXIT_CODES}`;

/** The help of a command (`apikey create`) or of a command group (`apikey`), or undefined. */
function commandHelp(name: string): string | undefined {
  const doc = COMMANDS.find((c) => c.name === name);
  if (doc !== undefined) {
    return [
      `Usage: ${usageLine(doc)}`,
      '',
      doc.summary,
      ...(doc.details === undefined ? [] : ['', doc.details]),
      ...(doc.store === true ? ['', ENVIRONMENT] : []),
      '',
      OUTPUT,
      '',
      EXIT_CODES,
    ].join('\n');
  }
  const group = COMMANDS.filter((c) => c.name.startsWith(`${name} `));
  if (group.length === 0) return undefined;
  return [
    `Usage: express-token-kit ${name} <${group.map((c) => c.name.slice(name.length + 1)).join('|')}> [options]`,
    '',
    'Commands:',
    ...group.map((c) => `  ${usageLine(c)}\n${indent(c.summary, '      ')}`),
    '',
    `Run "express-token-kit ${name} <command> --help" for one command's help.`,
    ...(group.some((c) => c.store === true) ? ['', ENVIRONMENT] : []),
    '',
    OUTPUT,
    '',
    EXIT_CODES,
  ].join('\n');
}

/** A usage error: printed with a hint, exit code 2. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A run-time failure: printed as is, exit code 1. */
class FailureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailureError';
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values = Record<string, string | boolean | undefined>;

/** Parses a command's flags strictly: unknown flags, missing values and stray arguments are usage errors. */
function parseFlags(args: readonly string[], options: OptionSpec, command: string): Values {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) {
      throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
    }
    return values as Values;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const message = (err as Error).message.split('\n')[0] ?? 'invalid arguments';
    throw new UsageError(`${command}: ${message}`);
  }
}

function required(values: Values, name: string, command: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UsageError(`${command}: --${name} is required`);
  }
  return value.trim();
}

function optional(values: Values, name: string, command: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UsageError(`${command}: --${name} needs a value`);
  }
  return value.trim();
}

function uuid(values: Values, name: string, command: string): string {
  const value = required(values, name, command);
  if (!isUuid(value)) {
    throw new UsageError(`${command}: --${name} must be a UUID (e.g. 497f6eca-6276-4993-bfeb-53cbbbba6f08)`);
  }
  return value.toLowerCase();
}

function list(value: string | undefined, name: string, command: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new UsageError(`${command}: --${name} must be a comma-separated list without empty items`);
  }
  return items;
}

/** `--resources`: RFC 8707 absolute URIs without a fragment (a usage error names the bad one). */
function resourceList(items: string[] | undefined, command: string): string[] | undefined {
  try {
    return applicationResources(items, '--resources');
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

/** `--introspection own|any`; `any` refuses the token-requesting flags (a usage error names them). */
function introspectionFlag(
  value: string | undefined,
  settings: Readonly<Record<'grant-types' | 'scopes' | 'resources', string[] | undefined>>,
  command: string,
): IntrospectionAccess | undefined {
  if (value === undefined) return undefined;
  if (!isIntrospectionAccess(value)) {
    throw new UsageError(`${command}: --introspection must be one of ${INTROSPECTION_ACCESS.join(', ')}`);
  }
  const given = Object.entries(settings).find(([, list]) => list !== undefined);
  if (value === 'any' && given !== undefined) {
    throw new UsageError(`${command}: --introspection any obtains no tokens: --${given[0]} is not allowed`);
  }
  return value;
}

/**
 * `--token-endpoint-auth-method M`, `--jwks FILE` (a JWK Set of public keys) and `--jwks-uri URL`,
 * checked together; a usage error names the flag, and nothing is created.
 */
function clientAuthFlags(
  values: Values,
  command: string,
): { tokenEndpointAuthMethod?: TokenEndpointAuthMethod; jwks?: PublicJwkSet; jwksUri?: string } {
  const method = optional(values, 'token-endpoint-auth-method', command);
  if (method !== undefined && !isTokenEndpointAuthMethod(method)) {
    throw new UsageError(
      `${command}: --token-endpoint-auth-method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`,
    );
  }
  const file = optional(values, 'jwks', command);
  let jwks: unknown;
  if (file !== undefined) {
    try {
      jwks = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (err) {
      throw new UsageError(
        `${command}: --jwks ${JSON.stringify(file)} is not a readable JSON file (${(err as Error).message})`,
      );
    }
  }
  const jwksUri = optional(values, 'jwks-uri', command);
  const problem = clientAuthProblem(method, jwks, jwksUri);
  if (problem !== undefined) {
    const flag = {
      jwks: '--jwks',
      jwksUri: '--jwks-uri',
      tokenEndpointAuthMethod: '--token-endpoint-auth-method',
    };
    throw new UsageError(`${command}: ${flag[problem.field]} ${problem.message}`);
  }
  return {
    ...(method === undefined ? {} : { tokenEndpointAuthMethod: method }),
    ...(jwks === undefined ? {} : { jwks: jwks as PublicJwkSet }),
    ...(jwksUri === undefined ? {} : { jwksUri }),
  };
}

function version(): string {
  // dist/server/cli.js and lib/server/cli.ts are both two levels below the package root.
  const file = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function json(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2));
}

/** The first SIGTERM or SIGINT. */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function serve(args: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const values = parseFlags(
    args,
    { port: { type: 'string' }, host: { type: 'string' }, seed: { type: 'string' } },
    'serve',
  );
  const port = optional(values, 'port', 'serve');
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new UsageError('serve: --port must be a whole number from 0 to 65535');
  const host = optional(values, 'host', 'serve');
  const seed = optional(values, 'seed', 'serve');
  const serverEnv: NodeJS.ProcessEnv = {
    ...env,
    ...(port === undefined ? {} : { PORT: port }),
    ...(host === undefined ? {} : { HOST: host }),
    ...(seed === undefined ? {} : { TOKEN_KIT_SEED: seed }),
  };
  // Listen for signals before starting, so a signal during start still stops the server cleanly.
  const stopping = (io.waitForStop ?? waitForSignal)();
  let server: DemoServer;
  try {
    server = await startDemoServer(serverEnv, { log: io.stdout, warn: io.stderr });
  } catch (err) {
    if (err instanceof SeedError) throw new FailureError(`invalid seed file: ${err.message}`);
    throw new FailureError(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }
  io.onServing?.(server);
  const reason = await stopping;
  io.stderr(`express-token-kit: ${reason}, shutting down`);
  await server.close();
  return EXIT_OK;
}

async function generateKey(args: readonly string[], io: CliIo): Promise<number> {
  const command = 'keys generate';
  const values = parseFlags(
    args,
    { alg: { type: 'string' }, kid: { type: 'string' }, format: { type: 'string' } },
    command,
  );
  const alg = (optional(values, 'alg', command) ?? 'RS256').toUpperCase();
  if (!ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw new UsageError(`${command}: --alg must be one of ${ALGORITHMS.join(', ')}`);
  }
  const kid = optional(values, 'kid', command);
  if (kid !== undefined && !/^[\x21-\x7e]{1,128}$/.test(kid)) {
    throw new UsageError(`${command}: --kid must be 1-128 printable ASCII characters without spaces`);
  }
  const format = (optional(values, 'format', command) ?? 'pem').toLowerCase();
  if (format !== 'pem' && format !== 'jwk') {
    throw new UsageError(`${command}: --format must be pem or jwk`);
  }
  const key = await KeySet.generateKey(alg as SigningAlgorithm, kid);
  // Every shape printed here is a KeyInput as it is: createKeySet({ keys: [printed] }).
  if (key.alg === 'HS256') {
    // An oct JWK (RFC 7518 §6.4): `k` is base64url and decodes to the 32 secret bytes. A bare
    // base64url string would be taken as its UTF-8 text by createKeySet.
    const secret = (key.secret as KeyObject).export();
    json(io, {
      kid: key.kid,
      alg: key.alg,
      secret: { kty: 'oct', kid: key.kid, alg: key.alg, use: 'sig', k: secret.toString('base64url') },
    });
    return EXIT_OK;
  }
  const privateKey = key.privateKey as KeyObject;
  const publicKey = key.publicKey as KeyObject;
  // The public JWK as the server's JWKS will publish it, through the key set's own export.
  const publicJwk = new KeySet({ keys: [{ kid: key.kid, alg: key.alg, publicKey }] }).jwks().keys[0]!;
  json(io, {
    kid: key.kid,
    alg: key.alg,
    privateKey:
      format === 'jwk'
        ? { ...privateKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' }
        : privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: format === 'jwk' ? publicJwk : publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk,
  });
  return EXIT_OK;
}

/** The token store's default key prefix (RedisTokenStore's). */
const DEFAULT_KEY_PREFIX = 'etk:';
/** The credential kinds, whose id sets (`<prefix>cset:{<kind>}`) mark a prefix that holds kit data. */
const CREDENTIAL_KINDS = ['api_key', 'application', 'provider', 'provider_client'] as const;
/** The prefix check looks at no more than SCAN_ROUNDS × SCAN_COUNT keys per Redis node. */
const SCAN_ROUNDS = 10;
const SCAN_COUNT = 1000;
const CREDENTIAL_SET = /^(.*)cset:\{(api_key|application|provider|provider_client)\}$/s;

/**
 * Warns on stderr when the configured key prefix holds no kit data while another prefix does: a
 * missing or wrong `REDIS_KEY_PREFIX` would otherwise write credentials no server reads. Cheap and
 * best effort: one EXISTS per credential kind, then (only when they all miss) a bounded SCAN for
 * other prefixes' credential sets. Never fails the command.
 */
async function warnOnForeignPrefix(
  client: Redis | Cluster,
  keyPrefix: string | undefined,
  io: CliIo,
): Promise<void> {
  const prefix = keyPrefix ?? DEFAULT_KEY_PREFIX;
  try {
    const own = await Promise.all(CREDENTIAL_KINDS.map((kind) => client.exists(`${prefix}cset:{${kind}}`)));
    if (own.some((n) => n > 0)) return;
    // SCAN sees raw key names: the client's own keyPrefix is part of them.
    const clientPrefix = (client.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    const others = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      for (let round = 0; round < SCAN_ROUNDS; round += 1) {
        const [next, keys] = await node.scan(cursor, 'MATCH', '*cset:{*}', 'COUNT', SCAN_COUNT);
        for (const key of keys) {
          const match = CREDENTIAL_SET.exec(key);
          if (match === null || !match[1]!.startsWith(clientPrefix)) continue;
          const other = match[1]!.slice(clientPrefix.length);
          if (other !== prefix) others.add(other);
        }
        cursor = next;
        if (cursor === '0') break;
      }
    }
    if (others.size === 0) return;
    const found = [...others]
      .sort()
      .slice(0, 3)
      .map((p) => JSON.stringify(p));
    io.stderr(
      `express-token-kit: warning: key prefix ${JSON.stringify(prefix)}${keyPrefix === undefined ? ' (REDIS_KEY_PREFIX unset, the default)' : ''} ` +
        `holds no express-token-kit data, but ${found.join(', ')}${others.size > 3 ? ' and others' : ''} ` +
        `${others.size === 1 ? 'does' : 'do'}: set REDIS_KEY_PREFIX to the prefix the server uses`,
    );
  } catch {
    // A check that cannot run (ACL without SCAN, a node going away) must not stop the command.
  }
}

/** Connects to the Redis the environment names, or refuses (exit 2) when it names none. */
async function openRedis(
  env: NodeJS.ProcessEnv,
  io: CliIo,
  command: string,
  what: string,
): Promise<RedisConnection> {
  let connection: RedisConnection | null;
  try {
    connection = createRedisConnectionFromEnv(env, {
      onError: (err) => io.stderr(`express-token-kit: redis: ${err.message}`),
    });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  if (connection === null) {
    throw new UsageError(
      `${command} needs a store: set REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS with REDIS_SENTINEL_NAME) to the server's Redis. ` +
        `An in-memory store would forget ${what} as soon as this command exits.`,
    );
  }
  try {
    await waitForReady(connection.client, REDIS_READY_TIMEOUT_MS);
  } catch (err) {
    await connection.close();
    throw new FailureError(`cannot reach Redis: ${(err as Error).message}`);
  }
  return connection;
}

/** Opens the Redis token store the environment names, or refuses (exit 2) when it names none. */
async function openKit(
  env: NodeJS.ProcessEnv,
  io: CliIo,
  command: string,
): Promise<{ kit: TokenKit; connection: RedisConnection; credentialStore: CredentialStore | undefined }> {
  const connection = await openRedis(env, io, command, 'the credential');
  const keyPrefix = env.REDIS_KEY_PREFIX || undefined;
  const store = new RedisTokenStore({
    client: connection.client,
    ...(keyPrefix === undefined ? {} : { keyPrefix }),
  });
  // Admin commands sign nothing: a throwaway key satisfies the kit, the issuer only labels events.
  // Revocations are announced on the servers' channel, so their revocation views drop what they know.
  let credentialStore: CredentialStore | undefined;
  try {
    credentialStore = credentialStoreFromEnv(env);
  } catch (err) {
    await connection.close();
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  // credentials in PostgreSQL leave the Redis prefix without credential sets: nothing to warn of
  if (credentialStore === undefined) await warnOnForeignPrefix(connection.client, keyPrefix, io);
  // The KEK seals the secrets of client_secret_jwt applications (docs/client-auth.md).
  let secretKek: Buffer | undefined;
  try {
    secretKek = kekFromEnv(env)?.kek;
  } catch (err) {
    await connection.close();
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  const kit = createTokenKit({
    store,
    ...(credentialStore === undefined ? {} : { credentialStore }),
    ...(secretKek === undefined ? {} : { kek: secretKek }),
    keys: await KeySet.generate('HS256'),
    issuer: env.TOKEN_KIT_ISSUER || 'http://127.0.0.1',
    revocationView: createRevocationAnnouncer({
      client: connection.client,
      channel: revocationChannel(keyPrefix),
    }),
  });
  return { kit, connection, credentialStore };
}

/** Runs an admin command on the store, mapping store failures to exit 1 and bad values to exit 2. */
async function withKit(
  env: NodeJS.ProcessEnv,
  io: CliIo,
  command: string,
  run: (kit: TokenKit) => Promise<unknown>,
): Promise<number> {
  const { kit, connection } = await openKit(env, io, command);
  try {
    json(io, await run(kit));
    return EXIT_OK;
  } catch (err) {
    if (
      err instanceof StoreUnavailableError ||
      (err instanceof TokenError && err.code === 'service_unavailable')
    ) {
      throw new FailureError(`${command}: the token store is unavailable (${err.message})`);
    }
    if (err instanceof TypeError || err instanceof RangeError)
      throw new UsageError(`${command}: ${err.message}`);
    throw err;
  } finally {
    await kit.close().catch(() => undefined);
    await connection.close();
  }
}

/**
 * Opens the shared key store the environment names and its key manager (decrypting every key with
 * the key-encryption key, when one is set, before anything else), runs `run` and prints its result.
 * No store or a malformed setting is a usage error; a wrong key-encryption key, an unknown kid or
 * an outage is a failure, and nothing is written.
 */
async function withKeyManager(
  env: NodeJS.ProcessEnv,
  io: CliIo,
  command: string,
  run: (manager: KeyManager) => Promise<unknown>,
): Promise<number> {
  let schedule: ReturnType<typeof parseKeySchedule>;
  let kek: ReturnType<typeof kekFromEnv>;
  try {
    schedule = parseKeySchedule(env);
    kek = kekFromEnv(env);
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  if (kek === undefined) {
    throw new UsageError(
      `${command} needs the key-encryption key the servers use: set TOKEN_KIT_KEK (32 random bytes as ` +
        'base64 or hex) or TOKEN_KIT_KEK_FILE; the stored private keys open with it only',
    );
  }
  const connection = await openRedis(env, io, command, 'the signing keys');
  let manager: KeyManager;
  try {
    const keyPrefix = env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX;
    manager = await createKeyManager({
      store: new RedisKeyStore({ client: connection.client, keyPrefix }),
      kek: kek.kek,
      issuer: keyStoreIssuer(env),
      ...keyManagerSchedule(schedule),
      // A command reads and writes once: it creates no first key, runs no timer.
      bootstrap: false,
      pollEveryMs: 0,
    });
  } catch (err) {
    await connection.close();
    throw keysFailure(command, err);
  }
  try {
    json(io, await run(manager));
    return EXIT_OK;
  } catch (err) {
    throw keysFailure(command, err);
  } finally {
    await manager.close().catch(() => undefined);
    await connection.close();
  }
}

/** The error a `keys` command exits with for `err`. */
function keysFailure(command: string, err: unknown): Error {
  if (err instanceof UsageError || err instanceof FailureError) return err;
  if (err instanceof KeyEncryptionKeyError) return new FailureError(`${command}: ${err.message}`);
  if (err instanceof KeyManagerError) {
    return err.code === 'invalid_key' ? new UsageError(err.message) : new FailureError(err.message);
  }
  if (
    err instanceof StoreUnavailableError ||
    (err instanceof TokenError && err.code === 'service_unavailable')
  ) {
    return new FailureError(`${command}: the key store is unavailable, nothing was changed (${err.message})`);
  }
  return new FailureError(`${command}: ${err instanceof Error ? err.message : String(err)}`);
}

/** A kid as `keys generate --kid` takes it. */
function kidFlag(values: Values, command: string): string {
  const kid = required(values, 'kid', command);
  if (!/^[\x21-\x7e]{1,128}$/.test(kid)) {
    throw new UsageError(`${command}: --kid must be 1-128 printable ASCII characters without spaces`);
  }
  return kid;
}

/** `keys list | rotate | retire | import` on the shared key store. */
async function keysCommand(
  verb: string | undefined,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const command = `keys ${verb ?? ''}`.trim();
  switch (verb) {
    case 'list':
      parseFlags(args, {}, command);
      return withKeyManager(env, io, command, (manager) => manager.list());
    case 'rotate': {
      const values = parseFlags(args, { now: { type: 'boolean' } }, command);
      const now = values.now === true;
      return withKeyManager(env, io, command, (manager) => manager.rotate({ now }));
    }
    case 'retire': {
      const values = parseFlags(args, { kid: { type: 'string' }, now: { type: 'boolean' } }, command);
      const kid = kidFlag(values, command);
      const now = values.now === true;
      return withKeyManager(env, io, command, (manager) => manager.retire(kid, { now }));
    }
    case 'import': {
      const file = importFile(args, command);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(
          `${command}: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      let key: ReturnType<typeof parseKeyImport>;
      try {
        key = parseKeyImport(text, `${command}: ${JSON.stringify(file)}`);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      return withKeyManager(env, io, command, (manager) => manager.import(key.text, { kid: key.kid }));
    }
    default:
      throw new UsageError(
        verb === undefined || verb.startsWith('-')
          ? 'keys: missing subcommand'
          : `keys: unknown subcommand ${JSON.stringify(verb)}`,
      );
  }
}

/** The one FILE argument of `keys import`. */
function importFile(args: readonly string[], command: string): string {
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.split('\n')[0] ?? 'invalid arguments'}`);
  }
  if (positionals.length !== 1 || positionals[0]!.trim() === '') {
    throw new UsageError(
      `${command}: give exactly one FILE, the JSON that express-token-kit keys generate printed`,
    );
  }
  return positionals[0]!;
}

/** `db migrate`: the PostgreSQL credential schema, created or brought up to date. */
async function dbMigrate(args: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  parseFlags(args, {}, 'db migrate');
  let result: Awaited<ReturnType<typeof migrateFromEnv>>;
  try {
    result = await migrateFromEnv(env);
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`db migrate: ${err.message}`);
    throw new FailureError(`db migrate: cannot migrate the credential schema (${(err as Error).message})`);
  }
  json(io, result);
  return EXIT_OK;
}

function notFound(what: string, id: string): never {
  throw new FailureError(`no ${what} with id ${id}`);
}

// The list commands copy named, public fields only: a secret or a hash can never slip through,
// whatever the stored record holds.

function apiKeyRow(k: ApiKeyInfo): Pick<ApiKeyInfo, 'id' | 'name' | 'hint' | 'createdAt'> {
  return { id: k.id, name: k.name, hint: k.hint, createdAt: k.createdAt };
}

function applicationRow(a: ApplicationInfo): ApplicationInfo {
  return {
    id: a.id,
    name: a.name,
    organization: a.organization,
    clientId: a.clientId,
    applicationTypes: [...a.applicationTypes],
    grantTypes: [...a.grantTypes],
    scopes: [...a.scopes],
    ...(a.resources === undefined ? {} : { resources: [...a.resources] }),
    ...(a.introspection === undefined ? {} : { introspection: a.introspection }),
    ...(a.tokenEndpointAuthMethod === undefined
      ? {}
      : { tokenEndpointAuthMethod: a.tokenEndpointAuthMethod }),
    ...(a.jwks === undefined ? {} : { jwks: a.jwks }),
    ...(a.jwksUri === undefined ? {} : { jwksUri: a.jwksUri }),
    ...(a.dpopBoundAccessTokens === true ? { dpopBoundAccessTokens: true } : {}),
    createdAt: a.createdAt,
  };
}

function providerRow(p: ProviderInfo): ProviderInfo {
  return { id: p.id, domain: p.domain, createdAt: p.createdAt };
}

function clientRow(c: ProviderClientInfo): ProviderClientInfo {
  return { id: c.id, providerId: c.providerId, audience: c.audience, createdAt: c.createdAt };
}

async function admin(
  noun: string,
  verb: string | undefined,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const command = `${noun} ${verb ?? ''}`.trim();
  switch (command) {
    case 'apikey create': {
      const values = parseFlags(args, { name: { type: 'string' } }, command);
      const name = required(values, 'name', command);
      return withKit(env, io, command, (kit) => kit.credentials.createApiKey({ name }));
    }
    case 'apikey list': {
      parseFlags(args, {}, command);
      return withKit(env, io, command, async (kit) => (await kit.credentials.listApiKeys()).map(apiKeyRow));
    }
    case 'apikey rotate': {
      const values = parseFlags(
        args,
        { id: { type: 'string' }, 'keep-tokens': { type: 'boolean' } },
        command,
      );
      const id = uuid(values, 'id', command);
      const revokeTokens = values['keep-tokens'] !== true;
      return withKit(
        env,
        io,
        command,
        async (kit) => (await kit.credentials.rotateApiKey(id, { revokeTokens })) ?? notFound('API key', id),
      );
    }
    case 'apikey revoke': {
      const values = parseFlags(args, { id: { type: 'string' } }, command);
      const id = uuid(values, 'id', command);
      return withKit(env, io, command, async (kit) =>
        (await kit.credentials.revokeApiKey(id)) ? { id, revoked: true } : notFound('API key', id),
      );
    }
    case 'application create': {
      const values = parseFlags(
        args,
        {
          name: { type: 'string' },
          organization: { type: 'string' },
          'grant-types': { type: 'string' },
          scopes: { type: 'string' },
          resources: { type: 'string' },
          introspection: { type: 'string' },
          'token-endpoint-auth-method': { type: 'string' },
          jwks: { type: 'string' },
          'jwks-uri': { type: 'string' },
          'dpop-bound': { type: 'boolean' },
        },
        command,
      );
      const name = required(values, 'name', command);
      const clientAuth = clientAuthFlags(values, command);
      const organization = values.organization === undefined ? undefined : String(values.organization);
      const grantTypes = list(optional(values, 'grant-types', command), 'grant-types', command);
      const unknown = grantTypes?.find((g) => !isGrantType(g));
      if (unknown !== undefined) {
        throw new UsageError(
          `${command}: unknown grant type ${JSON.stringify(unknown)} (expected ${GRANT_TYPES.join(', ')})`,
        );
      }
      const scopes = list(optional(values, 'scopes', command), 'scopes', command);
      const resources = resourceList(
        list(optional(values, 'resources', command), 'resources', command),
        command,
      );
      const introspection = introspectionFlag(
        optional(values, 'introspection', command),
        { 'grant-types': grantTypes, scopes, resources },
        command,
      );
      return withKit(env, io, command, (kit) =>
        kit.credentials.createApplication({
          name,
          ...(organization === undefined ? {} : { organization }),
          ...(grantTypes === undefined ? {} : { grantTypes }),
          ...(scopes === undefined ? {} : { scopes }),
          ...(resources === undefined ? {} : { resources }),
          ...(introspection === undefined ? {} : { introspection }),
          ...clientAuth,
          ...(values['dpop-bound'] === true ? { dpopBoundAccessTokens: true } : {}),
        }),
      );
    }
    case 'application list': {
      parseFlags(args, {}, command);
      return withKit(env, io, command, async (kit) =>
        (await kit.credentials.listApplications()).map(applicationRow),
      );
    }
    case 'application rotate': {
      const values = parseFlags(
        args,
        {
          id: { type: 'string' },
          'keep-tokens': { type: 'boolean' },
          'revoke-user-tokens': { type: 'boolean' },
        },
        command,
      );
      if (values.help) return help(io);
      const id = uuid(values, 'id', command);
      const revokeTokens = values['keep-tokens'] !== true;
      const revokeUserTokens = values['revoke-user-tokens'] === true;
      if (revokeUserTokens && !revokeTokens)
        throw new UsageError(`${command}: --keep-tokens and --revoke-user-tokens contradict each other`);
      return withKit(
        env,
        io,
        command,
        async (kit) =>
          (await kit.credentials.rotateApplication(id, { revokeTokens, revokeUserTokens })) ??
          notFound('application', id),
      );
    }
    case 'application keys': {
      const values = parseFlags(
        args,
        { id: { type: 'string' }, jwks: { type: 'string' }, 'jwks-uri': { type: 'string' } },
        command,
      );
      const id = uuid(values, 'id', command);
      if (values.jwks === undefined && values['jwks-uri'] === undefined) {
        throw new UsageError(`${command}: --jwks FILE or --jwks-uri URL is required`);
      }
      const { jwks, jwksUri } = clientAuthFlags(
        { ...values, 'token-endpoint-auth-method': 'private_key_jwt' },
        command,
      );
      return withKit(
        env,
        io,
        command,
        async (kit) =>
          (await kit.credentials.replaceApplicationKeys(
            id,
            jwks === undefined ? { jwksUri: jwksUri! } : { jwks },
          )) ?? notFound('application', id),
      );
    }
    case 'application revoke': {
      const values = parseFlags(args, { id: { type: 'string' } }, command);
      const id = uuid(values, 'id', command);
      return withKit(env, io, command, async (kit) =>
        (await kit.credentials.revokeApplication(id)) ? { id, revoked: true } : notFound('application', id),
      );
    }
    case 'provider create': {
      const values = parseFlags(args, { domain: { type: 'string' } }, command);
      const domain = optional(values, 'domain', command);
      return withKit(env, io, command, (kit) =>
        kit.credentials.createProvider(domain === undefined ? {} : { domain }),
      );
    }
    case 'provider list': {
      parseFlags(args, {}, command);
      return withKit(env, io, command, async (kit) =>
        (await kit.credentials.listProviders()).map(providerRow),
      );
    }
    case 'provider rotate': {
      const values = parseFlags(args, { id: { type: 'string' } }, command);
      const id = uuid(values, 'id', command);
      return withKit(
        env,
        io,
        command,
        async (kit) => (await kit.credentials.rotateProviderKey(id)) ?? notFound('provider', id),
      );
    }
    case 'client create': {
      const values = parseFlags(
        args,
        { provider: { type: 'string' }, audience: { type: 'string' } },
        command,
      );
      const providerId = uuid(values, 'provider', command);
      const audience = required(values, 'audience', command);
      if (!URL.canParse(audience))
        throw new UsageError(`${command}: --audience must be an absolute URL, e.g. https://api.example.com`);
      return withKit(env, io, command, async (kit) => {
        if ((await kit.credentials.getProvider(providerId)) === null) notFound('provider', providerId);
        return kit.credentials.createProviderClient(providerId, { audience });
      });
    }
    case 'client list': {
      const values = parseFlags(args, { provider: { type: 'string' } }, command);
      const providerId = values.provider === undefined ? undefined : uuid(values, 'provider', command);
      return withKit(env, io, command, async (kit) => {
        if (providerId !== undefined) {
          if ((await kit.credentials.getProvider(providerId)) === null) notFound('provider', providerId);
          return (await kit.credentials.listProviderClients(providerId)).map(clientRow);
        }
        const rows: ReturnType<typeof clientRow>[] = [];
        for (const provider of await kit.credentials.listProviders()) {
          rows.push(...(await kit.credentials.listProviderClients(provider.id)).map(clientRow));
        }
        return rows;
      });
    }
    default:
      throw new UsageError(
        verb === undefined || verb.startsWith('-')
          ? `${noun}: missing subcommand`
          : `${noun}: unknown subcommand ${JSON.stringify(verb)}`,
      );
  }
}

/** Prints the help of `command` (a command or a group), or the global help. */
function help(io: CliIo, command?: string): number {
  io.stdout((command === undefined ? undefined : commandHelp(command)) ?? HELP);
  return EXIT_OK;
}

/** The command or group `help <words>` names; a usage error for an unknown one. */
function helpTopic(words: readonly string[]): string {
  const [noun, verb] = words;
  if (verb !== undefined && commandHelp(`${noun} ${verb}`) !== undefined) return `${noun} ${verb}`;
  if (noun !== undefined && commandHelp(noun) !== undefined) return noun;
  throw new UsageError(`help: unknown command ${JSON.stringify(words.join(' '))}`);
}

/**
 * The help `argv` asks for with `-h`/`--help` after a command, or undefined: the longest known
 * command or group among its first two words (`apikey create --help`, `apikey --help`).
 */
function helpRequest(argv: readonly string[]): string | undefined {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  if (!args.includes('--help') && !args.includes('-h')) return undefined;
  const [noun, verb] = args;
  if (noun === undefined || noun.startsWith('-')) return undefined;
  if (verb !== undefined && commandHelp(`${noun} ${verb}`) !== undefined) return `${noun} ${verb}`;
  return commandHelp(noun) !== undefined ? noun : undefined;
}

/**
 * Runs the `express-token-kit` command line and resolves with its exit code; never calls
 * `process.exit`. `serve` resolves when `io.waitForStop` does (by default on SIGTERM/SIGINT).
 *
 * Exit codes: 0 success; 1 failure at run time (store unreachable, unknown id, server cannot
 * start); 2 usage (unknown command or flag, missing or malformed value, no `REDIS_URL` for a
 * command that needs a store).
 *
 * @example
 * ```ts
 * const code = await runCli(['application', 'create', '--name', 'Billing'], { REDIS_URL: 'redis://127.0.0.1:6379' }, {
 *   stdout: (line) => console.log(line),
 *   stderr: (line) => console.error(line),
 * });
 * ```
 */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const helpFor = helpRequest(argv);
    if (helpFor !== undefined) return help(io, helpFor);
    switch (command) {
      case undefined:
        io.stderr(HELP);
        return EXIT_USAGE;
      case '-h':
      case '--help':
      case 'help':
        return help(io, rest.length === 0 ? undefined : helpTopic(rest));
      case '-v':
      case '--version':
        io.stdout(version());
        return EXIT_OK;
      case 'serve':
        return await serve(rest, env, io);
      case 'keys':
        if (rest[0] === 'generate') return await generateKey(rest.slice(1), io);
        return await keysCommand(rest[0], rest.slice(1), env, io);
      case 'db':
        if (rest[0] !== 'migrate') {
          throw new UsageError(
            rest[0] === undefined
              ? 'db: missing subcommand'
              : `db: unknown subcommand ${JSON.stringify(rest[0])}`,
          );
        }
        return await dbMigrate(rest.slice(1), env, io);
      case 'apikey':
      case 'application':
      case 'provider':
      case 'client':
        return await admin(command, rest[0], rest.slice(1), env, io);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`express-token-kit: ${err.message}`);
      io.stderr('Run "express-token-kit --help" for usage.');
      return EXIT_USAGE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`express-token-kit: ${message}`);
    return EXIT_FAILURE;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2), process.env, {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  }).then((code) => {
    process.exitCode = code;
  });
}
