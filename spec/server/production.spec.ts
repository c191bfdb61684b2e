import type { Redis } from 'ioredis';
import { startDemoServer, type DemoServer } from '../../lib/server/main';
import { connectTestRedis, keysWithPrefix, testRedisUrl, type TestRedis } from '../helpers/redis';

interface Io {
  readonly lines: string[];
  readonly audit: string[];
  readonly io: { log: (l: string) => void; warn: (l: string) => void; audit: { write: (l: string) => void } };
}

function capture(): Io {
  const lines: string[] = [];
  const audit: string[] = [];
  return {
    lines,
    audit,
    io: { log: (l) => lines.push(l), warn: (l) => lines.push(l), audit: { write: (l) => audit.push(l) } },
  };
}

async function clientCredentials(server: DemoServer, secret: string, ip?: string): Promise<Response> {
  const app = server.seed.applications[0]!;
  return fetch(`${server.url}/api/auth/tokens/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(ip ? { 'X-Forwarded-For': ip } : {}) },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: secret,
    }),
  });
}

describe('startDemoServer in production mode', () => {
  describe('on the memory store', () => {
    let server: DemoServer;
    const out = capture();

    beforeAll(async () => {
      server = await startDemoServer({ PORT: '0', TOKEN_KIT_METRICS: '1' }, out.io);
    });
    afterAll(() => server.close());

    it('writes audit events as JSON lines, without secrets', async () => {
      const secret = server.seed.applications[0]!.clientSecret;
      const ok = await clientCredentials(server, secret);
      expect(ok.status).toBe(200);
      const { access_token: token } = (await ok.json()) as { access_token: string };
      expect((await clientCredentials(server, 'wrong-secret')).status).toBe(401);
      const records = out.audit.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records).toContainEqual(expect.objectContaining({ msg: 'token_event', type: 'issued' }));
      expect(records).toContainEqual(
        expect.objectContaining({ type: 'auth_failed', reason: 'client', ip: expect.any(String) }),
      );
      const all = out.audit.join('');
      expect(all).not.toContain(secret);
      expect(all).not.toContain(token);
      expect(out.lines.join('\n')).toContain('rate limits: memory; audit events: JSON lines on stdout');
    });

    it('serves Prometheus metrics when TOKEN_KIT_METRICS=1', async () => {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^etk_tokens_issued_total\{binding="none"\} [1-9]/m);
      expect(text).toMatch(/^etk_auth_failures_total\{reason="client"\} [1-9]/m);
    });

    it('ignores X-Forwarded-For without TOKEN_KIT_TRUST_PROXY', async () => {
      // 10 failures in all from this socket address (one was made above): the next is refused
      for (let i = 0; i < 9; i++)
        expect((await clientCredentials(server, 'wrong', `192.0.2.${i}`)).status).toBe(401);
      const res = await clientCredentials(server, 'wrong', '192.0.2.200');
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  it('rejects a malformed TOKEN_KIT_TRUST_PROXY', async () => {
    await expect(startDemoServer({ PORT: '0', TOKEN_KIT_TRUST_PROXY: 'yes' }, capture().io)).rejects.toThrow(
      /TOKEN_KIT_TRUST_PROXY/,
    );
  });

  describe('with REDIS_URL', () => {
    let redis: TestRedis;
    let client: Redis;
    let one: DemoServer;
    let two: DemoServer;
    let prefix: string;

    beforeAll(async () => {
      redis = await connectTestRedis('production');
      client = redis.client;
      prefix = redis.prefix;
      const env = {
        PORT: '0',
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        TOKEN_KIT_TRUST_PROXY: '1',
        TOKEN_KIT_SEED: '',
      };
      one = await startDemoServer(env, capture().io);
      two = await startDemoServer(env, capture().io);
    });
    afterAll(async () => {
      await one.close();
      await two.close();
      await redis.cleanup();
    });

    it('counts failures in Redis, so the limit holds across instances behind a proxy', async () => {
      // each instance has its own generated application; flood the first one's client on both
      const app = one.seed.applications[0]!;
      const wrong = (server: DemoServer): Promise<Response> =>
        fetch(`${server.url}/api/auth/tokens/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.50' },
          body: JSON.stringify({
            grant_type: 'client_credentials',
            client_id: app.clientId,
            client_secret: 'x',
          }),
        });
      for (let i = 0; i < 10; i++) expect((await wrong(i % 2 ? one : two)).status).toBe(401);
      expect((await wrong(one)).status).toBe(429);
      expect((await wrong(two)).status).toBe(429);
      expect((await clientCredentials(one, app.clientSecret, '198.51.100.9')).status).toBe(200);
      const keys = await keysWithPrefix(client, `${prefix}rl:`);
      expect(keys.some((k) => k.includes('failures-credential-ip'))).toBe(true);
    });
  });
});
