/**
 * The TokenStore conformance suite, as the package ships it (express-token-kit/testing).
 */
export { describeTokenStoreContract } from '../../lib/testing';
export type { StoreHarness, StoreHarnessFactory } from '../../lib/testing';
