/**
 * express-token-kit/testing: the conformance suites of the store contracts (docs/stores.md), for
 * the author of a TokenStore or CredentialStore. Call them at the top level of a jest spec file:
 * each registers its tests under `describe(name)`. Needs jest (its global `describe`, `it`,
 * `expect`, `beforeEach`, `afterEach`), not `@types/jest`.
 */
export { describeTokenStoreContract } from './token-store-contract';
export type { StoreHarness, StoreHarnessFactory } from './token-store-contract';
export { describeCredentialStoreContract } from './credential-store-contract';
export type { CredentialStoreHarness, CredentialStoreHarnessFactory } from './credential-store-contract';
export { describeKeyStoreContract } from './key-store-contract';
export type { KeyStoreHarness, KeyStoreHarnessFactory } from './key-store-contract';
