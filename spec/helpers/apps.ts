/**
 * App fixtures shared by the rate-limit specs: one user, one credential of every kind in a kit, and
 * routers A–D mounted as in the demo app.
 */
import express, { type Express } from 'express';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenKit } from '../../lib/core/token-kit';
import type { RouterRateLimitOption } from '../../lib/middleware/rate-limit';
import { createApiKeyRouter } from '../../lib/routers/api-key-router';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createProviderRouter } from '../../lib/routers/provider-router';

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
