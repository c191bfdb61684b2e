/**
 * Optional Prometheus metrics (prom-client, an optional peer dependency): token events by type,
 * issuance, authentication failures, store errors, and `requireToken` outcomes and latency.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type * as PromClient from 'prom-client';
import type { TokenEvent, TokenEventListener } from '../core/events';
import { tokenErrorCodeOf } from './error-response';
import { functionOption, matchingString, objectWith, positiveNumbers } from '../util/options';

/**
 * The part of a prom-client `Registry` the metrics use, declared here so that the package's types
 * never import prom-client: apps without metrics compile without it installed (and with
 * `skipLibCheck: false`). A prom-client `Registry` is one.
 */
export interface MetricsRegistry {
  /** Adds a metric (prom-client's `Registry.registerMetric`). */
  registerMetric(metric: never): void;
  /** The registry in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The `Content-Type` of {@link MetricsRegistry.metrics}. */
  readonly contentType: string;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions<R extends MetricsRegistry = MetricsRegistry> {
  /** Registry the metrics are registered in (a prom-client `Registry`); @default a new `Registry` of its own. */
  readonly registry?: R;
  /** Prefix of every metric name; @default `etk_`. */
  readonly prefix?: string;
  /**
   * Buckets of the validation-latency histogram, in seconds;
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
   */
  readonly latencyBuckets?: readonly number[];
}

/** What {@link createMetrics} returns. */
export interface TokenKitMetrics<R extends MetricsRegistry = MetricsRegistry> {
  /** The registry holding the metrics: the one given, typed as given, or the metrics' own. */
  readonly registry: R;
  /** Serves the registry in the Prometheus text format: `app.get('/metrics', metrics.handler)`. */
  readonly handler: RequestHandler;
  /** Counts audit events: pass as the kit's `onEvent` (or compose it with a logger). */
  readonly onEvent: TokenEventListener;
  /**
   * Wraps a `requireToken` middleware to count its outcomes and observe its latency:
   * `app.get('/me', metrics.observe(requireToken({ kit })), handler)`.
   */
  observe(middleware: RequestHandler): RequestHandler;
}

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const LABEL_VALUE = /^[a-z][a-z0-9_]{0,39}$/;

/** Label values come from a closed vocabulary; anything else is `other` (bounded cardinality). */
function label(value: string | undefined): string {
  return value !== undefined && LABEL_VALUE.test(value) ? value : value === undefined ? 'none' : 'other';
}

function loadPromClient(): typeof PromClient {
  try {
    // Loaded on first use so that apps without metrics need not install the optional peer.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as typeof PromClient;
  } catch (err) {
    throw new Error('createMetrics needs the optional peer dependency prom-client: npm install prom-client', {
      cause: err,
    });
  }
}

/**
 * Builds Prometheus metrics for a token kit. Metric names (with the default prefix):
 *
 * - `etk_token_events_total{type,reason}` — every audit event;
 * - `etk_tokens_issued_total{binding}` — access tokens issued (`binding`: none, employer, employee);
 * - `etk_auth_failures_total{reason}` — failed credential and token checks;
 * - `etk_store_errors_total{source}` — store outages (`store`, `error`, `rate_limit_store`);
 * - `etk_token_validations_total{outcome}` and `etk_token_validation_duration_seconds{outcome}` —
 *   `requireToken` results (`valid`, `missing_token`, `invalid_token`, `expired_token`,
 *   `insufficient_scope`, `invalid_request`, `invalid_dpop_proof`, `use_dpop_nonce`,
 *   `service_unavailable`) and latency.
 *
 * No label ever holds an id, a token or a client: cardinality stays bounded.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * const kit = createTokenKit({ store, keys, issuer, onEvent: metrics.onEvent });
 * app.get('/metrics', metrics.handler);
 * app.get('/me', metrics.observe(requireToken({ kit })), handler);
 * ```
 */
export function createMetrics<R extends MetricsRegistry = MetricsRegistry>(
  options: Readonly<MetricsOptions<R>> = {},
): TokenKitMetrics<R> {
  const prom = loadPromClient();
  const registry = (options.registry ?? new prom.Registry()) as R;
  objectWith(registry, ['registerMetric'], 'createMetrics: registry', 'a prom-client Registry');
  const prefix = matchingString(
    options.prefix,
    'etk_',
    'createMetrics: prefix',
    /^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/,
    'a valid metric-name prefix',
  );
  const buckets = positiveNumbers(options.latencyBuckets, DEFAULT_BUCKETS, 'createMetrics: latencyBuckets');
  // prom-client checks the registry at run time; its own type is needed inside only.
  const registers = [registry as unknown as PromClient.Registry];

  const events = new prom.Counter({
    name: `${prefix}token_events_total`,
    help: 'Token audit events by type and reason.',
    labelNames: ['type', 'reason'] as const,
    registers,
  });
  const issued = new prom.Counter({
    name: `${prefix}tokens_issued_total`,
    help: 'Access tokens issued, by binding type.',
    labelNames: ['binding'] as const,
    registers,
  });
  const authFailures = new prom.Counter({
    name: `${prefix}auth_failures_total`,
    help: 'Failed credential and token checks, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const storeErrors = new prom.Counter({
    name: `${prefix}store_errors_total`,
    help: 'Token-store and rate-limit-store outages seen by requests, by source.',
    labelNames: ['source'] as const,
    registers,
  });
  const validations = new prom.Counter({
    name: `${prefix}token_validations_total`,
    help: 'requireToken results by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const latency = new prom.Histogram({
    name: `${prefix}token_validation_duration_seconds`,
    help: 'requireToken latency in seconds, by outcome.',
    labelNames: ['outcome'] as const,
    buckets,
    registers,
  });

  function onEvent(event: TokenEvent): void {
    events.inc({ type: label(event.type), reason: label(event.reason) });
    switch (event.type) {
      case 'issued':
        issued.inc({ binding: label(event.boundEntity?.type ?? 'none') });
        break;
      case 'auth_failed':
        authFailures.inc({ reason: label(event.reason) });
        break;
      case 'store_unavailable':
        storeErrors.inc({ source: label(event.reason) });
        break;
      default:
        break;
    }
  }

  async function serve(res: Response): Promise<void> {
    const body = await registry.metrics();
    res.set('Content-Type', registry.contentType);
    res.set('Cache-Control', 'no-store');
    res.status(200).send(body);
  }

  function metricsHandler(_req: Request, res: Response, next: NextFunction): void {
    serve(res).catch(next);
  }

  function observe(middleware: RequestHandler): RequestHandler {
    functionOption(middleware, 'metrics.observe: middleware');
    return function observedRequireToken(req: Request, res: Response, next: NextFunction): void {
      const stop = latency.startTimer();
      let settled = false;
      const settle = (outcome: string): void => {
        if (settled) return;
        settled = true;
        const value = label(outcome);
        stop({ outcome: value });
        validations.inc({ outcome: value });
      };
      // The middleware answered by itself (401/403/503): its error code is the outcome.
      res.once('finish', () => settle(tokenErrorCodeOf(res) ?? `status_${res.statusCode}`));
      void middleware(req, res, (err?: unknown) => {
        settle(err === undefined ? 'valid' : 'error');
        next(err);
      });
    };
  }

  return Object.freeze({ registry, handler: metricsHandler, onEvent, observe });
}
