/**
 * The shape of a bound-entity type name (`employer`, `tenant`, …): 1–64 of a-z 0-9 _ -, starting
 * with a letter. A leaf module, so that the stores can check a stored type's shape without
 * depending on the core's binding profiles.
 */
export const ENTITY_TYPE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** True for a well-formed bound-entity type name. */
export function isEntityTypeName(value: unknown): value is string {
  return typeof value === 'string' && ENTITY_TYPE_NAME.test(value);
}
