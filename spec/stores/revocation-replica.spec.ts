import type { Redis } from 'ioredis';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import {
  RECORD_REVOCATION,
  REVOCATION_LOG_LENGTH,
  revocationLogKeys,
} from '../../lib/stores/redis-revocation-log';
import {
  createRevocationAnnouncer,
  RedisRevocationView,
  revocationChannel,
} from '../../lib/stores/redis-revocation-view';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { RevocationReplica } from '../../lib/stores/revocation-view';
import type { TokenStore } from '../../lib/stores/token-store';
import type { KeySet } from '../../lib/keys/key-set';
import { countingStore, createClock, testKeySet, TEST_ISSUER, type TestClock } from '../helpers/kit';
import { startRedisServer, waitUntil, type RedisServer } from '../helpers/redis-server';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const PREFIX = 'replica:';
const CHANNEL = revocationChannel(PREFIX);
const PROPAGATION_MS = 10_000;

/** A client whose commands are counted: the store's connection, so "no round trip" is observed on the wire. */
function countedClient(url: string): { client: Redis; commands: () => number; reset: () => void } {
  const client = createRedisClient({ url, commandTimeoutMs: 2000 });
  let count = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    count++;
    return send(...args);
  }) as Redis['sendCommand'];
  return {
    client,
    commands: () => count,
    reset: () => {
      count = 0;
    },
  };
}

interface Instance {
  readonly kit: TokenKit;
  readonly view: RedisRevocationView;
  readonly store: ReturnType<typeof countingStore>;
  /** Commands sent on the store's connection (the view has its own). */
  readonly storeCommands: () => number;
  readonly resetCommands: () => void;
}

async function refusal(kit: TokenKit, token: string): Promise<string | undefined> {
  try {
    await kit.tokens.verifyAccessToken(token);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('RedisRevocationView as a replica', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  let keys: KeySet;
  let clock: TestClock;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy(server.port);
    keys = await testKeySet();
  }, 30_000);

  beforeEach(() => {
    clock = createClock();
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    await proxy.close();
    await server.stop();
  }, 30_000);

  /** One instance: its store's connection counted, its view's subscriber optionally through the proxy. */
  async function instance(options: { subscriberViaProxy?: boolean } = {}): Promise<Instance> {
    const counted = countedClient(server.url);
    const viewClient = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
    const subscriber = createRedisClient({
      url: options.subscriberViaProxy ? `redis://127.0.0.1:${proxy.port}` : server.url,
      commandTimeoutMs: 2000,
    });
    await Promise.all([counted.client, viewClient, subscriber].map((c) => waitForReady(c, 5000)));
    closers.push(
      () => counted.client.disconnect(),
      () => viewClient.disconnect(),
      () => subscriber.disconnect(),
    );
    const redisStore = new RedisTokenStore({ client: counted.client, keyPrefix: PREFIX });
    const view = await RedisRevocationView.start({
      client: viewClient,
      subscriber,
      channel: CHANNEL,
      heartbeatMs: 50,
      replica: true,
    });
    closers.push(() => view.close());
    const store = countingStore(redisStore as TokenStore);
    const kit = createTokenKit({
      store: store.store,
      keys,
      issuer: TEST_ISSUER,
      revocationView: view,
      verifiedCacheSize: 1000,
      now: () => clock.now(),
    });
    expect(await waitUntil(() => view.ready, PROPAGATION_MS)).toBe(true);
    return {
      kit,
      view,
      store,
      storeCommands: counted.commands,
      resetCommands: () => {
        counted.reset();
        store.calls.reset();
      },
    };
  }

  describe('when a token is revoked on another instance', () => {
    it('refuses it on this one, which never saw it, without a store round trip', async () => {
      const a = await instance();
      const b = await instance();
      expect(a.view.replicating).toBe(true);
      const { token } = await b.kit.tokens.issueAccessToken({ subject: 'u-never', clientId: 'c1' });
      const other = await b.kit.tokens.issueAccessToken({ subject: 'u-other', clientId: 'c1' });
      expect(await b.kit.tokens.revokeToken(token)).toBe(true);
      const seq = b.view.seq;
      expect(await waitUntil(() => a.view.seq >= seq && a.view.ready, PROPAGATION_MS)).toBe(true);

      a.resetCommands();
      expect(await refusal(a.kit, token)).toBe('invalid_token');
      // a token it never saw either, not revoked: accepted, locally as well
      await expect(a.kit.tokens.verifyAccessToken(other.token)).resolves.toMatchObject({
        subject: 'u-other',
      });
      expect(a.storeCommands()).toBe(0);
      expect(a.store.calls.total()).toBe(0);
    });

    it('refuses tokens of a subject cut off on another instance, without a store round trip', async () => {
      const a = await instance();
      const b = await instance();
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u-cut', clientId: 'c1' });
      await a.kit.tokens.verifyAccessToken(token);
      clock.advance(1);
      await b.kit.tokens.revokeSubject('u-cut');
      expect(await waitUntil(() => a.view.seq >= b.view.seq && a.view.ready, PROPAGATION_MS)).toBe(true);
      a.resetCommands();
      expect(await refusal(a.kit, token)).toBe('invalid_token');
      expect(a.storeCommands()).toBe(0);
    });

    it('refuses it on the revoking instance as soon as the revocation resolves', async () => {
      const a = await instance();
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u-self', clientId: 'c1' });
      await a.kit.tokens.verifyAccessToken(token);
      expect(await a.kit.tokens.revokeToken(token)).toBe(true);
      a.resetCommands();
      expect(await refusal(a.kit, token)).toBe('invalid_token');
      expect(a.storeCommands()).toBe(0);
    });

    it('keeps answering from the replica while another instance revokes other tokens (no emptying)', async () => {
      const a = await instance();
      const b = await instance();
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u-busy', clientId: 'c1' });
      await a.kit.tokens.verifyAccessToken(token);
      const generation = a.view.generation;
      for (let i = 0; i < 20; i++) {
        const victim = await b.kit.tokens.issueAccessToken({ subject: `u-logout-${i}`, clientId: 'c1' });
        await b.kit.tokens.revokeToken(victim.token);
      }
      expect(await waitUntil(() => a.view.seq >= b.view.seq && a.view.ready, PROPAGATION_MS)).toBe(true);
      a.resetCommands();
      for (let i = 0; i < 5; i++) await a.kit.tokens.verifyAccessToken(token);
      expect(a.storeCommands()).toBe(0);
      expect(a.view.generation).toBe(generation);
    });
  });

  describe("when replica is 'auto'", () => {
    it("replicates on the store's channel and keeps the per-jti answers on any other", async () => {
      await instance();
      const client = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
      await waitForReady(client, 5000);
      closers.push(() => client.disconnect());
      const onStore = await RedisRevocationView.start({ client, channel: CHANNEL, heartbeatMs: 50 });
      const elsewhere = await RedisRevocationView.start({
        client,
        channel: 'other:revocations',
        heartbeatMs: 50,
      });
      closers.push(
        () => onStore.close(),
        () => elsewhere.close(),
      );
      expect(onStore.replicating).toBe(true);
      expect(elsewhere.replicating).toBe(false);
    });
  });

  describe('when an announcer without sequence numbers announces (an admin command)', () => {
    it('resyncs and refuses what that process revoked', async () => {
      const a = await instance();
      const client = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
      await waitForReady(client, 5000);
      closers.push(() => client.disconnect());
      const admin = createTokenKit({
        store: new RedisTokenStore({ client, keyPrefix: PREFIX }),
        keys,
        issuer: TEST_ISSUER,
        revocationView: createRevocationAnnouncer({ client, channel: CHANNEL }),
        now: () => clock.now(),
      });
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u-admin', clientId: 'c1' });
      await a.kit.tokens.verifyAccessToken(token);
      expect(await admin.tokens.revokeToken(token)).toBe(true);
      expect(
        await waitUntil(async () => (await refusal(a.kit, token)) === 'invalid_token', PROPAGATION_MS),
      ).toBe(true);
      expect(await waitUntil(() => a.view.ready, PROPAGATION_MS)).toBe(true);
      a.resetCommands();
      expect(await refusal(a.kit, token)).toBe('invalid_token');
      expect(a.storeCommands()).toBe(0);
    });
  });

  describe('when a pub/sub message is lost', () => {
    /** Logs a revocation the way the store does, but publishes it where nobody listens. */
    async function logWithoutPublishing(client: Redis, jti: string): Promise<void> {
      const now = Date.now();
      await client.eval(
        RECORD_REVOCATION.lua,
        4,
        ...revocationLogKeys(CHANNEL),
        `${CHANNEL}:nobody`,
        'jti',
        jti,
        '1',
        String(now + 600_000),
        String(now),
        String(REVOCATION_LOG_LENGTH),
      );
    }

    it('detects the gap at the next message and resyncs: the lost revocation is refused', async () => {
      const a = await instance();
      const b = await instance();
      const lost = await b.kit.tokens.issueAccessToken({ subject: 'u-lost', clientId: 'c1' });
      const auth = await a.kit.tokens.verifyAccessToken(lost.token);
      const before = a.view.seq;
      const writer = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
      closers.push(() => writer.disconnect());
      await waitForReady(writer, 5000);
      await logWithoutPublishing(writer, auth.jti);
      // the next revocation arrives with seq + 2: a gap
      const next = await b.kit.tokens.issueAccessToken({ subject: 'u-next', clientId: 'c1' });
      await b.kit.tokens.revokeToken(next.token);
      expect(await waitUntil(() => a.view.seq >= before + 2 && a.view.ready, PROPAGATION_MS)).toBe(true);
      a.resetCommands();
      expect(await refusal(a.kit, lost.token)).toBe('invalid_token');
      expect(a.storeCommands()).toBe(0);
    });

    it('detects a lost last message by the heartbeat and resyncs', async () => {
      const a = await instance();
      const lost = await a.kit.tokens.issueAccessToken({ subject: 'u-lost-last', clientId: 'c1' });
      const auth = await a.kit.tokens.verifyAccessToken(lost.token);
      const before = a.view.seq;
      const writer = createRedisClient({ url: server.url, commandTimeoutMs: 2000 });
      closers.push(() => writer.disconnect());
      await waitForReady(writer, 5000);
      await logWithoutPublishing(writer, auth.jti);
      expect(await waitUntil(() => a.view.seq === before + 1 && a.view.ready, PROPAGATION_MS)).toBe(true);
      a.resetCommands();
      expect(await refusal(a.kit, lost.token)).toBe('invalid_token');
      expect(a.storeCommands()).toBe(0);
    });
  });

  describe('when the channel is dead', () => {
    it('falls back to the store, and fails closed with 503 once Redis is down', async () => {
      const a = await instance({ subscriberViaProxy: true });
      const b = await instance();
      const { token } = await a.kit.tokens.issueAccessToken({ subject: 'u-dead', clientId: 'c1' });
      const revoked = await a.kit.tokens.issueAccessToken({ subject: 'u-dead-2', clientId: 'c1' });
      await a.kit.tokens.verifyAccessToken(token);
      await proxy.cut();
      expect(await waitUntil(() => !a.view.ready, PROPAGATION_MS)).toBe(true);
      // revoked while A hears nothing: A asks the store, which knows
      await b.kit.tokens.revokeToken(revoked.token);
      a.resetCommands();
      expect(await refusal(a.kit, revoked.token)).toBe('invalid_token');
      await expect(a.kit.tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'u-dead' });
      expect(a.store.calls.byMethod.get('checkRevocation')).toBe(2);

      await server.kill();
      expect(await refusal(a.kit, token)).toBe('service_unavailable');
      await server.restart();
      await proxy.restore();
    }, 60_000);
  });
});

describe('RevocationReplica', () => {
  const q = { jti: 'j1', subject: 's1', clientId: 'c1', familyId: 'f1' };
  const later = Date.now() + 60_000;

  it('applies only the next sequence number (a gap is refused, for the transport to resync)', () => {
    const replica = new RevocationReplica();
    replica.load(5, []);
    expect(replica.apply(7, { kind: 'jti', id: 'j1', untilMs: later })).toBe(false);
    expect(replica.check(q).jtiRevoked).toBe(false);
    expect(replica.apply(6, { kind: 'jti', id: 'j1', untilMs: later })).toBe(true);
    expect(replica.check(q).jtiRevoked).toBe(true);
    expect(replica.seq).toBe(6);
  });

  it('keeps the later cut-off of a subject, never the earlier', () => {
    const replica = new RevocationReplica();
    replica.load(0, [{ kind: 'subject', id: 's1', atMs: 200_000_000_000, untilMs: later }]);
    replica.apply(1, { kind: 'subject', id: 's1', atMs: 150_000_000_000, untilMs: later });
    expect(replica.check(q).subjectCutoffMs).toBe(200_000_000_000);
  });

  it('answers every kind: family and client too', () => {
    const replica = new RevocationReplica();
    replica.load(0, [
      { kind: 'family', id: 'f1', untilMs: later },
      { kind: 'client', id: 'c1', atMs: 123_000_000_000, untilMs: later },
    ]);
    expect(replica.check(q)).toEqual({
      jtiRevoked: false,
      familyRevoked: true,
      subjectCutoffMs: null,
      clientCutoffMs: 123_000_000_000,
    });
  });

  it('refuses a cut-off without an instant instead of dropping it', () => {
    const replica = new RevocationReplica();
    replica.load(0, []);
    expect(() => replica.apply(1, { kind: 'client', id: 'c1', untilMs: later })).toThrow(RangeError);
  });

  it('drops revocations once they lapse on the real clock, and overflows past its bound', () => {
    const replica = new RevocationReplica({ maxEntries: 2 });
    replica.load(0, [
      { kind: 'jti', id: 'old', untilMs: 1000 },
      { kind: 'jti', id: 'j1', untilMs: later },
      { kind: 'jti', id: 'j2', untilMs: later },
    ]);
    expect(replica.overflowing).toBe(true);
    replica.prune(Date.now());
    expect(replica.size).toBe(2);
    expect(replica.overflowing).toBe(false);
  });
});
