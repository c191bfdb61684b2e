/**
 * Employer/employee binding: the one definition of a valid bound entity.
 */
import type { BoundEntity, BoundEntityType } from '../types';

/** The id prefix of each entity type. */
export const BOUND_ENTITY_PREFIX: Readonly<Record<BoundEntityType, string>> = Object.freeze({
  employer: 'empr_',
  employee: 'empl_',
});

const ENTITY_ID = /^(empr|empl)_[A-Za-z0-9_-]{1,128}$/;

/** True when `id` is a well-formed entity id of `type` (exact prefix, strict charset). */
export function isEntityId(id: unknown, type: BoundEntityType): id is string {
  return typeof id === 'string' && ENTITY_ID.test(id) && id.startsWith(BOUND_ENTITY_PREFIX[type]);
}

/**
 * Parses an untrusted bound entity: `null`/`undefined` → null; a well-formed `{id, type}` → a
 * fresh object with only those two fields; anything else → `undefined` (invalid).
 */
export function parseBoundEntity(value: unknown): BoundEntity | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.some((k) => k !== 'id' && k !== 'type')) return undefined;
  const { id, type } = value as Record<string, unknown>;
  if (type !== 'employer' && type !== 'employee') return undefined;
  if (!isEntityId(id, type)) return undefined;
  return { id, type };
}

/** Throws a TypeError unless `value` is a well-formed bound entity. */
export function assertBoundEntity(value: unknown): asserts value is BoundEntity {
  if (value === null || parseBoundEntity(value) == null) {
    throw new TypeError('boundEntity must be {id, type} with an empr_/empl_ id matching its type');
  }
}
