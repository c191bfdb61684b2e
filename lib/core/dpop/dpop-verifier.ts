/**
 * The kit's DPoP verb (RFC 9449): its options, resolved once, and the verification of a request's
 * proof — {@link checkProof}, then the replay cache (`TokenStore.markUsed`, shared by every
 * instance on the store), so that a proof is marked only once every other check passed.
 */
import { createHash, createHmac, createSecretKey } from 'node:crypto';
import type { TokenError } from '../../errors';
import type { TokenContext } from '../token/context';
import { toKeyObject } from '../token-options';
import { booleanOption, invalidOption, objectOption, wholeSeconds } from '../../util/options';
import { DPOP_ALGORITHMS, type DpopAlgorithm } from './jwk';
import type { DpopOptions } from './dpop-options';

export type { DpopOptions } from './dpop-options';
import { createDpopNonces, type DpopNonces } from './nonce';
import { checkProof, invalidProof } from './proof';

/** What a request presents for {@link DpopVerifier.verify}. */
export interface DpopProofInput {
  /** Every `DPoP` header value of the request (exactly one is accepted). */
  readonly proofs: readonly string[];
  /** The request method. */
  readonly method: string;
  /** The request's absolute external URL (query and fragment are ignored). */
  readonly url: string;
  /** The access token the request presents (resource requests). */
  readonly accessToken?: string;
  /** The thumbprint the access token is bound to (resource requests). */
  readonly jkt?: string;
}

/** A verified proof. */
export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's key. */
  readonly jkt: string;
}

/** The kit's DPoP settings and verification. */
export interface DpopVerifier {
  /** False when the store has no replay cache (`markUsed`): every proof is then refused. */
  readonly enabled: boolean;
  readonly algorithms: readonly DpopAlgorithm[];
  readonly requireNonce: boolean;
  readonly bindConfidentialRefreshTokens: boolean;
  /** The current nonce, when nonces are on. */
  nonce(): string | undefined;
  verify(input: Readonly<DpopProofInput>): Promise<VerifiedDpopProof>;
}

const MAX_PROOF_AGE = 600;
const MAX_LEEWAY = 60;

/** The replay-cache key of a proof: `dpop:<jkt>:<jti>`, a long `jti` hashed (keys stay short). */
function replayKey(jkt: string, jti: string): string {
  const id = jti.length <= 64 ? jti : createHash('sha256').update(jti).digest('base64url');
  return `dpop:${jkt}:${id}`;
}

/** Resolves the `dpop` option once, against the token context. */
export function createDpopVerifier(
  ctx: TokenContext,
  given: Readonly<DpopOptions> | undefined,
): DpopVerifier {
  const options = given === undefined ? {} : objectOption(given, 'dpop');
  const algorithms = [...(options.algorithms ?? DPOP_ALGORITHMS)];
  if (algorithms.length === 0 || algorithms.some((a) => !DPOP_ALGORITHMS.includes(a))) {
    throw invalidOption(`dpop.algorithms must be a non-empty list of ${DPOP_ALGORITHMS.join(', ')}`);
  }
  const maxAge = wholeSeconds(options.proofMaxAge, 60, 'dpop.proofMaxAge', 1, MAX_PROOF_AGE);
  const leeway = wholeSeconds(options.proofLeeway, 5, 'dpop.proofLeeway', 0, MAX_LEEWAY);
  const requireNonce = booleanOption(options.requireNonce, false, 'dpop.requireNonce');
  const bindConfidential = booleanOption(
    options.bindConfidentialRefreshTokens,
    true,
    'dpop.bindConfidentialRefreshTokens',
  );
  const nonceWindow = wholeSeconds(options.nonceWindow, 60, 'dpop.nonceWindow', 10, 3600);
  let nonces: DpopNonces | undefined;
  if (requireNonce) {
    const pepper = ctx.options.pepper;
    const secret =
      options.nonceSecret !== undefined
        ? toKeyObject(options.nonceSecret, 'dpop.nonceSecret')
        : pepper !== undefined
          ? createSecretKey(createHmac('sha256', pepper).update('dpop-nonce-secret').digest())
          : undefined;
    if (secret === undefined) {
      throw invalidOption(
        'dpop.requireNonce needs dpop.nonceSecret (or a kit pepper), the same on every instance',
      );
    }
    nonces = createDpopNonces(secret, nonceWindow);
  } else if (options.nonceSecret !== undefined) {
    toKeyObject(options.nonceSecret, 'dpop.nonceSecret');
  }
  const { store } = ctx;
  const markUsed = store.markUsed?.bind(store);
  // A proof is accepted until iat + maxAge, and iat may be up to leeway ahead: remember it as long.
  const replayTtl = maxAge + leeway + 1;

  return Object.freeze({
    enabled: markUsed !== undefined,
    algorithms: Object.freeze(algorithms),
    requireNonce,
    bindConfidentialRefreshTokens: bindConfidential,
    nonce: () => nonces?.current(ctx.now()),
    async verify(input: Readonly<DpopProofInput>): Promise<VerifiedDpopProof> {
      if (input.proofs.length !== 1) throw invalidProof('not exactly one DPoP header');
      if (markUsed === undefined) throw invalidProof('this store has no replay cache');
      const now = ctx.now();
      const checked = checkProof(input.proofs[0], {
        method: input.method,
        url: input.url,
        now,
        algorithms,
        maxAge,
        leeway,
        ...(input.accessToken === undefined ? {} : { accessToken: input.accessToken }),
        ...(input.jkt === undefined ? {} : { jkt: input.jkt }),
        ...(nonces === undefined
          ? {}
          : {
              nonce: { accepts: (n: unknown) => nonces.accepts(n, now), current: () => nonces.current(now) },
            }),
      });
      // Last: only a proof that passed every check consumes its jti, on every instance.
      const first = await ctx.guard(() => markUsed(replayKey(checked.jkt, checked.jti), replayTtl));
      if (!first) throw invalidProof('the proof was used before');
      return { jkt: checked.jkt };
    },
  });
}

/** The thumbprint a verified token is bound to (`cnf.jkt`, RFC 9449 §6), if any. */
export function boundJkt(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = Object.hasOwn(claims, 'cnf') ? claims.cnf : undefined;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' ? jkt : undefined;
}

/** `invalid_dpop_proof` for a surface that needs a proof and got none. */
export function proofRequired(): TokenError {
  return invalidProof('a DPoP proof is required');
}
