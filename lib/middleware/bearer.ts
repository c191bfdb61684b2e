/**
 * RFC 6750 bearer-token extraction, framework-neutral.
 */
import { TokenError } from '../errors';

/** What the parser needs of a request. */
export interface BearerSource {
  /** `Authorization` values as received (one per header line). */
  readonly authorization: readonly string[];
  /** `access_token` from the query string, if any (never accepted; only detected). */
  readonly queryToken?: unknown;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Returns the bearer token, or throws: `missing_token` for no credentials or another scheme,
 * `invalid_request` for a malformed header, two headers, or a query token beside a header.
 * @see RFC 6750 §2.1, §2.3, §3.1
 */
export function extractBearerToken(source: BearerSource): string {
  const values = source.authorization;
  const hasQuery = source.queryToken !== undefined;
  if (values.length === 0) throw new TokenError('missing_token');
  if (hasQuery)
    throw new TokenError('invalid_request', 'More than one method used for authentication', { status: 400 });
  if (values.length > 1)
    throw new TokenError('invalid_request', 'More than one Authorization header', { status: 400 });
  const match = /^([^ \t]*)(?:([ \t]+)(.*))?$/s.exec(values[0]!);
  const scheme = match?.[1] ?? '';
  if (scheme.toLowerCase() !== 'bearer') throw new TokenError('missing_token');
  const separator = match?.[2] ?? '';
  const token = match?.[3] ?? '';
  if (separator.includes('\t') || token === '' || !B64TOKEN.test(token)) {
    throw new TokenError('invalid_request', 'Malformed Authorization header', { status: 400 });
  }
  return token;
}

/**
 * Reads `Authorization` header lines from a Node request (duplicates kept). Scans `rawHeaders`
 * when the request has them (no per-request allocation for the usual single header), else
 * `headersDistinct`, else `headers`.
 */
export function authorizationValues(req: {
  rawHeaders?: readonly string[];
  headersDistinct?: Record<string, string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
}): string[] {
  const raw = req.rawHeaders;
  if (Array.isArray(raw)) {
    let found: string[] | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 13 && name.toLowerCase() === 'authorization') (found ??= []).push(raw[i + 1]!);
    }
    return found ?? [];
  }
  const distinct = req.headersDistinct?.authorization;
  if (distinct) return distinct;
  const h = req.headers.authorization;
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}
