/**
 * The demo Express app of `npm start`: the four routers at the paths docs/getting-started.md lists
 * and the guarded sample resources of docs/require-token.md ("The demo server's guarded routes").
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { TokenError } from '../errors';
import type { TokenKit } from '../core/token-kit';
import { createErrorHandler, sendError, toTokenError } from '../middleware/error-response';
import { requireToken } from '../middleware/require-token';
import { requireBinding } from '../middleware/guards';
import { createRateLimits, isRateLimits, type RouterRateLimitOption } from '../middleware/rate-limit';
import type { TokenKitMetrics } from '../middleware/metrics';
import { createApiKeyRouter } from '../routers/api-key-router';
import { createProviderRouter } from '../routers/provider-router';
import { createAuthRouter } from '../routers/auth-router';
import { createOAuthRouter } from '../routers/oauth-router';
import { seedEmployerResolver, type Seed } from './seed';
import { seedPasswordClientId } from './seed-kit';
import { missingOption, wholeNumber } from '../util/options';

/** Prefix of createApiKeyRouter's access tokens in the demo (`vit_at_`, as docs/router-a-api-keys.md shows). */
export const DEMO_ACCESS_TOKEN_PREFIX = 'vit_at_';

/** Options of {@link createDemoApp}. */
export interface DemoAppOptions {
  /** The token kit; build it with `verifyUser` from `createSeedUserVerifier` for the password grant. */
  readonly kit: TokenKit;
  /** The seed: employers answer the employee guard, applications pick the password-grant client. */
  readonly seed: Seed;
  /**
   * Client id of password-grant tokens on createAuthRouter.
   * @default the first seeded application whose `grantTypes` include `password`, else createAuthRouter's default.
   */
  readonly passwordClientId?: string;
  /** Called with unexpected errors (500s), for logging; the response never carries them. */
  readonly onError?: (err: unknown) => void;
  /**
   * Brute-force limits shared by all four routers: a `createRateLimits()` object (Redis-backed when the
   * kit runs on Redis) or its options. @default `createRateLimits()` (in memory)
   */
  readonly rateLimit?: RouterRateLimitOption;
  /**
   * Number of proxy hops in front of the app whose `X-Forwarded-For` is trusted for `req.ip` (rate
   * limits and audit events); @default 0 (the socket address; `X-Forwarded-For` is ignored).
   */
  readonly trustProxyHops?: number;
  /** Prometheus metrics: served at `GET /metrics`, and the guarded routes are observed. @default none */
  readonly metrics?: TokenKitMetrics;
  /** Lifetime of createApiKeyRouter's access tokens in seconds (createApiKeyRouter's `ttl`); @default createApiKeyRouter's 900. */
  readonly apiKeyTokenTtl?: number;
}

/** Sample plans served by `GET /api/plans/`. */
const PLANS = Object.freeze([
  { id: 'plan_basic', name: 'Basic', monthlyPrice: 0 },
  { id: 'plan_plus', name: 'Plus', monthlyPrice: 25 },
]);

/**
 * Builds the demo app: createApiKeyRouter at `/v1/auth` (tokens `vit_at_…`), createProviderRouter at `/v1`, createAuthRouter at
 * `/api`, createOAuthRouter at `/`, and the guarded sample resources `GET /v1/employers/:employerId`,
 * `GET /v1/employees/:employeeId` and `GET /api/plans/`. Unknown paths answer 404 and errors never
 * carry a stack trace.
 *
 * @example
 * ```ts
 * const kit = createTokenKit({ store, keys, issuer, verifyUser: await createSeedUserVerifier(seed.users) });
 * await applySeed(kit, seed);
 * createDemoApp({ kit, seed }).listen(3000);
 * ```
 */
export function createDemoApp(options: Readonly<DemoAppOptions>): Express {
  if (!options?.kit?.grants) throw missingOption('createDemoApp needs { kit }');
  if (!options.seed || !Array.isArray(options.seed.employers))
    throw missingOption('createDemoApp needs { seed } from parseSeed');
  const { kit, seed, onError } = options;
  const passwordClientId = options.passwordClientId ?? seedPasswordClientId(seed);
  const employerOf = seedEmployerResolver(seed);
  const employeesOf = new Map(seed.employers.map((e) => [e.id, e.employees]));

  const trustProxyHops = wholeNumber(options.trustProxyHops, 0, 'trustProxyHops', 0, 10);
  // One set of limits for every router: one budget per IP and per credential across the surfaces.
  const rateLimit = isRateLimits(options.rateLimit) ? options.rateLimit : createRateLimits(options.rateLimit);
  const { metrics } = options;

  const app = express();
  app.disable('x-powered-by');
  if (trustProxyHops > 0) app.set('trust proxy', trustProxyHops);
  if (metrics) app.get('/metrics', metrics.handler);

  // The demo lets a key bind only to entities its seed file knows.
  const knownEntities = new Set(seed.employers.flatMap((e) => [e.id, ...e.employees]));
  const authorizeBinding = (_key: unknown, entity: { id: string }): boolean => knownEntities.has(entity.id);
  app.use(
    '/v1/auth',
    createApiKeyRouter({
      kit,
      tokenPrefix: DEMO_ACCESS_TOKEN_PREFIX,
      authorizeBinding,
      rateLimit,
      ...(options.apiKeyTokenTtl === undefined ? {} : { ttl: options.apiKeyTokenTtl }),
    }),
  );
  app.use('/v1', createProviderRouter({ kit, rateLimit }));
  app.use(
    '/api',
    createAuthRouter({ kit, rateLimit, ...(passwordClientId === undefined ? {} : { passwordClientId }) }),
  );

  const guard = requireToken({ kit });
  const authenticated = metrics ? metrics.observe(guard) : guard;

  app.get(
    '/v1/employers/:employerId',
    authenticated,
    requireBinding({ param: 'employerId', type: 'employer', allowUnbound: true, kit }),
    function getEmployer(req: Request, res: Response) {
      // The same parameter the guard checked, never another source of the id.
      const id = String(req.params.employerId);
      res.json({ id, type: 'employer', employees: employeesOf.get(id) ?? [] });
    },
  );

  app.get(
    '/v1/employees/:employeeId',
    authenticated,
    requireBinding({ param: 'employeeId', type: 'employee', employerOf, allowUnbound: true, kit }),
    function getEmployee(req: Request, res: Response) {
      const id = String(req.params.employeeId);
      const employer = seed.employers.find((e) => e.employees.includes(id));
      res.json({ id, type: 'employee', employerId: employer?.id ?? null });
    },
  );

  app.get('/api/plans', authenticated, function listPlans(req: Request, res: Response) {
    res.json({ plans: PLANS, sub: req.auth?.subject });
  });

  // createOAuthRouter last, so the sample resources above do not pass through its middleware.
  app.use('/', createOAuthRouter({ kit, rateLimit }));

  app.use(function notFound(_req: Request, res: Response) {
    sendError(res, new TokenError('not_found'), 'errors');
  });

  const formatError = createErrorHandler('errors');
  app.use(function demoErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction) {
    const mapped = toTokenError(err);
    if (onError && !(mapped instanceof TokenError)) onError(err);
    formatError(mapped, req, res, next);
  });
  return app;
}
