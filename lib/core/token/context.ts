/**
 * The private context of the token core: created once from the options, frozen, and shared by the
 * verb modules (issue, verify, refresh, revoke). It holds plain data and the few helpers every verb
 * needs — the clock, audit events, the one store guard that turns failures into 503, announcements
 * — and imports none of the verb modules.
 */
import { serviceUnavailable, StoreUnavailableError, TokenError } from '../../errors';
import { DEFAULT_RETRY_AFTER } from '../../defaults';
import type { KeySet } from '../../keys/key-set';
import type { TokenStore } from '../../stores/token-store';
import type { TokenEvent } from '../events';
import { IssuanceClock } from '../issuance';
import { assertTokenPrefix, SecretHasher } from '../opaque-token';
import type { RevocationNotice, RevocationView } from '../../stores/revocation-view';
import type { ResolvedTokenOptions } from '../token-options';

/**
 * Turns any store failure into a 503 `service_unavailable` with `Retry-After`; fail closed. The
 * only place the token core builds that error.
 */
export function storeUnavailable(cause: unknown): TokenError {
  return serviceUnavailable(cause, DEFAULT_RETRY_AFTER);
}

/** The opaque access-token prefixes this instance recognises; routers may register more. */
export class OpaquePrefixes {
  readonly #prefixes = new Set<string>();
  readonly #refreshTokenPrefix: string;

  constructor(accessTokenPrefix: string, refreshTokenPrefix: string) {
    this.#refreshTokenPrefix = refreshTokenPrefix;
    this.#prefixes.add(accessTokenPrefix);
  }

  /** Registers another opaque access-token prefix (e.g. a router's `vit_at_`). */
  register(prefix: string): void {
    assertTokenPrefix(prefix, 'prefix');
    if (prefix === this.#refreshTokenPrefix)
      throw new TypeError('an access-token prefix must differ from the refresh-token prefix');
    this.#prefixes.add(prefix);
  }

  has(prefix: string): boolean {
    return this.#prefixes.has(prefix);
  }

  /** The registered prefix `token` starts with, if any. */
  of(token: string): string | undefined {
    for (const prefix of this.#prefixes) if (token.startsWith(prefix)) return prefix;
    return undefined;
  }
}

/** What every verb module of the token core shares; frozen. */
export interface TokenContext {
  readonly options: ResolvedTokenOptions;
  readonly store: TokenStore;
  readonly keys: KeySet;
  readonly hasher: SecretHasher;
  /** The live revocation view, if any. */
  readonly view: RevocationView | undefined;
  /** Issuance and cut-off instants in ms, ordered on this instance (see {@link IssuanceClock}). */
  readonly issuance: IssuanceClock;
  readonly opaquePrefixes: OpaquePrefixes;
  /** Now, in milliseconds. */
  readonly nowMs: () => number;
  /** Now, in whole seconds since the epoch. */
  readonly now: () => number;
  /** Emits an audit event; listener failures never affect the request. */
  readonly emit: (event: Omit<TokenEvent, 'at'>) => void;
  /** Runs a store call; any failure becomes 503 `service_unavailable` (fail closed). */
  readonly guard: <T>(call: () => Promise<T>) => Promise<T>;
  /** Tells every instance's revocation view that something changed; a no-op without a view. */
  readonly announce: (notice: RevocationNotice) => Promise<void>;
}

/** Creates the frozen context from resolved options. */
export function createTokenContext(options: ResolvedTokenOptions): TokenContext {
  const { onEvent, revocationView: view, store } = options;
  const nowMs = options.now;
  const now = (): number => Math.floor(nowMs() / 1000);
  const emit = (event: Omit<TokenEvent, 'at'>): void => {
    if (!onEvent) return;
    try {
      onEvent({ at: now(), ...event });
    } catch {
      // an audit sink must not break authentication
    }
  };
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof TokenError) throw err;
      emit({ type: 'store_unavailable', reason: err instanceof StoreUnavailableError ? 'store' : 'error' });
      throw storeUnavailable(err);
    }
  };
  const announce = async (notice: RevocationNotice): Promise<void> => {
    if (view) await guard(() => view.announce(notice));
  };
  return Object.freeze({
    options,
    store,
    keys: options.keys,
    hasher: new SecretHasher(options.pepper),
    view,
    issuance: new IssuanceClock(nowMs),
    opaquePrefixes: new OpaquePrefixes(options.accessTokenPrefix, options.refreshTokenPrefix),
    nowMs,
    now,
    emit,
    guard,
    announce,
  });
}
