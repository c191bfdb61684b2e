/**
 * Route guards that run after `requireToken`: scope and entity binding (by default employer/employee).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { serviceUnavailable, TokenError } from '../errors';
import { DEFAULT_BINDING_PROFILE, isBindingProfile, type BindingProfile } from '../core/binding';
import type { TokenService } from '../core/token-service';
import type { AuthInfo, BoundEntityType } from '../types';
import { DEFAULT_REALM } from '../defaults';
import { assertErrorFormat, type ErrorFormatOption } from './error-response';
import { sendBearerError } from './require-token';
import {
  booleanOption,
  invalidOption,
  missingOption,
  nonEmptyString,
  objectWith,
  oneOf,
  optionConflict,
  optionalFunction,
  quotableString,
  scopeTokens,
} from '../util/options';

/**
 * Application-supplied relationship lookup: does this employee belong to this employer?
 * Throwing (e.g. a database outage) answers 503, never a pass.
 */
export type EmployerResolver = (employerId: string, employeeId: string) => Promise<boolean> | boolean;

/**
 * Application-supplied relationship lookup of any binding profile: does the entity `targetId` (of
 * type `types.target`) belong to `ancestorId` (of type `types.ancestor`, the target type's parent or
 * a further ancestor in the profile)? Throwing (e.g. a database outage) answers 503, never a pass.
 * An {@link EmployerResolver} is one for the default profile.
 */
export type BindingResolver = (
  ancestorId: string,
  targetId: string,
  types: { readonly ancestor: string; readonly target: string },
) => Promise<boolean> | boolean;

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
  /** What the parameter names: a type of the binding profile (by default `employer` or `employee`). */
  readonly type: BoundEntityType;
  /**
   * For employee routes: lets an employer-bound token reach its own employees. Without it an
   * employer-bound token never reaches an employee route. The default profile's name for
   * {@link RequireBindingOptions.belongsTo}; give one or the other.
   */
  readonly employerOf?: EmployerResolver;
  /**
   * Lets a token bound to an ancestor type of `type` (its parent in the binding profile, or the
   * parent's parent…) reach the route's entity when the resolver says it belongs to the token's
   * entity. Without it a token of another type never reaches the route.
   */
  readonly belongsTo?: BindingResolver;
  /**
   * The binding profile `type` belongs to; @default the profile of `kit`, else the default
   * employer/employee profile.
   */
  readonly binding?: BindingProfile;
  /** Let tokens with no binding through; @default false (deny by default). */
  readonly allowUnbound?: boolean;
  /**
   * The token kit whose audit listener (`onEvent`) hears a `binding_denied` event for every denial;
   * @default none (no events).
   */
  readonly kit?: {
    readonly tokens: Pick<TokenService, 'reportBindingDenied'>;
    readonly binding?: BindingProfile;
  };
}

function resolveGuardOptions(options: Readonly<GuardOptions>): { realm: string; format: ErrorFormatOption } {
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  return { realm: quotableString(options.realm, DEFAULT_REALM, 'realm'), format };
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
  const wanted = scopeTokens(scopes, 'requireScope: scopes');
  const { realm, format } = resolveGuardOptions(options);
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
 * Enforces the token's entity binding against a route parameter: exact, byte-for-byte comparison;
 * a token reaches the entity it is bound to and, when the resolver (`employerOf` / `belongsTo`) says
 * so, entities of descendant types belonging to it (by default: an employee-bound token reaches only
 * itself, an employer-bound token itself and its employees). The types come from the binding
 * profile (`binding`, else the kit's). The handler must use the same parameter.
 *
 * @example
 * ```ts
 * app.get('/v1/employees/:employeeId', requireToken({ kit }),
 *   requireBinding({ param: 'employeeId', type: 'employee', employerOf: isEmployerOf, allowUnbound: true }), handler);
 * ```
 */
export function requireBinding(options: Readonly<RequireBindingOptions>): RequestHandler {
  if (!options) throw missingOption('requireBinding needs options with a route parameter name in `param`');
  nonEmptyString(options.param, 'requireBinding: param');
  const binding = options.binding ?? options.kit?.binding ?? DEFAULT_BINDING_PROFILE;
  if (!isBindingProfile(binding)) {
    throw invalidOption('requireBinding binding must be a profile from createBindingProfile()');
  }
  oneOf(options.type, binding.types, 'requireBinding type');
  optionalFunction(options.employerOf, 'requireBinding: employerOf');
  optionalFunction(options.belongsTo, 'requireBinding: belongsTo');
  if (options.belongsTo !== undefined && options.employerOf !== undefined) {
    throw optionConflict('requireBinding takes employerOf or belongsTo, not both');
  }
  const { realm, format } = resolveGuardOptions(options);
  const { param, type } = options;
  const { belongsTo, employerOf } = options;
  // employerOf is called exactly as before (two arguments); belongsTo also hears the two types.
  const resolver: BindingResolver | undefined =
    belongsTo ?? (employerOf && ((ancestorId, targetId) => employerOf(ancestorId, targetId)));
  const allowUnbound = booleanOption(options.allowUnbound, false, 'requireBinding: allowUnbound');
  if (options.kit !== undefined) {
    objectWith(options.kit?.tokens, ['reportBindingDenied'], 'requireBinding: kit', 'a token kit');
  }
  const tokens = options.kit?.tokens;

  function denied(auth: AuthInfo, req: Request, reason: string): void {
    tokens?.reportBindingDenied(auth, reason, req.ip);
  }

  return function requireBindingMiddleware(req: Request, res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (!auth) return sendBearerError(res, new TokenError('missing_token'), realm, format);
    const deny = (reason: string): void => {
      denied(auth, req, reason);
      sendBearerError(res, new TokenError('insufficient_scope'), realm, format);
    };
    const target: unknown = req.params[param];
    if (!binding.isEntityId(target, type)) return deny('bad_target');
    const bound = auth.boundEntity;
    if (bound === null) return allowUnbound ? next() : deny('unbound');
    if (bound.type === type) return bound.id === target ? next() : deny('other_entity');
    if (resolver && binding.isAncestor(bound.type, type) && binding.isEntityId(bound.id, bound.type)) {
      const types = Object.freeze({ ancestor: bound.type, target: type });
      Promise.resolve()
        .then(() => resolver(bound.id, target, types))
        .then(
          (belongs) => (belongs === true ? next() : deny(`not_${bound.type}`)),
          (err: unknown) => sendBearerError(res, serviceUnavailable(err), realm, format),
        );
      return;
    }
    deny(binding.hasType(bound.type) ? `${bound.type}_token` : 'other_type');
  };
}
