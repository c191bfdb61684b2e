/**
 * Turning a seed into a working kit: the password-grant user verifier and the credentials in the
 * store.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { TokenKit } from '../core/token-kit';
import type { UserVerifier, VerifiedUser } from '../core/grants';
import type { Seed, SeedUser } from './seed';

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

/**
 * Builds the password-grant verifier for seeded users. Passwords are hashed once, here, with scrypt
 * and a random salt each, and compared in constant time. An unknown username runs the same scrypt
 * against a dummy hash, so it takes as long as a wrong password.
 *
 * @example
 * ```ts
 * const kit = createTokenKit({ store, keys, issuer, verifyUser: await createSeedUserVerifier(seed.users) });
 * ```
 */
export async function createSeedUserVerifier(users: readonly SeedUser[]): Promise<UserVerifier> {
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
    const hash = await scrypt(password, stored.salt);
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
 * The client id password-grant tokens of router C are issued to: the first seeded application
 * allowed the `password` grant, else undefined (router C's default).
 */
export function seedPasswordClientId(seed: Pick<Seed, 'applications'>): string | undefined {
  return seed.applications.find((a) => a.grantTypes.includes('password'))?.clientId;
}
