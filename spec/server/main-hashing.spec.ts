import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startDemoServer } from '../../lib/server/main';
import {
  createSeedUserVerifier,
  defaultHashConcurrency,
  HashQueue,
  HashQueueFullError,
  uvThreadpoolSize,
} from '../../lib/server/seed-kit';

const quiet = { log: () => undefined, warn: () => undefined, audit: { write: () => true } };
const USERS = [{ username: 'carmen', password: 'correct horse battery staple', sub: 'user_carmen' }];

/** A promise and the functions that settle it. */
function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('HashQueue', () => {
  it('runs at most `concurrency` tasks, the rest first come first served', async () => {
    const queue = new HashQueue({ concurrency: 2, maxQueue: 10 });
    const gates = Array.from({ length: 5 }, () => deferred<number>());
    const started: number[] = [];
    const results = gates.map((gate, i) =>
      queue.run(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect([queue.active, queue.waiting]).toEqual([2, 3]);
    gates[1]!.resolve(1);
    await tick();
    expect(started).toEqual([0, 1, 2]);
    expect([queue.active, queue.waiting]).toEqual([2, 2]);
    gates[0]!.reject(new Error('hash failed'));
    await expect(results[0]).rejects.toThrow('hash failed');
    await tick();
    // A failed task frees its slot too.
    expect(started).toEqual([0, 1, 2, 3]);
    for (const [i, gate] of gates.entries()) gate.resolve(i);
    await expect(Promise.all(results.slice(1))).resolves.toEqual([1, 2, 3, 4]);
    expect([queue.active, queue.waiting]).toEqual([0, 0]);
  });

  it('refuses at once beyond maxQueue waiting tasks', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueue: 1 });
    const gate = deferred();
    const first = queue.run(() => gate.promise);
    const second = queue.run(() => Promise.resolve('second'));
    await expect(queue.run(() => Promise.resolve('third'))).rejects.toBeInstanceOf(HashQueueFullError);
    gate.resolve();
    await first;
    await expect(second).resolves.toBe('second');
  });

  it('rejects a bad concurrency or maxQueue', () => {
    expect(() => new HashQueue({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new HashQueue({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new HashQueue({ maxQueue: -1 })).toThrow(RangeError);
  });

  it('defaults below the libuv thread pool and the CPU count, at least 1', () => {
    expect(uvThreadpoolSize({})).toBe(4);
    expect(uvThreadpoolSize({ UV_THREADPOOL_SIZE: '8' })).toBe(8);
    expect(uvThreadpoolSize({ UV_THREADPOOL_SIZE: 'x' })).toBe(4);
    expect(defaultHashConcurrency(4, 2)).toBe(1);
    expect(defaultHashConcurrency(4, 8)).toBe(3);
    expect(defaultHashConcurrency(16, 8)).toBe(7);
    expect(defaultHashConcurrency(1, 1)).toBe(1);
    expect(defaultHashConcurrency(4, 1)).toBe(1);
  });
});

describe('createSeedUserVerifier under a burst of logins', () => {
  it('hashes asynchronously and through the queue, one at a time with concurrency 1', async () => {
    const queue = new HashQueue({ concurrency: 1 });
    const verify = await createSeedUserVerifier(USERS, { queue });
    let settled = 0;
    const checks = [
      ...Array.from({ length: 3 }, () => verify('carmen', 'correct horse battery staple')),
      ...Array.from({ length: 2 }, () => verify('carmen', 'wrong')),
      verify('nobody', 'correct horse battery staple'),
    ].map((p) => p.finally(() => settled++));
    await tick();
    // Nothing hashed on the event loop: no check has finished, one hash runs, five wait.
    expect(settled).toBe(0);
    expect([queue.active, queue.waiting]).toEqual([1, 5]);
    const results = await Promise.all(checks);
    expect(results).toEqual([
      { sub: 'user_carmen' },
      { sub: 'user_carmen' },
      { sub: 'user_carmen' },
      null,
      null,
      null,
    ]);
    expect([queue.active, queue.waiting]).toEqual([0, 0]);
  }, 60_000);

  it('leaves libuv threads for other work and keeps the event loop responsive while logins queue', async () => {
    // libuv's pool has 4 threads here (jest does not set UV_THREADPOOL_SIZE); 8 unbounded scrypt
    // calls would take all of them and a file read would wait for a hash to finish.
    const verify = await createSeedUserVerifier(USERS, { queue: new HashQueue({ concurrency: 1 }) });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    let firstLogin = Infinity;
    const logins = Array.from({ length: 8 }, () =>
      verify('carmen', 'correct horse battery staple').then((r) => {
        firstLogin = Math.min(firstLogin, performance.now());
        return r;
      }),
    );
    const started = performance.now();
    await readFile(__filename);
    const fileRead = performance.now();
    await Promise.all(logins);
    delay.disable();
    expect(fileRead).toBeLessThan(firstLogin);
    expect(fileRead - started).toBeLessThan(firstLogin - started);
    // Loose: on a loaded machine the loop may lag, but never for a hash's worth of blocking per login.
    expect(delay.max / 1e6).toBeLessThan(1000);
  }, 60_000);
});

describe('the demo server password grant with a full hash queue', () => {
  it('answers 503 service_unavailable with Retry-After, never another 5xx, and serves the rest', async () => {
    const server = await startDemoServer(
      { PORT: '0', TOKEN_KIT_HASH_CONCURRENCY: '1', TOKEN_KIT_HASH_QUEUE: '0' },
      quiet,
    );
    try {
      const user = server.seed.users[0]!;
      const responses = await Promise.all(
        Array.from({ length: 4 }, () =>
          fetch(`${server.url}/api/auth/tokens/`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({
              grant_type: 'password',
              username: user.username,
              password: user.password,
            }),
          }),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      const refused = responses.find((r) => r.status === 503)!;
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(JSON.stringify(await refused.json())).toContain('service_unavailable');
    } finally {
      await server.close();
    }
  }, 60_000);
});
