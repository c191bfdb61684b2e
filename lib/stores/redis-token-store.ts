/**
 * The Redis implementation of {@link TokenStore}: Lua scripts for everything that must be atomic,
 * a TTL on every token-related key, and `StoreUnavailableError` for every failure. Works on a single
 * Redis (standalone or behind Sentinel) and on a Redis Cluster.
 */
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { BoundEntity } from '../types';
import { isEntityTypeName } from '../core/binding';
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
import {
  assertCutoffMs,
  cutoffMsOf,
  MAX_REFRESH_GRACE_RETRIES,
  MAX_REFRESH_GRACE_SECONDS,
} from './token-store';
import type {
  AccessTokenRecord,
  CredentialKind,
  CredentialRecord,
  RefreshFamily,
  RefreshTokenProof,
  RefreshTokenState,
  RevocationQuery,
  RevocationState,
  RotateRefreshInput,
  RotateRefreshResult,
  TokenStore,
} from './token-store';

/** Replica acknowledgement required after revocation and rotation writes (Redis `WAIT`). */
export interface WaitForReplicasOptions {
  /** Replicas that must acknowledge each write; at least 1. */
  readonly replicas: number;
  /**
   * Milliseconds to wait for them (1 or more; `WAIT` with 0 would block forever). Keep it below the
   * client's command timeout.
   */
  readonly timeoutMs: number;
}

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * An ioredis client (`Redis`, also for Sentinel) or `Cluster`, ideally from `createRedisClient()`
   * or `createRedisConnectionFromEnv()` (command timeout, no offline queue). The store never closes it.
   */
  readonly client: Redis | Cluster;
  /** Prefix of every key the store writes; no `{` or `}` (they would break cluster hash tags). @default 'etk:' */
  readonly keyPrefix?: string;
  /**
   * When set, every revocation, rotation and credential write is followed by `WAIT replicas
   * timeoutMs` on the same connection, and fails closed (`StoreUnavailableError`) unless that many
   * replicas acknowledged it, so a failover cannot lose an acknowledged revocation. The write itself
   * may still have happened on the primary; revocation writes are idempotent and a retried refresh
   * is covered by the grace window. @default off (asynchronous replication)
   */
  readonly waitForReplicas?: Readonly<WaitForReplicasOptions>;
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

/** A stored cut-off in ms (a legacy value in seconds covers its whole second; see `cutoffMsOf`). */
function parseCutoff(raw: unknown): number | null {
  return raw === null ? null : cutoffMsOf(parseNumber(raw, 'cut-off'));
}

function isBoundEntity(value: unknown): value is BoundEntity | null {
  return value === null || (isObject(value) && typeof value.id === 'string' && isEntityTypeName(value.type));
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
    (f.createdAtMs !== undefined && typeof f.createdAtMs !== 'number') ||
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

/** A pipeline (single Redis or Cluster) that knows the store's scripts by name. */
interface ScriptPipeline {
  call(command: string, ...args: (string | number)[]): ScriptPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

const CLEAR: RevocationState = Object.freeze({
  jtiRevoked: false,
  familyRevoked: false,
  subjectCutoffMs: null,
  clientCutoffMs: null,
});

/** A marker key's value read with GET: set means revoked (GET fails with WRONGTYPE on a clobbered key). */
function isMarked(value: unknown): boolean {
  return value !== null && value !== undefined;
}

/** True when a cut-off (ms) covers a family created at `createdMs`. */
function covers(cutoff: number | null, createdMs: number): boolean {
  return cutoff !== null && cutoff >= createdMs;
}

/** The proof hash and generation script arguments ('' and '0' without a proof). */
function proofArgs(proof: RefreshTokenProof | undefined): [string, string] {
  if (proof === undefined) return ['', '0'];
  if (
    !Number.isSafeInteger(proof.generation) ||
    proof.generation < 0 ||
    typeof proof.proofHash !== 'string'
  ) {
    throw new RangeError(
      'refresh token proof: generation must be a whole number >= 0 and proofHash a string',
    );
  }
  return [proof.proofHash, String(proof.generation)];
}

/** A family's creation instant in ms (families of older versions: the start of its second). */
function createdMsOf(family: RefreshFamily): number {
  return family.createdAtMs ?? family.createdAt * 1000;
}

function assertNoBraces(what: string, value: string): void {
  if (/[{}]/.test(value)) {
    throw new TypeError(
      `RedisTokenStore: ${what} must not contain '{' or '}' (cluster hash tags), got ${value}`,
    );
  }
}

function checkWaitOptions(
  options: Readonly<WaitForReplicasOptions> | undefined,
): WaitForReplicasOptions | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('RedisTokenStore: waitForReplicas must be { replicas, timeoutMs }');
  }
  const { replicas, timeoutMs } = options;
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new RangeError(
      `RedisTokenStore: waitForReplicas.replicas must be a whole number >= 1, got ${String(replicas)}`,
    );
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new RangeError(
      `RedisTokenStore: waitForReplicas.timeoutMs must be a whole number >= 1, got ${String(timeoutMs)}`,
    );
  }
  return Object.freeze({ replicas, timeoutMs });
}

/**
 * Token store on Redis (ioredis 5): a single Redis (standalone or Sentinel) or a Redis Cluster.
 *
 * Key layout under `keyPrefix` (hashes and ids only, never raw tokens):
 * - `at:<hash>` opaque access token record (JSON), TTL = token lifetime;
 * - `rj:<jti>` denylisted jti; `rf:{<familyId>}` family-revoked marker; `cs:<sub>` / `cc:<clientId>`
 *   subject and client cut-offs (milliseconds; seconds when written by older versions) — all with TTLs;
 * - `fam:{<familyId>}` refresh family hash of constant size (`cur` current hash, `g` its
 *   generation, `ph` proof hash, `lu`, `rv`, `pv`/`pa`/`gr` for the grace window, `d` JSON…),
 *   expiring at min(absolute expiry, last use + idle lifetime);
 * - `cred:{<kind>}:<id>` credential hash (`v` version, `d` JSON), `cidx:{<kind>}:<indexKey>` → id,
 *   `cset:{<kind>}` set of ids — configuration, without TTL.
 *
 * Every script keeps its keys in one cluster slot (`{familyId}`, `{kind}` hash tags). Reads that
 * span slots (the revocation state of an access token, the cut-offs of a family) are one script
 * on a single Redis; on a Cluster they are parallel single-key GETs (one round trip of latency,
 * two for an opaque token: its record names the keys), and the cut-offs are passed into the family
 * script and checked again after a rotation (see docs/stores.md, "Cluster").
 *
 * @example
 * const client = createRedisClient({ url: process.env.REDIS_URL });
 * await waitForReady(client, 5000);
 * const store = new RedisTokenStore({ client, keyPrefix: 'myapp:etk:' });
 */
export class RedisTokenStore implements TokenStore {
  readonly #client: Redis | Cluster;
  readonly #cluster: boolean;
  readonly #wait: WaitForReplicasOptions | null;
  /** Our prefix, as given; ioredis adds the client's own `keyPrefix` to KEYS. */
  readonly #prefix: string;
  /** Full prefix (client's `keyPrefix` + ours) for keys built inside Lua. */
  readonly #luaPrefix: string;

  constructor(options: Readonly<RedisTokenStoreOptions>) {
    const client = options.client as Redis | Cluster | undefined;
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof client.defineCommand !== 'function' ||
      typeof client.get !== 'function' ||
      typeof client.pipeline !== 'function'
    ) {
      throw new TypeError('RedisTokenStore: options.client must be an ioredis Redis or Cluster client');
    }
    const prefix = options.keyPrefix ?? 'etk:';
    if (typeof prefix !== 'string') {
      throw new TypeError(`RedisTokenStore: keyPrefix must be a string, got ${typeof prefix}`);
    }
    assertNoBraces('keyPrefix', prefix);
    const clientPrefix = (client.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
    assertNoBraces("the client's keyPrefix", clientPrefix);
    this.#client = client;
    this.#cluster = (client as { isCluster?: boolean }).isCluster === true;
    this.#wait = checkWaitOptions(options.waitForReplicas);
    this.#prefix = prefix;
    this.#luaPrefix = clientPrefix + prefix;
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
    return `${this.#prefix}cred:{${kind}}:${id}`;
  }

  #credentialSetKey(kind: CredentialKind): string {
    return `${this.#prefix}cset:{${kind}}`;
  }

  /** Prefix of credential keys of a kind, for keys built inside Lua. */
  #credentialLuaPrefix(kind: CredentialKind): string {
    return `${this.#luaPrefix}cred:{${kind}}:`;
  }

  #indexKeys(kind: CredentialKind, indexKeys: readonly string[]): string[] {
    return indexKeys.map((k) => `${this.#prefix}cidx:{${kind}}:${k}`);
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

  /**
   * Runs a writing script; with `waitForReplicas`, pipelines `WAIT` behind it on the same
   * connection (on a Cluster, the node owning the script's slot) and fails closed when too few
   * replicas acknowledged. `mustReplicate(reply)` says whether the reply means something was written.
   */
  async #writeScript(
    s: StoreScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    mustReplicate: (reply: unknown) => boolean = () => true,
  ): Promise<unknown> {
    const wait = this.#wait;
    if (wait === null) return this.#script(s, keys, args);
    const pipeline = this.#client.pipeline() as unknown as ScriptPipeline &
      Record<string, (...a: (string | number)[]) => ScriptPipeline>;
    const command = pipeline[s.name];
    if (command === undefined) throw new StoreUnavailableError(`redis token store: script ${s.name} missing`);
    command.call(pipeline, keys.length, ...keys, ...args);
    pipeline.call('WAIT', wait.replicas, wait.timeoutMs);
    const results = await pipeline.exec();
    if (results === null || results.length < 2)
      throw new StoreUnavailableError('redis token store: pipeline aborted');
    const [[scriptErr, reply], [waitErr, acked]] = results as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    if (scriptErr !== null) throw scriptErr;
    if (!mustReplicate(reply)) return reply;
    if (waitErr !== null) throw waitErr;
    if (typeof acked !== 'number' || acked < wait.replicas) {
      throw new StoreUnavailableError(
        `redis token store: write acknowledged by ${String(acked)} of ${wait.replicas} replicas`,
      );
    }
    return reply;
  }

  /** Parallel GETs of single keys (Cluster: each routed to its own slot; one round trip of latency). */
  #getAll(keys: readonly string[]): Promise<(string | null)[]> {
    return Promise.all(keys.map((k) => this.#client.get(k)));
  }

  /** Cut-offs of a subject and a client, read with parallel GETs (Cluster). */
  async #readCutoffs(sub: string, clientId: string): Promise<[number | null, number | null]> {
    const [cs, cc] = await this.#getAll([this.#key('cs', sub), this.#key('cc', clientId)]);
    return [parseCutoff(cs), parseCutoff(cc)];
  }

  /** The revocation state with parallel single-key GETs (Cluster). */
  async #revocationByGets(query: RevocationQuery): Promise<RevocationState> {
    const keys = [
      this.#key('rj', query.jti),
      this.#key('cs', query.subject),
      this.#key('cc', query.clientId),
    ];
    if (query.familyId !== undefined) keys.push(this.#familyRevokedKey(query.familyId));
    const [jti, cs, cc, fam] = await this.#getAll(keys);
    return {
      jtiRevoked: isMarked(jti),
      familyRevoked: isMarked(fam),
      subjectCutoffMs: parseCutoff(cs),
      clientCutoffMs: parseCutoff(cc),
    };
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
      if (this.#cluster) {
        const raw = await this.#client.get(this.#key('at', hash));
        if (raw === null) return { record: null, state: { ...CLEAR } };
        const record = parseAccessTokenRecord(raw);
        const state = await this.#revocationByGets({
          jti: record.jti,
          subject: record.sub,
          clientId: record.clientId,
          ...(record.familyId === undefined ? {} : { familyId: record.familyId }),
        });
        return { record, state };
      }
      const reply = await this.#script(LOOKUP_ACCESS_TOKEN, [this.#key('at', hash)], [this.#luaPrefix]);
      if (reply === null) return { record: null, state: { ...CLEAR } };
      const [raw, jti, fam, cs, cc] = asArray(reply, 5, 'access token reply');
      return {
        record: parseAccessTokenRecord(raw),
        state: {
          jtiRevoked: jti === 1,
          familyRevoked: fam === 1,
          subjectCutoffMs: parseCutoff(cs),
          clientCutoffMs: parseCutoff(cc),
        },
      };
    });
  }

  // --- revocation -------------------------------------------------------------

  async checkRevocation(query: RevocationQuery): Promise<RevocationState> {
    return this.#call('checkRevocation', async () => {
      if (this.#cluster) return this.#revocationByGets(query);
      const keys = [
        this.#key('rj', query.jti),
        this.#key('cs', query.subject),
        this.#key('cc', query.clientId),
      ];
      if (query.familyId !== undefined) keys.push(this.#familyRevokedKey(query.familyId));
      const [jti, cs, cc, fam] = asArray(
        await this.#script(CHECK_REVOCATION, keys, []),
        4,
        'revocation reply',
      );
      return {
        jtiRevoked: jti === 1,
        familyRevoked: fam === 1,
        subjectCutoffMs: parseCutoff(cs),
        clientCutoffMs: parseCutoff(cc),
      };
    });
  }

  async revokeJti(jti: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeJti', async () => {
      await this.#writeScript(REVOKE_JTI, [this.#key('rj', jti)], [px]);
    });
  }

  async revokeFamily(familyId: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeFamily', async () => {
      await this.#revokeFamilyNow(familyId, px);
    });
  }

  async #revokeFamilyNow(familyId: string, px: number): Promise<void> {
    await this.#writeScript(
      REVOKE_FAMILY,
      [this.#familyRevokedKey(familyId), this.#familyKey(familyId)],
      [px],
    );
  }

  async setCutoff(kind: 'subject' | 'client', id: string, at: number, ttlSeconds: number): Promise<void> {
    assertCutoffMs(at);
    const px = ttlMs(ttlSeconds);
    const key = this.#key(kind === 'subject' ? 'cs' : 'cc', id);
    return this.#call('setCutoff', async () => {
      await this.#writeScript(SET_CUTOFF, [key], [String(at), px]);
    });
  }

  // --- refresh families -------------------------------------------------------

  async createRefreshFamily(family: RefreshFamily, hash: string, proofHash?: string): Promise<void> {
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
          cam: String(createdMsOf(family)),
          ea: String(family.expiresAt),
          lu: String(lastUsedAt),
          cur: hash,
          rv: '0',
          d: JSON.stringify(stored),
          g: '1',
          ...(proofHash === undefined ? {} : { ph: proofHash }),
        })
        .pexpireat(key, Math.floor(family.expiresAt * 1000))
        .exec();
      const failed = results?.find(([err]) => err !== null);
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted');
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    const grace = input.graceSeconds ?? 0;
    if (!Number.isFinite(grace) || grace < 0 || grace > MAX_REFRESH_GRACE_SECONDS) {
      throw new RangeError(
        `rotateRefreshToken: graceSeconds must be from 0 to ${MAX_REFRESH_GRACE_SECONDS}, got ${String(grace)}`,
      );
    }
    const keys = [this.#familyKey(input.familyId), this.#familyRevokedKey(input.familyId)];
    const proof = proofArgs(input.proof);
    return this.#call('rotateRefreshToken', async () => {
      // Cluster: the cut-off keys live in other slots. Read them first (the family's subject and
      // client come from the caller's expectations, or from the family itself) and pass them in.
      let cutoffArgs: [string, string, string] = [this.#luaPrefix, '', ''];
      let owner: { sub: string; cid: string; createdMs: number } | null = null;
      if (this.#cluster) {
        const [sub = null, cid = null, ca = null, cam = null] = await this.#client.hmget(
          keys[0]!,
          'sub',
          'cid',
          'ca',
          'cam',
        );
        if (sub === null || cid === null || ca === null) {
          if (sub === null && cid === null && ca === null) return { status: 'not_found' };
          throw corrupt('refresh family');
        }
        const createdMs =
          cam === null ? parseNumber(ca, 'refresh family') * 1000 : parseNumber(cam, 'refresh family');
        owner = { sub, cid, createdMs };
        const [cs, cc] = await this.#readCutoffs(sub, cid);
        cutoffArgs = ['', cs === null ? '' : String(cs), cc === null ? '' : String(cc)];
      }
      const args = [
        input.presentedHash,
        input.nextHash,
        String(input.now),
        String(input.idleSeconds),
        input.expectedClientId ?? '',
        input.expectedClientId === undefined ? '0' : '1',
        input.expectedSubject ?? '',
        input.expectedSubject === undefined ? '0' : '1',
        ...cutoffArgs,
        String(grace),
        String(MAX_REFRESH_GRACE_RETRIES),
        ...proof,
      ];
      const reply = await this.#writeScript(ROTATE_REFRESH_TOKEN, keys, args, (r) => {
        const status = Array.isArray(r) ? (r as unknown[])[0] : undefined;
        return status === 'rotated' || status === 'reused' || status === 'expired';
      });
      const [status, raw, lastUsedAt, retried] = asArray(reply, 1, 'rotation reply');
      switch (status) {
        case 'rotated': {
          const family = parseFamily(raw, lastUsedAt);
          if (owner !== null) {
            // Cluster: a cut-off set between our read and the script is caught here; the family
            // is revoked before the successor is handed out.
            const [cs, cc] = await this.#readCutoffs(owner.sub, owner.cid);
            if (covers(cs, owner.createdMs) || covers(cc, owner.createdMs)) {
              await this.#revokeFamilyNow(
                input.familyId,
                Math.max((family.expiresAt - input.now) * 1000, 1000),
              );
              return { status: 'revoked' };
            }
          }
          return retried === 'retried' ? { status, family, retried: true } : { status, family };
        }
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

  async inspectRefreshToken(
    familyId: string,
    hash: string,
    now: number,
    proof?: RefreshTokenProof,
  ): Promise<RefreshTokenState | null> {
    const keys = [this.#familyKey(familyId), this.#familyRevokedKey(familyId)];
    const prefix = this.#cluster ? '' : this.#luaPrefix;
    const args = [hash, String(now), prefix, ...proofArgs(proof)];
    return this.#call('inspectRefreshToken', async () => {
      const reply = await this.#script(INSPECT_REFRESH_TOKEN, keys, args);
      if (reply === null) return null;
      const [raw, lastUsedAt, active] = asArray(reply, 3, 'inspection reply');
      const family = parseFamily(raw, lastUsedAt);
      if (active !== 1) return { family, active: false };
      if (this.#cluster) {
        const [cs, cc] = await this.#readCutoffs(family.sub, family.clientId);
        const createdMs = createdMsOf(family);
        if (covers(cs, createdMs) || covers(cc, createdMs)) return { family, active: false };
      }
      return { family, active: true };
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
      this.#credentialSetKey(kind),
      ...this.#indexKeys(kind, indexKeys),
    ];
    const json = JSON.stringify(data);
    return this.#call('createCredential', async () => {
      const reply = await this.#writeScript(
        CREATE_CREDENTIAL,
        keys,
        [id, json, this.#credentialLuaPrefix(kind)],
        (r) => r === 1,
      );
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
        await this.#script(
          LIST_CREDENTIALS,
          [this.#credentialSetKey(kind)],
          [this.#credentialLuaPrefix(kind)],
        ),
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
      const reply = await this.#writeScript(REPLACE_CREDENTIAL, keys, args, (r) => r !== null);
      if (reply === null) return null;
      return parseCredential(id, reply, json);
    });
  }

  async deleteCredential(kind: CredentialKind, id: string, indexKeys: readonly string[]): Promise<boolean> {
    const keys = [
      this.#credentialKey(kind, id),
      this.#credentialSetKey(kind),
      ...this.#indexKeys(kind, indexKeys),
    ];
    return this.#call('deleteCredential', async () => {
      return (await this.#writeScript(DELETE_CREDENTIAL, keys, [id], (r) => r === 1)) === 1;
    });
  }

  // --- lifecycle --------------------------------------------------------------

  /** Does nothing: the injected client belongs to the application, which closes it. */
  async close(): Promise<void> {}
}
