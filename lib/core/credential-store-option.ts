/**
 * Which `CredentialStore` a kit uses, decided once when it is built: the `credentialStore` option
 * when given, else the token store (`store`) when it implements `CredentialStore` too (as
 * `MemoryTokenStore` and `RedisTokenStore` do), else a TypeError naming the `credentialStore`
 * option. Checked by shape: the object must have every method of the contract.
 */
import type { CredentialStore } from '../stores/credential-store';
import { hasMethod } from '../util/options';

/** The methods a {@link CredentialStore} must have. */
const CREDENTIAL_METHODS = [
  'createCredential',
  'getCredential',
  'findCredential',
  'listCredentials',
  'replaceCredential',
  'deleteCredential',
] as const satisfies readonly (keyof CredentialStore)[];

/** The methods of the contract that `object` lacks (all of them when it is not an object). */
function missingMethods(object: unknown): string[] {
  return CREDENTIAL_METHODS.filter((m) => !hasMethod(object, m));
}

/** True when `object` has every method of {@link CredentialStore}. */
export function isCredentialStore(object: unknown): object is CredentialStore {
  return missingMethods(object).length === 0;
}

/**
 * The credential store of a kit: `credentialStore` when given (it must implement
 * {@link CredentialStore}), else `store` when it implements it. Throws a TypeError otherwise, so a
 * token store of one's own without credential methods fails when the kit is built, not on the
 * first request.
 */
export function resolveCredentialStore(credentialStore: unknown, store: unknown): CredentialStore {
  if (credentialStore !== undefined) {
    const missing = missingMethods(credentialStore);
    if (missing.length > 0) {
      throw new TypeError(`credentialStore must implement CredentialStore (missing ${missing.join(', ')})`);
    }
    return credentialStore as CredentialStore;
  }
  if (isCredentialStore(store)) return store;
  throw new TypeError(
    'store does not implement CredentialStore: pass the credentialStore option (e.g. a ' +
      'MemoryCredentialStore, RedisCredentialStore or PostgresCredentialStore)',
  );
}
