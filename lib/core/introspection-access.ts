/**
 * Which tokens an application may introspect at `createOAuthRouter`'s `/oauth/introspect`
 * (RFC 7662 §2.1, §4: the authorization server decides which protected resources may introspect
 * which tokens). A leaf module: it imports nothing of the core.
 */

/**
 * An application's introspection permission:
 * - `'own'`: only the tokens issued to the application itself (rotations included);
 * - `'any'`: also every other application's active access tokens — for a resource server that
 *   checks the tokens it is shown. It learns the subject, scope and client of each; it never sees
 *   another application's refresh tokens, and it may not obtain tokens itself.
 */
export type IntrospectionAccess = 'own' | 'any';

/** The introspection permissions, in the order the CLI and the seed file list them. */
export const INTROSPECTION_ACCESS: readonly IntrospectionAccess[] = ['own', 'any'];

/** True when `value` is an {@link IntrospectionAccess}. */
export function isIntrospectionAccess(value: unknown): value is IntrospectionAccess {
  return value === 'own' || value === 'any';
}

/**
 * Checks an application's `introspection` option (a configuration value: a TypeError names the
 * option and the bad value); undefined means `'own'`.
 */
export function applicationIntrospection(value: unknown, option = 'introspection'): IntrospectionAccess {
  if (value === undefined) return 'own';
  if (!isIntrospectionAccess(value)) {
    throw new TypeError(
      `${option} must be one of ${INTROSPECTION_ACCESS.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Why an application with `introspection: 'any'` cannot have these token-requesting settings, or
 * undefined when it can. Such an application is a resource server: it introspects and never asks
 * for tokens, so a leaked secret of it reads token states but cannot mint a token.
 */
export function resourceServerProblem(settings: {
  readonly grantTypes?: readonly unknown[] | undefined;
  readonly scopes?: readonly unknown[] | undefined;
  readonly resources?: readonly unknown[] | undefined;
}): string | undefined {
  for (const name of ['grantTypes', 'scopes', 'resources'] as const) {
    const list = settings[name];
    if (list !== undefined && (!Array.isArray(list) || list.length > 0)) {
      return `an application with introspection "any" obtains no tokens: ${name} must be empty`;
    }
  }
  return undefined;
}

/** True when the application's record grants it `introspection: 'any'`. */
export function introspectsAny(app: { readonly introspection?: IntrospectionAccess }): boolean {
  return app.introspection === 'any';
}
