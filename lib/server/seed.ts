/**
 * The demo server's seed file (`TOKEN_KIT_SEED`; docs/getting-started.md, "Seed file"): parsed and
 * validated strictly, once, at start.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_BINDING_PROFILE } from '../core/binding';
import { isUuid } from '../core/credentials';
import { DEFAULT_GRANT_TYPES, GRANT_TYPES, isGrantType, type GrantType } from '../core/grants/registry';
import { MAX_APPLICATION_RESOURCES, resourceProblem } from '../core/resource-indicators';
import {
  INTROSPECTION_ACCESS,
  isIntrospectionAccess,
  type IntrospectionAccess,
} from '../core/introspection-access';
import {
  clientAuthProblem,
  isTokenEndpointAuthMethod,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type PublicJwkSet,
  type TokenEndpointAuthMethod,
} from '../core/client-auth-method';

/** An API key for createApiKeyRouter. */
export interface SeedApiKey {
  /** The plaintext key clients present as `Authorization: Bearer <key>`. */
  readonly key: string;
  readonly name: string;
}

/** An employer (`empr_*`) and its employees (`empl_*`), for the binding guards. */
export interface SeedEmployer {
  readonly id: string;
  readonly employees: readonly string[];
}

/** An application (OAuth client) of createAuthRouter and createOAuthRouter. */
export interface SeedApplication {
  /** UUID, lowercased. */
  readonly id: string;
  readonly name: string;
  readonly organization: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly applicationTypes: readonly string[];
  /** Grants createOAuthRouter lets the client use; @default `['client_credentials']`. */
  readonly grantTypes: readonly SeedGrantType[];
  /** Resources (RFC 8707 absolute URIs) the client may request as its tokens' audience; absent for none. */
  readonly resources?: readonly string[];
  /**
   * `'any'` for a resource server that may introspect every application's access tokens (it
   * obtains no tokens: `grantTypes` is then empty); absent for `'own'`.
   */
  readonly introspection?: IntrospectionAccess;
  /**
   * How the client authenticates at createOAuthRouter (docs/client-auth.md); absent for
   * `client_secret_basic` or `client_secret_post`.
   */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** The client's public keys for `private_key_jwt`, a JWK Set; never with `jwksUri`. */
  readonly jwks?: PublicJwkSet;
  /** An https URL of the client's JWK Set for `private_key_jwt`; never with `jwks`. */
  readonly jwksUri?: string;
  /** True when the application's token requests must carry a DPoP proof (RFC 9449 §5.2). */
  readonly dpopBoundAccessTokens?: boolean;
}

/** A password-grant user. The password is only ever kept as a scrypt hash in memory. */
export interface SeedUser {
  readonly username: string;
  readonly password: string;
  readonly sub: string;
}

/** A client of a provider (createProviderRouter). */
export interface SeedProviderClient {
  /** UUID, lowercased. */
  readonly id: string;
  readonly audience: string;
}

/** A provider of createProviderRouter, with its API keys and clients. */
export interface SeedProvider {
  /** UUID, lowercased. */
  readonly id: string;
  /** Custom issuer domain (`https://<domain>`), or null for the kit's default issuer. */
  readonly domain: string | null;
  readonly apiKeys: readonly string[];
  readonly clients: readonly SeedProviderClient[];
}

/** A validated seed file. Every section defaults to an empty list. */
export interface Seed {
  readonly apiKeys: readonly SeedApiKey[];
  readonly employers: readonly SeedEmployer[];
  readonly applications: readonly SeedApplication[];
  readonly users: readonly SeedUser[];
  readonly providers: readonly SeedProvider[];
}

/** Grants an application may list in `grantTypes`: the grant registry's types. */
export type SeedGrantType = GrantType;

/** A malformed seed file; the message names the bad field, e.g. `applications[0].clientSecret`. */
export class SeedError extends Error {
  /** Path of the bad field (`applications[0].clientSecret`), or `''` for the file as a whole. */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(path === '' ? problem : `${path} ${problem}`, options);
    this.name = 'SeedError';
    this.path = path;
  }
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i;
const SECTIONS = ['apiKeys', 'employers', 'applications', 'users', 'providers'] as const;
const MAX_KEY_LENGTH = 1024;
const MAX_NAME_LENGTH = 256;
const MAX_CLIENT_ID_LENGTH = 128;

type Fields = Readonly<Record<string, unknown>>;

function object(value: unknown, path: string, allowed: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SeedError(path === '' ? 'the seed' : path, 'must be a JSON object');
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new SeedError(
        path === '' ? key : `${path}.${key}`,
        `is not a known field (expected one of: ${allowed.join(', ')})`,
      );
    }
  }
  return value as Fields;
}

function string(value: unknown, path: string, max = MAX_NAME_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new SeedError(path, 'must be a non-empty string');
  if (value.length > max) throw new SeedError(path, `must be at most ${max} characters`);
  return value;
}

function array(
  value: unknown,
  path: string,
  options: { optional?: boolean; nonEmpty?: boolean } = {},
): unknown[] {
  if (value === undefined && options.optional) return [];
  if (!Array.isArray(value)) throw new SeedError(path, 'must be an array');
  if (options.nonEmpty && value.length === 0) throw new SeedError(path, 'must not be empty');
  return value as unknown[];
}

function uuid(value: unknown, path: string): string {
  if (!isUuid(value)) throw new SeedError(path, 'must be a UUID (e.g. 497f6eca-6276-4993-bfeb-53cbbbba6f08)');
  return value.toLowerCase();
}

/** Tracks values that must be unique across the file, naming the first use on a duplicate. */
class Unique {
  readonly #seen = new Map<string, string>();
  constructor(readonly what: string) {}
  add(value: string, path: string): void {
    const first = this.#seen.get(value);
    if (first !== undefined) throw new SeedError(path, `duplicates the ${this.what} of ${first}`);
    this.#seen.set(value, path);
  }
}

function parseApiKey(value: unknown, path: string, keys: Unique): SeedApiKey {
  const f = object(value, path, ['key', 'name']);
  const key = string(f.key, `${path}.key`, MAX_KEY_LENGTH);
  keys.add(key, `${path}.key`);
  return { key, name: string(f.name, `${path}.name`) };
}

function parseEmployer(value: unknown, path: string, employers: Unique, employees: Unique): SeedEmployer {
  const f = object(value, path, ['id', 'employees']);
  if (!DEFAULT_BINDING_PROFILE.isEntityId(f.id, 'employer')) {
    throw new SeedError(`${path}.id`, 'must be an employer id: empr_ followed by 1-128 of A-Z a-z 0-9 _ -');
  }
  employers.add(f.id, `${path}.id`);
  const list = array(f.employees, `${path}.employees`, { optional: true }).map((e, j) => {
    const p = `${path}.employees[${j}]`;
    if (!DEFAULT_BINDING_PROFILE.isEntityId(e, 'employee'))
      throw new SeedError(p, 'must be an employee id: empl_ followed by 1-128 of A-Z a-z 0-9 _ -');
    employees.add(e, p);
    return e;
  });
  return { id: f.id, employees: list };
}

function stringList(value: unknown, path: string): string[] {
  return array(value, path).map((s, i) => string(s, `${path}[${i}]`));
}

function parseApplication(value: unknown, path: string, ids: Unique, clientIds: Unique): SeedApplication {
  const f = object(value, path, [
    'id',
    'name',
    'organization',
    'clientId',
    'clientSecret',
    'applicationTypes',
    'grantTypes',
    'resources',
    'introspection',
    'tokenEndpointAuthMethod',
    'jwks',
    'jwksUri',
    'dpopBoundAccessTokens',
  ]);
  const id = uuid(f.id, `${path}.id`);
  ids.add(id, `${path}.id`);
  const name = string(f.name, `${path}.name`);
  if (typeof f.organization !== 'string') throw new SeedError(`${path}.organization`, 'must be a string');
  const clientId = string(f.clientId, `${path}.clientId`, MAX_CLIENT_ID_LENGTH);
  clientIds.add(clientId, `${path}.clientId`);
  const clientSecret = string(f.clientSecret, `${path}.clientSecret`, MAX_KEY_LENGTH);
  const applicationTypes = stringList(f.applicationTypes, `${path}.applicationTypes`);
  let grantTypes: SeedGrantType[] = [...DEFAULT_GRANT_TYPES];
  if (f.grantTypes !== undefined) {
    const seen = new Unique('grant');
    grantTypes = array(f.grantTypes, `${path}.grantTypes`, { nonEmpty: true }).map((g, j) => {
      const p = `${path}.grantTypes[${j}]`;
      if (!isGrantType(g)) throw new SeedError(p, `must be one of: ${GRANT_TYPES.join(', ')}`);
      seen.add(g, p);
      return g;
    });
  }
  const resources = f.resources === undefined ? undefined : parseResources(f.resources, `${path}.resources`);
  const introspection = parseIntrospection(f, path);
  if (f.dpopBoundAccessTokens !== undefined && typeof f.dpopBoundAccessTokens !== 'boolean') {
    throw new SeedError(`${path}.dpopBoundAccessTokens`, 'must be a boolean');
  }
  return {
    id,
    name,
    organization: f.organization,
    clientId,
    clientSecret,
    applicationTypes,
    grantTypes: introspection === 'any' ? [] : grantTypes,
    ...(resources === undefined ? {} : { resources }),
    ...(introspection === 'any' ? { introspection } : {}),
    ...(f.dpopBoundAccessTokens === true ? { dpopBoundAccessTokens: true } : {}),
    ...parseClientAuth(f, path),
  };
}

/** An application's `tokenEndpointAuthMethod`, `jwks` and `jwksUri`, checked together. */
function parseClientAuth(
  f: Record<string, unknown>,
  path: string,
): Pick<SeedApplication, 'tokenEndpointAuthMethod' | 'jwks' | 'jwksUri'> {
  const method = f.tokenEndpointAuthMethod;
  if (method !== undefined && !isTokenEndpointAuthMethod(method)) {
    throw new SeedError(
      `${path}.tokenEndpointAuthMethod`,
      `must be one of: ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`,
    );
  }
  const problem = clientAuthProblem(method, f.jwks, f.jwksUri);
  if (problem !== undefined) throw new SeedError(`${path}.${problem.field}`, problem.message);
  if (method === 'client_secret_jwt' && Buffer.byteLength(String(f.clientSecret)) < 32) {
    throw new SeedError(
      `${path}.clientSecret`,
      'must be at least 32 bytes for client_secret_jwt (RFC 7518 §3.2)',
    );
  }
  return {
    ...(method === undefined ? {} : { tokenEndpointAuthMethod: method }),
    ...(f.jwks === undefined ? {} : { jwks: f.jwks as PublicJwkSet }),
    ...(f.jwksUri === undefined ? {} : { jwksUri: f.jwksUri as string }),
  };
}

/** An application's `introspection`; an `'any'` application may not name grants or resources. */
function parseIntrospection(f: Record<string, unknown>, path: string): IntrospectionAccess {
  if (f.introspection === undefined) return 'own';
  if (!isIntrospectionAccess(f.introspection)) {
    throw new SeedError(`${path}.introspection`, `must be one of: ${INTROSPECTION_ACCESS.join(', ')}`);
  }
  if (f.introspection === 'any') {
    for (const name of ['grantTypes', 'resources'] as const) {
      if (f[name] !== undefined)
        throw new SeedError(
          `${path}.${name}`,
          'must be absent: an application with introspection "any" obtains no tokens',
        );
    }
  }
  return f.introspection;
}

/** An application's `resources`: distinct RFC 8707 §2 absolute URIs without a fragment. */
function parseResources(value: unknown, path: string): string[] {
  const seen = new Unique('resource');
  const list = array(value, path);
  if (list.length > MAX_APPLICATION_RESOURCES) {
    throw new SeedError(path, `must hold at most ${MAX_APPLICATION_RESOURCES} resources`);
  }
  return list.map((r, i) => {
    const p = `${path}[${i}]`;
    const problem = resourceProblem(r);
    if (problem !== undefined) throw new SeedError(p, `${problem} (RFC 8707 §2)`);
    seen.add(r as string, p);
    return r as string;
  });
}

function parseUser(value: unknown, path: string, usernames: Unique): SeedUser {
  const f = object(value, path, ['username', 'password', 'sub']);
  const username = string(f.username, `${path}.username`);
  usernames.add(username, `${path}.username`);
  const password = string(f.password, `${path}.password`);
  return { username, password, sub: string(f.sub, `${path}.sub`) };
}

function parseProvider(
  value: unknown,
  path: string,
  ids: Unique,
  clientIds: Unique,
  keys: Unique,
): SeedProvider {
  const f = object(value, path, ['id', 'domain', 'apiKeys', 'clients']);
  const id = uuid(f.id, `${path}.id`);
  ids.add(id, `${path}.id`);
  let domain: string | null = null;
  if (f.domain !== undefined && f.domain !== null) {
    if (typeof f.domain !== 'string' || !HOST_NAME.test(f.domain) || f.domain.length > 253) {
      throw new SeedError(`${path}.domain`, 'must be a host name (e.g. auth.example.test) or null');
    }
    domain = f.domain;
  }
  const apiKeys = array(f.apiKeys, `${path}.apiKeys`, { nonEmpty: true }).map((k, j) => {
    const p = `${path}.apiKeys[${j}]`;
    const key = string(k, p, MAX_KEY_LENGTH);
    keys.add(key, p);
    return key;
  });
  const clients = array(f.clients, `${path}.clients`, { optional: true }).map((c, j) => {
    const p = `${path}.clients[${j}]`;
    const cf = object(c, p, ['id', 'audience']);
    const clientId = uuid(cf.id, `${p}.id`);
    clientIds.add(clientId, `${p}.id`);
    return { id: clientId, audience: string(cf.audience, `${p}.audience`, MAX_KEY_LENGTH) };
  });
  return { id, domain, apiKeys, clients };
}

/**
 * Validates a parsed seed file (docs/getting-started.md, "Seed file") and returns a normalised copy:
 * UUIDs lowercased, absent sections as empty lists, `grantTypes` defaulted to `['client_credentials']`.
 *
 * @throws SeedError naming the bad field, e.g. `applications[0].clientSecret must be a non-empty string`.
 * @example
 * ```ts
 * const seed = parseSeed(JSON.parse(text));
 * ```
 */
export function parseSeed(json: unknown): Seed {
  const top = object(json, '', SECTIONS);
  // API keys of createApiKeyRouter and of providers share one index in the store, so they must all differ.
  const apiKeyValues = new Unique('key');
  const apiKeys = array(top.apiKeys, 'apiKeys', { optional: true }).map((v, i) =>
    parseApiKey(v, `apiKeys[${i}]`, apiKeyValues),
  );
  const employerIds = new Unique('id');
  const employeeIds = new Unique('employee id');
  const employers = array(top.employers, 'employers', { optional: true }).map((v, i) =>
    parseEmployer(v, `employers[${i}]`, employerIds, employeeIds),
  );
  const applicationIds = new Unique('id');
  const clientIds = new Unique('clientId');
  const applications = array(top.applications, 'applications', { optional: true }).map((v, i) =>
    parseApplication(v, `applications[${i}]`, applicationIds, clientIds),
  );
  const usernames = new Unique('username');
  const users = array(top.users, 'users', { optional: true }).map((v, i) =>
    parseUser(v, `users[${i}]`, usernames),
  );
  const providerIds = new Unique('id');
  const providerClientIds = new Unique('id');
  const providers = array(top.providers, 'providers', { optional: true }).map((v, i) =>
    parseProvider(v, `providers[${i}]`, providerIds, providerClientIds, apiKeyValues),
  );
  return { apiKeys, employers, applications, users, providers };
}

/**
 * Reads, parses and validates a seed file.
 *
 * @throws SeedError when the file cannot be read, is not JSON (the message carries the parser's
 * position), or is malformed (the message names the field).
 */
export async function loadSeedFile(path: string): Promise<Seed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SeedError('', `cannot read ${path} (${code})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (err) {
    throw new SeedError('', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseSeed(json);
}

/** An `employerOf` resolver answering from the seed's employers list. */
export function seedEmployerResolver(
  seed: Pick<Seed, 'employers'>,
): (employerId: string, employeeId: string) => boolean {
  const employerOf = new Map<string, string>();
  for (const employer of seed.employers) for (const e of employer.employees) employerOf.set(e, employer.id);
  return function isEmployerOf(employerId: string, employeeId: string): boolean {
    return employerOf.get(employeeId) === employerId;
  };
}
