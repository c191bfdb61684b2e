/**
 * A private `redis-server` on a free local port, for tests.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

/** A running private redis-server. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Kills the server with SIGKILL (a crash); `restart()` brings it back. */
  kill(): Promise<void>;
  /** Kills the server (if running) and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
  /** Stops the server for good (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. `['--rename-command', 'CONFIG', '']`. */
  readonly args?: readonly string[];
}

class PortInUseError extends Error {}

const READY_TIMEOUT_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

/** True when a RESP `PING` on the port answers `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Spawns redis-server on `port` and resolves once it answers PING. */
async function launch(port: number, extraArgs: readonly string[]): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', os.tmpdir(), ...extraArgs);
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);

  const failure = new Promise<never>((_, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error(
              'redis-server is not on PATH. Install Redis (e.g. `apt-get install redis-server`) or set ' +
                'REDIS_URL to a Redis the tests may write to.',
            )
          : err,
      );
    });
    proc.once('exit', (code, signal) => {
      const message = `redis-server on port ${port} exited (${signal ?? code}) before answering PING:\n${output}`;
      reject(/address already in use/i.test(output) ? new PortInUseError(message) : new Error(message));
    });
  });
  failure.catch(() => undefined);
  const ready = (async (): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) return failure;
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(
      `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`,
    );
  })();
  try {
    await Promise.race([ready, failure]);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return proc;
}

/**
 * Starts a private `redis-server --port <free port> --bind 127.0.0.1 --save '' --appendonly no` and
 * resolves once it answers PING. Retries on a port collision.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const extraArgs = options.args ?? [];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let proc: ChildProcess;
    try {
      proc = await launch(port, extraArgs);
    } catch (err) {
      if (err instanceof PortInUseError && attempt < 5) continue;
      throw err;
    }
    const kill = async (): Promise<void> => {
      proc.kill('SIGKILL');
      await exited(proc);
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      kill,
      async restart() {
        await kill();
        proc = await launch(port, extraArgs);
      },
      async stop() {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited(proc);
        clearTimeout(timer);
      },
    };
  }
}
