/**
 * The one outbound HTTP call of resource-server mode (metadata, JWKS, introspection): node's global
 * `fetch`, bounded in time (headers and body together) and in size (bytes counted while streaming,
 * the transfer aborted beyond the cap), answering only JSON. Anything else is a
 * {@link RemoteFetchError}; the caller decides whether that is a 401 or a 503.
 */

/** Time and size bounds of one outbound request. */
export interface FetchLimits {
  /** Longest time for the whole exchange, headers and body, in ms. */
  readonly timeoutMs: number;
  /** Largest accepted response body, in bytes. */
  readonly maxBytes: number;
}

/** Default timeout of every outbound request, in ms. */
export const DEFAULT_FETCH_TIMEOUT_MS = 3000;
/** Default size cap of every outbound response body, in bytes (1 MiB). */
export const DEFAULT_FETCH_MAX_BYTES = 1024 * 1024;

/** An outbound request that did not give a usable JSON answer. The message is internal. */
export class RemoteFetchError extends Error {
  /** The HTTP status when one arrived. */
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemoteFetchError';
    this.status = options.status;
  }
}

/** A JSON answer. */
export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** What {@link fetchJson} sends. */
export interface FetchJsonInit {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Fetches `url` and parses its JSON body, within `limits`. Redirects are refused (an issuer's
 * documents are fetched from the exact URL configured or published). Throws
 * {@link RemoteFetchError} on a timeout, a network failure, a status other than 200, a body that
 * is not `application/json` (or `application/*+json`), too large, or not valid JSON.
 */
export async function fetchJson(
  url: string,
  limits: FetchLimits,
  init: FetchJsonInit = {},
): Promise<JsonResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limits.timeoutMs);
  timer.unref();
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        method: init.method ?? 'GET',
        headers: { accept: 'application/json', ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body }),
        redirect: 'error',
        signal: controller.signal,
      });
    } catch (cause) {
      throw new RemoteFetchError(controller.signal.aborted ? 'timed out' : 'request failed', { cause });
    }
    const { status, headers } = response;
    if (status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new RemoteFetchError(`status ${status}`, { status });
    }
    if (!JSON_TYPE.test(headers.get('content-type') ?? '')) {
      await response.body?.cancel().catch(() => undefined);
      throw new RemoteFetchError('not a JSON response', { status });
    }
    const declared = Number(headers.get('content-length') ?? '0');
    if (declared > limits.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new RemoteFetchError('response larger than the size cap', { status });
    }
    const text = await readCapped(response, limits.maxBytes, controller);
    try {
      return { status, headers, body: JSON.parse(text) as unknown };
    } catch (cause) {
      throw new RemoteFetchError('malformed JSON', { status, cause });
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The body as UTF-8 text, counting bytes as they stream and aborting beyond `maxBytes`. */
async function readCapped(
  response: Response,
  maxBytes: number,
  controller: AbortController,
): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        controller.abort();
        throw new RemoteFetchError('response larger than the size cap', { status: response.status });
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof RemoteFetchError) throw cause;
    throw new RemoteFetchError(controller.signal.aborted ? 'timed out' : 'body read failed', { cause });
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}
