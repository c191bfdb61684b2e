/**
 * Audit-event sinks: JSON lines for a log stream, and fan-out to several listeners.
 */
import type { TokenEvent, TokenEventListener } from './events';

/** Where JSON lines go: `process.stdout`, a file stream, or anything with `write(string)`. */
export interface LineSink {
  write(line: string): unknown;
}

/** Options of {@link createJsonLineLogger}. */
export interface JsonLineLoggerOptions {
  /** Extra constant fields on every line, e.g. `{ service: 'auth' }`; @default none. */
  readonly fields?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The fields a line may carry, in this order. Anything else on an event object is dropped, so a
 * field added carelessly upstream can never carry a token or secret into the log.
 */
const FIELDS = [
  'type',
  'at',
  'jti',
  'familyId',
  'clientId',
  'subject',
  'boundEntity',
  'ip',
  'reason',
] as const;

/** One event as the plain object a log line holds (allowlisted fields only). */
export function auditRecord(event: TokenEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = event[field];
    if (value === undefined) continue;
    if (field === 'boundEntity') {
      out.boundEntity = value === null ? null : { id: event.boundEntity!.id, type: event.boundEntity!.type };
    } else {
      out[field] = value;
    }
  }
  return out;
}

/**
 * A {@link TokenEventListener} that writes each event as one JSON line:
 * `{"level":"info","msg":"token_event","type":"issued","at":…,"jti":…,…}`. Only the documented event
 * fields are written (ids, client, subject, binding, IP, reason) — never a token or a secret. A
 * sink that throws never affects the request.
 *
 * @example
 * ```ts
 * const kit = createTokenKit({ store, keys, issuer, onEvent: createJsonLineLogger(process.stdout) });
 * ```
 */
export function createJsonLineLogger(
  sink: LineSink,
  options: Readonly<JsonLineLoggerOptions> = {},
): TokenEventListener {
  if (!sink || typeof sink.write !== 'function')
    throw new TypeError('createJsonLineLogger needs a sink with write()');
  const fields = { ...options.fields };
  return function jsonLineLogger(event: TokenEvent): void {
    try {
      const level = event.type === 'auth_failed' || event.type === 'binding_denied' ? 'warn' : 'info';
      const severe =
        event.type === 'refresh_reuse_detected' ||
        event.type === 'store_unavailable' ||
        // a claims hook of the host failed: every issuance it runs for fails until it is fixed
        event.type === 'claims_refused';
      sink.write(
        `${JSON.stringify({ level: severe ? 'error' : level, msg: 'token_event', ...fields, ...auditRecord(event) })}\n`,
      );
    } catch {
      // a broken log sink must not break authentication
    }
  };
}

/**
 * One listener that calls each of `listeners` in turn (the kit takes one `onEvent`); a listener that
 * throws does not stop the others.
 *
 * @example
 * ```ts
 * onEvent: composeEventListeners(createJsonLineLogger(process.stdout), metrics.onEvent)
 * ```
 */
export function composeEventListeners(
  ...listeners: readonly (TokenEventListener | undefined)[]
): TokenEventListener {
  const all = listeners.filter((l): l is TokenEventListener => l !== undefined);
  for (const l of all) if (typeof l !== 'function') throw new TypeError('event listeners must be functions');
  return function composedEventListener(event: TokenEvent): void {
    for (const listener of all) {
      try {
        listener(event);
      } catch {
        // one sink failing must not silence the others
      }
    }
  };
}
