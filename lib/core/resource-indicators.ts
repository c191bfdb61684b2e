/**
 * Resource indicators (RFC 8707): the `resource` values of a token request, the per-client
 * allow-list they are checked against, and the audience they give the access token. A leaf of the
 * core: it imports only the errors and the store's refresh-family type.
 */
import { TokenError } from '../errors';
import type { RefreshFamily } from '../stores/token-store';

/** Most `resource` values one token request may carry. */
export const MAX_REQUEST_RESOURCES = 10;

/** Most resources an application's allow-list may hold. */
export const MAX_APPLICATION_RESOURCES = 32;

/** Longest resource indicator accepted, in characters. */
export const MAX_RESOURCE_LENGTH = 512;

/**
 * An absolute URI (RFC 3986 §4.3): a scheme, `:`, then only the characters RFC 3986 §2 allows
 * (unreserved, reserved, `%`), without `#`.
 */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?[\]@!$&'()*+,;=%]+$/;

/**
 * The problem with a resource indicator, or undefined when it is an absolute URI without a
 * fragment of at most {@link MAX_RESOURCE_LENGTH} characters.
 * @see RFC 8707 §2 ("MUST be an absolute URI … MUST NOT include a fragment component")
 */
export function resourceProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
  if (value.length > MAX_RESOURCE_LENGTH) return `must be at most ${MAX_RESOURCE_LENGTH} characters`;
  if (value.includes('#')) return 'must not have a fragment';
  if (!ABSOLUTE_URI.test(value) || !URL.canParse(value)) return 'must be an absolute URI';
  return undefined;
}

/**
 * The `resource` values of a token request, de-duplicated in their order: none when absent.
 * Anything else than absolute URIs without a fragment, or more than
 * {@link MAX_REQUEST_RESOURCES}, is `invalid_target`.
 * @see RFC 8707 §2
 */
export function requestedResources(raw: unknown): string[] {
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  if (values.length === 0) throw new TokenError('invalid_target', 'resource must not be empty');
  if (values.length > MAX_REQUEST_RESOURCES) {
    throw new TokenError('invalid_target', `At most ${MAX_REQUEST_RESOURCES} resource values are accepted`);
  }
  for (const value of values) {
    if (resourceProblem(value) !== undefined) {
      throw new TokenError('invalid_target', 'resource must be an absolute URI without a fragment');
    }
  }
  return [...new Set(values as string[])];
}

/**
 * Checks an application's allow-list of resources (a configuration value: a TypeError names the
 * bad entry) and returns it de-duplicated, or undefined when `value` is undefined.
 */
export function applicationResources(value: unknown, option = 'resources'): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`${option} must be an array of absolute URIs`);
  if (value.length > MAX_APPLICATION_RESOURCES) {
    throw new TypeError(`${option} may hold at most ${MAX_APPLICATION_RESOURCES} resources`);
  }
  value.forEach((entry: unknown, i) => {
    const problem = resourceProblem(entry);
    if (problem !== undefined) {
      throw new TypeError(
        `${option}[${i}] ${problem} (RFC 8707 §2), got ${JSON.stringify(String(entry).slice(0, 64))}`,
      );
    }
  });
  return [...new Set(value as string[])];
}

/** What a grant needs of a client to check resources: its allow-list, if it has one. */
export interface ResourceClient {
  readonly resources?: readonly string[];
}

/**
 * The audience of an access token for `requested` resources: undefined (the kit's audience) when
 * none were requested, else the requested ones, each of which must be in the client's allow-list
 * (exact string match); anything else is `invalid_target`. A client without an allow-list may
 * request none (fail closed).
 * @see RFC 8707 §2
 */
export function grantResources(
  client: ResourceClient | null | undefined,
  requested: readonly string[] | undefined,
): string[] | undefined {
  if (requested === undefined || requested.length === 0) return undefined;
  const allowed = client?.resources ?? [];
  if (requested.some((resource) => !allowed.includes(resource))) {
    throw new TokenError('invalid_target', 'The client may not request this resource');
  }
  return [...requested];
}

/** The resources a refresh family was granted, from its `data`; undefined when it was granted none. */
export function familyResources(family: RefreshFamily): string[] | undefined {
  const stored = family.data?.resources;
  return Array.isArray(stored) && stored.length > 0 && stored.every((r) => typeof r === 'string')
    ? [...(stored as string[])]
    : undefined;
}

/** The refresh family's `data` that remembers granted resources; undefined when there are none. */
export function resourcesData(resources: readonly string[] | undefined): { resources: string[] } | undefined {
  return resources === undefined ? undefined : { resources: [...resources] };
}

/**
 * The audience of a refreshed access token: the family's resources when none are requested, or the
 * requested ones, which must all be among the family's — a refresh keeps or narrows, never widens
 * (a family granted none keeps the kit's audience and may request none). When the family's
 * application is known, its resources must still be in its allow-list. Anything else is
 * `invalid_target`, thrown before the refresh token is consumed.
 * @see RFC 8707 §2 and §2.2
 */
export function refreshResources(
  family: RefreshFamily,
  client: ResourceClient | null,
  requested: readonly string[] | undefined,
): string[] | undefined {
  const granted = familyResources(family);
  const wanted = requested !== undefined && requested.length > 0 ? requested : undefined;
  if (wanted !== undefined && (granted === undefined || wanted.some((r) => !granted.includes(r)))) {
    throw new TokenError('invalid_target', 'A refresh may not widen the resources of its grant');
  }
  const audience = wanted ?? granted;
  if (audience !== undefined && client !== null) grantResources(client, audience);
  return audience === undefined ? undefined : [...audience];
}
