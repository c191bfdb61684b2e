/**
 * `verifyNow` (lib/core/token/verify.ts), the promise-free verification requireToken tries first:
 * with a synced revocation replica it verifies a never-seen JWT in full on the spot, and answers
 * exactly what `verifyAccessToken` answers — the same identity, the same refusals (tampering,
 * revocation on another instance, expiry at the second boundary); it leaves to the asynchronous
 * path only what needs waiting for. And the identity cache, which finds an entry by the token's
 * tail, never takes a token that only shares that tail for the one it verified. Real Redis, real
 * revocation views (one per instance).
 */
import express from 'express';
import request from 'supertest';
import { TokenError } from '../../lib/errors';
import type { TokenKit } from '../../lib/core/token-kit';
import { requireToken } from '../../lib/middleware/require-token';
import { connectTestRedis, type TestRedis } from '../helpers/redis';
import { createClock, type TestClock } from '../helpers/kit';
import { viewedKit, type ViewedKitOptions } from '../helpers/viewed-kit';

describe('verifyNow', () => {
  let redis: TestRedis;
  const closers: (() => Promise<unknown>)[] = [];
  const options = Object.freeze({});

  beforeAll(async () => {
    redis = await connectTestRedis('verify-now');
    // a replica starts from the channel's revocation log: one revocation creates it
    const seed = await instance(createClock(), { replica: false });
    const { token } = await seed.tokens.issueAccessToken({ subject: 'seed', clientId: 'client-1' });
    expect(await seed.tokens.revokeToken(token)).toBe(true);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await redis.cleanup();
  });

  const instance = (clock: TestClock, options: ViewedKitOptions = {}): Promise<TokenKit> =>
    viewedKit(redis, closers, clock, { replica: true, ...options });

  function refusal(call: () => unknown): TokenError | undefined {
    try {
      call();
    } catch (error) {
      if (error instanceof TokenError) return error;
      throw error;
    }
    return undefined;
  }

  /** Polls (real time) until `check` holds; the revocation crosses Redis pub/sub. */
  async function eventually(check: () => boolean): Promise<void> {
    for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  }

  it('verifies a never-seen JWT on the spot, with the identity verifyAccessToken gives', async () => {
    const clock = createClock();
    const issuer = await instance(clock);
    const kit = await instance(clock);
    const plain = await instance(clock, { verifiedCacheSize: 0 });
    const { token } = await issuer.tokens.issueAccessToken({
      subject: 'user-1',
      clientId: 'client-1',
      scope: 'read write',
    });
    const now = kit.tokens.verifyNow(token, options);
    expect(now?.subject).toBe('user-1');
    expect(now).toEqual(await plain.tokens.verifyAccessToken(token, options));
  });

  it('throws what verifyAccessToken rejects with for a tampered token, and never remembers it', async () => {
    const clock = createClock();
    const kit = await instance(clock);
    const { token } = await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
    const [header, payload, signature] = token.split('.');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    forged.sub = 'admin';
    const tampered = `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
    const sync = refusal(() => kit.tokens.verifyNow(tampered, options));
    await expect(kit.tokens.verifyAccessToken(tampered, options)).rejects.toMatchObject({
      code: sync?.code,
      message: sync?.message,
    });
    expect(sync?.code).toBe('invalid_token');
    expect(refusal(() => kit.tokens.verifyNow(tampered, options))?.code).toBe('invalid_token');
  });

  it('refuses a token revoked on another instance that this one never saw', async () => {
    const clock = createClock();
    const other = await instance(clock);
    const kit = await instance(clock);
    const { token } = await other.tokens.issueAccessToken({ subject: 'user-2', clientId: 'client-1' });
    expect(await other.tokens.revokeToken(token)).toBe(true);
    await eventually(() => refusal(() => kit.tokens.verifyNow(token, options)) !== undefined);
    const error = refusal(() => kit.tokens.verifyNow(token, options));
    expect(error).toMatchObject({ code: 'invalid_token', message: 'Access token revoked' });
    await expect(kit.tokens.verifyAccessToken(token, options)).rejects.toMatchObject({
      message: 'Access token revoked',
    });
  });

  it('accepts a token until its last second and refuses it at exp plus the tolerance, exactly', async () => {
    const clock = createClock(1_800_000_000_000);
    const kit = await instance(clock);
    const { token, expiresIn } = await kit.tokens.issueAccessToken({
      subject: 'user-3',
      clientId: 'client-1',
      ttl: 60,
    });
    const exp = 1_800_000_000 + expiresIn;
    const tolerance = kit.tokens.clockTolerance;
    clock.set((exp + tolerance) * 1000 - 1);
    expect(kit.tokens.verifyNow(token, options)?.subject).toBe('user-3');
    clock.set((exp + tolerance) * 1000);
    expect(refusal(() => kit.tokens.verifyNow(token, options))?.code).toBe('expired_token');
    await expect(kit.tokens.verifyAccessToken(token, options)).rejects.toMatchObject({
      code: 'expired_token',
    });
  });

  it('leaves a never-seen token to the asynchronous path without a replica', async () => {
    const clock = createClock();
    const kit = await instance(clock, { replica: false });
    const { token } = await kit.tokens.issueAccessToken({ subject: 'user-4', clientId: 'client-1' });
    expect(kit.tokens.verifyNow(token, options)).toBeUndefined();
    expect((await kit.tokens.verifyAccessToken(token, options)).subject).toBe('user-4');
  });

  it('leaves an opaque token it does not remember to the asynchronous path', async () => {
    const clock = createClock();
    const kit = await instance(clock);
    const { token } = await kit.tokens.issueAccessToken({
      subject: 'user-5',
      clientId: 'client-1',
      format: 'opaque',
    });
    expect(kit.tokens.verifyNow(token, options)).toBeUndefined();
    expect((await kit.tokens.verifyAccessToken(token, options)).subject).toBe('user-5');
  });

  it('does not take a token that shares a remembered token’s tail (its signature) for it', async () => {
    const clock = createClock();
    const kit = await instance(clock);
    const { token } = await kit.tokens.issueAccessToken({ subject: 'user-6', clientId: 'client-1' });
    // remembered whole (identity cache) and, verified twice, by digest
    for (let i = 0; i < 3; i++) await kit.tokens.verifyAccessToken(token, options);
    expect(kit.tokens.verifyRemembered(token, options)?.subject).toBe('user-6');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${signature}`;
    expect(forged.slice(-16)).toBe(token.slice(-16));
    expect(kit.tokens.verifyRemembered(forged, options)).toBeUndefined();
    expect(refusal(() => kit.tokens.verifyNow(forged, options))?.code).toBe('invalid_token');
    await expect(kit.tokens.verifyAccessToken(forged, options)).rejects.toMatchObject({
      code: 'invalid_token',
    });
    // and the real one is still answered
    expect(kit.tokens.verifyNow(token, options)?.subject).toBe('user-6');
  });

  describe('through requireToken', () => {
    async function appOf(kit: TokenKit): Promise<express.Express> {
      const app = express();
      app.get('/me', requireToken({ kit }), (req, res) => {
        res.json({ sub: req.auth?.subject });
      });
      return app;
    }

    it('serves a never-seen token, refuses a revoked and a forged one, and keeps a malformed header a 400', async () => {
      const clock = createClock();
      const other = await instance(clock);
      const kit = await instance(clock);
      const app = await appOf(kit);
      const { token } = await other.tokens.issueAccessToken({ subject: 'user-7', clientId: 'client-1' });
      const ok = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ sub: 'user-7' });

      const [header, payload, signature] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${signature}`;
      const bad = await request(app).get('/me').set('Authorization', `Bearer ${forged}`);
      expect(bad.status).toBe(401);
      expect(bad.body).toEqual({ errors: [{ errorType: 'invalid_token', message: expect.any(String) }] });

      // a remembered token inside a malformed header is still the header's 400, not a pass
      const malformed = await request(app).get('/me').set('Authorization', `Bearer ${token} x`);
      expect(malformed.status).toBe(400);

      const { token: revoked } = await other.tokens.issueAccessToken({
        subject: 'user-8',
        clientId: 'client-1',
      });
      expect(await other.tokens.revokeToken(revoked)).toBe(true);
      await eventually(() => refusal(() => kit.tokens.verifyNow(revoked, options)) !== undefined);
      const refused = await request(app).get('/me').set('Authorization', `Bearer ${revoked}`);
      expect(refused.status).toBe(401);
      expect(refused.body.errors[0].message).toBe('Access token revoked');
    });
  });
});
