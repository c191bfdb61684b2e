/**
 * createProviderRouter's provider client tokens (RFC 9068 JWTs), authenticated by a provider's API key. Not
 * an OAuth grant type, hence not in the registry.
 */
import { TokenError } from '../../errors';
import { DEFAULT_PROVIDER_TOKEN_TTL, MAX_PROVIDER_TOKEN_TTL } from '../../defaults';
import type { ProviderTokenInput } from './types';
import type { IssuedAccessToken } from '../token-service';
import { issuanceClaims } from './claims';
import type { GrantContext } from './context';

/**
 * A provider's client token (RFC 9068 JWT). Throws `unauthorized` for a bad key, `not_found` for an
 * unknown provider/client or another provider's key, `invalid_request` for a bad lifetime.
 */
export async function providerToken(
  context: GrantContext,
  input: Readonly<ProviderTokenInput>,
): Promise<IssuedAccessToken> {
  const provider = await context.credentials.authenticateProviderKey(input.apiKey);
  if (provider === null) {
    context.tokens.emit({
      type: 'auth_failed',
      ...(input.ip === undefined ? {} : { ip: input.ip }),
      reason: 'provider_key',
    });
    throw new TokenError('unauthorized');
  }
  const expiresIn = input.expiresIn ?? 0;
  if (!Number.isSafeInteger(expiresIn) || expiresIn < 0 || expiresIn > MAX_PROVIDER_TOKEN_TTL) {
    throw new TokenError(
      'invalid_request',
      `expiresIn must be a whole number of seconds from 0 to ${MAX_PROVIDER_TOKEN_TTL}`,
    );
  }
  if (provider.id !== input.providerId) throw new TokenError('not_found');
  const client = await context.credentials.getProviderClient(input.clientId);
  if (client === null || client.providerId !== provider.id) throw new TokenError('not_found');
  const issuer =
    provider.domain !== null && !input.forceDefaultDomain
      ? `https://${provider.domain}`
      : context.tokens.issuer;
  const claims = await issuanceClaims(context, 'jwt', {
    grantType: 'provider_token',
    subject: client.id,
    clientId: client.id,
    scope: '',
    audience: [client.audience],
    boundEntity: null,
    application: null,
    provider,
    providerClient: client,
  });
  return context.tokens.issueAccessToken({
    subject: client.id,
    clientId: client.id,
    issuer,
    audience: client.audience,
    audienceAsArray: input.audienceAsArray ?? false,
    typ: input.useJwtType ? 'JWT' : 'at+jwt',
    ttl: expiresIn === 0 ? DEFAULT_PROVIDER_TOKEN_TTL : expiresIn,
    format: 'jwt',
    ...claims,
  });
}
