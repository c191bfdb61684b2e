/**
 * Credentials in PostgreSQL for the demo server and the CLI: `DATABASE_URL` (and
 * `DATABASE_SCHEMA`) choose a `PostgresCredentialStore`; without them, credentials stay in the
 * token store.
 */
import {
  DEFAULT_POSTGRES_SCHEMA,
  migrateCredentialStore,
  PostgresCredentialStore,
} from '../stores/postgres-credential-store';

/** The credential schema the environment names (`DATABASE_SCHEMA`, default `token_kit`). */
export function credentialSchema(env: NodeJS.ProcessEnv): string {
  return env.DATABASE_SCHEMA || DEFAULT_POSTGRES_SCHEMA;
}

/** The PostgreSQL credential store the environment names, or undefined when `DATABASE_URL` is unset. */
export function credentialStoreFromEnv(env: NodeJS.ProcessEnv): PostgresCredentialStore | undefined {
  const url = env.DATABASE_URL;
  if (url === undefined || url === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new TypeError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const schema =
    env.DATABASE_SCHEMA === undefined || env.DATABASE_SCHEMA === '' ? undefined : env.DATABASE_SCHEMA;
  try {
    return new PostgresCredentialStore({
      connectionString: url,
      ...(schema === undefined ? {} : { schema }),
    });
  } catch (err) {
    if (err instanceof TypeError && /schema/.test(err.message)) {
      throw new TypeError(`DATABASE_SCHEMA: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Creates or updates the credential schema the environment names (`express-token-kit db migrate`).
 * Resolves to the schema, its version and the versions applied now.
 */
export async function migrateFromEnv(
  env: NodeJS.ProcessEnv,
): Promise<{ schema: string; version: number; applied: number[] }> {
  const store = credentialStoreFromEnv(env);
  if (store === undefined) throw new TypeError('db migrate needs DATABASE_URL (postgres://…)');
  try {
    const schema = credentialSchema(env);
    const result = await migrateCredentialStore(store.pool, { schema });
    return { schema, ...result };
  } finally {
    await store.close();
  }
}
