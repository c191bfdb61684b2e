/**
 * Assertions on HTTP responses shared by the router specs: the three error body formats (named after
 * the body they check: `expectErrorsBody`, `expectCodeBody`, `expectOAuthErrorBody`) and the
 * no-store headers every token response carries.
 */
import type { Response } from 'supertest';

/** Asserts `Cache-Control: no-store` and `Pragma: no-cache`. */
export function expectNoStore(res: Response): void {
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.pragma).toBe('no-cache');
}

/** Asserts a JSON body that is neither HTML nor a stack trace. */
export function expectCleanJson(res: Response): void {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.text).not.toMatch(/<html|<pre|\bat .+\(.+:\d+:\d+\)|SyntaxError|TypeError/i);
}

/**
 * Asserts an error in the `errors` format: status, `{"errors":[{"errorType","message"}]}` and nothing else, no-store.
 * `message` is checked exactly when given, else only as a non-empty string.
 */
export function expectErrorsBody(res: Response, status: number, errorType: string, message?: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status,
    body: { errors: [{ errorType, message: message ?? expect.stringMatching(/\S/) }] },
  });
  expectCleanJson(res);
  expectNoStore(res);
}

/**
 * Asserts an error in the `code` format: status, `{"code","message"}` and nothing else, no-store.
 * `message` is checked exactly when given.
 */
export function expectCodeBody(res: Response, status: number, code: string, message?: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status,
    body: { code, message: message ?? expect.stringMatching(/\S/) },
  });
  expectCleanJson(res);
  expectNoStore(res);
}

/** Characters RFC 6749 §5.2 allows in `error_description`: %x20-21 / %x23-5B / %x5D-7E. */
const DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Asserts an error in the `oauth` format (RFC 6749 §5.2): status, `{"error","error_description"}` and
 * nothing else, no-store. `error_description` is checked only for its allowed characters.
 */
export function expectOAuthErrorBody(res: Response, status: number, error: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status,
    body: { error, error_description: expect.stringMatching(DESCRIPTION_CHARS) },
  });
  expectCleanJson(res);
  expectNoStore(res);
}

/** The `errors`-format body of a request with an expired access token. */
export const EXPIRED_TOKEN_BODY = {
  errors: [{ errorType: 'expired_token', message: 'Access token expired' }],
} as const;

/** The body of a request of about `kilobytes` KB: a JSON object padded with one long string. */
export function paddedJson(kilobytes: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...fields, padding: 'x'.repeat(kilobytes * 1024) });
}
