/**
 * Routers A–D mounted into a host app that has routes of its own before and after the mounts, under
 * the same prefixes and at `/`: the kit's headers, parsers and error answers cover its own
 * endpoints only.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import type { TokenKit } from '../../lib/core/token-kit';
import { requireToken } from '../../lib/middleware/require-token';
import { createApiKeyRouter } from '../../lib/routers/api-key-router';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { createProviderRouter } from '../../lib/routers/provider-router';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit } from '../helpers/kit';
import { expectNoStore } from '../helpers/http';

/** Headers helmet sets; none of them may reach a host route. */
const HELMET_HEADERS = [
  'content-security-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
] as const;

/** A response of the host app, untouched by the kit. */
function expectUntouched(res: request.Response): void {
  for (const name of HELMET_HEADERS) expect({ [name]: res.headers[name] }).toEqual({ [name]: undefined });
  expect(res.headers['cache-control']).toBeUndefined();
  expect(res.headers.pragma).toBeUndefined();
  // Express's own header: the host did not disable it, and helmet did not remove it.
  expect(res.headers['x-powered-by']).toBe('Express');
}

/** A response of a kit endpoint: helmet's headers and no X-Powered-By. */
function expectKitHeaders(res: request.Response): void {
  expect(res.headers['content-security-policy']).toBeDefined();
  expect(res.headers['strict-transport-security']).toBeDefined();
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-powered-by']).toBeUndefined();
}

function echo(where: string) {
  return function hostEcho(req: Request, res: Response): void {
    res.status(200).json({ where, body: req.body as unknown });
  };
}

describe('routers A–D in a host app', () => {
  let kit: TokenKit;
  let app: Express;
  let clientBasic: string;
  let providerPath: string;
  let accessToken: string;

  beforeAll(async () => {
    ({ kit } = await makeKit({ store: new MemoryTokenStore() }));
    const application = await kit.credentials.createApplication({ name: 'App' });
    clientBasic = `Basic ${Buffer.from(`${application.clientId}:${application.clientSecret}`).toString('base64')}`;
    const provider = await kit.credentials.createProvider();
    const client = await kit.credentials.createProviderClient(provider.id, { audience: 'https://api.test' });
    providerPath = `/v1/providers/${provider.id}/clients/${client.id}/tokens`;
    accessToken = (
      await kit.grants.clientCredentials({
        clientId: application.clientId,
        clientSecret: application.clientSecret,
      })
    ).accessToken.token;

    app = express();
    // The host's routes before the mounts, under the kit's prefixes and at the root.
    app.get('/hello', (_req, res) => {
      res.status(200).type('text').send('hello');
    });
    app.post('/api/before', express.json(), echo('api/before'));
    app.post('/v1/before', express.json(), echo('v1/before'));

    app.use('/v1/auth', createApiKeyRouter({ kit }));
    app.use('/v1', createProviderRouter({ kit }));
    app.use('/api', createAuthRouter({ kit }));
    app.use(createOAuthRouter({ kit }));

    // …and after them.
    app.get('/hello-after', (_req, res) => {
      res.status(200).type('text').send('hello');
    });
    app.post('/after', express.json(), echo('after'));
    app.post('/api/mine', express.json(), echo('api/mine'));
    app.post('/v1/mine', express.json(), echo('v1/mine'));
    app.post('/v1/auth/mine', express.urlencoded({ extended: false }), echo('v1/auth/mine'));
    app.post('/oauth/mine', express.urlencoded({ extended: false }), echo('oauth/mine'));
    app.get('/api/me', requireToken({ kit }), (req, res) => {
      res.status(200).json({ sub: req.auth?.subject });
    });
    app.get('/api/boom', (_req: Request, _res: Response, next: NextFunction) => {
      next(new Error('host failure'));
    });
    app.use(function hostNotFound(_req: Request, res: Response) {
      res.status(404).json({ host: 'not found' });
    });
    app.use(function hostErrorHandler(_err: unknown, _req: Request, res: Response, _next: NextFunction) {
      res.status(500).json({ host: 'error' });
    });
  });

  describe('when the host serves its own routes', () => {
    it.each(['/hello', '/hello-after'])('answers GET %s untouched', async (path) => {
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
      expect(res.text).toBe('hello');
      expectUntouched(res);
    });

    it.each(['/api/before', '/v1/before', '/after', '/api/mine', '/v1/mine'])(
      'leaves the JSON body of POST %s to the host parser, untouched',
      async (path) => {
        const res = await request(app).post(path).send({ grant_type: 'client_credentials', a: 1 });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          where: path.slice(1),
          body: { grant_type: 'client_credentials', a: 1 },
        });
        expectUntouched(res);
      },
    );

    it.each(['/v1/auth/mine', '/oauth/mine'])(
      'leaves the form body of POST %s to the host parser, untouched',
      async (path) => {
        const res = await request(app).post(path).type('form').send('grant_type=client_credentials&token=x');
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          where: path.slice(1),
          body: { grant_type: 'client_credentials', token: 'x' },
        });
        expectUntouched(res);
      },
    );

    it('leaves a host error to the host error handler', async () => {
      const res = await request(app).get('/api/boom');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ host: 'error' });
      expectUntouched(res);
    });
  });

  describe('when a path belongs to neither', () => {
    it.each([
      ['GET', '/nope'],
      ['POST', '/nope'],
      ['GET', '/api/nope'],
      ['POST', '/api/auth/nope'],
      ['POST', '/api/auth/tokens/extra'],
      ['GET', '/api/auth/tokens/validate/extra'],
      ['POST', '/v1/auth/nope'],
      ['POST', '/v1/auth/access-tokens/extra'],
      ['DELETE', '/v1/providers/x/clients/y/tokens/z'],
      ['POST', '/v1/providers/x/clients'],
      ['POST', '/oauth/token/extra'],
      ['PUT', '/oauth/nope'],
      ['GET', '/.well-known/openid-configuration'],
    ])('leaves %s %s to the host 404', async (method, path) => {
      const agent = request(app);
      const res = await agent[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](path)
        .set('Content-Type', 'application/json')
        .send('{"grant_type":"client_credentials"}');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ host: 'not found' });
      expectUntouched(res);
    });
  });

  describe('when the kit answers its own endpoints', () => {
    it('answers POST /oauth/token with helmet headers and no-store', async () => {
      const res = await request(app)
        .post('/oauth/token')
        .set('Authorization', clientBasic)
        .type('form')
        .send('grant_type=client_credentials');
      expect(res.status).toBe(200);
      expectKitHeaders(res);
      expectNoStore(res);
    });

    it.each([
      ['POST', '/v1/auth/access-tokens', 401],
      ['GET', '/v1/auth/access-tokens', 405],
      ['POST', 'provider', 401],
      ['GET', 'provider', 405],
      ['POST', '/api/auth/tokens/', 400],
      ['POST', '/api/auth/tokens/refresh/', 400],
      ['GET', '/api/auth/tokens/validate/', 401],
      ['POST', '/api/applications/rotate_credentials/', 401],
      ['PUT', '/api/auth/tokens/', 405],
      ['POST', '/oauth/revoke', 401],
      ['POST', '/oauth/introspect', 401],
      ['GET', '/oauth/token', 405],
    ])('answers %s %s (%d) with helmet headers and no-store', async (method, path, status) => {
      const url = path === 'provider' ? providerPath : path;
      const agent = request(app);
      const res = await agent[method.toLowerCase() as 'get' | 'post' | 'put'](url).send({});
      expect(res.status).toBe(status);
      expectKitHeaders(res);
      expectNoStore(res);
    });

    it.each(['/.well-known/jwks.json', '/.well-known/oauth-authorization-server'])(
      'answers GET %s with helmet headers',
      async (path) => {
        const res = await request(app).get(path);
        expect(res.status).toBe(200);
        expectKitHeaders(res);
      },
    );
  });

  describe('requireToken on a host route', () => {
    it('adds nothing to a successful answer', async () => {
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);
      expect(res.status).toBe(200);
      expectUntouched(res);
    });

    it('adds only the challenge and no-store to a refusal', async () => {
      const res = await request(app).get('/api/me');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
      expectNoStore(res);
      for (const name of HELMET_HEADERS) expect({ [name]: res.headers[name] }).toEqual({ [name]: undefined });
      expect(res.headers['x-powered-by']).toBe('Express');
    });
  });
});
