/**
 * createApiKeyRouter's exchange: an API key for a short-lived opaque access token, optionally bound to an
 * employer or employee. Not an OAuth grant type, hence not in the registry.
 */
import { serviceUnavailable, TokenError } from '../../errors';
import type { BoundEntity } from '../../types';
import type { BindingAuthorizer } from './types';
import type { IssuedAccessToken } from '../token-service';
import type { GrantContext } from './context';

/** Input of {@link exchangeApiKey}. */
export interface ApiKeyExchangeInput {
  readonly apiKey: unknown;
  readonly boundEntity: BoundEntity | null;
  readonly ttl: number;
  readonly prefix: string;
  /** The caller's address, for `auth_failed` audit events. */
  readonly ip?: string | undefined;
  readonly authorizeBinding?: BindingAuthorizer;
}

/**
 * API key → short-lived opaque access token. A binding the authorizer refuses — or any binding
 * when no authorizer is given (fail closed) — is 403 `insufficient_scope` and nothing is issued.
 */
export async function exchangeApiKey(
  context: GrantContext,
  input: Readonly<ApiKeyExchangeInput>,
): Promise<IssuedAccessToken> {
  const key = await context.credentials.authenticateApiKey(input.apiKey);
  if (key === null) {
    context.tokens.emit({
      type: 'auth_failed',
      ...(input.ip === undefined ? {} : { ip: input.ip }),
      reason: 'api_key',
    });
    throw new TokenError('invalid_api_key');
  }
  if (input.boundEntity !== null) {
    // Fail closed: without an authorizer no key may bind a token to any entity.
    const authorize = input.authorizeBinding;
    let allowed = false;
    try {
      if (authorize !== undefined) allowed = (await authorize(key, input.boundEntity)) === true;
    } catch (err) {
      throw serviceUnavailable(err);
    }
    if (!allowed) {
      context.tokens.emit({
        type: 'binding_denied',
        clientId: key.id,
        boundEntity: input.boundEntity,
        reason: 'issuance',
      });
      throw new TokenError('insufficient_scope', 'The API key may not bind to this entity');
    }
  }
  return context.tokens.issueAccessToken({
    subject: key.id,
    clientId: key.id,
    boundEntity: input.boundEntity,
    ttl: input.ttl,
    format: 'opaque',
    prefix: input.prefix,
  });
}
