/**
 * createProtectedResourceRouter: the RFC 9728 protected resource metadata document, where it is
 * served (§3.1), its fields (§2), its headers, its option checks, and oauth4webapi's
 * resource-server discovery accepting it.
 */
import express, { type Express } from 'express';
import request from 'supertest';
import type * as OAuth from 'oauth4webapi';
import {
  createProtectedResourceRouter,
  protectedResourceMetadata,
  protectedResourceMetadataUrl,
  type ProtectedResourceRouterOptions,
} from '../../lib/routers/protected-resource-router';
import { loadEsm } from '../helpers/load-esm';

const RESOURCE = 'https://api.example.test';
const MCP = 'https://api.example.test/mcp';
const ISSUER = 'https://auth.example.test';

function appWith(options: Partial<ProtectedResourceRouterOptions> = {}): Express {
  const app = express();
  app.use(createProtectedResourceRouter({ resource: RESOURCE, authorizationServers: [ISSUER], ...options }));
  app.get('/host', (_req, res) => {
    res.json({ host: true });
  });
  return app;
}

/** The RFC 9728 §2 members and their JSON types. */
const FIELD_TYPES: Readonly<Record<string, 'string' | 'boolean' | 'array'>> = {
  resource: 'string',
  authorization_servers: 'array',
  jwks_uri: 'string',
  scopes_supported: 'array',
  bearer_methods_supported: 'array',
  resource_signing_alg_values_supported: 'array',
  resource_name: 'string',
  resource_documentation: 'string',
  resource_policy_uri: 'string',
  resource_tos_uri: 'string',
  tls_client_certificate_bound_access_tokens: 'boolean',
  authorization_details_types_supported: 'array',
  dpop_signing_alg_values_supported: 'array',
  dpop_bound_access_tokens_required: 'boolean',
  signed_metadata: 'string',
};

/** Asserts `doc` uses only RFC 9728 §2 members, each of its type, arrays of strings, `resource` present. */
function expectRfc9728Document(doc: Record<string, unknown>): void {
  expect(typeof doc.resource).toBe('string');
  for (const [name, value] of Object.entries(doc)) {
    const type = FIELD_TYPES[name];
    expect({ name, known: type !== undefined }).toEqual({ name, known: true });
    if (type === 'array') {
      expect(Array.isArray(value)).toBe(true);
      for (const item of value as unknown[]) expect(typeof item).toBe('string');
    } else {
      expect(typeof value).toBe(type);
    }
  }
  for (const url of [doc.resource, ...((doc.authorization_servers as string[] | undefined) ?? [])]) {
    expect(new URL(url as string).hash).toBe('');
  }
}

describe('createProtectedResourceRouter', () => {
  describe('when the resource has no path', () => {
    it('serves the RFC 9728 §2 document at /.well-known/oauth-protected-resource', async () => {
      const res = await request(
        appWith({ scopesSupported: ['read', 'write'], resourceName: 'Orders API' }),
      ).get('/.well-known/oauth-protected-resource');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        resource: RESOURCE,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
        scopes_supported: ['read', 'write'],
        resource_name: 'Orders API',
      });
      expectRfc9728Document(res.body as Record<string, unknown>);
    });

    it('is public and cacheable, with helmet’s headers and no Pragma', async () => {
      const res = await request(appWith({ maxAge: 600 })).get('/.well-known/oauth-protected-resource');
      expect(res.headers['cache-control']).toBe('public, max-age=600');
      expect(res.headers.pragma).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('answers HEAD and refuses other methods with 405 and Allow', async () => {
      const app = appWith();
      expect((await request(app).head('/.well-known/oauth-protected-resource')).status).toBe(200);
      const res = await request(app).post('/.well-known/oauth-protected-resource').send({});
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.body).toEqual({
        errors: [{ errorType: 'method_not_allowed', message: expect.any(String) }],
      });
    });

    it('leaves the host’s other routes untouched', async () => {
      const res = await request(appWith()).get('/host');
      expect(res.body).toEqual({ host: true });
      expect(res.headers['cache-control']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBeUndefined();
      expect((await request(appWith()).get('/.well-known/oauth-protected-resource/other')).status).toBe(404);
    });

    it('serves every optional field it is given, and only RFC 9728 §2 members', async () => {
      const res = await request(
        appWith({
          scopesSupported: ['read'],
          bearerMethodsSupported: ['header', 'body'],
          resourceName: 'Orders',
          resourceDocumentation: 'https://docs.example.test/orders',
          resourcePolicyUri: 'https://example.test/policy',
          resourceTosUri: 'https://example.test/tos',
          jwksUri: 'https://api.example.test/jwks.json',
          resourceSigningAlgValuesSupported: ['ES256'],
          tlsClientCertificateBoundAccessTokens: false,
          dpopSigningAlgValuesSupported: ['ES256', 'EdDSA'],
          dpopBoundAccessTokensRequired: false,
        }),
      ).get('/.well-known/oauth-protected-resource');
      expectRfc9728Document(res.body as Record<string, unknown>);
      expect(Object.keys(res.body as object).sort()).toEqual(
        [
          'resource',
          'authorization_servers',
          'bearer_methods_supported',
          'scopes_supported',
          'resource_name',
          'resource_documentation',
          'resource_policy_uri',
          'resource_tos_uri',
          'jwks_uri',
          'resource_signing_alg_values_supported',
          'tls_client_certificate_bound_access_tokens',
          'dpop_signing_alg_values_supported',
          'dpop_bound_access_tokens_required',
        ].sort(),
      );
    });
  });

  describe('when the resource has a path', () => {
    it('serves the document at the path-suffixed well-known URI (RFC 9728 §3.1) and at the root', async () => {
      const app = appWith({ resource: MCP });
      const suffixed = await request(app).get('/.well-known/oauth-protected-resource/mcp');
      expect(suffixed.status).toBe(200);
      expect((suffixed.body as { resource: string }).resource).toBe(MCP);
      const root = await request(app).get('/.well-known/oauth-protected-resource');
      expect(root.body).toEqual(suffixed.body);
    });

    it('serves only the suffixed one with serveRootDocument: false', async () => {
      const app = appWith({ resource: MCP, serveRootDocument: false });
      expect((await request(app).get('/.well-known/oauth-protected-resource/mcp')).status).toBe(200);
      expect((await request(app).get('/.well-known/oauth-protected-resource')).status).toBe(404);
    });

    it('matches the path exactly: route-pattern characters in it are data', async () => {
      const app = appWith({ resource: 'https://api.example.test/v1:id/(x)*', serveRootDocument: false });
      expect((await request(app).get('/.well-known/oauth-protected-resource/v1:id/(x)*')).status).toBe(200);
      expect((await request(app).get('/.well-known/oauth-protected-resource/v1abc/x')).status).toBe(404);
      expect((await request(app).get('/.well-known/oauth-protected-resource/V1:id/(x)*')).status).toBe(404);
    });
  });

  describe('protectedResourceMetadataUrl', () => {
    it.each([
      [RESOURCE, 'https://api.example.test/.well-known/oauth-protected-resource'],
      [`${RESOURCE}/`, 'https://api.example.test/.well-known/oauth-protected-resource'],
      [MCP, 'https://api.example.test/.well-known/oauth-protected-resource/mcp'],
      ['http://localhost:3000/api', 'http://localhost:3000/.well-known/oauth-protected-resource/api'],
    ])('answers the RFC 9728 §3.1 URL of %s', (resource, url) => {
      expect(protectedResourceMetadataUrl(resource)).toBe(url);
    });
  });

  describe('when given bad options', () => {
    it.each([
      ['no options', undefined],
      ['no resource', { resource: undefined }],
      ['a relative resource', { resource: '/api' }],
      ['an http resource on a public host', { resource: 'http://api.example.test' }],
      ['a resource with a fragment', { resource: 'https://api.example.test/#x' }],
      ['a resource with an empty fragment', { resource: 'https://api.example.test/#' }],
      ['a resource with credentials', { resource: 'https://user:pw@api.example.test' }],
      ['a non-http resource', { resource: 'urn:example:api' }],
      ['no authorization servers', { authorizationServers: [] }],
      ['authorization servers as a string', { authorizationServers: ISSUER }],
      ['an http authorization server', { authorizationServers: ['http://auth.example.test'] }],
      ['an authorization server with a query', { authorizationServers: ['https://auth.example.test/?x=1'] }],
      ['an unknown bearer method', { bearerMethodsSupported: ['cookie'] }],
      ['a scope with a space', { scopesSupported: ['read write'] }],
      ['a scope with a quote', { scopesSupported: ['a"b'] }],
      ['a non-string scope', { scopesSupported: [1] }],
      ['101 scopes', { scopesSupported: Array.from({ length: 101 }, (_, i) => `s${i}`) }],
      ['an empty resourceName', { resourceName: ' ' }],
      ['a resourceName with a newline', { resourceName: 'a\nb' }],
      ['a relative resourceDocumentation', { resourceDocumentation: '/docs' }],
      ['a javascript: jwksUri', { jwksUri: 'javascript:alert(1)' }],
      ['the none algorithm', { resourceSigningAlgValuesSupported: ['none'] }],
      ['a non-boolean flag', { dpopBoundAccessTokensRequired: 'yes' }],
      ['a negative maxAge', { maxAge: -1 }],
      ['a fractional maxAge', { maxAge: 1.5 }],
      ['a huge maxAge', { maxAge: 86_401 }],
      ['a non-boolean serveRootDocument', { serveRootDocument: 'no' }],
      ['a bad errorFormat', { errorFormat: 'xml' }],
    ])('throws at factory time for %s', (_case, options) => {
      const given =
        options === undefined
          ? undefined
          : { resource: RESOURCE, authorizationServers: [ISSUER], ...(options as object) };
      expect(() => createProtectedResourceRouter(given as unknown as ProtectedResourceRouterOptions)).toThrow(
        /resource|authorizationServers|bearerMethods|scopes|Name|Documentation|jwksUri|Alg|Required|maxAge|serveRoot|format/i,
      );
    });

    it.each([
      ['localhost', 'http://localhost:8080/api'],
      ['127.0.0.1', 'http://127.0.0.1:8080'],
      ['[::1]', 'http://[::1]:8080'],
    ])('accepts http on %s for development', (_case, resource) => {
      expect(
        protectedResourceMetadata({ resource, authorizationServers: ['http://localhost:3000'] }).resource,
      ).toBe(resource);
    });
  });

  describe('with oauth4webapi’s resource-server discovery', () => {
    const oauth = loadEsm<typeof OAuth>('oauth4webapi');

    /** Routes oauth4webapi's fetch into the app in process (no socket). */
    function fetchInto(app: Express): (url: string) => Promise<Response> {
      return async (url) => {
        const target = new URL(url);
        const res = await request(app).get(`${target.pathname}${target.search}`);
        return new Response(res.text, {
          status: res.status,
          headers: { 'content-type': String(res.headers['content-type']) },
        });
      };
    }

    it.each([
      ['a resource without a path', RESOURCE],
      ['a resource with a path', MCP],
    ])('discovers and accepts the document of %s', async (_case, resource) => {
      const app = appWith({ resource, scopesSupported: ['read'], serveRootDocument: false });
      const response = await oauth.resourceDiscoveryRequest(new URL(resource), {
        [oauth.customFetch]: fetchInto(app),
      });
      const metadata = await oauth.processResourceDiscoveryResponse(new URL(resource), response);
      expect(metadata).toMatchObject({
        resource,
        authorization_servers: [ISSUER],
        scopes_supported: ['read'],
      });
    });

    it('refuses a document for another resource (the check it exists for)', async () => {
      const app = appWith({ resource: MCP });
      const response = await oauth.resourceDiscoveryRequest(new URL(MCP), {
        [oauth.customFetch]: fetchInto(app),
      });
      await expect(
        oauth.processResourceDiscoveryResponse(new URL('https://api.example.test/other'), response),
      ).rejects.toThrow(/resource/);
    });
  });
});
