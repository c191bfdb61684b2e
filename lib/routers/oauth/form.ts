/**
 * createOAuthRouter's request parameters (RFC 6749 §3.2): `application/x-www-form-urlencoded` (UTF-8 only,
 * RFC 6749 Appendix B) or JSON object bodies, never the query string, at most
 * {@link MAX_PARAMETERS} parameters, none repeated but `resource` (RFC 8707 §2).
 */
import express, { type Request, type RequestHandler } from 'express';
import { TokenError } from '../../errors';
import { requestedResources } from '../../core/resource-indicators';
import { BODY_LIMIT, copyParams, MAX_PARAMETERS, utf8Parser, type Body } from '../shared';

const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * Reads `application/x-www-form-urlencoded` bodies as text; they are parsed by {@link parseForm}
 * because `express.urlencoded` silently turns repeated parameters into arrays. UTF-8 only
 * (RFC 6749 Appendix B): a body declared in another charset is refused before it is decoded.
 */
export const formTextParser: RequestHandler = utf8Parser(
  FORM_TYPE,
  express.text({ type: FORM_TYPE, limit: BODY_LIMIT, defaultCharset: 'utf-8' }),
);

/** The one parameter a token request may repeat: RFC 8707 §2 resource indicators. */
const REPEATABLE = 'resource';

/**
 * Parses a form body into a null-prototype object; a parameter sent twice is `invalid_request`,
 * except `resource`, whose values are collected in an array.
 * @see RFC 6749 §3.2 ("parameters MUST NOT be included more than once"), RFC 8707 §2
 */
export function parseForm(text: string): Body {
  const out = Object.create(null) as Record<string, unknown>;
  let count = 0;
  for (const [name, value] of new URLSearchParams(text)) {
    if (++count > MAX_PARAMETERS) throw new TokenError('invalid_request', 'Too many parameters');
    if (name === REPEATABLE && Object.hasOwn(out, name)) {
      const earlier = out[name];
      out[name] = Array.isArray(earlier) ? [...(earlier as string[]), value] : [earlier, value];
      continue;
    }
    if (Object.hasOwn(out, name)) throw new TokenError('invalid_request', 'A parameter was repeated');
    out[name] = value;
  }
  return out;
}

/** The request's parameters, from a form or JSON object body; anything else is `invalid_request`. */
export function readParams(req: Request): Body {
  if (req.url.includes('?') && new URL(req.url, 'http://localhost').search !== '') {
    throw new TokenError('invalid_request', 'Parameters must not be sent in the query string');
  }
  const raw: unknown = req.body;
  if (req.is(FORM_TYPE)) return parseForm(typeof raw === 'string' ? raw : '');
  if (req.is('application/json')) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new TokenError('invalid_request', 'The body must be a JSON object');
    }
    return copyParams(raw);
  }
  throw new TokenError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
}

/**
 * The `resource` parameters of a token request (RFC 8707 §2): one form field per value (or a JSON
 * string or array of strings), de-duplicated; `invalid_target` for a value that is not an absolute
 * URI without a fragment, or for too many.
 */
export function readResources(body: Body): readonly string[] {
  return requestedResources(body[REPEATABLE]);
}
