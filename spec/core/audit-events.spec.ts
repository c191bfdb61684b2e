import express, { type Express } from 'express';
import request from 'supertest';
import { StoreUnavailableError } from '../../lib/errors';
import type { TokenEvent, TokenEventType } from '../../lib/core/events';
import type { TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import { createJsonLineLogger, composeEventListeners } from '../../lib/core/audit-log';
import { randomBase62 } from '../../lib/core/opaque-token';
import { createApiKeyRouter } from '../../lib/routers/api-key-router';
import { createProviderRouter } from '../../lib/routers/provider-router';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { requireToken } from '../../lib/middleware/require-token';
import { requireBinding } from '../../lib/middleware/guards';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { makeKit } from '../helpers/kit';

const CANARY = `canary${randomBase62(12)}`;
const PASSWORD = `${CANARY}-password`;
const CLIENT_SECRET = `${CANARY}-client-secret`;
const API_KEY = `${CANARY}-api-key`;
const PROVIDER_KEY = `${CANARY}-provider-key`;
const EMPLOYER = 'empr_acme';
const OTHER_EMPLOYER = 'empr_other';

const verifyUser: UserVerifier = async (username, password) =>
  username === 'alice' && password === PASSWORD ? { sub: 'user-alice' } : null;

/** A memory store that throws StoreUnavailableError on every call while `down` is set. */
function switchableStore(): { store: TokenStore; setDown(down: boolean): void } {
  const real = new MemoryTokenStore();
  let down = false;
  const store = new Proxy(real, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function' || property === 'close') return value;
      return (...args: unknown[]) => {
        if (down) return Promise.reject(new StoreUnavailableError('connection refused'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, setDown: (d) => (down = d) };
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('audit events', () => {
  const events: TokenEvent[] = [];
  const lines: string[] = [];
  /** Every token and secret the flows saw, to be searched for in the events. */
  const secrets = new Set<string>([PASSWORD, CLIENT_SECRET, API_KEY, PROVIDER_KEY]);
  let kit: TokenKit;
  let app: Express;
  let setDown: (down: boolean) => void;
  let clientId: string;
  let applicationId: string;
  let providerPath: string;

  function keep<T extends Record<string, unknown>>(body: T): T {
    for (const field of ['access_token', 'refresh_token', 'id_token', 'accessToken', 'client_secret']) {
      const value = body[field];
      if (typeof value === 'string') secrets.add(value);
    }
    return body;
  }

  beforeAll(async () => {
    const switchable = switchableStore();
    setDown = switchable.setDown;
    const logger = createJsonLineLogger({ write: (line: string) => lines.push(line) });
    ({ kit } = await makeKit({
      store: switchable.store,
      verifyUser,
      onEvent: composeEventListeners((e) => events.push(e), logger),
    }));
    await kit.credentials.createApiKey({ name: 'Acme', key: API_KEY });
    const application = await kit.credentials.createApplication({
      name: 'App',
      clientSecret: CLIENT_SECRET,
      grantTypes: ['client_credentials', 'password', 'refresh_token'],
    });
    clientId = application.clientId;
    applicationId = application.id;
    const provider = await kit.credentials.createProvider({ apiKeys: [PROVIDER_KEY] });
    const client = await kit.credentials.createProviderClient(provider.id, { audience: 'https://api.test' });
    providerPath = `/v1/providers/${provider.id}/clients/${client.id}/tokens`;

    app = express();
    app.set('trust proxy', 1);
    app.use(
      '/v1/auth',
      createApiKeyRouter({ kit, authorizeBinding: (_key, entity) => entity.id === EMPLOYER }),
    );
    app.use('/v1', createProviderRouter({ kit }));
    app.use('/api', createAuthRouter({ kit, passwordClientId: clientId }));
    app.get(
      '/v1/employers/:employerId',
      requireToken({ kit }),
      requireBinding({ param: 'employerId', type: 'employer', kit }),
      (req, res) => res.json({ id: req.params.employerId }),
    );
    app.use(createOAuthRouter({ kit }));
  });

  const IP = '203.0.113.9';
  const post = (path: string): request.Test => request(app).post(path).set('X-Forwarded-For', IP);

  function ofType(type: TokenEventType): TokenEvent[] {
    return events.filter((e) => e.type === type);
  }

  it('emits issued for router A and binding_denied (with ids, binding and IP) for another employer', async () => {
    const res = await post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${API_KEY}`)
      .send({ grant_type: 'client_credentials', bound_entity: { id: EMPLOYER, type: 'employer' } });
    expect(res.status).toBe(200);
    const token = keep(res.body as { access_token: string }).access_token;
    const issued = ofType('issued').at(-1)!;
    expect(issued).toMatchObject({ boundEntity: { id: EMPLOYER, type: 'employer' } });
    expect(typeof issued.jti).toBe('string');
    expect(
      (await request(app).get(`/v1/employers/${EMPLOYER}`).set('Authorization', `Bearer ${token}`)).status,
    ).toBe(200);
    const denied = await request(app)
      .get(`/v1/employers/${OTHER_EMPLOYER}`)
      .set('X-Forwarded-For', IP)
      .set('Authorization', `Bearer ${token}`);
    expect(denied.status).toBe(403);
    expect(ofType('binding_denied')).toEqual([
      expect.objectContaining({
        jti: issued.jti,
        clientId: issued.clientId,
        subject: issued.subject,
        boundEntity: { id: EMPLOYER, type: 'employer' },
        ip: IP,
        reason: 'other_entity',
      }),
    ]);
  });

  it('emits auth_failed with the IP for a wrong API key, provider key, client secret and password', async () => {
    await post('/v1/auth/access-tokens')
      .set('Authorization', `Bearer ${CANARY}-wrong-key`)
      .send({ grant_type: 'client_credentials' })
      .expect(401);
    await post(providerPath).set('Authorization', `Bearer ${CANARY}-wrong-provider`).send({}).expect(401);
    await post('/api/auth/tokens/')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: `${CANARY}-wrong` })
      .expect(401);
    await post('/api/auth/tokens/')
      .send({ grant_type: 'password', username: 'alice', password: `${CANARY}-wrong-pw` })
      .expect(401);
    await post('/oauth/token')
      .set('Authorization', basic(clientId, `${CANARY}-wrong-basic`))
      .type('form')
      .send('grant_type=client_credentials')
      .expect(401);
    const failed = ofType('auth_failed');
    expect(failed.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['api_key', 'provider_key', 'client', 'password']),
    );
    for (const e of failed) expect(e.ip).toBe(IP);
    expect(failed.filter((e) => e.reason === 'client').every((e) => e.clientId === clientId)).toBe(true);
  });

  it('emits auth_failed for a bad bearer token on a guarded route', async () => {
    await request(app)
      .get(`/v1/employers/${EMPLOYER}`)
      .set('X-Forwarded-For', IP)
      .set('Authorization', `Bearer ${CANARY}garbage`)
      .expect(401);
    expect(ofType('auth_failed').at(-1)).toMatchObject({ reason: 'invalid_token', ip: IP });
  });

  it('emits issued, refreshed, refresh_reuse_detected and revoked through routers B, C and D', async () => {
    keep((await post(providerPath).set('Authorization', `Bearer ${PROVIDER_KEY}`).send({}).expect(201)).body);
    const login = keep(
      (
        await post('/api/auth/tokens/')
          .send({ grant_type: 'password', username: 'alice', password: PASSWORD })
          .expect(200)
      ).body as { refresh_token: string },
    );
    const refreshed = keep(
      (await post('/api/auth/tokens/refresh/').send({ refresh_token: login.refresh_token }).expect(200))
        .body as { refresh_token: string },
    );
    expect(ofType('refreshed').at(-1)).toMatchObject({ clientId, subject: 'user-alice' });
    await post('/api/auth/tokens/refresh/').send({ refresh_token: login.refresh_token }).expect(401);
    expect(ofType('refresh_reuse_detected')).toEqual([
      expect.objectContaining({ clientId, subject: 'user-alice', reason: 'reuse' }),
    ]);
    expect(ofType('auth_failed').at(-1)).toMatchObject({ reason: 'refresh_token', ip: IP });
    const oauth = keep(
      (
        await post('/oauth/token')
          .set('Authorization', basic(clientId, CLIENT_SECRET))
          .type('form')
          .send('grant_type=client_credentials')
          .expect(200)
      ).body as { access_token: string },
    );
    await post('/oauth/revoke')
      .set('Authorization', basic(clientId, CLIENT_SECRET))
      .type('form')
      .send({ token: oauth.access_token })
      .expect(200);
    expect(ofType('revoked')).toContainEqual(expect.objectContaining({ reason: 'jti' }));
    void refreshed;
  });

  it('emits credentials_rotated when router C rotates the application’s secret', async () => {
    const token = keep(
      (
        await post('/api/auth/tokens/')
          .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: CLIENT_SECRET })
          .expect(200)
      ).body as { access_token: string },
    ).access_token;
    const rotated = await post('/api/applications/rotate_credentials/')
      .set('Authorization', `Bearer ${token}`)
      .send({ application_id: applicationId });
    expect(rotated.status).toBe(200);
    keep(rotated.body as Record<string, unknown>);
    expect(ofType('credentials_rotated')).toContainEqual(
      expect.objectContaining({ clientId, reason: 'application' }),
    );
  });

  it('emits store_unavailable when the token store cannot answer', async () => {
    setDown(true);
    try {
      const res = await post('/v1/auth/access-tokens')
        .set('Authorization', `Bearer ${API_KEY}`)
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(503);
    } finally {
      setDown(false);
    }
    expect(ofType('store_unavailable')).toContainEqual(expect.objectContaining({ reason: 'store' }));
  });

  it('has emitted every event type', () => {
    const types: TokenEventType[] = [
      'issued',
      'refreshed',
      'refresh_reuse_detected',
      'revoked',
      'credentials_rotated',
      'auth_failed',
      'binding_denied',
      'store_unavailable',
    ];
    for (const type of types) expect(ofType(type).length).toBeGreaterThan(0);
  });

  it('never carries a canary, a token or a secret, in any encoding, in events or log lines', () => {
    const haystack = [JSON.stringify(events), ...lines].join('\n');
    expect(haystack).not.toContain(CANARY);
    expect(secrets.size).toBeGreaterThan(8);
    for (const secret of secrets) {
      for (const form of [
        secret,
        secret.slice(0, 16),
        secret.slice(-16),
        encodeURIComponent(secret),
        Buffer.from(secret).toString('base64').slice(0, 16),
      ]) {
        expect(haystack).not.toContain(form);
      }
    }
  });

  it('writes one JSON object per line with the documented fields only', () => {
    expect(lines.length).toBe(events.length);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(record.msg).toBe('token_event');
      expect(['info', 'warn', 'error']).toContain(record.level);
      for (const key of Object.keys(record)) {
        expect([
          'level',
          'msg',
          'type',
          'at',
          'jti',
          'familyId',
          'clientId',
          'subject',
          'boundEntity',
          'ip',
          'reason',
        ]).toContain(key);
      }
    }
  });
});
