/**
 * express-token-kit/postgres: credentials (API keys, applications, providers, clients) in
 * PostgreSQL. Needs the optional peer dependency `pg`.
 */
export {
  PostgresCredentialStore,
  migrateCredentialStore,
  DEFAULT_POSTGRES_SCHEMA,
  POSTGRES_SCHEMA_VERSION,
} from './stores/postgres-credential-store';
export type {
  PostgresCredentialStoreOptions,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryable,
  PostgresQueryResult,
} from './stores/postgres-credential-store';
export type { CredentialStore, CredentialKind, CredentialRecord } from './stores/credential-store';
export { PostgresKeyStore } from './stores/postgres-key-store';
export type { PostgresKeyStoreOptions } from './stores/postgres-key-store';
