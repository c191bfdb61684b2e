/**
 * The one object an app builds: the token core, the credentials admin API and the grants.
 */
import type { BindingProfile } from './binding';
import { CredentialService, type CredentialServiceOptions } from './credentials';
import { GrantService, type GrantServiceOptions } from './grants';
import { TokenService, type TokenServiceOptions } from './token-service';

/** Options of {@link createTokenKit}: those of the token service, the credentials and the grants. */
export interface TokenKitOptions extends TokenServiceOptions, CredentialServiceOptions, GrantServiceOptions {}

/** The token core, the credentials admin API and the grants, sharing one store and key set. */
export interface TokenKit {
  readonly tokens: TokenService;
  /** The bound-entity types of the kit (option `binding`), shared by issuance, createApiKeyRouter and `requireBinding`. */
  readonly binding: BindingProfile;
  readonly credentials: CredentialService;
  readonly grants: GrantService;
  /**
   * Closes what the kit's stores own: the token store and a separate credential store. Each store
   * releases only its own timers and connections, never an injected client (a Redis connection or
   * `pg` pool passed in stays the application's to close), and the revocation view is left alone.
   * Both are closed even when the first fails; the first failure is then thrown.
   */
  close(): Promise<void>;
}

/**
 * Builds a {@link TokenKit}. Options are validated once, here.
 *
 * @example
 * ```ts
 * const kit = createTokenKit({
 *   store: new MemoryTokenStore(),
 *   keys: createKeySet({ keys: [await KeySet.generateKey('RS256')] }),
 *   issuer: 'https://auth.example.com',
 * });
 * app.get('/me', requireToken({ kit }), (req, res) => res.json({ sub: req.auth?.subject }));
 * ```
 */
export function createTokenKit(options: Readonly<TokenKitOptions>): TokenKit {
  const tokens = new TokenService(options);
  const credentials = new CredentialService(tokens, options);
  const grants = new GrantService(tokens, credentials, options);
  const close = async (): Promise<void> => {
    const [first, second] = await Promise.allSettled([tokens.close(), credentials.close()]);
    if (first.status === 'rejected') throw first.reason;
    if (second.status === 'rejected') throw second.reason;
  };
  return Object.freeze({ tokens, credentials, grants, binding: tokens.binding, close });
}
