/**
 * The Redis implementation of {@link TokenStore}: Lua scripts for everything that must be atomic,
 * a TTL on every token-related key, and `StoreUnavailableError` for every failure. Works on a single
 * Redis (standalone or behind Sentinel) and on a Redis Cluster.
 */
import type { Cluster, Redis } from 'ioredis';
import { ForwardsCredentials, type CredentialStore } from './credential-store';
import type { BoundEntity } from '../types';
import { isEntityTypeName } from '../util/entity-type-name';
import { RedisCredentialStore } from './redis-credential-store';
import {
  INSPECT_REFRESH_TOKEN,
  READ_VALUES,
  REVOKE_FAMILY,
  REVOKE_JTI,
  ROTATE_REFRESH_TOKEN,
  SET_CUTOFF,
  STORE_SCRIPTS,
} from './redis-scripts';
import type { StoreScript } from './redis-scripts';
import {
  asArray,
  corrupt,
  isObject,
  parseJson,
  parseNumber,
  RedisStoreCore,
  STALE,
} from './redis-store-core';
import type { RedisStoreOptions } from './redis-store-core';
import {
  INIT_REVOCATION_LOG,
  RECORD_REVOCATION,
  REVOCATION_LOG_LENGTH,
  REVOCATION_LOG_SCRIPTS,
  revocationLogKeys,
  type RevocationLogKind,
} from './redis-revocation-log';
import {
  assertCutoffMs,
  assertUsedKey,
  cutoffMsOf,
  MAX_REFRESH_GRACE_RETRIES,
  MAX_REFRESH_GRACE_SECONDS,
} from './token-store';
import type {
  AccessTokenRecord,
  RefreshFamily,
  RefreshTokenProof,
  RefreshTokenState,
  RevocationQuery,
  RevocationState,
  RotateRefreshInput,
  RotateRefreshResult,
  TokenStore,
} from './token-store';

export type { WaitForReplicasOptions } from './redis-store-core';

/** Options of {@link RedisTokenStore} (those of `RedisCredentialStore` too). */
export type RedisTokenStoreOptions = RedisStoreOptions;

/** Milliseconds of a TTL given in seconds; at least 1 ms so every key expires. */
function ttlMs(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new RangeError(`ttlSeconds must be finite, got ${String(seconds)}`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

/** How long a family revoked inside the rotation script stays in the revocation log, ms. */
const FAMILY_LOG_MS = 86_400_000;

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
    (r.familyId !== undefined && typeof r.familyId !== 'string') ||
    (r.act !== undefined && (!isObject(r.act) || typeof r.act.sub !== 'string')) ||
    (r.jkt !== undefined && typeof r.jkt !== 'string')
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
    (f.data !== undefined && !isObject(f.data)) ||
    (f.jkt !== undefined && typeof f.jkt !== 'string')
  ) {
    throw corrupt('refresh family');
  }
  return { ...(f as unknown as RefreshFamily), lastUsedAt: parseNumber(lastUsedAt, 'refresh family') };
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

/** Runs one of the store's scripts with its KEYS and ARGV. */
type RunScript = (
  s: StoreScript,
  keys: readonly string[],
  args: readonly (string | number)[],
) => Promise<unknown>;

/**
 * What differs between a single Redis (standalone or Sentinel) and a Redis Cluster, chosen once in
 * the constructor; every store method has one code path on top of it. The key layout is the same on
 * both (existing data keeps working); only the way keys of different slots are combined differs.
 * Pipelines (a write script followed by `WAIT`) are the same on both: every write script touches
 * one slot, and a Cluster pipeline goes to the node owning it.
 */
interface RedisTopology {
  /**
   * True when one script may declare all of `keys`: always on a single Redis; on a Cluster when
   * they share one hash tag (`{…}`), so one slot. False may be a false negative on a Cluster
   * (keys without a tag can still hash alike); callers then use `getAll`.
   */
  sameSlot(keys: readonly string[]): boolean;
  /**
   * The values of string keys of any slots, failing on a key of another type: a single Redis reads
   * them in one script (one round trip, one snapshot); a Cluster with parallel GETs, each routed to
   * its key's slot (one round trip of latency, no common snapshot).
   */
  getAll(keys: readonly string[]): Promise<(string | null)[]>;
}

/** The hash tag of a key as Redis Cluster reads it: the text between the first `{` and the next `}`, when not empty. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

function singleNodeTopology(run: RunScript): RedisTopology {
  return {
    sameSlot: () => true,
    async getAll(keys) {
      if (keys.length === 0) return [];
      const reply = asArray(await run(READ_VALUES, keys, []), keys.length, 'values reply');
      return reply.map((v) => (typeof v === 'string' ? v : null));
    },
  };
}

function clusterTopology(client: Redis | Cluster): RedisTopology {
  return {
    sameSlot(keys) {
      if (keys.length <= 1) return true;
      const tag = hashTag(keys[0]!);
      return tag !== null && keys.every((k) => hashTag(k) === tag);
    },
    getAll: (keys) => Promise.all(keys.map((k) => client.get(k))),
  };
}

/** The subject and client a refresh family belongs to (they name its cut-off keys). */
interface FamilyOwner {
  readonly sub: string;
  readonly cid: string;
}

/** How the rotate script gets the cut-offs (see `ROTATE_REFRESH_TOKEN`): its KEYS and two ARGV values. */
interface CutoffSource {
  readonly name: 'keys' | 'values' | 'none';
  readonly keys: readonly string[];
  readonly values: readonly [string, string];
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
 * - credentials under `cred:`, `cidx:` and `cset:`, without TTL (see `RedisCredentialStore`).
 *
 * Every script declares its keys in KEYS, all in one cluster slot (`{familyId}`, `{kind}` hash
 * tags). What differs between a single Redis and a Cluster is one `RedisTopology`, chosen in
 * the constructor: reads that span slots (the revocation state of an access token, the cut-offs of
 * a family) are one script on a single Redis, parallel single-key GETs on a Cluster (one round trip
 * of latency; an opaque token's record is read first, it names the keys); the rotation script gets
 * the cut-off keys as KEYS on a single Redis, and on a Cluster the cut-offs as values, checked again
 * after a rotation (see docs/stores.md, "Redis key layout", and docs/operations.md, "Cluster notes").
 *
 * It is a {@link CredentialStore} too, through a `RedisCredentialStore` it owns over the same
 * client and prefix, so a kit given only this store keeps credentials beside tokens.
 *
 * @example
 * const client = createRedisClient({ url: process.env.REDIS_URL });
 * await waitForReady(client, 5000);
 * const store = new RedisTokenStore({ client, keyPrefix: 'myapp:etk:' });
 */
export class RedisTokenStore extends ForwardsCredentials implements TokenStore, CredentialStore {
  readonly #client: Redis | Cluster;
  readonly #topology: RedisTopology;
  readonly #redis: RedisStoreCore;
  readonly #credentials: RedisCredentialStore;
  /** Our prefix, as given; ioredis adds the client's own `keyPrefix` to every key, KEYS included. */
  readonly #prefix: string;
  /** The deployment's revocation channel (`revocationChannel(keyPrefix)`) and its log's keys. */
  readonly #channel: string;
  readonly #logKeys: readonly string[];

  constructor(options: Readonly<RedisTokenStoreOptions>) {
    super();
    this.#redis = new RedisStoreCore('RedisTokenStore', 'redis token store', options, [
      ...STORE_SCRIPTS,
      ...REVOCATION_LOG_SCRIPTS,
    ]);
    const client = this.#redis.client;
    this.#client = client;
    this.#topology = this.#redis.isCluster
      ? clusterTopology(client)
      : singleNodeTopology((s, keys, args) => this.#script(s, keys, args));
    this.#prefix = this.#redis.prefix;
    this.#credentials = new RedisCredentialStore(options);
    // The revocation log that RedisRevocationView replicas follow (redis-revocation-log.ts): created
    // now, so a replica of a deployment without any revocation yet can start answering.
    this.#channel = `${this.#prefix}revocations`;
    this.#logKeys = revocationLogKeys(this.#channel);
    this.#script(INIT_REVOCATION_LOG, [this.#logKeys[0]!], []).catch(() => undefined);
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

  // --- plumbing ---------------------------------------------------------------

  /** Runs `fn`; any failure becomes a `StoreUnavailableError` (fail closed). */
  #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#redis.call(operation, fn);
  }

  #script(s: StoreScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.#redis.script(s, keys, args);
  }

  /** Runs a writing script, with `WAIT` behind it under `waitForReplicas` (see `RedisStoreCore`). */
  #writeScript(
    s: StoreScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    mustReplicate?: (reply: unknown) => boolean,
  ): Promise<unknown> {
    return this.#redis.writeScript(s, keys, args, mustReplicate);
  }

  /** Cut-offs of a subject and a client, read through the topology. */
  async #readCutoffs(sub: string, clientId: string): Promise<[number | null, number | null]> {
    const [cs = null, cc = null] = await this.#topology.getAll([
      this.#key('cs', sub),
      this.#key('cc', clientId),
    ]);
    return [parseCutoff(cs), parseCutoff(cc)];
  }

  /** The revocation state: keys of several slots, read through the topology. */
  async #readRevocation(query: RevocationQuery): Promise<RevocationState> {
    const keys = [
      this.#key('rj', query.jti),
      this.#key('cs', query.subject),
      this.#key('cc', query.clientId),
    ];
    if (query.familyId !== undefined) keys.push(this.#familyRevokedKey(query.familyId));
    const [jti, cs, cc, fam] = await this.#topology.getAll(keys);
    return {
      jtiRevoked: isMarked(jti),
      familyRevoked: isMarked(fam),
      subjectCutoffMs: parseCutoff(cs ?? null),
      clientCutoffMs: parseCutoff(cc ?? null),
    };
  }

  /** Runs `attempt` until it does not answer {@link STALE}, a few times at most; then fails closed. */
  #untilFresh<T>(what: string, attempt: (n: number) => Promise<T | typeof STALE>): Promise<T> {
    return this.#redis.untilFresh(what, attempt);
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
      // The record names the revocation keys, so they are read second (two round trips).
      const raw = await this.#client.get(this.#key('at', hash));
      if (raw === null) return { record: null, state: { ...CLEAR } };
      const record = parseAccessTokenRecord(raw);
      const state = await this.#readRevocation({
        jti: record.jti,
        subject: record.sub,
        clientId: record.clientId,
        ...(record.familyId === undefined ? {} : { familyId: record.familyId }),
      });
      return { record, state };
    });
  }

  async readAccessToken(hash: string): Promise<AccessTokenRecord | null> {
    return this.#call('readAccessToken', async () => {
      const raw = await this.#client.get(this.#key('at', hash));
      return raw === null ? null : parseAccessTokenRecord(raw);
    });
  }

  // --- revocation -------------------------------------------------------------

  async checkRevocation(query: RevocationQuery): Promise<RevocationState> {
    return this.#call('checkRevocation', () => this.#readRevocation(query));
  }

  /**
   * Logs a revocation for the replicas, BEFORE the store's own key is written (other slots on a
   * Cluster: a failure in between leaves the log stricter than the keys, never the reverse).
   */
  async #logRevocation(kind: RevocationLogKind, id: string, value: string, px: number): Promise<void> {
    const now = Date.now();
    // Not waited for replicas itself: on a single Redis the WAIT behind the store's own write, on the
    // same connection, covers this entry too; on a Cluster the log's node is not waited for.
    await this.#script(RECORD_REVOCATION, this.#logKeys, [
      this.#channel,
      kind,
      id,
      value,
      String(now + px),
      String(now),
      String(REVOCATION_LOG_LENGTH),
    ]);
  }

  async revokeJti(jti: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeJti', async () => {
      await this.#logRevocation('jti', jti, '1', px);
      await this.#writeScript(REVOKE_JTI, [this.#key('rj', jti)], [px]);
    });
  }

  async markUsed(key: string, ttlSeconds: number): Promise<boolean> {
    assertUsedKey(key);
    const px = ttlMs(ttlSeconds);
    return this.#call('markUsed', async () => {
      // SET NX is the atomic test-and-set: exactly one caller gets OK for a key until it expires.
      const reply = await this.#client.set(this.#key('used', key), '1', 'PX', px, 'NX');
      return reply === 'OK';
    });
  }

  async revokeFamily(familyId: string, ttlSeconds: number): Promise<void> {
    const px = ttlMs(ttlSeconds);
    return this.#call('revokeFamily', async () => {
      await this.#revokeFamilyNow(familyId, px);
    });
  }

  async #revokeFamilyNow(familyId: string, px: number): Promise<void> {
    await this.#logRevocation('family', familyId, '1', px);
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
      await this.#logRevocation(kind, id, String(at), px);
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
    const familyKeys = [this.#familyKey(input.familyId), this.#familyRevokedKey(input.familyId)];
    const proof = proofArgs(input.proof);
    const head = [
      input.presentedHash,
      input.nextHash,
      String(input.now),
      String(input.idleSeconds),
      input.expectedClientId ?? '',
      input.expectedClientId === undefined ? '0' : '1',
      input.expectedSubject ?? '',
      input.expectedSubject === undefined ? '0' : '1',
    ];
    // The cut-off keys are named by the family's owner: the caller's expectations when it has both
    // (the script answers 'mismatch' before it reads a cut-off when they are not the family's),
    // else read from the family. The script answers 'stale' when the owner is not the family's.
    let owner: FamilyOwner | null =
      input.expectedSubject !== undefined && input.expectedClientId !== undefined
        ? { sub: input.expectedSubject, cid: input.expectedClientId }
        : null;
    return this.#call('rotateRefreshToken', () =>
      this.#untilFresh('refresh family', async (attempt) => {
        if (owner === null || attempt > 0) owner = await this.#familyOwner(familyKeys[0]!);
        const source = await this.#cutoffSource(familyKeys, owner);
        const args = [
          ...head,
          source.name,
          ...source.values,
          String(grace),
          String(MAX_REFRESH_GRACE_RETRIES),
          ...proof,
          owner?.sub ?? '',
          owner?.cid ?? '',
        ];
        const reply = await this.#writeScript(ROTATE_REFRESH_TOKEN, source.keys, args, (r) => {
          const status = Array.isArray(r) ? (r as unknown[])[0] : undefined;
          return status === 'rotated' || status === 'reused' || status === 'expired';
        });
        const [status, raw, lastUsedAt, retried] = asArray(reply, 1, 'rotation reply');
        switch (status) {
          case 'rotated': {
            const family = parseFamily(raw, lastUsedAt);
            if (source.name === 'values' && owner !== null) {
              // Cut-offs read before the script: one set in between is caught here, and the
              // family is revoked before the successor is handed out.
              const [cs, cc] = await this.#readCutoffs(owner.sub, owner.cid);
              const createdMs = createdMsOf(family);
              if (covers(cs, createdMs) || covers(cc, createdMs)) {
                await this.#revokeFamilyNow(
                  input.familyId,
                  Math.max((family.expiresAt - input.now) * 1000, 1000),
                );
                return { status: 'revoked' } as const;
              }
            }
            return retried === 'retried'
              ? ({ status, family, retried: true } as const)
              : ({ status, family } as const);
          }
          case 'reused':
          case 'expired':
            // The script revoked the family; log it for the replicas (the marker's TTL is the family's
            // remaining lifetime, unknown here: a day is longer than any access token it issued).
            await this.#logRevocation('family', input.familyId, '1', FAMILY_LOG_MS);
            return status === 'expired'
              ? ({ status } as const)
              : ({ status, family: parseFamily(raw, lastUsedAt) } as const);
          case 'mismatch':
          case 'revoked':
          case 'not_found':
            return { status } as const;
          case 'stale':
            return STALE;
          default:
            throw corrupt('rotation reply');
        }
      }),
    );
  }

  /** The subject and client of a family, or null when it has none (absent, or corrupt: its script says which). */
  async #familyOwner(familyKey: string): Promise<FamilyOwner | null> {
    const [sub = null, cid = null] = await this.#client.hmget(familyKey, 'sub', 'cid');
    return sub === null || cid === null ? null : { sub, cid };
  }

  /**
   * How the rotate script learns the cut-offs of `owner`: as KEYS when the topology lets them share
   * the script with the family's keys (single Redis: atomic with the rotation), else read just
   * before and passed as values (Cluster: they live in other slots; the caller checks again after).
   */
  async #cutoffSource(familyKeys: readonly string[], owner: FamilyOwner | null): Promise<CutoffSource> {
    if (owner === null) return { name: 'none', keys: familyKeys, values: ['', ''] };
    const cutoffKeys = [this.#key('cs', owner.sub), this.#key('cc', owner.cid)];
    const keys = [...familyKeys, ...cutoffKeys];
    if (this.#topology.sameSlot(keys)) return { name: 'keys', keys, values: ['', ''] };
    const [cs, cc] = await this.#readCutoffs(owner.sub, owner.cid);
    return {
      name: 'values',
      keys: familyKeys,
      values: [cs === null ? '' : String(cs), cc === null ? '' : String(cc)],
    };
  }

  async inspectRefreshToken(
    familyId: string,
    hash: string,
    now: number,
    proof?: RefreshTokenProof,
  ): Promise<RefreshTokenState | null> {
    const keys = [this.#familyKey(familyId), this.#familyRevokedKey(familyId)];
    const args = [hash, String(now), ...proofArgs(proof)];
    return this.#call('inspectRefreshToken', async () => {
      const reply = await this.#script(INSPECT_REFRESH_TOKEN, keys, args);
      if (reply === null) return null;
      const [raw, lastUsedAt, active] = asArray(reply, 3, 'inspection reply');
      const family = parseFamily(raw, lastUsedAt);
      if (active !== 1) return { family, active: false };
      // The script names the owner; its cut-offs are read after it (a read only).
      const [cs, cc] = await this.#readCutoffs(family.sub, family.clientId);
      const createdMs = createdMsOf(family);
      if (covers(cs, createdMs) || covers(cc, createdMs)) return { family, active: false };
      return { family, active: true };
    });
  }

  /** The owned credential store the {@link CredentialStore} methods forward to. */
  protected credentialStore(): CredentialStore {
    return this.#credentials;
  }

  // --- lifecycle --------------------------------------------------------------

  /** Does nothing: the injected client belongs to the application, which closes it. */
  async close(): Promise<void> {}
}
