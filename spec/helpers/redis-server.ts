/**
 * Private Redis deployments on free loopback ports, for tests: a single `redis-server`, a Redis
 * Cluster of N primaries, and a Sentinel setup (primary, replica, sentinel). Everything lives in
 * its own temporary directory, removed on stop.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
function launch(port: number, extraArgs: readonly string[], dir = os.tmpdir()): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, ...extraArgs);
  return spawnUntilPing(args, port);
}

/** Spawns `redis-server args` and resolves once `port` answers PING. */
async function spawnUntilPing(args: readonly string[], port: number): Promise<ChildProcess> {
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

/** Runs `redis-cli args` and resolves with its standard output. */
export function redisCli(args: readonly string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', [...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Polls `check` every `delayMs` until it is true; false after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  delayMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delayMs));
  }
}

/** One process of a multi-process deployment. */
export interface RedisNode {
  readonly port: number;
  /** SIGKILL (a crash). */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process stays alive but answers nothing. */
  freeze(): void;
  thaw(): void;
  readonly alive: boolean;
}

function nodeOf(port: number, proc: ChildProcess): RedisNode {
  return {
    port,
    async kill() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    freeze: () => proc.kill('SIGSTOP'),
    thaw: () => proc.kill('SIGCONT'),
    get alive() {
      return proc.exitCode === null && proc.signalCode === null;
    },
  };
}

async function stopAll(procs: readonly ChildProcess[], dir: string): Promise<void> {
  await Promise.all(
    procs.map(async (proc) => {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await exited(proc);
    }),
  );
  await rm(dir, { recursive: true, force: true });
}

/** Free ports for a node and, for Cluster nodes, its bus. */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** A running private Redis Cluster. */
export interface RedisCluster {
  readonly nodes: readonly RedisNode[];
  /** `127.0.0.1:P1,127.0.0.1:P2,…`, the REDIS_CLUSTER_NODES format. */
  readonly nodesEnv: string;
  /** Kills every node and removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled redis-servers (`--cluster-enabled yes --cluster-config-file
 * <tmp>`, explicit bus ports) and joins them with `redis-cli --cluster create … --cluster-replicas 0
 * --cluster-yes`; resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'etk-cluster-'));
  const procs: ChildProcess[] = [];
  try {
    const ports = await freePorts(masters * 2);
    const nodes: RedisNode[] = [];
    for (let i = 0; i < masters; i++) {
      const port = ports[i * 2]!;
      const args = [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        '--cluster-port',
        String(ports[i * 2 + 1]),
        '--cluster-node-timeout',
        '2000',
      ];
      const proc = await launch(port, args, dir);
      procs.push(proc);
      nodes.push(nodeOf(port, proc));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    const ok = await waitUntil(async () => {
      for (const n of nodes) {
        const info = await redisCli(['-p', String(n.port), 'cluster', 'info']);
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
      }
      return true;
    }, 20_000);
    if (!ok) throw new Error('redis cluster did not reach cluster_state:ok within 20 s');
    return { nodes, nodesEnv: addresses.join(','), stop: () => stopAll(procs, dir) };
  } catch (err) {
    await stopAll(procs, dir);
    throw err;
  }
}

/**
 * A TCP relay for the replication link; `partition()` silently drops bytes both ways while the
 * connections stay open (a network partition), `heal()` lets them through again.
 */
interface LinkRelay {
  readonly port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

async function startRelay(targetPort: number): Promise<LinkRelay> {
  let partitioned = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.on('data', (chunk) => {
      if (!partitioned) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!partitioned) downstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('relay did not listen');
  return {
    port: address.port,
    partition: () => {
      partitioned = true;
    },
    heal: () => {
      partitioned = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A running Sentinel deployment: one primary, one replica, one sentinel. */
export interface RedisSentinelSetup {
  /** The primary at start (after a failover, the replica is the primary). */
  readonly primary: RedisNode;
  readonly replica: RedisNode;
  readonly sentinel: RedisNode;
  /** The monitored primary's name (REDIS_SENTINEL_NAME). */
  readonly name: string;
  /** `127.0.0.1:<sentinel port>` (REDIS_SENTINELS). */
  readonly sentinelsEnv: string;
  /** The port Sentinel currently reports as primary. */
  currentPrimaryPort(): Promise<number>;
  /** Cuts the replication link silently (bytes dropped, connection kept): writes reach the primary only. */
  partitionReplica(): void;
  /** Kills everything and removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * Starts a primary, a replica (`--replicaof`) and a sentinel (`redis-server <conf> --sentinel`,
 * quorum 1, down-after 1000 ms) on loopback; resolves once the replica is in sync and the sentinel
 * knows it, so a failover can promote it.
 */
export async function startRedisSentinel(name = 'etkprimary'): Promise<RedisSentinelSetup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'etk-sentinel-'));
  const procs: ChildProcess[] = [];
  let relay: LinkRelay | undefined;
  const stop = async (): Promise<void> => {
    await relay?.close();
    await stopAll(procs, dir);
  };
  try {
    const [primaryPort, replicaPort, sentinelPort] = (await freePorts(3)) as [number, number, number];
    // No 5 s wait for more replicas before the first (diskless) full sync.
    const sync = ['--repl-diskless-sync-delay', '0'];
    const primaryProc = await launch(primaryPort, sync, dir);
    procs.push(primaryProc);
    // The replica reaches the primary through a relay, so a test can partition the link.
    relay = await startRelay(primaryPort);
    const replicaProc = await launch(
      replicaPort,
      [...sync, '--replicaof', '127.0.0.1', String(relay.port)],
      dir,
    );
    procs.push(replicaProc);
    const synced = await waitUntil(async () => {
      const info = await redisCli(['-p', String(primaryPort), 'info', 'replication']);
      return /slave0:.*state=online/.test(info);
    }, 10_000);
    if (!synced) throw new Error('the replica did not sync within 10 s');
    const conf = path.join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        // Declared up front: discovering it through INFO takes Sentinel several seconds.
        `sentinel known-replica ${name} 127.0.0.1 ${replicaPort}`,
        '',
      ].join('\n'),
    );
    const sentinelProc = await spawnUntilPing([conf, '--sentinel'], sentinelPort);
    procs.push(sentinelProc);
    const knowsReplica = await waitUntil(
      async () => {
        const out = await redisCli(['-p', String(sentinelPort), 'sentinel', 'replicas', name]);
        return out.includes(String(replicaPort));
      },
      15_000,
      100,
    );
    if (!knowsReplica) throw new Error('the sentinel did not discover the replica within 15 s');
    return {
      primary: nodeOf(primaryPort, primaryProc),
      replica: nodeOf(replicaPort, replicaProc),
      sentinel: nodeOf(sentinelPort, sentinelProc),
      name,
      sentinelsEnv: `127.0.0.1:${sentinelPort}`,
      async currentPrimaryPort() {
        const out = await redisCli(['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', name]);
        return Number(out.trim().split('\n')[1]);
      },
      partitionReplica: () => relay?.partition(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
