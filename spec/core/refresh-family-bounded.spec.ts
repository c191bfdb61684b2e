/**
 * A refresh family's record has a constant size however often it rotates, and every token it ever
 * rotated out is still recognised: presenting any earlier generation revokes the family; a forged
 * token (right family id, wrong proof) changes nothing.
 */
import type { Redis } from 'ioredis';
import { formatOpaqueToken, parseOpaqueToken } from '../../lib/core/opaque-token';
import { newFamilyProof, parseRefreshToken, PROOF_LENGTH } from '../../lib/core/refresh-token';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { createClock, makeKit, type TestClock } from '../helpers/kit';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const ROTATIONS = 1000;

interface Backend {
  readonly store: TokenStore;
  /** Entries the backend keeps for the family: Redis hash fields (HLEN), memory store `size()`. */
  recordSize(familyId: string): Promise<number>;
}

let redis: TestRedis;
let count = 0;

beforeAll(async () => {
  redis = await connectTestRedis('refresh-bounded');
});

afterAll(async () => {
  await redis.cleanup();
});

const backends: [string, (clock: TestClock) => Backend][] = [
  [
    'memory',
    (clock) => {
      const store = new MemoryTokenStore({ now: clock.now });
      return { store, recordSize: async () => store.size() };
    },
  ],
  [
    'redis',
    () => {
      const keyPrefix = `${redis.prefix}${++count}:`;
      const client: Redis = redis.client;
      return {
        store: new RedisTokenStore({ client, keyPrefix }),
        recordSize: (familyId) => client.hlen(`${keyPrefix}fam:{${familyId}}`),
      };
    },
  ],
];

describe.each(backends)('refresh families on the %s store', (_name, backend) => {
  let clock: TestClock;
  let kit: TokenKit;
  let b: Backend;

  beforeEach(async () => {
    clock = createClock();
    b = backend(clock);
    ({ kit } = await makeKit({ store: b.store, now: clock }));
  });

  afterEach(async () => {
    await b.store.close();
  });

  /** A family rotated `n` times; every token it issued, generation 1 first. */
  async function rotated(n: number): Promise<{ familyId: string; tokens: string[]; sizes: number[] }> {
    const start = await kit.tokens.startRefreshFamily({ subject: 'user-1', clientId: 'client-1' });
    const familyId = start.family.familyId;
    const tokens = [start.refreshToken];
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) {
      clock.advance(1);
      const next = await kit.tokens.refresh(tokens[tokens.length - 1]!);
      tokens.push(next.refreshToken);
      if (i === 0 || i === n - 1) sizes.push(await b.recordSize(familyId));
    }
    return { familyId, tokens, sizes };
  }

  async function isRevoked(familyId: string): Promise<boolean> {
    const state = await b.store.checkRevocation({
      jti: 'j',
      subject: 'user-1',
      clientId: 'client-1',
      familyId,
    });
    return state.familyRevoked;
  }

  it(`keeps the record at a constant size over ${ROTATIONS} rotations`, async () => {
    const { sizes, tokens } = await rotated(ROTATIONS);
    expect(sizes[1]).toBe(sizes[0]);
    expect(parseRefreshToken(tokens[ROTATIONS], kit.tokens.refreshTokenPrefix)?.generation).toBe(
      ROTATIONS + 1,
    );
  }, 120_000);

  it.each([1, 500, 999])(
    `revokes a family rotated ${ROTATIONS} times when its generation-%i token is presented`,
    async (generation) => {
      const { familyId, tokens } = await rotated(ROTATIONS);
      const old = tokens[generation - 1]!;
      expect(parseRefreshToken(old, kit.tokens.refreshTokenPrefix)?.generation).toBe(generation);
      await expect(kit.tokens.inspect(old)).resolves.toMatchObject({ kind: 'refresh', active: false });
      await expect(kit.tokens.refresh(old)).rejects.toMatchObject({ code: 'invalid_grant' });
      expect(await isRevoked(familyId)).toBe(true);
      await expect(kit.tokens.refresh(tokens[ROTATIONS]!)).rejects.toMatchObject({ code: 'invalid_grant' });
    },
    120_000,
  );

  it('keeps refresh tokens of the legacy format working, and the family adopts the proof of their successor', async () => {
    const prefix = kit.tokens.refreshTokenPrefix;
    const familyId = 'L'.repeat(22);
    const legacy = formatOpaqueToken(prefix, familyId + 'S'.repeat(43));
    const now = clock.seconds();
    await b.store.createRefreshFamily(
      {
        familyId,
        sub: 'user-1',
        clientId: 'client-1',
        scope: '',
        boundEntity: null,
        createdAt: now,
        expiresAt: now + 3600,
        lastUsedAt: now,
      },
      kit.tokens.hasher.hash(legacy),
    );
    await expect(kit.tokens.inspect(legacy)).resolves.toMatchObject({ kind: 'refresh', active: true });
    const first = await kit.tokens.refresh(legacy);
    expect(parseRefreshToken(first.refreshToken, prefix)).toMatchObject({ familyId, generation: 1 });
    let current = first.refreshToken;
    for (let i = 0; i < 3; i++) current = (await kit.tokens.refresh(current)).refreshToken;
    await expect(kit.tokens.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(await isRevoked(familyId)).toBe(true);
  });

  it('does not revoke the family for a forged token (right family id, wrong proof)', async () => {
    const { familyId, tokens } = await rotated(5);
    const prefix = kit.tokens.refreshTokenPrefix;
    const body = parseOpaqueToken(tokens[1], prefix)!;
    // generation 2's token with its proof replaced
    const proofStart = body.length - 2 * PROOF_LENGTH;
    const forged = formatOpaqueToken(
      prefix,
      body.slice(0, proofStart) + newFamilyProof() + body.slice(proofStart + PROOF_LENGTH),
    );
    expect(parseRefreshToken(forged, prefix)).toMatchObject({ familyId, generation: 2 });
    await expect(kit.tokens.inspect(forged)).resolves.toEqual({ kind: 'unknown' });
    await expect(kit.tokens.refresh(forged)).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(kit.tokens.revokeToken(forged)).resolves.toBe(false);
    expect(await isRevoked(familyId)).toBe(false);
    await expect(kit.tokens.refresh(tokens[5]!)).resolves.toMatchObject({ family: { familyId } });
  });
});
