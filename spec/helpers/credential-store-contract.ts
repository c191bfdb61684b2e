/**
 * The CredentialStore conformance suite, as the package ships it (express-token-kit/testing).
 */
export { describeCredentialStoreContract } from '../../lib/testing';
export type { CredentialStoreHarness, CredentialStoreHarnessFactory } from '../../lib/testing';
