/**
 * Route guards that run after `requireToken`: scope and employer/employee binding.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { TokenError } from '../errors';
import { isEntityId } from '../core/binding';
import type { TokenService } from '../core/token-service';
import type { AuthInfo, BoundEntityType } from '../types';
import { DEFAULT_REALM } from '../defaults';
import { assertErrorFormat, type ErrorFormatOption } from './error-response';
import { sendBearerError } from './require-token';

/**
 * Application-supplied relationship lookup: does this employee belong to this employer?
 * Throwing (e.g. a database outage) answers 503, never a pass.
 */
export type EmployerResolver = (employerId: string, employeeId: string) => Promise<boolean> | boolean;

/** Options shared by guards. */
export interface GuardOptions {
  /** Realm in `WWW-Authenticate`; @default `api`. */
  readonly realm?: string;
  /** Error body format; @default `errors`. */
  readonly errorFormat?: ErrorFormatOption;
}

/** Options of {@link requireBinding}. */
export interface RequireBindingOptions extends GuardOptions {
  /** Route parameter holding the entity id, e.g. `employeeId`. */
  readonly param: string;
  /** What the parameter names. */
  readonly type: BoundEntityType;
  /**
   * For employee routes: lets an employer-bound token reach its own employees. Without it an
   * employer-bound token never reaches an employee route.
   */
  readonly employerOf?: EmployerResolver;
  /** Let tokens with no binding through; @default false (deny by default). */
  readonly allowUnbound?: boolean;
  /**
   * The token kit whose audit listener (`onEvent`) hears a `binding_denied` event for every denial;
   * @default none (no events).
   */
  readonly kit?: { readonly tokens: Pick<TokenService, 'emit'> };
}

function resolveGuardOptions(options: Readonly<GuardOptions>): { realm: string; format: ErrorFormatOption } {
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  return { realm: options.realm ?? DEFAULT_REALM, format };
}

/**
 * 403 `insufficient_scope` unless `req.auth` carries every one of `scopes`.
 *
 * @example
 * ```ts
 * app.post('/plans', requireToken({ kit }), requireScope(['plans:write']), handler);
 * ```
 */
export function requireScope(
  scopes: readonly string[],
  options: Readonly<GuardOptions> = {},
): RequestHandler {
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    scopes.some((s) => typeof s !== 'string' || s === '')
  ) {
    throw new TypeError('requireScope needs a non-empty array of scope strings');
  }
  const { realm, format } = resolveGuardOptions(options);
  const wanted = [...scopes];
  return function requireScopeMiddleware(req: Request, res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (!auth) return sendBearerError(res, new TokenError('missing_token'), realm, format);
    if (wanted.some((s) => !auth.scopes.includes(s))) {
      return sendBearerError(res, new TokenError('insufficient_scope'), realm, format, wanted);
    }
    next();
  };
}

/**
 * Enforces the token's employer/employee binding against a route parameter: exact, byte-for-byte
 * comparison; an employee-bound token reaches only itself; an employer-bound token reaches itself
 * and, when `employerOf` says so, its employees. The handler must use the same parameter.
 *
 * @example
 * ```ts
 * app.get('/v1/employees/:employeeId', requireToken({ kit }),
 *   requireBinding({ param: 'employeeId', type: 'employee', employerOf: isEmployerOf, allowUnbound: true }), handler);
 * ```
 */
export function requireBinding(options: Readonly<RequireBindingOptions>): RequestHandler {
  if (!options || typeof options.param !== 'string' || options.param === '') {
    throw new TypeError('requireBinding needs a route parameter name in `param`');
  }
  if (options.type !== 'employer' && options.type !== 'employee') {
    throw new TypeError(
      `requireBinding type must be 'employer' or 'employee', got ${JSON.stringify(options.type)}`,
    );
  }
  if (options.employerOf !== undefined && typeof options.employerOf !== 'function') {
    throw new TypeError('employerOf must be a function');
  }
  const { realm, format } = resolveGuardOptions(options);
  const { param, type, employerOf } = options;
  const allowUnbound = options.allowUnbound ?? false;
  if (options.kit !== undefined && typeof options.kit?.tokens?.emit !== 'function') {
    throw new TypeError('requireBinding kit must be a token kit');
  }
  const tokens = options.kit?.tokens;

  function denied(auth: AuthInfo, req: Request, reason: string): void {
    tokens?.emit({
      type: 'binding_denied',
      jti: auth.jti,
      clientId: auth.clientId,
      subject: auth.subject,
      boundEntity: auth.boundEntity,
      ...(req.ip ? { ip: req.ip } : {}),
      reason,
    });
  }

  return function requireBindingMiddleware(req: Request, res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (!auth) return sendBearerError(res, new TokenError('missing_token'), realm, format);
    const deny = (reason: string): void => {
      denied(auth, req, reason);
      sendBearerError(res, new TokenError('insufficient_scope'), realm, format);
    };
    const target: unknown = req.params[param];
    if (!isEntityId(target, type)) return deny('bad_target');
    const bound = auth.boundEntity;
    if (bound === null) return allowUnbound ? next() : deny('unbound');
    if (bound.type === type) return bound.id === target ? next() : deny('other_entity');
    if (type === 'employee' && bound.type === 'employer' && employerOf) {
      Promise.resolve()
        .then(() => employerOf(bound.id, target))
        .then(
          (belongs) => (belongs === true ? next() : deny('not_employer')),
          (err: unknown) =>
            sendBearerError(
              res,
              new TokenError('service_unavailable', undefined, {
                cause: err,
                headers: { 'Retry-After': '5' },
              }),
              realm,
              format,
            ),
        );
      return;
    }
    deny(bound.type === 'employee' ? 'employee_token' : 'employer_token');
  };
}
