/**
 * Turning a seed into a working kit: the password-grant user verifier and the credentials in the
 * store.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { TokenKit } from '../core/token-kit';
import type { TokenExchangeOptions, UserVerifier, VerifiedUser } from '../core/grants';
import { seedEmployerResolver, type Seed, type SeedUser } from './seed';
import { wholeNumber } from '../util/options';

const SALT_BYTES = 16;
const HASH_BYTES = 32;

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, HASH_BYTES, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

interface StoredUser {
  readonly salt: Buffer;
  readonly hash: Buffer;
  readonly sub: string;
}

/** The libuv thread pool size of this process: `UV_THREADPOOL_SIZE` (1–1024), else libuv's 4. */
export function uvThreadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isSafeInteger(size) && size >= 1 && size <= 1024 ? size : 4;
}

/**
 * How many password hashes may run at once by default: one less than the libuv thread pool (so
 * file, DNS and other crypto work always finds a free thread) and one less than the CPUs this process
 * may use (so the event loop keeps a core while logins queue), at least 1.
 */
export function defaultHashConcurrency(
  threadpoolSize: number = uvThreadpoolSize(),
  cpus: number = availableParallelism(),
): number {
  return Math.max(1, Math.min(threadpoolSize - 1, cpus - 1));
}

/** Thrown by {@link HashQueue.run} when the queue is full; the password grant answers it 503. */
export class HashQueueFullError extends Error {
  constructor(maxQueue: number) {
    super(`more than ${maxQueue} password checks are waiting`);
    this.name = 'HashQueueFullError';
  }
}

/** Options of {@link HashQueue}. */
export interface HashQueueOptions {
  /** Hashes running at once; @default {@link defaultHashConcurrency}. */
  readonly concurrency?: number;
  /** Hashes allowed to wait; one more is refused with {@link HashQueueFullError}. @default 256 */
  readonly maxQueue?: number;
}

/**
 * A FIFO semaphore for password hashing. scrypt runs on the libuv thread pool (4 threads unless
 * `UV_THREADPOOL_SIZE` says otherwise), and every hash keeps a CPU busy for tens of milliseconds: a
 * burst of logins left unbounded takes every pool thread and every core, and unrelated requests
 * wait behind it. With a queue, logins wait their turn and everything else keeps running.
 */
export class HashQueue {
  /** Hashes running at once. */
  readonly concurrency: number;
  /** Hashes allowed to wait. */
  readonly maxQueue: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: Readonly<HashQueueOptions> = {}) {
    const concurrency = wholeNumber(options.concurrency, defaultHashConcurrency(), 'concurrency', 1, 1024);
    const maxQueue = wholeNumber(options.maxQueue, 256, 'maxQueue', 0);
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  /** Hashes running now. */
  get active(): number {
    return this.#active;
  }

  /** Hashes waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` when a slot is free (first come, first served); rejects at once when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) {
      if (this.#waiting.length >= this.maxQueue) throw new HashQueueFullError(this.maxQueue);
      // The slot is handed over by the finishing task, so #active never drops between them.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

/** Options of {@link createSeedUserVerifier}. */
export interface SeedUserVerifierOptions {
  /** The queue password checks wait in; @default a new {@link HashQueue} with its defaults. */
  readonly queue?: HashQueue;
}

/**
 * Builds the password-grant verifier for seeded users. Passwords are hashed once, here, with scrypt
 * and a random salt each, and compared in constant time. An unknown username runs the same scrypt
 * against a dummy hash, so it takes as long as a wrong password. Every check is asynchronous (the
 * event loop never hashes) and waits its turn in a {@link HashQueue}, so a burst of logins cannot
 * take the whole libuv thread pool; a full queue makes the check throw (the grant answers 503).
 *
 * @example
 * ```ts
 * const kit = createTokenKit({ store, keys, issuer, verifyUser: await createSeedUserVerifier(seed.users) });
 * ```
 */
export async function createSeedUserVerifier(
  users: readonly SeedUser[],
  options: Readonly<SeedUserVerifierOptions> = {},
): Promise<UserVerifier> {
  const queue = options.queue ?? new HashQueue();
  const byName = new Map<string, StoredUser>();
  for (const user of users) {
    const salt = randomBytes(SALT_BYTES);
    byName.set(user.username, { salt, hash: await scrypt(user.password, salt), sub: user.sub });
  }
  const dummySalt = randomBytes(SALT_BYTES);
  const dummy: StoredUser = {
    salt: dummySalt,
    hash: await scrypt(randomBytes(16).toString('hex'), dummySalt),
    sub: '',
  };

  return async function verifySeedUser(username: string, password: string): Promise<VerifiedUser | null> {
    const user = byName.get(username);
    const stored = user ?? dummy;
    const hash = await queue.run(() => scrypt(password, stored.salt));
    const matches = timingSafeEqual(hash, stored.hash);
    return matches && user !== undefined ? { sub: user.sub } : null;
  };
}

/** What {@link applySeed} did. */
export interface ApplySeedResult {
  /** Credentials written to the store. */
  readonly created: number;
  /** Credentials already in the store (e.g. a Redis that outlived a restart), left untouched. */
  readonly skipped: number;
}

/**
 * Creates the seed's API keys, applications, providers and provider clients through
 * `kit.credentials`. Idempotent: anything already in the store (same id, or the same API key) is
 * skipped, so a restart against a persistent Redis neither fails nor resets rotated credentials.
 */
export async function applySeed(kit: TokenKit, seed: Seed): Promise<ApplySeedResult> {
  const { credentials } = kit;
  let created = 0;
  let skipped = 0;
  /** Creates unless `exists`; a create that loses a race with another instance counts as skipped. */
  const ensure = async (exists: () => Promise<boolean>, create: () => Promise<unknown>): Promise<void> => {
    if (await exists()) {
      skipped++;
      return;
    }
    try {
      await create();
      created++;
    } catch (err) {
      if (!(await exists())) throw err;
      skipped++;
    }
  };

  for (const apiKey of seed.apiKeys) {
    await ensure(
      async () => (await credentials.authenticateApiKey(apiKey.key)) !== null,
      () => credentials.createApiKey({ name: apiKey.name, key: apiKey.key }),
    );
  }
  for (const app of seed.applications) {
    await ensure(
      async () => (await credentials.getApplication(app.id)) !== null,
      () =>
        credentials.createApplication({
          id: app.id,
          name: app.name,
          organization: app.organization,
          clientId: app.clientId,
          clientSecret: app.clientSecret,
          applicationTypes: app.applicationTypes,
          grantTypes: app.grantTypes,
          ...(app.resources === undefined ? {} : { resources: app.resources }),
          ...(app.introspection === undefined ? {} : { introspection: app.introspection }),
          ...(app.tokenEndpointAuthMethod === undefined
            ? {}
            : { tokenEndpointAuthMethod: app.tokenEndpointAuthMethod }),
          ...(app.jwks === undefined ? {} : { jwks: app.jwks }),
          ...(app.jwksUri === undefined ? {} : { jwksUri: app.jwksUri }),
          ...(app.dpopBoundAccessTokens === true ? { dpopBoundAccessTokens: true } : {}),
        }),
    );
  }
  for (const provider of seed.providers) {
    await ensure(
      async () => (await credentials.getProvider(provider.id)) !== null,
      () =>
        credentials.createProvider({ id: provider.id, domain: provider.domain, apiKeys: provider.apiKeys }),
    );
    for (const client of provider.clients) {
      await ensure(
        async () => (await credentials.getProviderClient(client.id)) !== null,
        () => credentials.createProviderClient(provider.id, { id: client.id, audience: client.audience }),
      );
    }
  }
  return { created, skipped };
}

/**
 * The client id password-grant tokens of createAuthRouter are issued to: the first seeded application
 * allowed the `password` grant, else undefined (createAuthRouter's default).
 */
export function seedPasswordClientId(seed: Pick<Seed, 'applications'>): string | undefined {
  return seed.applications.find((a) => a.grantTypes.includes('password'))?.clientId;
}

/**
 * The demo's token-exchange policy (RFC 8693, docs/token-exchange.md): an employer-bound token may
 * be exchanged for one bound to an employee of that employer per the seed file, an unbound one for
 * any entity the seed file knows, and every application the seed allows the grant is trusted as a
 * gateway: it may exchange any access token of the demo (a deployment would narrow `mayExchange`).
 */
export function seedTokenExchange(seed: Pick<Seed, 'employers'>): TokenExchangeOptions {
  const known = new Set(seed.employers.flatMap((e) => [e.id, ...e.employees]));
  return {
    employerOf: seedEmployerResolver(seed),
    authorizeBinding: (entity) => known.has(entity.id),
    mayExchange: () => true,
  };
}
