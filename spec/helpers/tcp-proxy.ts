/**
 * A TCP proxy on 127.0.0.1 in front of a real server, so that a spec can cut the network to it (an
 * outage: connections refused and open ones reset) or make it hang (connections accepted, nothing
 * forwarded), then restore it, without stopping a server other specs share.
 */
import net from 'node:net';

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** Resets every open connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again (on the same port) but forwards nothing: every request hangs. */
  blackhole(): Promise<void>;
  /** Forwards again. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to `host:port`. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let mode: 'forward' | 'blackhole' = 'forward';
  let server: net.Server | undefined;
  let port = 0;

  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.createServer((client) => {
        track(client);
        if (mode === 'blackhole') return;
        const upstream = net.connect(targetPort, targetHost);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.on('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const address = s.address();
        if (typeof address === 'object' && address !== null) port = address.port;
        server = s;
        resolve();
      });
    });

  const stop = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    const s = server;
    server = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    async blackhole() {
      await stop();
      mode = 'blackhole';
      await listen();
    },
    async restore() {
      await stop();
      mode = 'forward';
      await listen();
    },
    close: stop,
  };
}
