/**
 * The Redis implementation of {@link TokenStore}: Lua scripts for everything that must be atomic,
 * a TTL on every token-related key, and `StoreUnavailableError` for every failure.
 */
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { BoundEntity } from '../types';
import {
  CHECK_REVOCATION,
  CREATE_CREDENTIAL,
  DELETE_CREDENTIAL,
  FIND_CREDENTIAL,
  INSPECT_REFRESH_TOKEN,
  LIST_CREDENTIALS,
  LOOKUP_ACCESS_TOKEN,
  REPLACE_CREDENTIAL,
  REVOKE_FAMILY,
  REVOKE_JTI,
  ROTATE_REFRESH_TOKEN,
  SET_CUTOFF,
  STORE_SCRIPTS,
} from './redis-scripts';
import type { StoreScript } from './redis-scripts';
import type {
  AccessTokenRecord,
  CredentialKind,
  CredentialRecord,
  RefreshFamily,
  RefreshTokenState,
  RevocationQuery,
  RevocationState,
  RotateRefreshInput,
  RotateRefreshResult,
  TokenStore,
} from './token-store';

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * An ioredis client, ideally from `createRedisClient()` (command timeout, no offline queue). The
   * store never closes it.
   */
  readonly client: Redis;
  /** Prefix of every key the store writes. @default 'etk:' */
  readonly keyPrefix?: string;
}

/** Milliseconds of a TTL given in seconds; at least 1 ms so every key expires. */
function ttlMs(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new RangeError(`ttlSeconds must be finite, got ${String(seconds)}`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

function corrupt(what: string): StoreUnavailableError {
  return new StoreUnavailableError(`redis token store: corrupt ${what}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(raw: unknown, what: string): unknown {
  if (typeof raw !== 'string') throw corrupt(what);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw corrupt(what);
  }
}

function parseNumber(raw: unknown, what: string): number {
  const n = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  if (raw === '' || !Number.isFinite(n)) throw corrupt(what);
  return n;
}

function parseCutoff(raw: unknown): number | null {
  return raw === null ? null : parseNumber(raw, 'cut-off');
}

function isBoundEntity(value: unknown): value is BoundEntity | null {
  return (
    value === null ||
    (isObject(value) &&
      typeof value.id === 'string' &&
      (value.type === 'employer' || value.type === 'employee'))
  );
}

function parseAccessTokenRecord(raw: unknown): AccessTokenRecord {
  const r = parseJson(raw, 'access token record');
  if (
    !isObject(r) ||
    typeof r.jti !== 'string' ||
    typeof r.sub !== 'string' ||
    typeof r.clientId !== 'string' ||
    typeof r.iss !== 'string' ||
    !Array.isArray(r.aud) ||
    !r.aud.every((a) => typeof a === 'string') ||
    typeof r.scope !== 'string' ||
    !isBoundEntity(r.boundEntity) ||
    typeof r.iat !== 'number' ||
    typeof r.exp !== 'number' ||
    (r.familyId !== undefined && typeof r.familyId !== 'string')
  ) {
    throw corrupt('access token record');
  }
  return r as unknown as AccessTokenRecord;
}

/** The family as stored (everything but `lastUsedAt`, which lives in its own field). */
function parseFamily(raw: unknown, lastUsedAt: unknown): RefreshFamily {
  const f = parseJson(raw, 'refresh family');
  if (
    !isObject(f) ||
    typeof f.familyId !== 'string' ||
    typeof f.sub !== 'string' ||
    typeof f.clientId !== 'string' ||
    typeof f.scope !== 'string' ||
    !isBoundEntity(f.boundEntity) ||
    typeof f.createdAt !== 'number' ||
    typeof f.expiresAt !== 'number' ||
    (f.data !== undefined && !isObject(f.data))
  ) {
    throw corrupt('refresh family');
  }
  return { ...(f as unknown as RefreshFamily), lastUsedAt: parseNumber(lastUsedAt, 'refresh family') };
}

function parseCredential(id: unknown, version: unknown, data: unknown): CredentialRecord {
  const d = parseJson(data, 'credential');
  if (typeof id !== 'string' || !isObject(d)) throw corrupt('credential');
  const v = parseNumber(version, 'credential');
  if (!Number.isSafeInteger(v)) throw corrupt('credential');
  return { id, version: v, data: d };
}

function asArray(reply: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(reply) || reply.length < length) throw corrupt(what);
  return reply as unknown[];
}

type ScriptCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

/**
 * Token store on Redis (ioredis 5).
 *
 * Key layout under `keyPrefix` (hashes and ids only, never raw tokens):
 * - `at:<hash>` opaque access token record (JSON), TTL = token lifetime;
 * - `rj:<jti>` denylisted jti; `rf:{<familyId>}` family-revoked marker; `cs:<sub>` / `cc:<clientId>`
 *   subject and client cut-offs (seconds) — all with TTLs;
 * - `fam:{<familyId>}` refresh family hash (`cur` current hash, `u:<hash>` rotated-out hashes, `lu`,
 *   `rv`, `d` JSON…), expiring at min(absolute expiry, last use + idle lifetime);
 * - `cred:<kind>:<id>` credential hash (`v` version, `d` JSON), `cidx:<kind>:<indexKey>` → id,
 *   `cset:<kind>` set of ids — configuration, without TTL.
 *
 * Family keys share the `{familyId}` hash tag so they live in one cluster slot.
 *
 * @example
 * const client = createRedisClient({ url: process.env.REDIS_URL });
 * await waitForReady(client, 5000);
 * const store = new RedisTokenStore({ client, keyPrefix: 'myapp:etk:' });
 */
export class RedisTokenStore implements TokenStore {
  readonly #client: Redis;
  /** Our prefix, as given; ioredis adds the client's own `keyPrefix` to KEYS. */
  readonly #prefix: string;
  /** Full prefix (client's `keyPrefix` + ours) for keys built inside Lua. */
  readonly #luaPrefix: string;

  constructor(options: Readonly<RedisTokenStoreOptions>) {
    const client = options.client as Redis | undefined;
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof client.defineCommand !== 'function' ||
      typeof client.get !== 'function'
    ) {
      throw new TypeError('RedisTokenStore: options.client must be an ioredis client');
    }
    const prefix = options.keyPrefix ?? 'etk:';
    if (typeof prefix !== 'string') {
      throw new TypeError(`RedisTokenStore: keyPrefix must be a string, got ${typeof prefix}`);
    }
    this.#client = client;
    this.#prefix = prefix;
    this.#luaPrefix = (client.options.keyPrefix ?? '') + prefix;
    for (const s of STORE_SCRIPTS) client.defineCommand(s.name, { lua: s.lua });
  }

  // --- keys -------------------------------------------------------------------

  #key(kind: string, id: string): string {
    return `${this.#prefix}${kind}:${id}`;
  }

  #familyKey(familyId: string): string {
    return `${this.#prefix}fam:{${familyId}}`;
  }

  #familyRevokedKey(familyId: string): string {
    return `${this.#prefix}rf:{${familyId}}`;
  }

  #credentialKey(kind: CredentialKind, id: string): string {
    return `${this.#prefix}cred:${kind}:${id}`;
  }

  /** Prefix of credential keys of a kind, for keys built inside Lua. */
  #credentialLuaPrefix(kind: CredentialKind): string {
    return `${this.#luaPrefix}cred:${kind}:`;
  }

  #indexKeys(kind: CredentialKind, indexKeys: readonly string[]): string[] {
    return indexKeys.map((k) => `${this.#prefix}cidx:${kind}:${k}`);
  }

  // --- plumbing ---------------------------------------------------------------

  /** Runs `fn`; any failure becomes a `StoreUnavailableError` (fail closed). */
  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`redis token store: ${operation} failed`, { cause: err });
    }
  }

  #script(s: StoreScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const command = (this.#client as unknown as Record<string, ScriptCommand | undefined>)[s.name];
    if (command === undefined) throw new StoreUnavailableError(`redis token store: script ${s.name} missing`);
    return command.call(this.#client, keys.length, ...keys, ...args);
  }

  // --- opaque access tokens ---------------------------------------------------

  async saveAccessToken(hash: string, record: AccessTokenRecord, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('saveAccessToken', async () => {
      await this.#client.set(this.#key('at', hash), JSON.stringify(record), 'PX', px);
    });
  }

  async lookupAccessToken(
    hash: string,
  ): Promise<{ record: AccessTokenRecord | null; state: RevocationState }> {
    return this.#call('lookupAccessToken', async () => {
      const reply = await this.#script(LOOKUP_ACCESS_TOKEN, [this.#key('at', hash)], [this.#luaPrefix]);
      if (reply === null) {
        return {
          record: null,
          state: { jtiRevoked: false, familyRevoked: false, subjectCutoff: null, clientCutoff: null },
        };
      }
      const [raw, jti, fam, cs, cc] = asArray(reply, 5, 'access token reply');
      return {
        record: parseAccessTokenRecord(raw),
        state: {
          jtiRevoked: jti === 1,
          familyRevoked: fam === 1,
          subjectCutoff: parseCutoff(cs),
          clientCutoff: parseCutoff(cc),
        },
      };
    });
  }

  // --- revocation -------------------------------------------------------------

  async checkRevocation(query: RevocationQuery): Promise<RevocationState> {
    const keys = [
      this.#key('rj', query.jti),
      this.#key('cs', query.subject),
      this.#key('cc', query.clientId),
    ];
    if (query.familyId !== undefined) keys.push(this.#familyRevokedKey(query.familyId));
    return this.#call('checkRevocation', async () => {
      const [jti, cs, cc, fam] = asArray(
        await this.#script(CHECK_REVOCATION, keys, []),
        4,
        'revocation reply',
      );
      return {
        jtiRevoked: jti === 1,
        familyRevoked: fam === 1,
        subjectCutoff: parseCutoff(cs),
        clientCutoff: parseCutoff(cc),
      };
    });
  }

  async revokeJti(jti: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeJti', async () => {
      await this.#script(REVOKE_JTI, [this.#key('rj', jti)], [px]);
    });
  }

  async revokeFamily(familyId: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeFamily', async () => {
      await this.#script(REVOKE_FAMILY, [this.#familyRevokedKey(familyId), this.#familyKey(familyId)], [px]);
    });
  }

  async setCutoff(kind: 'subject' | 'client', id: string, at: number, ttlSeconds: number): Promise<void> {
    if (!Number.isFinite(at)) throw new RangeError(`setCutoff: at must be finite, got ${String(at)}`);
    const px = ttlMs(ttlSeconds);
    const key = this.#key(kind === 'subject' ? 'cs' : 'cc', id);
    return this.#call('setCutoff', async () => {
      await this.#script(SET_CUTOFF, [key], [String(at), px]);
    });
  }

  // --- refresh families -------------------------------------------------------

  async createRefreshFamily(family: RefreshFamily, hash: string): Promise<void> {
    const { lastUsedAt, ...stored } = family;
    const key = this.#familyKey(family.familyId);
    return this.#call('createRefreshFamily', async () => {
      const results = await this.#client
        .multi()
        .del(key)
        .hset(key, {
          sub: family.sub,
          cid: family.clientId,
          ca: String(family.createdAt),
          ea: String(family.expiresAt),
          lu: String(lastUsedAt),
          cur: hash,
          rv: '0',
          d: JSON.stringify(stored),
        })
        .pexpireat(key, Math.floor(family.expiresAt * 1000))
        .exec();
      const failed = results?.find(([err]) => err !== null);
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted');
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    const keys = [this.#familyKey(input.familyId), this.#familyRevokedKey(input.familyId)];
    const args = [
      input.presentedHash,
      input.nextHash,
      String(input.now),
      String(input.idleSeconds),
      input.expectedClientId ?? '',
      input.expectedClientId === undefined ? '0' : '1',
      input.expectedSubject ?? '',
      input.expectedSubject === undefined ? '0' : '1',
      this.#luaPrefix,
    ];
    return this.#call('rotateRefreshToken', async () => {
      const [status, raw, lastUsedAt] = asArray(
        await this.#script(ROTATE_REFRESH_TOKEN, keys, args),
        1,
        'rotation reply',
      );
      switch (status) {
        case 'rotated':
        case 'reused':
          return { status, family: parseFamily(raw, lastUsedAt) };
        case 'mismatch':
        case 'revoked':
        case 'expired':
        case 'not_found':
          return { status };
        default:
          throw corrupt('rotation reply');
      }
    });
  }

  async inspectRefreshToken(familyId: string, hash: string, now: number): Promise<RefreshTokenState | null> {
    const keys = [this.#familyKey(familyId), this.#familyRevokedKey(familyId)];
    return this.#call('inspectRefreshToken', async () => {
      const reply = await this.#script(INSPECT_REFRESH_TOKEN, keys, [hash, String(now), this.#luaPrefix]);
      if (reply === null) return null;
      const [raw, lastUsedAt, active] = asArray(reply, 3, 'inspection reply');
      return { family: parseFamily(raw, lastUsedAt), active: active === 1 };
    });
  }

  // --- credentials ------------------------------------------------------------

  async createCredential(
    kind: CredentialKind,
    id: string,
    data: Record<string, unknown>,
    indexKeys: readonly string[],
  ): Promise<boolean> {
    const keys = [
      this.#credentialKey(kind, id),
      this.#key('cset', kind),
      ...this.#indexKeys(kind, indexKeys),
    ];
    const json = JSON.stringify(data);
    return this.#call('createCredential', async () => {
      const reply = await this.#script(CREATE_CREDENTIAL, keys, [id, json, this.#credentialLuaPrefix(kind)]);
      return reply === 1;
    });
  }

  async getCredential(kind: CredentialKind, id: string): Promise<CredentialRecord | null> {
    return this.#call('getCredential', async () => {
      const [version, data] = await this.#client.hmget(this.#credentialKey(kind, id), 'v', 'd');
      if (version === null && data === null) return null;
      return parseCredential(id, version, data);
    });
  }

  async findCredential(kind: CredentialKind, indexKey: string): Promise<CredentialRecord | null> {
    const keys = this.#indexKeys(kind, [indexKey]);
    return this.#call('findCredential', async () => {
      const reply = await this.#script(FIND_CREDENTIAL, keys, [this.#credentialLuaPrefix(kind)]);
      if (reply === null) return null;
      const [id, version, data] = asArray(reply, 3, 'credential reply');
      return parseCredential(id, version, data);
    });
  }

  async listCredentials(kind: CredentialKind): Promise<CredentialRecord[]> {
    return this.#call('listCredentials', async () => {
      const reply = asArray(
        await this.#script(LIST_CREDENTIALS, [this.#key('cset', kind)], [this.#credentialLuaPrefix(kind)]),
        0,
        'credential list',
      );
      const records: CredentialRecord[] = [];
      for (let i = 0; i + 2 < reply.length; i += 3) {
        records.push(parseCredential(reply[i], reply[i + 1], reply[i + 2]));
      }
      return records;
    });
  }

  async replaceCredential(
    kind: CredentialKind,
    id: string,
    expectedVersion: number,
    data: Record<string, unknown>,
    removeIndexKeys: readonly string[],
    addIndexKeys: readonly string[],
  ): Promise<CredentialRecord | null> {
    const keys = [
      this.#credentialKey(kind, id),
      ...this.#indexKeys(kind, removeIndexKeys),
      ...this.#indexKeys(kind, addIndexKeys),
    ];
    const json = JSON.stringify(data);
    const args = [
      id,
      String(expectedVersion),
      json,
      String(removeIndexKeys.length),
      this.#credentialLuaPrefix(kind),
    ];
    return this.#call('replaceCredential', async () => {
      const reply = await this.#script(REPLACE_CREDENTIAL, keys, args);
      if (reply === null) return null;
      return parseCredential(id, reply, json);
    });
  }

  async deleteCredential(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean> {
    const keys = [
      this.#credentialKey(kind, id),
      this.#key('cset', kind),
      ...this.#indexKeys(kind, indexKeys),
    ];
    return this.#call('deleteCredential', async () => {
      return (await this.#script(DELETE_CREDENTIAL, keys, [id])) === 1;
    });
  }

  // --- lifecycle --------------------------------------------------------------

  /** Does nothing: the injected client belongs to the application, which closes it. */
  async close(): Promise<void> {}
}
