import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { DemoConfigError, startDemoServer, type DemoServer } from '../../lib/server/main';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'lib', 'server', 'main.ts');
const quiet = { log: () => undefined, warn: () => undefined, audit: { write: () => true } };

/** Generous on a loaded machine: a cut must come within this many times its bound. */
const SLACK = 5;

function portOf(server: DemoServer): number {
  return Number(new URL(server.url).port);
}

/** A raw connection to the server; resolves once connected. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what the server sent and the ms until it closed the socket (or `limitMs` passed). */
function untilClosed(
  socket: Socket,
  limitMs: number,
): Promise<{ ms: number; closed: boolean; data: string }> {
  const started = performance.now();
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ms: performance.now() - started, closed: false, data }),
      limitMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, closed: true, data });
    });
  });
}

/** GET over a fresh connection (no keep-alive pool), so it does not hold a connection slot. */
async function getStatus(url: string): Promise<number> {
  const res = await fetch(url, { headers: { connection: 'close' } });
  await res.arrayBuffer();
  return res.status;
}

describe('the demo server HTTP limits', () => {
  describe('with short timeouts', () => {
    let server: DemoServer;

    beforeAll(async () => {
      server = await startDemoServer(
        {
          PORT: '0',
          TOKEN_KIT_HEADERS_TIMEOUT_MS: '1000',
          TOKEN_KIT_REQUEST_TIMEOUT_MS: '2000',
          TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS: '500',
        },
        quiet,
      );
    });

    afterAll(async () => {
      await server.close();
    });

    it('cuts a client that sends part of a request head and then nothing, while normal requests succeed', async () => {
      const slow = await open(portOf(server));
      slow.write('GET /api/plans/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      const cut = untilClosed(slow, 1000 * SLACK + 1000);
      const statuses: number[] = [];
      let done = false;
      void cut.then(() => (done = true));
      while (!done) {
        statuses.push(await getStatus(`${server.url}/.well-known/jwks.json`));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const result = await cut;
      expect(result.closed).toBe(true);
      expect(result.ms).toBeLessThan(1000 * SLACK);
      // Node answers the timed-out head with 408 before closing.
      expect(result.data).toMatch(/^HTTP\/1\.1 408/);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200)).toBe(true);
    }, 30_000);

    it('cuts a client whose body stops arriving, within the request timeout', async () => {
      const slow = await open(portOf(server));
      slow.write(
        'POST /api/auth/tokens/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"grant',
      );
      // Keep the head timeout from being the one that fires: send a byte now and then.
      const drip = setInterval(() => slow.write(' '), 300);
      try {
        const result = await untilClosed(slow, 2000 * SLACK + 1000);
        expect(result.closed).toBe(true);
        expect(result.ms).toBeLessThan(2000 * SLACK);
      } finally {
        clearInterval(drip);
      }
    }, 30_000);

    it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
      const socket = await open(portOf(server));
      const result = untilClosed(socket, 500 * SLACK + 1000);
      socket.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const { closed, ms, data } = await result;
      expect(data).toMatch(/^HTTP\/1\.1 200/);
      expect(closed).toBe(true);
      expect(ms).toBeLessThan(500 * SLACK);
    }, 30_000);
  });

  describe('with a connection cap', () => {
    let server: DemoServer;
    const held: Socket[] = [];

    beforeAll(async () => {
      server = await startDemoServer({ PORT: '0', TOKEN_KIT_MAX_CONNECTIONS: '3' }, quiet);
    });

    afterAll(async () => {
      for (const s of held) s.destroy();
      await server.close();
    });

    it('closes connections beyond the cap at once, and serves again when one is free', async () => {
      for (let i = 0; i < 3; i++) held.push(await open(portOf(server)));
      // Each held connection is idle within its head timeout; the server keeps them.
      const kept = untilClosed(held[0]!, 1500);
      const extra = await open(portOf(server)).catch(() => null);
      if (extra !== null) {
        const result = await untilClosed(extra, 5000);
        expect(result.closed).toBe(true);
        expect(result.data).toBe('');
      }
      expect((await kept).closed).toBe(false);
      held.pop()!.destroy();
      // The server notices the freed slot when the close reaches it: retry briefly.
      let status = 0;
      for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
        status = await getStatus(`${server.url}/.well-known/jwks.json`).catch(() => 0);
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
    }, 30_000);
  });

  describe('when a limit variable is malformed', () => {
    it.each([
      [{ TOKEN_KIT_HEADERS_TIMEOUT_MS: 'abc' }, /^TOKEN_KIT_HEADERS_TIMEOUT_MS must be a whole number of ms/],
      [{ TOKEN_KIT_HEADERS_TIMEOUT_MS: '0' }, /^TOKEN_KIT_HEADERS_TIMEOUT_MS must be/],
      [{ TOKEN_KIT_REQUEST_TIMEOUT_MS: '-1' }, /^TOKEN_KIT_REQUEST_TIMEOUT_MS must be/],
      [{ TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS: '1.5' }, /^TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS must be/],
      [{ TOKEN_KIT_MAX_CONNECTIONS: '0' }, /^TOKEN_KIT_MAX_CONNECTIONS must be/],
      [{ TOKEN_KIT_MAX_REQUESTS_PER_SOCKET: 'many' }, /^TOKEN_KIT_MAX_REQUESTS_PER_SOCKET must be/],
      [{ TOKEN_KIT_HASH_CONCURRENCY: '0' }, /^TOKEN_KIT_HASH_CONCURRENCY must be/],
      [
        { TOKEN_KIT_HEADERS_TIMEOUT_MS: '5000', TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS: '5000' },
        /^TOKEN_KIT_KEEP_ALIVE_TIMEOUT_MS \(5000\) must be below TOKEN_KIT_HEADERS_TIMEOUT_MS \(5000\)/,
      ],
      [
        { TOKEN_KIT_HEADERS_TIMEOUT_MS: '5000', TOKEN_KIT_REQUEST_TIMEOUT_MS: '4000' },
        /^TOKEN_KIT_REQUEST_TIMEOUT_MS \(4000\) must be at least TOKEN_KIT_HEADERS_TIMEOUT_MS/,
      ],
    ])('rejects %j before listening', async (env, message) => {
      const lines: string[] = [];
      const err = await startDemoServer({ PORT: '0', ...env }, { ...quiet, log: (l) => lines.push(l) }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DemoConfigError);
      expect((err as Error).message).toMatch(message);
      expect(lines).toEqual([]);
    });

    it('exits 1 naming the variable, without listening, as a program', async () => {
      const { REDIS_URL: _r, TOKEN_KIT_SEED: _s, ...rest } = process.env;
      const child = spawn(process.execPath, ['-r', 'esbuild-register', MAIN], {
        cwd: ROOT,
        env: { ...rest, PORT: '0', TOKEN_KIT_HEADERS_TIMEOUT_MS: '10s' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => {
        // A server that ignored the variable would listen forever: stop it, the test fails.
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('still running after 20 s');
        }, 20_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(1);
      expect(stderr).toBe(
        'express-token-kit: cannot start: TOKEN_KIT_HEADERS_TIMEOUT_MS must be a whole number of ms from 100 to 3600000, got "10s"\n',
      );
      expect(stdout).toBe('');
    }, 30_000);
  });
});
