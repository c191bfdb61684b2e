#!/usr/bin/env node
/**
 * The `express-token-kit` command: the demo server and the credential admin commands, on the store
 * `REDIS_URL` (or `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS`) names.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StoreUnavailableError, TokenError } from '../errors';
import { isUuid } from '../core/credentials';
import { createTokenKit, type TokenKit } from '../core/token-kit';
import { KeySet } from '../keys/key-set';
import { RedisTokenStore } from '../stores/redis-token-store';
import { waitForReady } from '../stores/redis-client';
import { createRedisConnectionFromEnv, type RedisConnection } from '../stores/redis-connection';
import { createRevocationAnnouncer, revocationChannel } from '../stores/redis-revocation-view';
import type { SigningAlgorithm } from '../types';
import { startDemoServer, type DemoServer } from './main';
import { SeedError } from './seed';

/** Exit code of a command that did what it was asked. */
export const EXIT_OK = 0;
/** Exit code of a failure at run time: the store is unreachable, an id is unknown, the server cannot start. */
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
const GRANT_TYPES = ['client_credentials', 'password', 'refresh_token'];

const HELP = `Usage: express-token-kit <command> [options]

Commands:
  serve [--port P] [--host H] [--seed FILE]
      Start the demo server (routers A-D and the guarded sample resources). The flags override
      PORT, HOST and TOKEN_KIT_SEED. Stops cleanly on SIGTERM/SIGINT.
  keys generate [--alg RS256|ES256|HS256] [--kid KID]
      Print a new signing key as JSON for you to store: PEM private and public keys (RS256,
      ES256) or a base64url secret of 32 random bytes (HS256). Needs no store.
  apikey create --name NAME                  Create a router A API key; the key is shown once.
  apikey revoke --id ID                      Revoke an API key and the tokens it issued.
  application create --name NAME [--organization ORG] [--grant-types a,b] [--scopes x,y]
      Create an application (routers C and D); the client secret is shown once. Grant types:
      client_credentials (default), password, refresh_token.
  application rotate --id ID [--keep-tokens | --revoke-user-tokens]
      New client_id and client_secret; the old ones fail at once, and so do the application's own
      (client_credentials) tokens unless --keep-tokens. Users' sessions survive and refresh with
      the new credentials, unless --revoke-user-tokens (full compromise: every token dies).
  application revoke --id ID                 Delete an application; its tokens stop working.
  provider create [--domain DOMAIN]          Create a router B provider with one API key (shown once).
  client create --provider ID --audience URL Create a client of a provider.

Options:
  -h, --help       Show this help (also: express-token-kit <command> --help).
  -v, --version    Show the version.

Environment:
  REDIS_URL                      redis://… or rediss://… — required by the apikey, application,
                                 provider and client commands (an in-memory store would forget at once)
  REDIS_CLUSTER_NODES            host:port,… — a Redis Cluster instead
  REDIS_SENTINELS, REDIS_SENTINEL_NAME   host:port,… and the primary's name — Sentinel instead
  REDIS_KEY_PREFIX               key prefix of the token store (default etk:); use the server's
  PORT, HOST, TOKEN_KIT_SEED, TOKEN_KIT_ISSUER   the demo server's settings (see docs/getting-started.md)

Output: results are JSON on stdout; errors go to stderr.

Exit codes:
  0  success
  1  failure: the store is unreachable, an id is unknown, the server cannot start
  2  usage: unknown command or flag, missing or malformed value (e.g. an id that is not a UUID),
     no REDIS_URL for a command that needs a store`;

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
  if (values.help) return help(io);
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
  const values = parseFlags(args, { alg: { type: 'string' }, kid: { type: 'string' } }, 'keys generate');
  if (values.help) return help(io);
  const alg = (optional(values, 'alg', 'keys generate') ?? 'RS256').toUpperCase();
  if (!ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw new UsageError(`keys generate: --alg must be one of ${ALGORITHMS.join(', ')}`);
  }
  const kid = optional(values, 'kid', 'keys generate');
  if (kid !== undefined && !/^[\x21-\x7e]{1,128}$/.test(kid)) {
    throw new UsageError('keys generate: --kid must be 1-128 printable ASCII characters without spaces');
  }
  const key = await KeySet.generateKey(alg as SigningAlgorithm, kid);
  if (key.alg === 'HS256') {
    const secret = (key.secret as KeyObject).export();
    json(io, { kid: key.kid, alg: key.alg, secret: secret.toString('base64url') });
    return EXIT_OK;
  }
  const privateKey = key.privateKey as KeyObject;
  const publicKey = key.publicKey as KeyObject;
  // The public JWK as the server's JWKS will publish it, through the key set's own export.
  const publicJwk = new KeySet({ keys: [{ kid: key.kid, alg: key.alg, publicKey }] }).jwks().keys[0];
  json(io, {
    kid: key.kid,
    alg: key.alg,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk,
  });
  return EXIT_OK;
}

/** Opens the Redis token store the environment names, or refuses (exit 2) when it names none. */
async function openKit(
  env: NodeJS.ProcessEnv,
  io: CliIo,
  command: string,
): Promise<{ kit: TokenKit; connection: RedisConnection }> {
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
        'An in-memory store would forget the credential as soon as this command exits.',
    );
  }
  try {
    await waitForReady(connection.client, REDIS_READY_TIMEOUT_MS);
  } catch (err) {
    await connection.close();
    throw new FailureError(`cannot reach Redis: ${(err as Error).message}`);
  }
  const keyPrefix = env.REDIS_KEY_PREFIX || undefined;
  const store = new RedisTokenStore({
    client: connection.client,
    ...(keyPrefix === undefined ? {} : { keyPrefix }),
  });
  // Admin commands sign nothing: a throwaway key satisfies the kit, the issuer only labels events.
  // Revocations are announced on the servers' channel, so their revocation views drop what they know.
  const kit = createTokenKit({
    store,
    keys: await KeySet.generate('HS256'),
    issuer: env.TOKEN_KIT_ISSUER || 'http://127.0.0.1',
    revocationView: createRevocationAnnouncer({
      client: connection.client,
      channel: revocationChannel(keyPrefix),
    }),
  });
  return { kit, connection };
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
    await kit.tokens.store.close().catch(() => undefined);
    await connection.close();
  }
}

function notFound(what: string, id: string): never {
  throw new FailureError(`no ${what} with id ${id}`);
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
      if (values.help) return help(io);
      const name = required(values, 'name', command);
      return withKit(env, io, command, (kit) => kit.credentials.createApiKey({ name }));
    }
    case 'apikey revoke': {
      const values = parseFlags(args, { id: { type: 'string' } }, command);
      if (values.help) return help(io);
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
        },
        command,
      );
      if (values.help) return help(io);
      const name = required(values, 'name', command);
      const organization = values.organization === undefined ? undefined : String(values.organization);
      const grantTypes = list(optional(values, 'grant-types', command), 'grant-types', command);
      const unknown = grantTypes?.find((g) => !GRANT_TYPES.includes(g));
      if (unknown !== undefined) {
        throw new UsageError(
          `${command}: unknown grant type ${JSON.stringify(unknown)} (expected ${GRANT_TYPES.join(', ')})`,
        );
      }
      const scopes = list(optional(values, 'scopes', command), 'scopes', command);
      return withKit(env, io, command, (kit) =>
        kit.credentials.createApplication({
          name,
          ...(organization === undefined ? {} : { organization }),
          ...(grantTypes === undefined ? {} : { grantTypes }),
          ...(scopes === undefined ? {} : { scopes }),
        }),
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
    case 'application revoke': {
      const values = parseFlags(args, { id: { type: 'string' } }, command);
      if (values.help) return help(io);
      const id = uuid(values, 'id', command);
      return withKit(env, io, command, async (kit) =>
        (await kit.credentials.revokeApplication(id)) ? { id, revoked: true } : notFound('application', id),
      );
    }
    case 'provider create': {
      const values = parseFlags(args, { domain: { type: 'string' } }, command);
      if (values.help) return help(io);
      const domain = optional(values, 'domain', command);
      return withKit(env, io, command, (kit) =>
        kit.credentials.createProvider(domain === undefined ? {} : { domain }),
      );
    }
    case 'client create': {
      const values = parseFlags(
        args,
        { provider: { type: 'string' }, audience: { type: 'string' } },
        command,
      );
      if (values.help) return help(io);
      const providerId = uuid(values, 'provider', command);
      const audience = required(values, 'audience', command);
      if (!URL.canParse(audience))
        throw new UsageError(`${command}: --audience must be an absolute URL, e.g. https://api.example.com`);
      return withKit(env, io, command, async (kit) => {
        if ((await kit.credentials.getProvider(providerId)) === null) notFound('provider', providerId);
        return kit.credentials.createProviderClient(providerId, { audience });
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

function help(io: CliIo): number {
  io.stdout(HELP);
  return EXIT_OK;
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
    switch (command) {
      case undefined:
        io.stderr(HELP);
        return EXIT_USAGE;
      case '-h':
      case '--help':
      case 'help':
        return help(io);
      case '-v':
      case '--version':
        io.stdout(version());
        return EXIT_OK;
      case 'serve':
        return await serve(rest, env, io);
      case 'keys':
        if (rest[0] !== 'generate') {
          throw new UsageError(
            rest[0] === undefined
              ? 'keys: missing subcommand'
              : `keys: unknown subcommand ${JSON.stringify(rest[0])}`,
          );
        }
        return await generateKey(rest.slice(1), io);
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
