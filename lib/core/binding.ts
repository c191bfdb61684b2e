/**
 * Bound entities: the one definition of a valid bound entity, for a configurable {@link BindingProfile}
 * (entity types, their id prefixes and which type may reach which). The default profile is the
 * employer (`empr_…`) / employee (`empl_…`) pair, an employee belonging to one employer.
 */
import { ENTITY_TYPE_NAME, isEntityTypeName } from '../util/entity-type-name';
import type { BoundEntity } from '../types';

/** One entity type of {@link BindingProfileOptions}. */
export interface BindingTypeOptions {
  /** Id prefix: lowercase letters and one trailing underscore, e.g. `empl_`. Unique in the profile. */
  readonly prefix: string;
  /**
   * The type this one belongs to (e.g. `employer` for `employee`): a token bound to the parent (or to
   * any ancestor) may reach entities of this type when the route's resolver says they belong to it.
   * @default none (a root type)
   */
  readonly parent?: string;
}

/** Options of {@link createBindingProfile}. */
export interface BindingProfileOptions {
  /** Entity type name (`[a-z][a-z0-9_-]{0,63}`) → its prefix and parent. At least one. */
  readonly types: Readonly<Record<string, BindingTypeOptions>>;
}

/**
 * A validated set of bound-entity types, built by {@link createBindingProfile}: the one place that
 * answers whether an id or a `bound_entity` is valid and which type may reach which.
 */
export interface BindingProfile {
  /** The entity type names, in the order they were given. */
  readonly types: readonly string[];
  /** The id prefixes joined by `/` (e.g. `empr_/empl_`), for error messages. */
  readonly prefixList: string;
  /** True when `type` is one of the profile's types. */
  hasType(type: unknown): type is string;
  /** The id prefix of `type`, or undefined for a type outside the profile. */
  prefixOf(type: string): string | undefined;
  /** The parent type of `type`, or undefined for a root type or a type outside the profile. */
  parentOf(type: string): string | undefined;
  /** True when `id` is a well-formed entity id of `type`: exact prefix, then 1-128 of `A-Z a-z 0-9 _ -`. */
  isEntityId(id: unknown, type: string): id is string;
  /**
   * Parses an untrusted bound entity: `null`/`undefined` → null; a well-formed `{id, type}` of the
   * profile → a fresh object with only those two fields; anything else → `undefined` (invalid).
   */
  parseBoundEntity(value: unknown): BoundEntity | null | undefined;
  /** Throws a TypeError unless `value` is a well-formed bound entity of the profile. */
  assertBoundEntity(value: unknown): asserts value is BoundEntity;
  /**
   * True when `ancestor` is a strict ancestor of `type` (its parent, the parent's parent, …): a token
   * bound to an `ancestor` may reach a `type` entity that the route's resolver says belongs to it.
   */
  isAncestor(ancestor: string, type: string): boolean;
}

/** Well-formed entity type names (also what a store accepts as a stored type). */
const TYPE_NAME = ENTITY_TYPE_NAME;
const PREFIX = /^[a-z]{1,16}_$/;
const ID_BODY = /^[A-Za-z0-9_-]{1,128}$/;
const TYPE_OPTION_KEYS: ReadonlySet<string> = new Set(['prefix', 'parent']);

export { isEntityTypeName };

interface TypeEntry {
  readonly prefix: string;
  readonly parent: string | undefined;
}

const PROFILES = new WeakSet<object>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function buildProfile(entries: ReadonlyMap<string, TypeEntry>): BindingProfile {
  const types = Object.freeze([...entries.keys()]);
  const prefixList = types.map((t) => entries.get(t)!.prefix).join('/');
  const profile: BindingProfile = {
    types,
    prefixList,
    hasType(type: unknown): type is string {
      return typeof type === 'string' && entries.has(type);
    },
    prefixOf(type: string): string | undefined {
      return entries.get(type)?.prefix;
    },
    parentOf(type: string): string | undefined {
      return entries.get(type)?.parent;
    },
    isEntityId(id: unknown, type: string): id is string {
      const prefix = typeof type === 'string' ? entries.get(type)?.prefix : undefined;
      return (
        prefix !== undefined &&
        typeof id === 'string' &&
        id.startsWith(prefix) &&
        ID_BODY.test(id.slice(prefix.length))
      );
    },
    parseBoundEntity(value: unknown): BoundEntity | null | undefined {
      if (value === null || value === undefined) return null;
      if (!isRecord(value)) return undefined;
      if (Object.keys(value).some((k) => k !== 'id' && k !== 'type')) return undefined;
      const { id, type } = value;
      if (!profile.hasType(type)) return undefined;
      if (!profile.isEntityId(id, type)) return undefined;
      return { id, type };
    },
    assertBoundEntity(value: unknown): asserts value is BoundEntity {
      if (value === null || profile.parseBoundEntity(value) == null) {
        throw new TypeError(`boundEntity must be {id, type} with an ${prefixList} id matching its type`);
      }
    },
    isAncestor(ancestor: string, type: string): boolean {
      let current = entries.get(type)?.parent;
      while (current !== undefined) {
        if (current === ancestor) return true;
        current = entries.get(current)?.parent;
      }
      return false;
    },
  };
  Object.freeze(profile);
  PROFILES.add(profile);
  return profile;
}

function checkType(name: string, value: unknown): TypeEntry {
  const at = `binding.types.${name}`;
  if (!isRecord(value)) throw new TypeError(`${at} must be an object { prefix, parent? }`);
  for (const key of Object.keys(value)) {
    if (!TYPE_OPTION_KEYS.has(key)) throw new TypeError(`${at}.${key} is not an option (prefix, parent)`);
  }
  if (typeof value.prefix !== 'string') throw new TypeError(`${at}.prefix must be a string`);
  if (!PREFIX.test(value.prefix)) {
    throw new RangeError(
      `${at}.prefix must be 1-16 lowercase letters and a trailing underscore (e.g. empl_), got ${JSON.stringify(value.prefix)}`,
    );
  }
  if (value.parent !== undefined && typeof value.parent !== 'string') {
    throw new TypeError(`${at}.parent must be a type name`);
  }
  return { prefix: value.prefix, parent: value.parent };
}

/**
 * Validates binding options once and builds the {@link BindingProfile}; without options, the
 * default employer/employee profile. Refuses (TypeError for a wrong kind of value, RangeError for a
 * wrong value, each naming the option) empty or malformed type names, prefixes that are not
 * `[a-z]+_`, duplicate prefixes, an unknown parent and parent cycles.
 *
 * @example
 * ```ts
 * const binding = createBindingProfile({
 *   types: { tenant: { prefix: 'ten_' }, project: { prefix: 'prj_', parent: 'tenant' } },
 * });
 * const kit = createTokenKit({ store, keys, issuer, binding });
 * ```
 */
export function createBindingProfile(options?: Readonly<BindingProfileOptions>): BindingProfile {
  if (options === undefined) return DEFAULT_BINDING_PROFILE;
  if (!isRecord(options)) throw new TypeError('binding must be { types: { <type>: { prefix, parent? } } }');
  for (const key of Object.keys(options)) {
    if (key !== 'types') throw new TypeError(`binding.${key} is not an option (types)`);
  }
  const types: unknown = options.types;
  if (!isRecord(types)) throw new TypeError('binding.types must be an object of entity types');
  const names = Object.keys(types);
  if (names.length === 0) throw new RangeError('binding.types must name at least one entity type');
  const entries = new Map<string, TypeEntry>();
  const prefixes = new Map<string, string>();
  for (const name of names) {
    if (!TYPE_NAME.test(name)) {
      throw new RangeError(
        `binding.types: type name ${JSON.stringify(name)} must be 1-64 of a-z 0-9 _ - starting with a letter`,
      );
    }
    const entry = checkType(name, types[name]);
    const other = prefixes.get(entry.prefix);
    if (other !== undefined) {
      throw new RangeError(
        `binding.types.${name}.prefix ${JSON.stringify(entry.prefix)} is already the prefix of ${other}`,
      );
    }
    prefixes.set(entry.prefix, name);
    entries.set(name, entry);
  }
  for (const [name, entry] of entries) {
    if (entry.parent !== undefined && !entries.has(entry.parent)) {
      throw new RangeError(
        `binding.types.${name}.parent ${JSON.stringify(entry.parent)} is not a type of the profile`,
      );
    }
  }
  for (const name of names) {
    const seen = new Set<string>([name]);
    for (let p = entries.get(name)!.parent; p !== undefined; p = entries.get(p)!.parent) {
      if (seen.has(p))
        throw new RangeError(`binding.types.${name}.parent: parents form a cycle through ${p}`);
      seen.add(p);
    }
  }
  return buildProfile(entries);
}

/** The default profile: employers (`empr_…`) and employees (`empl_…`), an employee's parent an employer. */
export const DEFAULT_BINDING_PROFILE: BindingProfile = buildProfile(
  new Map<string, TypeEntry>([
    ['employer', { prefix: 'empr_', parent: undefined }],
    ['employee', { prefix: 'empl_', parent: 'employer' }],
  ]),
);

/** True for a profile built by {@link createBindingProfile}. */
export function isBindingProfile(value: unknown): value is BindingProfile {
  return typeof value === 'object' && value !== null && PROFILES.has(value);
}

/** The `binding` option resolved: a built profile as is, options validated, none → the default profile. */
export function toBindingProfile(option: BindingProfile | BindingProfileOptions | undefined): BindingProfile {
  if (option === undefined) return DEFAULT_BINDING_PROFILE;
  if (isBindingProfile(option)) return option;
  return createBindingProfile(option as BindingProfileOptions);
}

/** The id prefix of each entity type of the default profile. */
export const BOUND_ENTITY_PREFIX: Readonly<Record<'employer' | 'employee', string>> = Object.freeze({
  employer: 'empr_',
  employee: 'empl_',
});

/** Default profile: true when `id` is a well-formed entity id of `type` (exact prefix, strict charset). */
export function isEntityId(id: unknown, type: string): id is string {
  return DEFAULT_BINDING_PROFILE.isEntityId(id, type);
}

/** Default profile: {@link BindingProfile.parseBoundEntity}. */
export function parseBoundEntity(value: unknown): BoundEntity | null | undefined {
  return DEFAULT_BINDING_PROFILE.parseBoundEntity(value);
}

/** Default profile: throws a TypeError unless `value` is a well-formed bound entity. */
export function assertBoundEntity(value: unknown): asserts value is BoundEntity {
  DEFAULT_BINDING_PROFILE.assertBoundEntity(value);
}
