/**
 * A revocation view kept current by Redis pub/sub. As a replica (the default when the deployment's
 * store keeps a revocation log, see redis-revocation-log.ts) it holds everything revoked and
 * answers the revocation check of ANY token locally, with no round trip; it follows the log's
 * sequence numbers and, on a gap, a heartbeat that disagrees or a lost channel, stops answering
 * (the core asks the store, failing closed) until it has resynced. Without a log it is the older
 * per-jti cache that every announcement clears.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  LocalRevocationMemory,
  RevocationReplica,
  type ReplicaRevocation,
  type RevocationNotice,
  type RevocationView,
} from './revocation-view';
import type { RevocationQuery, RevocationState } from './token-store';
import { waitForReady } from './redis-client';
import { atLeast, matchingString, missingOption, oneOf } from '../util/options';
import {
  parseRevocationLogEntry,
  parseRevocationSnapshotEntry,
  READ_REVOCATIONS_SINCE,
  REVOCATION_HEARTBEAT,
  REVOCATION_LOG_SCRIPTS,
  revocationLogKeys,
  type RevocationLogEntry,
} from './redis-revocation-log';

/** Options of {@link RedisRevocationView}. */
export interface RedisRevocationViewOptions {
  /** The client used to publish (the store's client is fine): a `Redis`, or an ioredis `Cluster`. */
  readonly client: Redis | Cluster;
  /**
   * A dedicated subscriber connection (a `Cluster` for a Cluster: a PUBLISH reaches every node);
   * @default `client.duplicate()` (closed by `close()`).
   */
  readonly subscriber?: Redis | Cluster;
  /** Pub/sub channel shared by every instance of one deployment; @default `etk:revocations`. */
  readonly channel?: string;
  /** Heartbeat period in ms; the view is trusted only while its own heartbeats come back within 3 periods; @default 500. */
  readonly heartbeatMs?: number;
  /** Most jtis remembered; @default 100000. */
  readonly maxEntries?: number;
  /** Longest time an answer is remembered (ms); @default 60000. */
  readonly maxAgeMs?: number;
  /** How long `start` waits for the subscriber connection (ms); @default 5000. */
  readonly readyTimeoutMs?: number;
  /**
   * Be a replica of everything revoked (`true`), the older per-jti cache cleared by every
   * announcement (`false`), or a replica when the channel's revocation log exists at start
   * (`'auto'`: a `RedisTokenStore` whose `keyPrefix` gives this channel — `revocationChannel(keyPrefix)`
   * — creates it). With `true`, the view is never ready until the log exists. @default 'auto'
   */
  readonly replica?: boolean | 'auto';
  /**
   * Most revocations a replica holds; past it the replica stops answering and every check goes to
   * the store. About 100 bytes plus the id each. @default 500000
   */
  readonly maxRevocations?: number;
}

const PING = 'ping:';
/** A notice without sequence number (credentials, announcers, older versions). */
const NOTICE = '{';
const DEFAULT_CHANNEL = 'etk:revocations';

/**
 * The revocation channel of a deployment whose Redis keys start with `keyPrefix`
 * (`<keyPrefix>revocations`, so deployments that share a Redis under different prefixes stay apart).
 */
export function revocationChannel(keyPrefix = 'etk:'): string {
  return `${keyPrefix}revocations`;
}

function publishNotice(client: Redis | Cluster, channel: string, notice: RevocationNotice): Promise<unknown> {
  return client.publish(channel, JSON.stringify({ kind: notice.kind, id: notice.id }));
}

/** Options of {@link createRevocationAnnouncer}. */
export interface RevocationAnnouncerOptions {
  /** The client used to publish: a `Redis`, or an ioredis `Cluster`. */
  readonly client: Redis | Cluster;
  /** The channel of the deployment's {@link RedisRevocationView}s; @default `etk:revocations`. */
  readonly channel?: string;
}

/**
 * A {@link RevocationView} that only announces: for a short-lived process (an admin command) that
 * revokes on the store shared with running instances, so their views hear of it at once. It never
 * remembers anything (every check asks the store) and needs no subscriber connection.
 *
 * @example
 * ```ts
 * const kit = createTokenKit({ store, keys, issuer, revocationView: createRevocationAnnouncer({ client }) });
 * await kit.credentials.revokeApiKey(id); // every instance's RedisRevocationView is cleared
 * ```
 */
export function createRevocationAnnouncer(options: Readonly<RevocationAnnouncerOptions>): RevocationView {
  if (!options?.client) throw missingOption('createRevocationAnnouncer needs { client }');
  const { client } = options;
  const channel = options.channel ?? DEFAULT_CHANNEL;
  return {
    ready: false,
    generation: 0,
    lookup: () => undefined,
    remember: () => undefined,
    announce: async (notice) => {
      await publishNotice(client, channel, notice);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * The connection a subscriber actually listens on. A `Redis` is its own; an ioredis `Cluster`
 * subscribes through one node connection that it replaces, without any event, when that connection
 * ends (messages published meanwhile are lost). ioredis keeps it private: read defensively.
 */
function listeningConnection(subscriber: Redis | Cluster): unknown {
  if ((subscriber as { isCluster?: boolean }).isCluster !== true) return subscriber;
  const inner = (subscriber as unknown as { subscriber?: { getInstance?: () => unknown } }).subscriber;
  return typeof inner?.getInstance === 'function' ? inner.getInstance() : subscriber;
}

/**
 * Redis pub/sub {@link RevocationView}. Pass it to `createTokenKit({ revocationView })`.
 *
 * @example
 * ```ts
 * const store = new RedisTokenStore({ client }); // first: it defines its scripts on the client
 * const view = await RedisRevocationView.start({ client });
 * const kit = createTokenKit({ store, revocationView: view, keys, issuer });
 * ```
 */
export class RedisRevocationView implements RevocationView {
  readonly #client: Redis | Cluster;
  readonly #subscriber: Redis | Cluster;
  readonly #ownsSubscriber: boolean;
  readonly #channel: string;
  readonly #logKeys: readonly [string, string, string, string];
  readonly #heartbeatMs: number;
  readonly #memory: LocalRevocationMemory;
  readonly #replica: RevocationReplica;
  readonly #replicaOption: boolean | 'auto';
  /** Replica mode (decided at start). */
  #replicating = false;
  /** The replica holds every revocation up to the log's sequence (no gap seen since). */
  #synced = false;
  #resyncing: Promise<void> | undefined;
  /** Entries that arrived while a resync was in flight. */
  #pending: RevocationLogEntry[] = [];
  #replicaGeneration = 0;
  readonly #instance = randomBytes(8).toString('hex');
  #lastHeartbeat = -Infinity;
  #trusted = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The connection our heartbeats last came back on (see {@link listeningConnection}). */
  #listening: unknown;

  private constructor(options: Readonly<RedisRevocationViewOptions>) {
    if (!options?.client) throw missingOption('RedisRevocationView needs { client }');
    this.#client = options.client;
    this.#ownsSubscriber = options.subscriber === undefined;
    this.#channel = options.channel ?? DEFAULT_CHANNEL;
    this.#channel = matchingString(
      this.#channel,
      DEFAULT_CHANNEL,
      'RedisRevocationView: channel',
      /^[^{}]*$/,
      'a string without braces',
    );
    this.#logKeys = revocationLogKeys(this.#channel);
    this.#heartbeatMs = atLeast(options.heartbeatMs, 500, 'RedisRevocationView: heartbeatMs', 10);
    this.#replicaOption =
      options.replica === undefined || typeof options.replica === 'boolean'
        ? (options.replica ?? 'auto')
        : oneOf(options.replica, ['auto'], 'RedisRevocationView: replica', undefined, 'true or false');
    this.#memory = new LocalRevocationMemory({
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
    });
    this.#replica = new RevocationReplica(
      options.maxRevocations === undefined ? {} : { maxEntries: options.maxRevocations },
    );
    this.#subscriber = options.subscriber ?? options.client.duplicate();
    for (const s of REVOCATION_LOG_SCRIPTS) this.#client.defineCommand(s.name, { lua: s.lua });
    this.#subscriber.on('error', () => this.#distrust());
    this.#subscriber.on('close', () => this.#distrust());
    this.#subscriber.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
  }

  /** Subscribes, loads the replica (when replicating) and starts the heartbeat; resolves once subscribed (not necessarily ready). */
  static async start(options: Readonly<RedisRevocationViewOptions>): Promise<RedisRevocationView> {
    const view = new RedisRevocationView(options);
    try {
      await waitForReady(view.#subscriber, options.readyTimeoutMs ?? 5000);
      await view.#subscriber.subscribe(view.#channel);
      if (view.#replicaOption === 'auto') {
        const exists = await view.#client.exists(view.#logKeys[0]);
        view.#replicating = exists === 1;
      } else {
        view.#replicating = view.#replicaOption;
      }
      if (view.#replicating) await view.#resync().catch(() => undefined);
    } catch (err) {
      await view.close();
      throw err;
    }
    view.#timer = setInterval(() => view.#beat(), view.#heartbeatMs);
    view.#timer.unref();
    view.#beat();
    return view;
  }

  /** True while a replica of everything revoked (not merely remembered answers) is answering. */
  get replicating(): boolean {
    return this.#replicating;
  }

  /** True while our own heartbeats come back: announcements are arriving (and, as a replica, it is synced). */
  get ready(): boolean {
    if (!this.#trusted) return false;
    if (listeningConnection(this.#subscriber) !== this.#listening) {
      // A Cluster moved its subscription to a new connection: announcements may have been lost.
      this.#distrust();
      return false;
    }
    if (Date.now() - this.#lastHeartbeat > 3 * this.#heartbeatMs) {
      this.#distrust();
      return false;
    }
    return !this.#replicating || (this.#synced && !this.#replica.overflowing);
  }

  get generation(): number {
    return this.#replicating ? this.#replicaGeneration : this.#memory.generation;
  }

  /** Number of remembered answers, or of revocations held by a replica (for memory reports). */
  get size(): number {
    return this.#replicating ? this.#replica.size : this.#memory.size;
  }

  /** The sequence number the replica is at (-1 before its first load, or when not replicating). */
  get seq(): number {
    return this.#replicating ? this.#replica.seq : -1;
  }

  lookup(jti: string, nowMs: number): RevocationState | undefined {
    return this.#replicating ? undefined : this.#memory.lookup(jti, nowMs);
  }

  remember(jti: string, state: RevocationState, expiresAtMs: number, generation: number): void {
    if (!this.#replicating) this.#memory.remember(jti, state, expiresAtMs, generation, Date.now());
  }

  check(query: RevocationQuery): RevocationState | undefined {
    return this.#replicating && this.ready ? this.#replica.check(query) : undefined;
  }

  /**
   * As a replica: a revocation was already logged and published by the store, so this catches the
   * local replica up (one round trip) before it resolves — the revoking instance refuses the token
   * at once; a credential notice is published. Otherwise: clears the view and publishes.
   */
  async announce(notice: RevocationNotice): Promise<void> {
    if (!this.#replicating) {
      this.#memory.invalidate();
      await publishNotice(this.#client, this.#channel, notice);
      return;
    }
    if (notice.kind === 'credential') {
      this.#replicaGeneration++;
      await publishNotice(this.#client, this.#channel, notice);
      return;
    }
    if (notice.kind === 'subject' || notice.kind === 'client') this.#replicaGeneration++;
    // a read already in flight may predate the store's write: read again after it
    await this.#resyncing?.catch(() => undefined);
    await this.#resync();
  }

  /** Reads the log since the replica's sequence (or a snapshot) and applies it; resolves once synced. */
  resync(): Promise<void> {
    return this.#resync();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#distrust();
    if (this.#timer) clearInterval(this.#timer);
    if (this.#ownsSubscriber) this.#subscriber.disconnect();
    else await this.#subscriber.unsubscribe(this.#channel).catch(() => undefined);
  }

  #beat(): void {
    if (this.#closed) return;
    if (this.#replicating) {
      this.#replica.prune(Date.now());
      const command = (this.#client as unknown as Record<string, LogCommand>)[REVOCATION_HEARTBEAT.name]!;
      command
        .call(this.#client, 1, this.#logKeys[0], this.#channel, this.#instance)
        .catch(() => this.#distrust());
      return;
    }
    this.#client.publish(this.#channel, `${PING}${this.#instance}`).catch(() => this.#distrust());
  }

  #onMessage(channel: string, message: string): void {
    if (channel !== this.#channel || this.#closed) return;
    if (message.startsWith(PING)) {
      this.#onHeartbeat(message);
      return;
    }
    if (!this.#replicating) {
      this.#memory.invalidate();
      return;
    }
    if (message.startsWith(NOTICE)) {
      // not sequenced: a credential changed, or an announcer (an admin command) revoked something
      this.#replicaGeneration++;
      if (noticeKind(message) !== 'credential') this.#lose();
      return;
    }
    const entry = parseRevocationLogEntry(message);
    if (entry === null) {
      this.#lose();
      return;
    }
    if (this.#resyncing !== undefined) {
      this.#pending.push(entry);
      return;
    }
    this.#applyEntry(entry);
  }

  #onHeartbeat(message: string): void {
    const mine = `${PING}${this.#instance}`;
    if (!message.startsWith(mine)) return;
    const rest = message.slice(mine.length);
    if (!this.#replicating) {
      if (rest !== '') return;
      this.#lastHeartbeat = Date.now();
      this.#listening = listeningConnection(this.#subscriber);
      if (!this.#trusted) {
        // Answers remembered while untrusted may predate announcements we missed: forget them.
        this.#memory.invalidate();
        this.#trusted = true;
      }
      return;
    }
    const seq = Number(rest.slice(1));
    if (!rest.startsWith(':') || !Number.isSafeInteger(seq) || seq < 0) {
      // no log (yet): nothing to replicate, so never answer
      this.#lose();
      return;
    }
    this.#lastHeartbeat = Date.now();
    this.#listening = listeningConnection(this.#subscriber);
    this.#trusted = true;
    if (this.#resyncing !== undefined) return;
    if (seq !== this.#replica.seq) {
      // a message was lost (the replica is behind) or the log was reset (it is ahead)
      this.#lose();
      return;
    }
    // Every revocation up to `seq` is applied (applies are contiguous; the heartbeat was published
    // after them, on the same channel) and the channel is live again: the replica is complete.
    this.#synced = true;
  }

  #applyEntry(entry: RevocationLogEntry): void {
    if (entry.seq <= this.#replica.seq) return; // already applied (a log read overlapped the channel)
    let applied = false;
    try {
      applied = this.#replica.apply(entry.seq, revocationOf(entry));
    } catch {
      applied = false;
    }
    if (!applied) {
      this.#lose();
      return;
    }
    if (entry.kind === 'subject' || entry.kind === 'client') this.#replicaGeneration++;
  }

  /** The replica may have missed something: stop answering and resync in the background. */
  #lose(): void {
    if (this.#synced) this.#replicaGeneration++;
    this.#synced = false;
    if (!this.#closed && this.#resyncing === undefined) this.#resync().catch(() => undefined);
  }

  #resync(): Promise<void> {
    if (this.#resyncing !== undefined) return this.#resyncing;
    const run = this.#readLog().finally(() => {
      if (this.#resyncing === run) this.#resyncing = undefined;
    });
    this.#resyncing = run;
    return run;
  }

  /**
   * Catches the replica up. It stays answering meanwhile when it was: it is consistent up to its
   * own sequence, and a read only moves that on.
   */
  async #readLog(): Promise<void> {
    this.#pending = [];
    const command = (this.#client as unknown as Record<string, LogCommand>)[READ_REVOCATIONS_SINCE.name]!;
    const reply = (await command.call(
      this.#client,
      3,
      this.#logKeys[0],
      this.#logKeys[1],
      this.#logKeys[2],
      String(this.#replica.seq),
    )) as unknown[];
    const seq = Number(reply[0]);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error('no revocation log on this channel');
    const items = reply.slice(2).map(String);
    if (reply[1] === 'snapshot') {
      const revocations: ReplicaRevocation[] = [];
      for (let i = 0; i + 1 < items.length; i += 2) {
        const entry = parseRevocationSnapshotEntry(items[i]!, items[i + 1]!, seq);
        if (entry === null) throw new Error('corrupt revocation snapshot');
        revocations.push(revocationOf(entry));
      }
      this.#replica.load(seq, revocations);
      this.#replicaGeneration++;
    } else {
      for (const raw of items) {
        const entry = parseRevocationLogEntry(raw);
        if (entry === null || !this.#replica.apply(entry.seq, revocationOf(entry)))
          throw new Error('corrupt revocation log');
      }
    }
    // what arrived on the channel meanwhile, in order
    const pending = this.#pending.sort((a, b) => a.seq - b.seq);
    this.#pending = [];
    for (const entry of pending) {
      if (entry.seq <= this.#replica.seq) continue;
      if (!this.#replica.apply(entry.seq, revocationOf(entry))) throw new Error('revocation log gap');
    }
    if (this.#trusted) this.#synced = true;
  }

  #distrust(): void {
    if (this.#trusted) this.#trusted = false;
    this.#memory.invalidate();
    if (this.#synced) this.#replicaGeneration++;
    this.#synced = false;
  }
}

/** The kind of a JSON notice, or undefined when it is not one. */
function noticeKind(message: string): unknown {
  try {
    return (JSON.parse(message) as { kind?: unknown } | null)?.kind;
  } catch {
    return undefined;
  }
}

type LogCommand = (this: Redis | Cluster, ...args: (string | number)[]) => Promise<unknown>;

function revocationOf(entry: RevocationLogEntry): ReplicaRevocation {
  if (entry.kind === 'subject' || entry.kind === 'client') {
    const atMs = Number(entry.value);
    if (entry.value === '' || !Number.isFinite(atMs)) throw new RangeError('cut-off without an instant');
    return { kind: entry.kind, id: entry.id, atMs, untilMs: entry.untilMs };
  }
  return { kind: entry.kind, id: entry.id, untilMs: entry.untilMs };
}
