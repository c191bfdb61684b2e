/**
 * App fixtures shared by the router and rate-limit specs: one user, one credential of every kind in
 * a kit, each router at the demo's mount on a development-mode app, and a `requireToken` probe.
 */
import express, { type Express, type RequestHandler } from 'express';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenKit } from '../../lib/core/token-kit';
import type { RouterRateLimitOption } from '../../lib/middleware/rate-limit';
import { createApiKeyRouter, type ApiKeyRouterOptions } from '../../lib/routers/api-key-router';
import { createAuthRouter, type AuthRouterOptions } from '../../lib/routers/auth-router';
import { createOAuthRouter, type OAuthRouterOptions } from '../../lib/routers/oauth-router';
import { createProviderRouter } from '../../lib/routers/provider-router';
import type { AuthInfo } from '../../lib/types';

/** The users {@link verifyUser} knows, by name, with their passwords. */
export const USERS: Readonly<Record<string, string>> = { alice: 'alice-password-1' };

/** Accepts the {@link USERS}, as `user-<name>`. */
export const verifyUser: UserVerifier = async (username, password) =>
  Object.hasOwn(USERS, username) && USERS[username] === password ? { sub: `user-${username}` } : null;

/** Every credential the specs use, created in a kit by {@link seedCredentials}. */
export interface Credentials {
  readonly apiKey: string;
  readonly providerKey: string;
  readonly providerId: string;
  readonly providerClientId: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** Creates an API key, a provider with one client, and an application with every grant type. */
export async function seedCredentials(kit: TokenKit): Promise<Credentials> {
  const apiKey = (await kit.credentials.createApiKey({ name: 'key' })).key;
  const provider = await kit.credentials.createProvider();
  const client = await kit.credentials.createProviderClient(provider.id, { audience: 'https://api.test' });
  const app = await kit.credentials.createApplication({
    name: 'App',
    grantTypes: ['client_credentials', 'password', 'refresh_token'],
  });
  return {
    apiKey,
    providerKey: provider.apiKeys[0]!,
    providerId: provider.id,
    providerClientId: client.id,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
  };
}

/**
 * Routers A–D at the demo's mounts (`/v1/auth`, `/v1`, `/api` with password client `pw`, root), all
 * given `rateLimit`; one hop of `X-Forwarded-For` trusted unless `trustProxy` is false (specs only).
 */
export function buildRoutersApp(kit: TokenKit, rateLimit: RouterRateLimitOption, trustProxy = true): Express {
  const app = express();
  if (trustProxy) app.set('trust proxy', 1);
  app.use('/v1/auth', createApiKeyRouter({ kit, rateLimit }));
  app.use('/v1', createProviderRouter({ kit, rateLimit }));
  app.use('/api', createAuthRouter({ kit, rateLimit, passwordClientId: 'pw' }));
  app.use(createOAuthRouter({ kit, rateLimit }));
  return app;
}

/** A Basic header with both parts percent-encoded by `encodeURIComponent`. */
export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/**
 * An empty app for router specs, in Express's `development` mode: Express's own error handler
 * would print a stack there, so a spec asserting a clean body shows that the kit's handler answered.
 */
export function developmentApp(): Express {
  const app = express();
  app.set('env', 'development');
  return app;
}

/** What a probe answers for the identity `requireToken` attached (each spec picks its fields). */
export type ProbeBody = (auth: AuthInfo) => unknown;

/** A probe answering the token's subject and client id. */
export const subjectAndClient: ProbeBody = (auth) => ({ sub: auth.subject, clientId: auth.clientId });

/**
 * Adds `GET <path>` behind `guard` (a `requireToken(…)`), answering `body(req.auth)` as JSON: the
 * spec's way to check that an issued token works. Pass the guard the spec's other routes share,
 * so that they share its remembered verifications too.
 */
export function mountProbe(
  app: Express,
  guard: RequestHandler,
  body: ProbeBody = subjectAndClient,
  path = '/probe',
): Express {
  app.get(path, guard, (req, res) => {
    res.json(body(req.auth!));
  });
  return app;
}

/** A {@link developmentApp} with `createAuthRouter` at the demo's mount, `/api`. */
export function authRouterApp(kit: TokenKit, options: Partial<AuthRouterOptions> = {}): Express {
  const app = developmentApp();
  app.use('/api', createAuthRouter({ kit, ...options }));
  return app;
}

/** A {@link developmentApp} with `createOAuthRouter` at the root. */
export function oauthRouterApp(kit: TokenKit, options: Partial<OAuthRouterOptions> = {}): Express {
  const app = developmentApp();
  app.use(createOAuthRouter({ kit, ...options }));
  return app;
}

/** A {@link developmentApp} with `createAuthRouter` at `/api` and `createOAuthRouter` at the root, on one kit. */
export function authAndOAuthRoutersApp(kit: TokenKit, authOptions: Partial<AuthRouterOptions> = {}): Express {
  const app = authRouterApp(kit, authOptions);
  app.use(createOAuthRouter({ kit }));
  return app;
}

/** A {@link developmentApp} with `createProviderRouter` at the demo's mount, `/v1`. */
export function providerRouterApp(kit: TokenKit): Express {
  const app = developmentApp();
  app.use('/v1', createProviderRouter({ kit }));
  return app;
}

/** A {@link developmentApp} with `createApiKeyRouter` at the demo's mount, `/v1/auth`. */
export function apiKeyRouterApp(kit: TokenKit, options: Partial<ApiKeyRouterOptions> = {}): Express {
  const app = developmentApp();
  app.use('/v1/auth', createApiKeyRouter({ kit, ...options }));
  return app;
}

/**
 * A plain app (Express's defaults, no proxy trusted) with the four routers at the demo's mounts and
 * their default options: `createApiKeyRouter` at `/v1/auth`, `createProviderRouter` at `/v1`,
 * `createAuthRouter` at `/api`, `createOAuthRouter` at the root.
 */
export function routersAtDemoMounts(kit: TokenKit): Express {
  const app = express();
  app.use('/v1/auth', createApiKeyRouter({ kit }));
  app.use('/v1', createProviderRouter({ kit }));
  app.use('/api', createAuthRouter({ kit }));
  app.use(createOAuthRouter({ kit }));
  return app;
}
