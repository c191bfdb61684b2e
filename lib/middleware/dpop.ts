/**
 * DPoP (RFC 9449) at the HTTP surfaces: reading the `DPoP` header, the request's external URL
 * for `htu`, the `Authorization: DPoP` scheme of `requireToken`, its `WWW-Authenticate: DPoP`
 * challenge (RFC 9449 §7.1) and the token endpoints' proof (RFC 9449 §5). The checks themselves
 * are the core's (`TokenService.verifyDpopProof`).
 */
import type { Request, Response } from 'express';
import { TokenError } from '../errors';
import type { TokenService } from '../core/token-service';
import type { AuthInfo } from '../types';
import { boundJkt } from '../core/dpop/dpop-verifier';
import { absoluteHttpUrl, booleanOption, objectOption } from '../util/options';
import { sendError, type ErrorFormatOption } from './error-response';

/** The `dpop` option of `requireToken`. */
export interface RequireTokenDpopOptions {
  /** Refuse Bearer tokens on this route: only DPoP-bound tokens with a proof pass. @default false */
  readonly required?: boolean;
  /**
   * The public origin clients address this app at (e.g. `https://api.example.com`), for the
   * proof's `htu` behind a proxy that rewrites the host. @default the request's protocol and host
   * (Express's `trust proxy` setting decides whether forwarded headers count)
   */
  readonly baseUrl?: string;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Every `DPoP` header line of a request (duplicates kept, so two proofs can be refused). */
export function dpopHeaderValues(req: Pick<Request, 'rawHeaders' | 'headers'>): string[] {
  const raw = req.rawHeaders;
  const found: string[] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'dpop') found.push(raw[i + 1]!);
    }
    return found;
  }
  const h = req.headers.dpop;
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}

/**
 * The absolute URL the client addressed: `baseUrl` (a public origin) or the request's protocol
 * and host, then the original path and query (RFC 9449 §4.3 compares them without the query).
 */
export function externalUrl(req: Request, baseUrl?: string): string {
  if (baseUrl !== undefined) return `${baseUrl}${req.originalUrl}`;
  const raw = req.get('host') ?? '';
  const host = typeof req.host === 'string' && req.host !== raw.split(':')[0] ? req.host : raw;
  return `${req.protocol}://${host}${req.originalUrl}`;
}

/**
 * The thumbprint of a token request's DPoP proof (RFC 9449 §5), or undefined when it sent none.
 * `url` is the endpoint's URL as the client addressed it (the metadata's, for createOAuthRouter).
 */
export async function tokenRequestProof(
  tokens: TokenService,
  req: Request,
  url: string,
): Promise<string | undefined> {
  const proofs = dpopHeaderValues(req);
  if (proofs.length === 0) return undefined;
  const { jkt } = await tokens.verifyDpopProof({ proofs, method: req.method, url });
  return jkt;
}

/** Sets `DPoP-Nonce` with the current nonce (RFC 9449 §8.2), when the kit requires nonces. */
export function setDpopNonce(tokens: TokenService, res: Response): void {
  const nonce = tokens.dpopNonce();
  if (nonce !== undefined) res.set('DPoP-Nonce', nonce);
}

/** What `requireToken` does about DPoP, resolved once. */
export interface DpopGuard {
  readonly required: boolean;
  /**
   * The token of an `Authorization: DPoP <token>` request, or undefined for any other scheme;
   * `invalid_request` for a malformed value.
   */
  token(authorization: readonly string[]): string | undefined;
  /** Checks the request's proof against the verified token (RFC 9449 §7.1). */
  check(req: Request, res: Response, token: string, auth: AuthInfo): Promise<void>;
  /** Refuses a Bearer request for a DPoP-bound token, or any Bearer request when DPoP is required. */
  checkBearer(auth: AuthInfo): void;
  /** Sends a refusal of a DPoP request (or of any request, when required) with the DPoP challenge. */
  refuse(res: Response, err: unknown): void;
}

/** Resolves `requireToken`'s `dpop` option (`true`, `false` or {@link RequireTokenDpopOptions}). */
export function createDpopGuard(
  option: boolean | Readonly<RequireTokenDpopOptions> | undefined,
  tokens: TokenService,
  realm: string,
  format: ErrorFormatOption,
): DpopGuard | undefined {
  if (option === false) return undefined;
  const given = option === undefined || option === true ? {} : objectOption(option, 'requireToken: dpop');
  const required = booleanOption(given.required, false, 'requireToken: dpop.required');
  const baseUrl =
    given.baseUrl === undefined
      ? undefined
      : absoluteHttpUrl(given.baseUrl, 'requireToken: dpop.baseUrl').replace(/\/+$/, '');
  const algs = tokens.dpop.algorithms.join(' ');

  const challenge = (err: TokenError): string => {
    const parts = [`realm="${realm}"`];
    switch (err.code) {
      case 'missing_token':
        break;
      case 'insufficient_scope':
        parts.push('error="insufficient_scope"');
        break;
      case 'invalid_dpop_proof':
      case 'use_dpop_nonce':
      case 'invalid_request':
        parts.push(`error="${err.code}"`, `error_description="${err.message}"`);
        break;
      default:
        parts.push('error="invalid_token"', `error_description="${err.message}"`);
    }
    parts.push(`algs="${algs}"`);
    return `DPoP ${parts.join(', ')}`;
  };

  return {
    required,
    token(authorization) {
      if (authorization.length !== 1) return undefined;
      const match = /^([^ \t]*)(?:[ ]+(.*))?$/s.exec(authorization[0]!);
      if (match?.[1]?.toLowerCase() !== 'dpop') return undefined;
      const token = match[2] ?? '';
      if (token === '' || !B64TOKEN.test(token)) {
        throw new TokenError('invalid_request', 'Malformed Authorization header', { status: 400 });
      }
      return token;
    },
    async check(req, res, token, auth) {
      const jkt = boundJkt(auth.claims);
      if (jkt === undefined) throw new TokenError('invalid_token', 'Access token is not DPoP-bound');
      await tokens.verifyDpopProof({
        proofs: dpopHeaderValues(req),
        method: req.method,
        url: externalUrl(req, baseUrl),
        accessToken: token,
        jkt,
      });
      setDpopNonce(tokens, res);
    },
    checkBearer(auth) {
      if (required) throw new TokenError('invalid_token', 'A DPoP-bound access token is required');
      if (boundJkt(auth.claims) !== undefined)
        throw new TokenError('invalid_token', 'DPoP-bound access token sent as Bearer');
    },
    refuse(res, err) {
      if (!(err instanceof TokenError) || err.code === 'service_unavailable') {
        sendError(res, err, format);
        return;
      }
      // RFC 9449 §7.1 and §9: a refused proof at a resource is a 401 with the DPoP challenge.
      const status = err.status === 403 ? 403 : err.code === 'invalid_request' ? 400 : 401;
      sendError(res, err.with({ status, headers: { 'WWW-Authenticate': challenge(err) } }), format);
    },
  };
}
