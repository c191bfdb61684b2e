/**
 * Assertions on HTTP responses shared by the router specs: the three error body formats and
 * the no-store headers every token response carries.
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
export function expectF1(res: Response, status: number, errorType: string, message?: string): void {
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
export function expectF2(res: Response, status: number, code: string, message?: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status,
    body: { code, message: message ?? expect.stringMatching(/\S/) },
  });
  expectCleanJson(res);
  expectNoStore(res);
}

/** The body of a request of about `kilobytes` KB: a JSON object padded with one long string. */
export function paddedJson(kilobytes: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...fields, padding: 'x'.repeat(kilobytes * 1024) });
}
