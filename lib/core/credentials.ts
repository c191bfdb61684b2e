/**
 * The admin API for credentials: API keys, applications (client_id/secret), providers and their
 * clients. Secrets are random, shown once, and stored only as hashes.
 */
import { randomUUID } from 'node:crypto';
import { TokenError } from '../errors';
import type { CredentialKind, CredentialRecord, CredentialStore } from '../stores/credential-store';
import { DEFAULT_API_KEY_PREFIX, DEFAULT_CLIENT_SECRET_PREFIX } from '../defaults';
import { BoundedCache } from '../util/bounded-cache';
import { resolveCredentialStore } from './credential-store-option';
import { generateOpaqueToken, randomBase62 } from './opaque-token';
import type { TokenOwner, TokenService } from './token-service';
import { DEFAULT_GRANT_TYPES, isGrantType } from './grants/registry';
import { applicationResources } from './resource-indicators';
import {
  applicationIntrospection,
  resourceServerProblem,
  type IntrospectionAccess,
} from './introspection-access';

export type { ApiKeyInfo, ApplicationInfo, ProviderInfo, ProviderClientInfo } from './credential-types';
import type { ApiKeyInfo, ApplicationInfo, ProviderInfo, ProviderClientInfo } from './credential-types';
import { booleanOption } from '../util/options';
import { openPrivateKey, sealPrivateKey } from '../keys/kek';
import {
  applicationClientAuth,
  isAssertionMethod,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type PublicJwkSet,
  type TokenEndpointAuthMethod,
} from './client-auth-method';
import { verifyClientAssertion, type ClientAssertionInput } from './client-assertion';

/** Input of {@link CredentialService.createApplication}. */
export interface CreateApplicationInput {
  readonly id?: string;
  readonly name: string;
  readonly organization?: string;
  readonly applicationTypes?: readonly string[];
  /** @default `['client_credentials']` */
  readonly grantTypes?: readonly string[];
  readonly scopes?: readonly string[];
  /**
   * Resources (RFC 8707 absolute URIs, no fragment) the client may request as its tokens'
   * audience with the `resource` parameter of `createOAuthRouter`'s token endpoint. @default none
   */
  readonly resources?: readonly string[];
  /**
   * Which tokens the application may introspect at `createOAuthRouter`'s `/oauth/introspect`:
   * `'own'`, the tokens issued to it; `'any'`, also every other application's access tokens (a
   * resource server: it learns the subject, scope and client of each token it is shown). An `'any'`
   * application obtains no tokens: its `grantTypes` default to none, and `grantTypes`, `scopes`
   * or `resources` that are not empty are a TypeError. @default 'own'
   */
  readonly introspection?: IntrospectionAccess;
  /**
   * How the client authenticates at `createOAuthRouter` (RFC 7591 §2): `client_secret_basic` or
   * `client_secret_post` only that one; `client_secret_jwt` an HMAC assertion with its secret (which
   * is then also kept sealed under the `kek` option); `private_key_jwt` an assertion signed by a key
   * of `jwks` or `jwksUri`. An assertion client cannot authenticate with its secret itself.
   * @default either `client_secret_basic` or `client_secret_post`
   */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** The client's public keys for `private_key_jwt`, a JWK Set `{ keys: [...] }`; never with `jwksUri`. */
  readonly jwks?: PublicJwkSet;
  /** An https URL where the client publishes its JWK Set for `private_key_jwt`; never with `jwks`. */
  readonly jwksUri?: string;
  /**
   * True when every token request of the application must carry a DPoP proof, so that all its
   * access tokens are DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`). @default false
   */
  readonly dpopBoundAccessTokens?: boolean;
  /** Use this client id instead of a generated one (e.g. from a seed file). */
  readonly clientId?: string;
  /** Use this secret instead of a generated one (e.g. from a seed file). */
  readonly clientSecret?: string;
}

/**
 * Options of {@link CredentialService.rotateApplication}. Whatever they say, the old client id and
 * secret fail at once, and users' sessions refresh only with the new credentials. See
 * docs/router-c-auth-tokens.md ("What a rotation kills").
 */
export interface RotateApplicationOptions {
  /**
   * Also revoke the tokens the application holds for itself: every client_credentials token
   * (subject = the client id) issued under the old client id, or an earlier one, up to now. Users'
   * sessions (password-grant access tokens and refresh families) are not touched by this option.
   * `false` revokes nothing: such tokens live until they expire.
   * @default true — tokens minted with a leaked secret must die with it.
   */
  readonly revokeTokens?: boolean;
  /**
   * Also revoke users' sessions: every access token and refresh family issued to the application,
   * under any of its client ids, up to now — for a full compromise. Needs `revokeTokens` (it
   * revokes the application's own tokens too).
   * @default false — users stay logged in and refresh with the new credentials.
   */
  readonly revokeUserTokens?: boolean;
  /**
   * Rotate only while the application still has this client id, typically the one the caller
   * authenticated as; otherwise throw 409 `conflict`. Without it, a rotation that starts after
   * another one finished rotates again; with it, every caller acting on the same credentials is
   * tied to them, so exactly one of any number of concurrent rotations wins, on any number of
   * instances.
   */
  readonly expectedClientId?: string;
}

/** Options of {@link CredentialService.rotateApiKey}. */
export interface RotateApiKeyOptions {
  /**
   * Also revoke every token issued under the key up to now (an API key's tokens are all its own).
   * @default true
   */
  readonly revokeTokens?: boolean;
  /**
   * Rotate only while the application still has this client id, typically the one the caller
   * authenticated as; otherwise throw 409 `conflict`. Without it, a rotation that starts after
   * another one finished rotates again; with it, every caller acting on the same credentials is
   * tied to them, so exactly one of any number of concurrent rotations wins, on any number of
   * instances.
   */
  readonly expectedClientId?: string;
}

/** Options of {@link CredentialService}. */
export interface CredentialServiceOptions {
  /** Prefix of generated API keys; @default `etk_ak_`. */
  readonly apiKeyPrefix?: string;
  /** Prefix of generated client secrets; @default `etk_cs_`. */
  readonly clientSecretPrefix?: string;
  /**
   * Where API keys, applications, providers and their clients live, e.g. a
   * `PostgresCredentialStore` or a `MemoryCredentialStore`. Required when the token store (`store`)
   * does not implement `CredentialStore`; a TypeError names this option then.
   * @default the token store (`store`) when it implements `CredentialStore` (`MemoryTokenStore`
   * and `RedisTokenStore` do), which keeps credentials beside tokens.
   */
  readonly credentialStore?: CredentialStore;
  /**
   * The key-encryption key (32 bytes, see `parseKek`) sealing the secrets of `client_secret_jwt`
   * applications, which need the secret itself as the HMAC key (every other secret is kept only as
   * a hash). Without it, registering a `client_secret_jwt` application is a TypeError.
   */
  readonly kek?: Buffer;
}

/** Longest time a credential found on the authentication path is remembered (ms). */
export const CREDENTIAL_CACHE_MS = 30_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID string (any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** The lowercase form of a UUID, or null when `value` is not one. Ids are stored lowercase. */
export function canonicalUuid(value: unknown): string | null {
  return isUuid(value) ? value.toLowerCase() : null;
}

function nonEmpty(value: unknown, option: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new TypeError(`${option} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function stringList(
  value: readonly string[] | undefined,
  fallback: readonly string[],
  option: string,
): string[] {
  const list = value ?? fallback;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError(`${option} must be an array of non-empty strings`);
  }
  return [...list];
}

/** A client id an application held before a rotation, and when the rotation retired it. */
interface FormerClientId {
  readonly clientId: string;
  /** Seconds since the epoch. */
  readonly retiredAt: number;
}

/** The client ids an application held before (as stored), oldest first; malformed entries dropped. */
function formerClientIds(rec: CredentialRecord): FormerClientId[] {
  const list = rec.data.formerClientIds;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (f): f is FormerClientId =>
      typeof f === 'object' &&
      f !== null &&
      typeof (f as FormerClientId).clientId === 'string' &&
      Number.isFinite((f as FormerClientId).retiredAt),
  );
}

function hintOf(secret: string): string {
  return `${secret.slice(0, Math.min(10, Math.floor(secret.length / 3)))}…`;
}

/**
 * Creates, reads, rotates and revokes credentials in the kit's credential store (see
 * {@link CredentialServiceOptions.credentialStore}).
 *
 * @example
 * ```ts
 * const { clientId, clientSecret } = await kit.credentials.createApplication({ name: 'TestApp' });
 * ```
 */
export class CredentialService {
  readonly #tokens: TokenService;
  readonly #store: CredentialStore;
  readonly #apiKeyPrefix: string;
  readonly #clientSecretPrefix: string;
  /** Seals the secrets of `client_secret_jwt` applications (option `kek`). */
  readonly #kek: Buffer | undefined;
  readonly #cache = new BoundedCache<string, { record: CredentialRecord; generation: number }>(10_000);

  constructor(tokens: TokenService, options: Readonly<CredentialServiceOptions> = {}) {
    this.#tokens = tokens;
    this.#store = resolveCredentialStore(options.credentialStore, tokens.store);
    this.#apiKeyPrefix = options.apiKeyPrefix ?? DEFAULT_API_KEY_PREFIX;
    this.#clientSecretPrefix = options.clientSecretPrefix ?? DEFAULT_CLIENT_SECRET_PREFIX;
    if (options.kek !== undefined && (!Buffer.isBuffer(options.kek) || options.kek.length !== 32)) {
      throw new TypeError('kek must be a Buffer of 32 bytes (see parseKek)');
    }
    this.#kek = options.kek;
  }

  /**
   * The sealed secret of a `client_secret_jwt` application (AES-256-GCM under the KEK, bound to the
   * application id and client id), or nothing for the other methods.
   */
  #sealedSecret(info: ApplicationInfo, secret: string): { sealedSecret?: string } {
    if (info.tokenEndpointAuthMethod !== 'client_secret_jwt') return {};
    if (this.#kek === undefined) {
      throw new TypeError(
        'tokenEndpointAuthMethod client_secret_jwt needs the kek option (the key-encryption key that seals the secret)',
      );
    }
    return { sealedSecret: sealPrivateKey(this.#kek, Buffer.from(secret, 'utf8'), secretAad(info)) };
  }

  #hash(secret: string): string {
    return this.#tokens.hasher.hash(secret);
  }

  async #create(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    index: string[],
  ): Promise<void> {
    const ok = await this.#tokens.guard(() => this.#store.createCredential(kind, id, data, index));
    if (!ok) throw new TypeError(`a ${kind} with this id or secret already exists`);
  }

  /**
   * Compare-and-swap of a credential; throws 409 `conflict` when another rotation won, so that at
   * most one new secret ever works.
   */
  async #swap(
    kind: CredentialKind,
    id: string,
    version: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<void> {
    const next = await this.#tokens.guard(() =>
      this.#store.replaceCredential(kind, id, version, data, removeIndexKeys, addIndexKeys),
    );
    if (next === null) throw new TokenError('conflict');
    await this.#tokens.announce({ kind: 'credential', id });
  }

  /** Deletes a credential and announces it; resolves false when it did not exist. */
  async #delete(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean> {
    const ok = await this.#tokens.guard(() => this.#store.deleteCredential(kind, id, indexKeys));
    if (ok) await this.#tokens.announce({ kind: 'credential', id });
    return ok;
  }

  async #get(kind: CredentialKind, id: string): Promise<CredentialRecord | null> {
    return this.#tokens.guard(() => this.#store.getCredential(kind, id));
  }

  /**
   * A credential lookup on the authentication hot path. With a live revocation view, records found
   * are remembered while no announcement (rotation, deletion, revocation, on any instance) has
   * arrived since, for at most {@link CREDENTIAL_CACHE_MS}; misses are never remembered, so a new
   * credential works at once. Without a live view: one store round trip, every time.
   */
  async #lookup(
    cacheKey: string,
    load: () => Promise<CredentialRecord | null>,
  ): Promise<CredentialRecord | null> {
    const generation = this.#tokens.cacheGeneration();
    if (generation === undefined) return this.#tokens.guard(load);
    const now = Date.now();
    const hit = this.#cache.get(cacheKey, now);
    if (hit !== undefined && hit.generation === generation) return hit.record;
    const record = await this.#tokens.guard(load);
    if (record !== null) this.#cache.set(cacheKey, { record, generation }, now + CREDENTIAL_CACHE_MS);
    return record;
  }

  #find(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null> {
    return this.#lookup(`i\0${kind}\0${indexKey}`, () => this.#store.findCredential(kind, indexKey));
  }

  // --- API keys --------------------------------------------------------------

  /** Creates an API key; the key is in the result and nowhere else, ever. */
  async createApiKey(input: {
    name: string;
    key?: string;
    id?: string;
  }): Promise<ApiKeyInfo & { key: string }> {
    const name = nonEmpty(input.name, 'name');
    const key =
      input.key === undefined ? generateOpaqueToken(this.#apiKeyPrefix) : nonEmpty(input.key, 'key', 1024);
    const id = input.id ?? randomUUID();
    const info: ApiKeyInfo = { id, name, hint: hintOf(key), createdAt: this.#tokens.now() };
    await this.#create('api_key', id, { ...info, keyHash: this.#hash(key) }, [this.#hash(key)]);
    return { ...info, key };
  }

  /** The API key's record for a presented key, or null. */
  async authenticateApiKey(key: unknown): Promise<ApiKeyInfo | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 1024) return null;
    const rec = await this.#find('api_key', this.#hash(key));
    return rec === null ? null : apiKeyInfo(rec);
  }

  /** Reads an API key (without the key). */
  async getApiKey(id: string): Promise<ApiKeyInfo | null> {
    const rec = await this.#get('api_key', id);
    return rec === null ? null : apiKeyInfo(rec);
  }

  /** Lists API keys (without keys). */
  async listApiKeys(): Promise<ApiKeyInfo[]> {
    const recs = await this.#tokens.guard(() => this.#store.listCredentials('api_key'));
    return recs.map(apiKeyInfo);
  }

  /**
   * Replaces an API key's secret; the old key stops working at once. With `revokeTokens` (the
   * default, as for applications) tokens issued under the key up to now are revoked too. Returns the
   * new key, once.
   */
  async rotateApiKey(
    id: string,
    options: Readonly<RotateApiKeyOptions> = {},
  ): Promise<(ApiKeyInfo & { key: string }) | null> {
    const rec = await this.#get('api_key', id);
    if (rec === null) return null;
    const key = generateOpaqueToken(this.#apiKeyPrefix);
    const info: ApiKeyInfo = { ...apiKeyInfo(rec), hint: hintOf(key) };
    await this.#swap(
      'api_key',
      id,
      rec.version,
      { ...info, keyHash: this.#hash(key) },
      [String(rec.data.keyHash)],
      [this.#hash(key)],
    );
    if (options.revokeTokens ?? true) await this.#tokens.revokeClient(id);
    this.#tokens.emit({ type: 'credentials_rotated', clientId: id, reason: 'api_key' });
    return { ...info, key };
  }

  /** Revokes (deletes) an API key. Tokens it issued are revoked too. */
  async revokeApiKey(id: string): Promise<boolean> {
    const rec = await this.#get('api_key', id);
    if (rec === null) return false;
    const ok = await this.#delete('api_key', id, [String(rec.data.keyHash)]);
    await this.#tokens.revokeClient(id);
    return ok;
  }

  // --- applications ------------------------------------------------------------

  /** Creates an application; the secret is in the result and nowhere else, ever. */
  async createApplication(
    input: Readonly<CreateApplicationInput>,
  ): Promise<ApplicationInfo & { clientSecret: string }> {
    const id = canonicalUuid(input.id ?? randomUUID());
    if (id === null) throw new TypeError('application id must be a UUID');
    const introspection = applicationIntrospection(input.introspection);
    if (introspection === 'any') {
      const problem = resourceServerProblem(input);
      if (problem !== undefined) throw new TypeError(problem);
    }
    const grantTypes = stringList(
      input.grantTypes,
      introspection === 'any' ? [] : [...DEFAULT_GRANT_TYPES],
      'grantTypes',
    );
    const unknown = grantTypes.find((g) => !isGrantType(g));
    if (unknown !== undefined)
      throw new TypeError(`grantTypes has an unknown grant ${JSON.stringify(unknown)}`);
    const clientId =
      input.clientId === undefined ? randomBase62(24) : nonEmpty(input.clientId, 'clientId', 128);
    const clientSecret =
      input.clientSecret === undefined
        ? generateOpaqueToken(this.#clientSecretPrefix)
        : nonEmpty(input.clientSecret, 'clientSecret', 1024);
    const resources = applicationResources(input.resources);
    const clientAuth = applicationClientAuth(input);
    // RFC 7518 §3.2: an HS256 key of at least 32 bytes.
    if (clientAuth.tokenEndpointAuthMethod === 'client_secret_jwt' && Buffer.byteLength(clientSecret) < 32) {
      throw new TypeError('clientSecret of a client_secret_jwt application must be at least 32 bytes');
    }
    const info: ApplicationInfo = {
      id,
      name: nonEmpty(input.name, 'name'),
      organization: input.organization ?? '',
      clientId,
      applicationTypes: stringList(input.applicationTypes, ['API'], 'applicationTypes'),
      grantTypes,
      scopes: stringList(input.scopes, [], 'scopes'),
      ...(resources === undefined || resources.length === 0 ? {} : { resources }),
      ...(introspection === 'any' ? { introspection } : {}),
      ...clientAuth,
      ...(booleanOption(input.dpopBoundAccessTokens, false, 'dpopBoundAccessTokens')
        ? { dpopBoundAccessTokens: true }
        : {}),
      createdAt: this.#tokens.now(),
    };
    const sealed = this.#sealedSecret(info, clientSecret);
    // The reserved index keeps a client id this application held (and may still have tokens
    // under) from being given to another application: token ownership stays unambiguous.
    await this.#create('application', id, { ...info, secretHash: this.#hash(clientSecret), ...sealed }, [
      clientIndex(clientId),
      reservedClientIndex(clientId),
    ]);
    return { ...info, clientSecret };
  }

  /** Reads an application (without the secret). */
  async getApplication(id: string): Promise<ApplicationInfo | null> {
    if (!isUuid(id)) return null;
    id = id.toLowerCase();
    const rec = await this.#get('application', id);
    return rec === null ? null : applicationInfo(rec);
  }

  /** Lists applications (without secrets). */
  async listApplications(): Promise<ApplicationInfo[]> {
    const recs = await this.#tokens.guard(() => this.#store.listCredentials('application'));
    return recs.map(applicationInfo);
  }

  /** The application with this client id, or null (no secret check). */
  async findApplicationByClientId(clientId: string): Promise<ApplicationInfo | null> {
    const rec = await this.#tokens.guard(() =>
      this.#store.findCredential('application', clientIndex(clientId)),
    );
    return rec === null ? null : applicationInfo(rec);
  }

  /**
   * Authenticates a client: resolves the application when the secret matches (constant-time),
   * null otherwise. An unknown client costs the same hashing as a wrong secret.
   */
  async authenticateClient(
    clientId: unknown,
    clientSecret: unknown,
    method?: 'client_secret_basic' | 'client_secret_post',
  ): Promise<ApplicationInfo | null> {
    if (typeof clientId !== 'string' || typeof clientSecret !== 'string') return null;
    if (
      clientId.length === 0 ||
      clientId.length > 128 ||
      clientSecret.length === 0 ||
      clientSecret.length > 1024
    )
      return null;
    const rec = await this.#find('application', clientIndex(clientId));
    const stored = rec === null ? '' : String(rec.data.secretHash);
    const ok = this.#tokens.hasher.matches(clientSecret, stored);
    if (!ok || rec === null) return null;
    const app = applicationInfo(rec);
    return secretMethodAllowed(app.tokenEndpointAuthMethod, method) ? app : null;
  }

  /**
   * The client authentication methods this kit serves: the two secret methods always;
   * `private_key_jwt` when the token store has a replay cache (`markUsed`), and `client_secret_jwt`
   * when it also has a `kek` to seal secrets with.
   */
  clientAuthMethods(): TokenEndpointAuthMethod[] {
    const replay = typeof this.#tokens.store.markUsed === 'function';
    return TOKEN_ENDPOINT_AUTH_METHODS.filter(
      (m) => !isAssertionMethod(m) || (replay && (m === 'private_key_jwt' || this.#kek !== undefined)),
    );
  }

  /**
   * Authenticates a client by a JWT assertion (`client_secret_jwt` or `private_key_jwt`, RFC 7523
   * §2.2): resolves the application, or throws `invalid_client` with the reason in `cause`. The
   * assertion's `jti` is recorded in the token store's replay cache once every other check passed.
   * @see docs/client-auth.md
   */
  async authenticateClientAssertion(input: Readonly<ClientAssertionInput>): Promise<ApplicationInfo> {
    const tokens = this.#tokens;
    const { store } = tokens;
    if (store.markUsed === undefined) {
      throw new TokenError('invalid_client', undefined, {
        cause: new Error('the token store has no replay cache (markUsed)'),
      });
    }
    return verifyClientAssertion(
      {
        now: () => tokens.now(),
        clockTolerance: tokens.clockTolerance,
        findClient: async (clientId) => {
          const rec = await this.#find('application', clientIndex(clientId));
          if (rec === null) return null;
          const app = applicationInfo(rec);
          const sealed = rec.data.sealedSecret;
          const kek = this.#kek;
          return {
            app,
            secret: () =>
              typeof sealed === 'string' && kek !== undefined
                ? openPrivateKey(kek, sealed, secretAad(app))
                : undefined,
          };
        },
        markUsed: (key, ttl) => tokens.guard(() => store.markUsed!(key, ttl)),
      },
      input,
    );
  }

  /**
   * How long a retired client id stays attributed to its application, in seconds: as long as a
   * token issued under it may live (the longest access-token or refresh-family lifetime).
   */
  #formerIdRetention(): number {
    const tokens = this.#tokens;
    return Math.max(tokens.maxTokenLifetime, tokens.refreshAbsoluteTtl) + tokens.clockTolerance + 60;
  }

  /** The application's current client id and the former ones that may still have live tokens. */
  #clientIdsOf(rec: CredentialRecord): string[] {
    const since = this.#tokens.now() - this.#formerIdRetention();
    const former = formerClientIds(rec)
      .filter((f) => f.retiredAt > since)
      .map((f) => f.clientId);
    return [String(rec.data.clientId), ...former];
  }

  /**
   * Issues a new client id and secret; the old ones fail at once, for every token request,
   * refresh included. What else dies (see {@link RotateApplicationOptions}):
   * - by default (`revokeTokens`), the tokens the application holds for itself — its
   *   client_credentials tokens — while users' sessions (password-grant access tokens and refresh
   *   families) survive: they belong to the application's stable `id`, and refresh only with the
   *   new credentials;
   * - with `revokeUserTokens`, every token of the application, users' sessions included.
   */
  async rotateApplication(
    id: string,
    options: Readonly<RotateApplicationOptions> = {},
  ): Promise<(ApplicationInfo & { clientSecret: string }) | null> {
    const revokeTokens = booleanOption(options.revokeTokens, true, 'revokeTokens');
    const revokeUserTokens = booleanOption(options.revokeUserTokens, false, 'revokeUserTokens');
    if (revokeUserTokens && !revokeTokens)
      throw new TypeError('revokeUserTokens revokes every token of the application: it needs revokeTokens');
    if (!isUuid(id)) return null;
    id = id.toLowerCase();
    const rec = await this.#get('application', id);
    if (rec === null) return null;
    const old = applicationInfo(rec);
    // The compare-and-swap below is on the version read here; tie it to the caller's credentials too.
    if (options.expectedClientId !== undefined && old.clientId !== options.expectedClientId) {
      throw new TokenError('conflict');
    }
    const clientId = randomBase62(24);
    const clientSecret = generateOpaqueToken(this.#clientSecretPrefix);
    const info: ApplicationInfo = { ...old, clientId };
    const sealed = this.#sealedSecret(info, clientSecret);
    const now = this.#tokens.now();
    const since = now - this.#formerIdRetention();
    const former = formerClientIds(rec);
    const kept = former.filter((f) => f.retiredAt > since);
    const dropped = former.filter((f) => f.retiredAt <= since && f.clientId !== old.clientId);
    // Every client id that may still have live tokens, the one retired now included.
    const liveIds = [old.clientId, ...kept.map((f) => f.clientId)];
    await this.#swap(
      'application',
      id,
      rec.version,
      {
        ...info,
        secretHash: this.#hash(clientSecret),
        ...sealed,
        formerClientIds: [...kept, { clientId: old.clientId, retiredAt: now }],
      },
      [clientIndex(old.clientId), ...dropped.map((f) => reservedClientIndex(f.clientId))],
      [clientIndex(clientId), reservedClientIndex(clientId), reservedClientIndex(old.clientId)],
    );
    for (const held of new Set(liveIds)) {
      // A client cut-off covers every token issued under the id (users' included); a subject
      // cut-off on the id only the application's own tokens, whose subject is the client id (and,
      // failing closed, those of a user whose subject happens to equal it).
      if (revokeUserTokens) await this.#tokens.revokeClient(held);
      else if (revokeTokens) await this.#tokens.revokeSubject(held);
    }
    this.#tokens.emit({ type: 'credentials_rotated', clientId: old.clientId, reason: 'application' });
    return { ...info, clientSecret };
  }

  /**
   * Replaces the public keys of a `private_key_jwt` application — a new `jwks`, or a `jwksUri`
   * instead — for a client rotating its keys: assertions signed with a key no longer registered
   * fail at once, on every instance (a compare-and-swap on the record, announced to the caches).
   * Resolves the updated application, or null when there is none. The same checks as
   * {@link createApplication}; a TypeError for an application of another method.
   */
  async replaceApplicationKeys(
    id: string,
    keys: { readonly jwks: PublicJwkSet } | { readonly jwksUri: string },
  ): Promise<ApplicationInfo | null> {
    if (!isUuid(id)) return null;
    id = id.toLowerCase();
    const rec = await this.#get('application', id);
    if (rec === null) return null;
    const old = applicationInfo(rec);
    if (old.tokenEndpointAuthMethod !== 'private_key_jwt') {
      throw new TypeError('replaceApplicationKeys: the application is not registered for private_key_jwt');
    }
    const given = keys as { jwks?: unknown; jwksUri?: unknown };
    const clientAuth = applicationClientAuth({
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: given.jwks,
      jwksUri: given.jwksUri,
    });
    const { jwks: _jwks, jwksUri: _jwksUri, ...rest } = rec.data;
    void _jwks;
    void _jwksUri;
    await this.#swap('application', id, rec.version, { ...rest, ...clientAuth }, [], []);
    const { jwks: _j, jwksUri: _u, ...kept } = old;
    void _j;
    void _u;
    return { ...kept, ...clientAuth };
  }

  /**
   * The application a token or refresh family belongs to, or null: by the family's
   * `applicationId` when it has one, else by the client id it was issued under — the
   * application's current one, or one it held before a rotation while tokens issued under it may
   * still live.
   */
  async findApplicationOf(owner: TokenOwner): Promise<ApplicationInfo | null> {
    if (owner.applicationId !== undefined) {
      const id = canonicalUuid(owner.applicationId);
      if (id === null) return null;
      const rec = await this.#lookup(`c\0application\0${id}`, () =>
        this.#store.getCredential('application', id),
      );
      return rec === null ? null : applicationInfo(rec);
    }
    const rec =
      (await this.#find('application', reservedClientIndex(owner.clientId))) ??
      (await this.#find('application', clientIndex(owner.clientId)));
    return rec !== null && this.#clientIdsOf(rec).includes(owner.clientId) ? applicationInfo(rec) : null;
  }

  /**
   * True when a token or refresh family belongs to the application `app` (see
   * {@link findApplicationOf}): tokens issued before a credential rotation still belong to it.
   */
  async applicationOwns(app: ApplicationInfo, owner: TokenOwner): Promise<boolean> {
    if (owner.applicationId !== undefined) return canonicalUuid(owner.applicationId) === app.id;
    if (owner.clientId === app.clientId) return true;
    return (await this.findApplicationOf(owner))?.id === app.id;
  }

  /** Deletes an application; its credentials and every token issued to it stop working. */
  async revokeApplication(id: string): Promise<boolean> {
    const rec = await this.#get('application', id);
    if (rec === null) return false;
    const app = applicationInfo(rec);
    const ids = this.#clientIdsOf(rec);
    const ok = await this.#delete('application', id, [
      clientIndex(app.clientId),
      ...formerClientIds(rec).map((f) => reservedClientIndex(f.clientId)),
      reservedClientIndex(app.clientId),
    ]);
    for (const held of new Set(ids)) await this.#tokens.revokeClient(held);
    return ok;
  }

  // --- providers -----------------------------------------------------------------

  /** Creates a provider with one API key (generated unless given); the key is returned once. */
  async createProvider(
    input: { id?: string; domain?: string | null; apiKeys?: readonly string[] } = {},
  ): Promise<ProviderInfo & { apiKeys: string[] }> {
    const id = canonicalUuid(input.id ?? randomUUID());
    if (id === null) throw new TypeError('provider id must be a UUID');
    const domain = input.domain ?? null;
    if (
      domain !== null &&
      !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(domain)
    ) {
      throw new TypeError('provider domain must be a host name, e.g. auth.example.com');
    }
    const apiKeys =
      input.apiKeys === undefined ? [generateOpaqueToken(this.#apiKeyPrefix)] : [...input.apiKeys];
    apiKeys.forEach((k, i) => nonEmpty(k, `apiKeys[${i}]`, 1024));
    const info: ProviderInfo = { id, domain, createdAt: this.#tokens.now() };
    const hashes = apiKeys.map((k) => this.#hash(k));
    await this.#create('provider', id, { ...info, keyHashes: hashes }, hashes);
    return { ...info, apiKeys };
  }

  /** The provider a presented API key belongs to, or null. */
  async authenticateProviderKey(key: unknown): Promise<ProviderInfo | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 1024) return null;
    const rec = await this.#find('provider', this.#hash(key));
    return rec === null ? null : providerInfo(rec);
  }

  /** Reads a provider. */
  async getProvider(id: string): Promise<ProviderInfo | null> {
    if (!isUuid(id)) return null;
    id = id.toLowerCase();
    const rec = await this.#get('provider', id);
    return rec === null ? null : providerInfo(rec);
  }

  /** Lists providers. */
  async listProviders(): Promise<ProviderInfo[]> {
    const recs = await this.#tokens.guard(() => this.#store.listCredentials('provider'));
    return recs.map(providerInfo);
  }

  /** Replaces all of a provider's API keys with one new key; the old keys fail at once. */
  async rotateProviderKey(id: string): Promise<(ProviderInfo & { apiKeys: string[] }) | null> {
    const rec = await this.#get('provider', id);
    if (rec === null) return null;
    const key = generateOpaqueToken(this.#apiKeyPrefix);
    const info = providerInfo(rec);
    const old = (rec.data.keyHashes as string[] | undefined) ?? [];
    await this.#swap('provider', id, rec.version, { ...info, keyHashes: [this.#hash(key)] }, old, [
      this.#hash(key),
    ]);
    this.#tokens.emit({ type: 'credentials_rotated', clientId: id, reason: 'provider' });
    return { ...info, apiKeys: [key] };
  }

  /** Deletes a provider and its keys. */
  async revokeProvider(id: string): Promise<boolean> {
    const rec = await this.#get('provider', id);
    if (rec === null) return false;
    return this.#delete('provider', id, (rec.data.keyHashes as string[] | undefined) ?? []);
  }

  /** Creates a client of a provider. */
  async createProviderClient(
    providerId: string,
    input: { id?: string; audience: string },
  ): Promise<ProviderClientInfo> {
    const provider = await this.getProvider(providerId);
    if (provider === null) throw new TypeError(`no provider ${providerId}`);
    const id = canonicalUuid(input.id ?? randomUUID());
    if (id === null) throw new TypeError('client id must be a UUID');
    const info: ProviderClientInfo = {
      id,
      providerId: provider.id,
      audience: nonEmpty(input.audience, 'audience', 1024),
      createdAt: this.#tokens.now(),
    };
    await this.#create('provider_client', id, { ...info }, []);
    return info;
  }

  /** Reads a provider's client. */
  async getProviderClient(id: string): Promise<ProviderClientInfo | null> {
    if (!isUuid(id)) return null;
    id = id.toLowerCase();
    const rec = await this.#lookup(`c\0provider_client\0${id}`, () =>
      this.#store.getCredential('provider_client', id),
    );
    return rec === null ? null : (rec.data as unknown as ProviderClientInfo);
  }

  /** Lists clients of a provider. */
  async listProviderClients(providerId: string): Promise<ProviderClientInfo[]> {
    const recs = await this.#tokens.guard(() => this.#store.listCredentials('provider_client'));
    return recs
      .map((r) => r.data as unknown as ProviderClientInfo)
      .filter((c) => c.providerId === providerId);
  }

  /** Deletes a provider's client; tokens issued for it are revoked. */
  async revokeProviderClient(id: string): Promise<boolean> {
    const ok = await this.#delete('provider_client', id, []);
    if (ok) await this.#tokens.revokeClient(id);
    return ok;
  }

  /**
   * Closes the credential store when it is a store of its own (option `credentialStore`); one that
   * is also the token store is closed by the token service. A store releases what it owns itself,
   * never an injected client or pool.
   */
  close(): Promise<void> {
    return (this.#store as object) === (this.#tokens.store as object)
      ? Promise.resolve()
      : this.#store.close();
  }
}

function clientIndex(clientId: string): string {
  return `cid:${clientId}`;
}

/** Index of a client id an application holds or held; never used to authenticate. */
function reservedClientIndex(clientId: string): string {
  return `rcid:${clientId}`;
}

function apiKeyInfo(rec: CredentialRecord): ApiKeyInfo {
  const d = rec.data;
  return { id: rec.id, name: String(d.name), hint: String(d.hint), createdAt: Number(d.createdAt) };
}

function applicationInfo(rec: CredentialRecord): ApplicationInfo {
  const d = rec.data;
  return {
    id: rec.id,
    name: String(d.name),
    organization: String(d.organization ?? ''),
    clientId: String(d.clientId),
    applicationTypes: (d.applicationTypes as string[] | undefined) ?? [],
    grantTypes: (d.grantTypes as string[] | undefined) ?? ['client_credentials'],
    scopes: (d.scopes as string[] | undefined) ?? [],
    ...(Array.isArray(d.resources) && d.resources.length > 0 ? { resources: d.resources as string[] } : {}),
    ...(d.introspection === 'any' ? { introspection: 'any' as const } : {}),
    ...storedClientAuth(d),
    ...(d.dpopBoundAccessTokens === true ? { dpopBoundAccessTokens: true } : {}),
    createdAt: Number(d.createdAt),
  };
}

function providerInfo(rec: CredentialRecord): ProviderInfo {
  const d = rec.data;
  return {
    id: rec.id,
    domain: typeof d.domain === 'string' ? d.domain : null,
    createdAt: Number(d.createdAt),
  };
}

/** Additional authenticated data of a sealed client secret: it opens only for its application and client id. */
function secretAad(app: ApplicationInfo): string {
  return `etk-client-secret:${app.id}:${app.clientId}`;
}

/**
 * Whether a client registered with `registered` may authenticate with its secret by `used` (undefined:
 * a surface that takes the secret in its JSON body, createAuthRouter). Assertion clients never may.
 */
function secretMethodAllowed(
  registered: TokenEndpointAuthMethod | undefined,
  used: 'client_secret_basic' | 'client_secret_post' | undefined,
): boolean {
  if (registered === undefined) return true;
  if (isAssertionMethod(registered)) return false;
  return used === undefined || used === registered;
}

/** The client-authentication settings of a stored application (checked when it was created). */
function storedClientAuth(d: Record<string, unknown>): Partial<ApplicationInfo> {
  const method = d.tokenEndpointAuthMethod;
  return {
    ...(typeof method === 'string' ? { tokenEndpointAuthMethod: method as TokenEndpointAuthMethod } : {}),
    ...(typeof d.jwks === 'object' && d.jwks !== null ? { jwks: d.jwks as ApplicationInfo['jwks'] } : {}),
    ...(typeof d.jwksUri === 'string' ? { jwksUri: d.jwksUri } : {}),
  };
}
