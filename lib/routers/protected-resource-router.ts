/**
 * `createProtectedResourceRouter`: the OAuth 2.0 protected resource metadata document (RFC 9728),
 * which tells a client (an MCP client, for one) which authorization servers issue tokens for this
 * resource, which scopes it knows and how it takes bearer tokens.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { assertErrorFormat, type ErrorFormatOption } from '../middleware/error-response';
import { booleanOption, invalidOption, missingOption, wholeSeconds } from '../util/options';
import { createBaseRouter, methodNotAllowed } from './shared';

/** A way a protected resource accepts bearer tokens (RFC 6750 §2.1–§2.3). */
export type BearerMethod = 'header' | 'body' | 'query';

/** Options of {@link createProtectedResourceRouter}; each field maps to an RFC 9728 §2 field. */
export interface ProtectedResourceRouterOptions {
  /**
   * The resource identifier (`resource`): an https URL without a fragment (http only for
   * `localhost`, `127.0.0.1` and `[::1]`, for development), typically the resource's base URL.
   */
  readonly resource: string;
  /** Issuer identifiers (RFC 8414) of the authorization servers whose tokens the resource takes (`authorization_servers`); at least one. */
  readonly authorizationServers: readonly string[];
  /** Scopes the resource uses in authorization requests (`scopes_supported`). @default omitted */
  readonly scopesSupported?: readonly string[];
  /** How the resource takes bearer tokens (`bearer_methods_supported`). @default `['header']`, what `requireToken` accepts */
  readonly bearerMethodsSupported?: readonly BearerMethod[];
  /** Human-readable name (`resource_name`). @default omitted */
  readonly resourceName?: string;
  /** URL of the developer documentation (`resource_documentation`). @default omitted */
  readonly resourceDocumentation?: string;
  /** URL of the data-usage policy (`resource_policy_uri`). @default omitted */
  readonly resourcePolicyUri?: string;
  /** URL of the terms of service (`resource_tos_uri`). @default omitted */
  readonly resourceTosUri?: string;
  /** URL of the resource's own JWK Set (`jwks_uri`), for signed responses; not the issuer's. @default omitted */
  readonly jwksUri?: string;
  /** JWS algorithms the resource signs responses with (`resource_signing_alg_values_supported`). @default omitted */
  readonly resourceSigningAlgValuesSupported?: readonly string[];
  /** `tls_client_certificate_bound_access_tokens` (RFC 8705). @default omitted */
  readonly tlsClientCertificateBoundAccessTokens?: boolean;
  /** `dpop_signing_alg_values_supported` (RFC 9449). @default omitted */
  readonly dpopSigningAlgValuesSupported?: readonly string[];
  /** `dpop_bound_access_tokens_required` (RFC 9449). @default omitted */
  readonly dpopBoundAccessTokensRequired?: boolean;
  /**
   * Also serve the document at `/.well-known/oauth-protected-resource` when `resource` has a path
   * (its RFC 9728 §3.1 location is then `/.well-known/oauth-protected-resource<path>`): the
   * fallback some clients try. Turn it off when several resources share the host. @default true
   */
  readonly serveRootDocument?: boolean;
  /** `max-age` of the document, in seconds (0–86400). @default 3600 */
  readonly maxAge?: number;
  /** Error body format of the 405 answers; @default `errors`. */
  readonly errorFormat?: ErrorFormatOption;
}

/** The RFC 9728 §2 metadata document. */
export type ProtectedResourceMetadata = Readonly<Record<string, string | boolean | readonly string[]>>;

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const LOCAL_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
const BEARER_METHODS: ReadonlySet<string> = new Set<BearerMethod>(['header', 'body', 'query']);
const MAX_MAX_AGE = 86_400;
const MAX_LIST = 100;
/** Printable ASCII without `"` and `\` (RFC 6749 §3.3 scope tokens, JWS `alg` names). */
const TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;

/** The URL of a (`resource`-like) option: https, or http on a local host; no fragment; a TypeError otherwise. */
function httpsUrl(value: unknown, option: string): URL {
  const shown = JSON.stringify(typeof value === 'string' ? value.slice(0, 256) : value);
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && value.length <= 2048 ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined) throw invalidOption(`${option} must be an absolute https URL, got ${shown}`);
  const local = url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !local) {
    throw invalidOption(`${option} must be an https URL (http only for localhost), got ${shown}`);
  }
  if ((value as string).includes('#'))
    throw invalidOption(`${option} must not have a fragment, got ${shown}`);
  if (url.username !== '' || url.password !== '') {
    throw invalidOption(`${option} must not hold credentials, got ${shown}`);
  }
  return url;
}

function stringList(value: unknown, option: string, check: (item: string, label: string) => void): string[] {
  if (!Array.isArray(value)) throw invalidOption(`${option} must be an array of strings`);
  if (value.length > MAX_LIST) throw invalidOption(`${option} may hold at most ${MAX_LIST} entries`);
  value.forEach((item: unknown, i) => {
    if (typeof item !== 'string') throw invalidOption(`${option}[${i}] must be a string`);
    check(item, `${option}[${i}]`);
  });
  return [...new Set(value as string[])];
}

function tokenList(value: unknown, option: string): string[] {
  return stringList(value, option, (item, label) => {
    if (!TOKEN.test(item)) throw invalidOption(`${label} must be printable ASCII without spaces or quotes`);
  });
}

function optionalBoolean(value: unknown, option: string): boolean | undefined {
  return value === undefined ? undefined : booleanOption(value, false, option);
}

/**
 * The RFC 9728 §2 document for `options`, checked (a TypeError or RangeError names the bad option).
 * Exposed for hosts that serve it themselves.
 */
export function protectedResourceMetadata(
  options: Readonly<ProtectedResourceRouterOptions>,
): ProtectedResourceMetadata {
  if (typeof options !== 'object' || options === null) {
    throw missingOption('createProtectedResourceRouter needs { resource, authorizationServers }');
  }
  httpsUrl(options.resource, 'resource');
  const servers = stringList(options.authorizationServers, 'authorizationServers', (item, label) => {
    const url = httpsUrl(item, label);
    // An issuer identifier has no query or fragment (RFC 8414 §2).
    if (url.search !== '') throw invalidOption(`${label} must not have a query`);
  });
  if (servers.length === 0) throw invalidOption('authorizationServers must name at least one issuer');
  const doc: Record<string, string | boolean | readonly string[]> = {
    resource: options.resource,
    authorization_servers: servers,
    bearer_methods_supported: stringList(
      options.bearerMethodsSupported ?? ['header'],
      'bearerMethodsSupported',
      (item, label) => {
        if (!BEARER_METHODS.has(item)) throw invalidOption(`${label} must be header, body or query`);
      },
    ),
  };
  if (options.scopesSupported !== undefined) {
    doc.scopes_supported = tokenList(options.scopesSupported, 'scopesSupported');
  }
  if (options.resourceName !== undefined) {
    const name: unknown = options.resourceName;
    if (
      typeof name !== 'string' ||
      name.trim() === '' ||
      name.length > 256 ||
      [...name].some((c) => c < ' ' || c === '\x7F')
    ) {
      throw invalidOption(
        'resourceName must be a non-empty string of at most 256 characters, no control characters',
      );
    }
    doc.resource_name = name;
  }
  const urls = [
    ['resourceDocumentation', 'resource_documentation'],
    ['resourcePolicyUri', 'resource_policy_uri'],
    ['resourceTosUri', 'resource_tos_uri'],
    ['jwksUri', 'jwks_uri'],
  ] as const;
  for (const [option, field] of urls) {
    const value = options[option];
    if (value === undefined) continue;
    httpsUrl(value, option);
    doc[field] = value;
  }
  const algLists = [
    ['resourceSigningAlgValuesSupported', 'resource_signing_alg_values_supported'],
    ['dpopSigningAlgValuesSupported', 'dpop_signing_alg_values_supported'],
  ] as const;
  for (const [option, field] of algLists) {
    const value = options[option];
    if (value === undefined) continue;
    const algs = tokenList(value, option);
    // RFC 9728 §2: "none" MUST NOT be used.
    if (algs.includes('none')) throw invalidOption(`${option} must not include "none"`);
    doc[field] = algs;
  }
  const flags = [
    ['tlsClientCertificateBoundAccessTokens', 'tls_client_certificate_bound_access_tokens'],
    ['dpopBoundAccessTokensRequired', 'dpop_bound_access_tokens_required'],
  ] as const;
  for (const [option, field] of flags) {
    const value = optionalBoolean(options[option], option);
    if (value !== undefined) doc[field] = value;
  }
  return Object.freeze(doc);
}

/**
 * The URL of the metadata document of `resource` (RFC 9728 §3.1): `/.well-known/oauth-protected-resource`
 * inserted between the host and the path — the value of `requireToken`'s `resource_metadata`
 * challenge parameter (RFC 9728 §5.1).
 *
 * @example
 * ```ts
 * protectedResourceMetadataUrl('https://api.example.com/mcp');
 * // 'https://api.example.com/.well-known/oauth-protected-resource/mcp'
 * ```
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = httpsUrl(resource, 'resource');
  return `${url.origin}${wellKnownPath(url)}${url.search}`;
}

/** The path of the document for a resource URL: the well-known prefix, then the resource's path. */
function wellKnownPath(url: URL): string {
  // RFC 9728 §3.1: a terminating slash after the host is removed before inserting.
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${WELL_KNOWN}${path}`;
}

/**
 * An Express router that serves the RFC 9728 protected resource metadata document at its
 * well-known path: `GET /.well-known/oauth-protected-resource`, suffixed with the path of
 * `resource` when it has one (RFC 9728 §3.1), and — unless `serveRootDocument: false` — also at
 * the plain path. Mount it at the root of the resource's origin. The document is public and
 * cacheable (`Cache-Control: public, max-age`), with helmet's headers; the host's other routes are
 * untouched. Options are checked once, here.
 *
 * @example
 * ```ts
 * app.use(
 *   createProtectedResourceRouter({
 *     resource: 'https://api.example.com',
 *     authorizationServers: ['https://auth.example.com'],
 *     scopesSupported: ['read', 'write'],
 *   }),
 * );
 * ```
 * @see RFC 9728 §2 (the document), §3 (where it is served)
 */
export function createProtectedResourceRouter(options: Readonly<ProtectedResourceRouterOptions>): Router {
  const doc = protectedResourceMetadata(options);
  const format = options.errorFormat ?? 'errors';
  assertErrorFormat(format);
  const maxAge = wholeSeconds(options.maxAge, 3600, 'maxAge', 0, MAX_MAX_AGE);
  const serveRoot = booleanOption(options.serveRootDocument, true, 'serveRootDocument');
  const body = JSON.stringify(doc);
  const paths = new Set([wellKnownPath(new URL(options.resource))]);
  if (serveRoot) paths.add(WELL_KNOWN);
  // Exact, case-sensitive matches: a resource path is data, never an Express route pattern.
  const routes = [...paths].map((path) => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));

  const serve: RequestHandler = function protectedResourceMetadataHandler(_req: Request, res: Response) {
    // Public and cacheable: the kit's no-store does not apply to this document.
    res.removeHeader('Pragma');
    res.set('Cache-Control', `public, max-age=${maxAge}`);
    res.type('application/json').status(200).send(body);
  };
  const router = createBaseRouter();
  for (const route of routes) {
    router.get(route, serve);
    router.all(route, methodNotAllowed('GET, HEAD', format));
  }
  return router;
}
