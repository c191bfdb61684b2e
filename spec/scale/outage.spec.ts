/**
 * Redis outages under load: a killed Redis turns guarded requests and token endpoints into 503
 * `service_unavailable` (never a 2xx, never a 500, never a hang), and the app recovers by itself.
 * A refresh whose reply was lost in a timeout is retried: with the grace window it succeeds with
 * exactly one live successor; without it the family is revoked and the client told so (401).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { RefreshTokenProof, RotateRefreshInput, TokenStore } from '../../lib/stores/token-store';
import { TEST_ISSUER, testKeySet } from '../helpers/kit';
import { startRedisServer, waitUntil, type RedisServer } from '../helpers/redis-server';

const TOKENS = '/api/auth/tokens/';
const REFRESH = '/api/auth/tokens/refresh/';
const PLANS = '/api/plans/';
// Generous enough that a loaded 2-core machine (fsync on every write) answers in time before the kill.
const COMMAND_TIMEOUT_MS = 1000;
const UNAVAILABLE = {
  errors: [{ errorType: 'service_unavailable', message: 'Service temporarily unavailable' }],
};

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === 'correct horse' ? { sub: 'user-alice' } : null;

function buildApp(kit: TokenKit): Express {
  const app = express();
  // Requests carry their own client address (X-Forwarded-For), so per-IP limits never apply.
  app.set('trust proxy', true);
  app.use('/api', createAuthRouter({ kit }));
  app.get(PLANS, requireToken({ kit }), (req, res) => {
    res.json({ sub: req.auth?.subject });
  });
  return app;
}

let dir: string;
let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  // AOF with fsync on every write: what docs/operations.md recommends for revocations.
  dir = await mkdtemp(path.join(os.tmpdir(), 'etk-outage-'));
  server = await startRedisServer({ args: ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] });
  client = createRedisClient({
    url: server.url,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    maxReconnectDelayMs: 100,
    redisOptions: { disconnectTimeout: 50 },
  });
  await waitForReady(client, 5000);
});

afterAll(async () => {
  client.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('an app on Redis', () => {
  describe('when Redis is killed under load and restarted', () => {
    let kit: TokenKit;
    let listener: http.Server;
    let base: string;

    beforeAll(async () => {
      kit = createTokenKit({
        store: new RedisTokenStore({ client, keyPrefix: 'load:' }),
        keys: await testKeySet(),
        issuer: TEST_ISSUER,
      });
      listener = http.createServer(buildApp(kit));
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    it('answers 200 before, only 503 while down, and 200 again after, with no 500 and no hang', async () => {
      const app = await kit.credentials.createApplication({ name: 'Load', organization: '1' });
      const { token } = await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: app.clientId });
      const revoked = await kit.tokens.issueAccessToken({ subject: 'user-2', clientId: app.clientId });
      await kit.tokens.revokeToken(revoked.token);

      type Phase = 'before' | 'killing' | 'down' | 'restarting' | 'after';
      let phase: Phase = 'before';
      const samples: { sent: Phase; done: Phase; status: number; ms: number; body: unknown }[] = [];
      const TOTAL = 500;
      let sent = 0;
      const one = async (i: number): Promise<void> => {
        const at = phase;
        const started = Date.now();
        const kind = i % 3 === 0 ? 'token' : i % 7 === 1 ? 'revoked' : 'guarded';
        const req =
          kind === 'token'
            ? request(base).post(TOKENS).send({
                grant_type: 'client_credentials',
                client_id: app.clientId,
                client_secret: app.clientSecret,
              })
            : request(base)
                .get(PLANS)
                .set('X-Forwarded-For', `10.1.${i >> 8}.${i & 255}`)
                .set('Authorization', `Bearer ${kind === 'revoked' ? revoked.token : token}`);
        const res = await req.timeout(5000);
        // A revoked token is never let through: 401 when Redis can say so, 503 when it cannot.
        if (kind === 'revoked') expect(res.status).not.toBe(200);
        const status = kind === 'revoked' && res.status === 401 ? 200 : res.status;
        samples.push({ sent: at, done: phase, status, ms: Date.now() - started, body: res.body });
      };
      const worker = async (): Promise<void> => {
        while (sent < TOTAL) {
          const i = sent++;
          if (i === 150) {
            phase = 'killing';
            await server.kill();
            phase = 'down';
          }
          if (i === 300) {
            phase = 'restarting';
            await server.restart();
            await waitForReady(client, 5000);
            const back = await waitUntil(
              async () =>
                (await request(base).get(PLANS).set('Authorization', `Bearer ${token}`)).status === 200,
              5000,
            );
            expect(back).toBe(true);
            phase = 'after';
          }
          await one(i);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));

      const statuses = new Set(samples.map((s) => s.status));
      expect([...statuses].sort()).toEqual([200, 503]);
      const inside = samples.filter((s) => s.sent === 'down' && s.done === 'down');
      expect(inside.length).toBeGreaterThan(100);
      expect(inside.every((s) => s.status === 503)).toBe(true);
      for (const s of inside) expect(s.body).toEqual(UNAVAILABLE);
      expect(
        samples.filter((s) => s.sent === 'before' && s.done === 'before').every((s) => s.status === 200),
      ).toBe(true);
      const after = samples.filter((s) => s.sent === 'after');
      expect(after.length).toBeGreaterThan(100);
      expect(after.every((s) => s.status === 200)).toBe(true);
      // No hang: nothing waited much longer than the command timeout, even while Redis was down.
      expect(Math.max(...inside.map((s) => s.ms))).toBeLessThan(COMMAND_TIMEOUT_MS * 5);
      // The revocation written before the crash survived it (AOF, fsync always).
      expect((await request(base).get(PLANS).set('Authorization', `Bearer ${revoked.token}`)).status).toBe(
        401,
      );
    }, 30_000);
  });

  describe('when the reply of a refresh is lost in a timeout', () => {
    /** The store, with a hook that pauses Redis just before the next rotation is sent. */
    function pausingStore(prefix: string): {
      store: TokenStore;
      pauseNextRotation(): void;
      lost: string[];
      lostProofs: (RefreshTokenProof | undefined)[];
    } {
      const real = new RedisTokenStore({ client, keyPrefix: prefix });
      let pause = false;
      const lost: string[] = [];
      /** The generation and proof the lost successor carries (the presented token's, one generation on). */
      const lostProofs: (RefreshTokenProof | undefined)[] = [];
      const store = new Proxy(real, {
        get(target, property, receiver) {
          if (property !== 'rotateRefreshToken') {
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          }
          return async (input: RotateRefreshInput) => {
            if (pause) {
              pause = false;
              lost.push(input.nextHash);
              lostProofs.push(
                input.proof && { generation: input.proof.generation + 1, proofHash: input.proof.proofHash },
              );
              // Longer than the command timeout: the client gives up, Redis runs the script later.
              await client.call('CLIENT', 'PAUSE', String(COMMAND_TIMEOUT_MS * 3), 'ALL');
            }
            return target.rotateRefreshToken(input);
          };
        },
      });
      return { store, pauseNextRotation: () => (pause = true), lost, lostProofs };
    }

    async function scenario(graceSeconds: number) {
      const { store, pauseNextRotation, lost, lostProofs } = pausingStore(`grace-${graceSeconds}:`);
      const kit = createTokenKit({
        store,
        keys: await testKeySet(),
        issuer: TEST_ISSUER,
        verifyUser,
        refreshGraceSeconds: graceSeconds,
      });
      const app = buildApp(kit);
      const login = await request(app)
        .post(TOKENS)
        .send({ grant_type: 'password', username: 'alice', password: 'correct horse' });
      expect(login.status).toBe(200);
      const rt1 = login.body.refresh_token as string;

      pauseNextRotation();
      const lostReply = await request(app).post(REFRESH).send({ refresh_token: rt1 });
      expect(lostReply.status).toBe(503);
      expect(lostReply.body).toEqual(UNAVAILABLE);
      // The rotation did run once Redis resumed: rt1 is no longer current.
      const ran = await waitUntil(
        async () => (await kit.tokens.inspect(rt1)).kind === 'refresh' && !(await isActive(kit, rt1)),
        5000,
      );
      expect(ran).toBe(true);

      const retry = await request(app).post(REFRESH).send({ refresh_token: rt1 });
      const familyId = (await kit.tokens.inspect(rt1)) as { family: { familyId: string } };
      const lostSuccessor = await store.inspectRefreshToken(
        familyId.family.familyId,
        lost[0]!,
        kit.tokens.now(),
        lostProofs[0],
      );
      return { app, kit, login, retry, lostSuccessor };
    }

    async function isActive(kit: TokenKit, token: string): Promise<boolean> {
      const found = await kit.tokens.inspect(token);
      return found.kind === 'refresh' && found.active;
    }

    it('with the grace window, lets the retry succeed with exactly one live successor', async () => {
      const { app, kit, retry, lostSuccessor } = await scenario(30);
      expect(retry.status).toBe(200);
      const successor = retry.body.refresh_token as string;
      expect(await isActive(kit, successor)).toBe(true);
      // The successor minted for the lost reply is dead, but still known (reuse if ever presented).
      expect(lostSuccessor).toMatchObject({ active: false });
      expect(
        (await request(app).get(PLANS).set('Authorization', `Bearer ${retry.body.access_token}`)).status,
      ).toBe(200);
      const next = await request(app).post(REFRESH).send({ refresh_token: successor });
      expect(next.status).toBe(200);
    });

    it('without the grace window, answers 401 invalid_grant and revokes the family', async () => {
      const { app, kit, login, retry, lostSuccessor } = await scenario(0);
      expect(retry.status).toBe(401);
      expect(retry.body).toMatchObject({ errors: [{ errorType: 'invalid_grant' }] });
      expect(lostSuccessor).toMatchObject({ active: false });
      expect(await isActive(kit, login.body.refresh_token as string)).toBe(false);
      expect(
        (await request(app).get(PLANS).set('Authorization', `Bearer ${login.body.access_token}`)).status,
      ).toBe(401);
    });
  });
});
