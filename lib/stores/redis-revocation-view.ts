/**
 * A revocation view kept current by Redis pub/sub: repeat checks of the same token need no round
 * trip, and a revocation through any instance clears every instance's view within one message.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LocalRevocationMemory, type RevocationNotice, type RevocationView } from './revocation-view';
import type { RevocationState } from './token-store';
import { waitForReady } from './redis-client';
import { atLeast, missingOption } from '../util/options';

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
}

const PING = 'ping:';
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
  readonly #heartbeatMs: number;
  readonly #memory: LocalRevocationMemory;
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
    this.#subscriber = options.subscriber ?? options.client.duplicate();
    this.#channel = options.channel ?? DEFAULT_CHANNEL;
    this.#heartbeatMs = atLeast(options.heartbeatMs, 500, 'RedisRevocationView: heartbeatMs', 10);
    this.#memory = new LocalRevocationMemory({
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
    });
    this.#subscriber.on('error', () => this.#distrust());
    this.#subscriber.on('close', () => this.#distrust());
    this.#subscriber.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
  }

  /** Subscribes and starts the heartbeat; resolves once subscribed (not necessarily ready). */
  static async start(options: Readonly<RedisRevocationViewOptions>): Promise<RedisRevocationView> {
    const view = new RedisRevocationView(options);
    try {
      await waitForReady(view.#subscriber, options.readyTimeoutMs ?? 5000);
      await view.#subscriber.subscribe(view.#channel);
    } catch (err) {
      await view.close();
      throw err;
    }
    view.#timer = setInterval(() => view.#beat(), view.#heartbeatMs);
    view.#timer.unref();
    view.#beat();
    return view;
  }

  /** True while our own heartbeats come back: announcements are arriving. */
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
    return true;
  }

  get generation(): number {
    return this.#memory.generation;
  }

  /** Number of remembered answers (for memory reports). */
  get size(): number {
    return this.#memory.size;
  }

  lookup(jti: string, nowMs: number): RevocationState | undefined {
    return this.#memory.lookup(jti, nowMs);
  }

  remember(jti: string, state: RevocationState, expiresAtMs: number, generation: number): void {
    this.#memory.remember(jti, state, expiresAtMs, generation, Date.now());
  }

  async announce(notice: RevocationNotice): Promise<void> {
    this.#memory.invalidate();
    await publishNotice(this.#client, this.#channel, notice);
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
    this.#client.publish(this.#channel, `${PING}${this.#instance}`).catch(() => this.#distrust());
  }

  #onMessage(channel: string, message: string): void {
    if (channel !== this.#channel) return;
    if (message.startsWith(PING)) {
      if (message === `${PING}${this.#instance}` && !this.#closed) {
        this.#lastHeartbeat = Date.now();
        this.#listening = listeningConnection(this.#subscriber);
        if (!this.#trusted) {
          // Answers remembered while untrusted may predate announcements we missed: forget them.
          this.#memory.invalidate();
          this.#trusted = true;
        }
      }
      return;
    }
    this.#memory.invalidate();
  }

  #distrust(): void {
    if (this.#trusted) this.#trusted = false;
    this.#memory.invalidate();
  }
}
