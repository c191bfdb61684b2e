/**
 * The bounded, expiring cache of the core; it lives in lib/util so that the stores can use it too
 * without importing the core.
 */
export { BoundedCache } from '../util/bounded-cache';
