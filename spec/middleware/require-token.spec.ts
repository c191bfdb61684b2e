import { createHmac, createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { createTokenKit, type TokenKit } from '../../lib/core/token-kit';
import { KeySet } from '../../lib/keys/key-set';
import { requireToken } from '../../lib/middleware/require-token';
import { requireBinding, requireScope } from '../../lib/middleware/guards';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenStore } from '../../lib/stores/token-store';
import { connectTestRedis, type TestRedis } from '../helpers/redis';

const ISSUER = 'https://issuer.test';
const EXPIRED_BODY = { errors: [{ errorType: 'expired_token', message: 'Access token expired' }] };

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function signRs256(header: object, payload: unknown, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
  return `${input}.${sig}`;
}

function signHs256(header: object, payload: unknown, secret: Buffer | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

interface Fixture {
  kit: TokenKit;
  app: express.Express;
  clock: { ms: number };
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  close(): Promise<void>;
}

async function makeFixture(store: TokenStore, close: () => Promise<void>): Promise<Fixture> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'main-key';
  const keys = new KeySet({ keys: [{ kid, alg: 'RS256', privateKey }] });
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const kit = createTokenKit({ store, keys, issuer: ISSUER, now: () => clock.ms });
  kit.tokens.registerAccessTokenPrefix('vit_at_');
  const employerOf = async (employerId: string, employeeId: string): Promise<boolean> =>
    employerId === 'empr_A' && (employeeId === 'empl_A1' || employeeId === 'empl_A2');
  const app = express();
  const guard = requireToken({ kit });
  app.get('/probe', guard, (req, res) => {
    res.json({ sub: req.auth?.subject, clientId: req.auth?.clientId, format: req.auth?.format });
  });
  app.get('/scoped', guard, requireScope(['plans:read']), (_req, res) => {
    res.json({ ok: true });
  });
  app.get(
    '/employers/:employerId',
    guard,
    requireBinding({ param: 'employerId', type: 'employer', allowUnbound: true }),
    (req, res) => {
      res.json({ id: req.params.employerId });
    },
  );
  app.get(
    '/employees/:employeeId',
    guard,
    requireBinding({ param: 'employeeId', type: 'employee', employerOf, allowUnbound: true }),
    (req, res) => {
      res.json({ id: req.params.employeeId });
    },
  );
  app.get(
    '/strict/employees/:employeeId',
    guard,
    requireBinding({ param: 'employeeId', type: 'employee' }),
    (_req, res) => {
      res.json({ ok: true });
    },
  );
  return { kit, app, clock, kid, privateKey, publicKey, close };
}

function baseClaims(fx: Fixture, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(fx.clock.ms / 1000);
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: ISSUER,
    iat,
    exp: iat + 600,
    jti: randomUUID(),
    client_id: 'client-1',
    ...extra,
  };
}

const stores: [string, () => Promise<{ store: TokenStore; close(): Promise<void> }>][] = [
  [
    'MemoryTokenStore',
    async () => {
      const store = new MemoryTokenStore();
      return { store, close: () => store.close() };
    },
  ],
  [
    'RedisTokenStore',
    async () => {
      const redis: TestRedis = await connectTestRedis('require-token');
      const store = new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix });
      return { store, close: () => redis.cleanup() };
    },
  ],
];

describe.each(stores)('requireToken on %s', (_name, makeStore) => {
  let fx: Fixture;

  beforeAll(async () => {
    const { store, close } = await makeStore();
    fx = await makeFixture(store, close);
  });

  afterAll(async () => {
    await fx.close();
  });

  async function issue(
    extra: Partial<Parameters<TokenKit['tokens']['issueAccessToken']>[0]> = {},
  ): Promise<string> {
    const { token } = await fx.kit.tokens.issueAccessToken({
      subject: 'user-1',
      clientId: 'client-1',
      ...extra,
    });
    return token;
  }

  describe('when the token is valid', () => {
    it('passes a JWT and sets req.auth', async () => {
      const res = await request(fx.app)
        .get('/probe')
        .set('Authorization', `Bearer ${await issue()}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: 'user-1', clientId: 'client-1', format: 'jwt' });
    });

    it('passes an opaque token', async () => {
      const token = await issue({ format: 'opaque', prefix: 'vit_at_' });
      expect(token.startsWith('vit_at_')).toBe(true);
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body.format).toBe('opaque');
    });

    it('passes a header token beside an unrelated query string', async () => {
      const res = await request(fx.app)
        .get('/probe?page=2&sort=asc')
        .set('Authorization', `Bearer ${await issue()}`);
      expect(res.status).toBe(200);
    });

    it.each(['bearer', 'BEARER', 'bEaReR'])('accepts the scheme spelled %s', async (scheme) => {
      const res = await request(fx.app)
        .get('/probe')
        .set('Authorization', `${scheme} ${await issue()}`);
      expect(res.status).toBe(200);
    });
  });

  describe('when credentials are missing', () => {
    it('responds 401 missing_token with a bare challenge', async () => {
      const res = await request(fx.app).get('/probe');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errors: [{ errorType: 'missing_token', message: 'Access token missing' }] });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(res.headers['cache-control']).toBe('no-store');
    });

    // DPoP (RFC 9449) has its own answers: spec/middleware/require-token-dpop.spec.ts
    it.each(['Basic dXNlcjpwYXNz', 'Token abc', 'MAC abc'])(
      'responds 401 missing_token for the scheme in %s',
      async (value) => {
        const res = await request(fx.app).get('/probe').set('Authorization', value);
        expect(res.status).toBe(401);
        expect(res.body.errors[0].errorType).toBe('missing_token');
        expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
      },
    );

    it('ignores a token in the query string', async () => {
      const res = await request(fx.app).get(`/probe?access_token=${await issue()}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('missing_token');
    });

    it('ignores cookies and custom headers', async () => {
      const token = await issue();
      const res = await request(fx.app)
        .get('/probe')
        .set('Cookie', `token=${token}`)
        .set('X-Access-Token', token);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('missing_token');
    });
  });

  describe('when the header is malformed', () => {
    it.each([
      ['an empty bearer value', 'Bearer '],
      ['two tokens', 'Bearer a b'],
      ['a quoted token', 'Bearer "abc"'],
      ['joined duplicates', 'Bearer a, Bearer b'],
      ['a tab separator', 'Bearer\tabc'],
    ])('responds 400 invalid_request for %s', async (_label, value) => {
      const res = await request(fx.app).get('/probe').set('Authorization', value);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].errorType).toBe('invalid_request');
      expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
    });

    it('responds 400 invalid_request for a header and a query token together', async () => {
      const token = await issue();
      const res = await request(fx.app)
        .get(`/probe?access_token=${token}`)
        .set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].errorType).toBe('invalid_request');
    });

    it.each([
      ['Authorization', 'Authorization'],
      ['authorization', 'AUTHORIZATION'],
      ['AuThOrIzAtIoN', 'authorization'],
    ])('responds 400 invalid_request for two Authorization headers (%s, %s)', async (first, second) => {
      const token = await issue();
      const address = await new Promise<AddressInfo>((resolve) => {
        const server = fx.app.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo));
        afterAllClose.push(() => new Promise((r) => server.close(() => r())));
      });
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: address.port,
            path: '/probe',
            headers: [
              'Host',
              `127.0.0.1:${address.port}`,
              first,
              `Bearer ${token}`,
              second,
              `Bearer ${token}`,
            ] as unknown as Record<string, string>,
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(result.status).toBe(400);
      expect(JSON.parse(result.body).errors[0].errorType).toBe('invalid_request');
    });

    it('responds 401 invalid_token for a token over the size cap without reflecting it', async () => {
      const token = 'a'.repeat(5000);
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
      expect(JSON.stringify(res.headers)).not.toContain(token);
    });
  });

  describe('when the token is hostile', () => {
    const cases: [string, (fx: Fixture) => string][] = [
      [
        'alg none with an empty signature',
        (f) => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(baseClaims(f))}.`,
      ],
      [
        'alg None with a junk signature',
        (f) => `${b64({ alg: 'None', typ: 'at+jwt', kid: f.kid })}.${b64(baseClaims(f))}.AAAA`,
      ],
      [
        'alg NONE with our kid',
        (f) => `${b64({ alg: 'NONE', typ: 'at+jwt', kid: f.kid })}.${b64(baseClaims(f))}.`,
      ],
      ['alg nOnE', (f) => `${b64({ alg: 'nOnE', typ: 'at+jwt', kid: f.kid })}.${b64(baseClaims(f))}.`],
      [
        'HS256 signed with our RSA public key (PEM)',
        (f) =>
          signHs256(
            { alg: 'HS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f),
            f.publicKey.export({ type: 'spki', format: 'pem' }) as string,
          ),
      ],
      [
        'HS256 signed with our RSA public key (DER)',
        (f) =>
          signHs256(
            { alg: 'HS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f),
            f.publicKey.export({ type: 'spki', format: 'der' }),
          ),
      ],
      [
        'a foreign key under our kid',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f),
            generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
          ),
      ],
      [
        'an unknown kid',
        (f) => signRs256({ alg: 'RS256', typ: 'at+jwt', kid: 'other' }, baseClaims(f), f.privateKey),
      ],
      [
        'an embedded jwk header',
        (f) => {
          const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
          return signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid, jwk: attacker.publicKey.export({ format: 'jwk' }) },
            baseClaims(f),
            attacker.privateKey,
          );
        },
      ],
      [
        'a jku header',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid, jku: 'http://127.0.0.1:1/jwks' },
            baseClaims(f),
            f.privateKey,
          ),
      ],
      [
        'an x5u header',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid, x5u: 'http://169.254.169.254/' },
            baseClaims(f),
            f.privateKey,
          ),
      ],
      [
        'an unknown crit header',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid, crit: ['x-unknown'], 'x-unknown': 1 },
            baseClaims(f),
            f.privateKey,
          ),
      ],
      [
        'a tampered payload',
        (f) => {
          const [h, , s] = signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f),
            f.privateKey,
          ).split('.');
          return `${h}.${b64(baseClaims(f, { sub: 'admin' }))}.${s}`;
        },
      ],
      [
        'a truncated signature',
        (f) =>
          signRs256({ alg: 'RS256', typ: 'at+jwt', kid: f.kid }, baseClaims(f), f.privateKey).slice(0, -4),
      ],
      [
        'a stripped signature',
        (f) =>
          signRs256({ alg: 'RS256', typ: 'at+jwt', kid: f.kid }, baseClaims(f), f.privateKey).replace(
            /\.[^.]+$/,
            '.',
          ),
      ],
      [
        'nbf in the future',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { nbf: Math.floor(f.clock.ms / 1000) + 600 }),
            f.privateKey,
          ),
      ],
      [
        'a wrong iss',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { iss: 'https://evil.test' }),
            f.privateKey,
          ),
      ],
      [
        'a wrong aud',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { aud: 'https://other.test' }),
            f.privateKey,
          ),
      ],
      ['typ JWT', (f) => signRs256({ alg: 'RS256', typ: 'JWT', kid: f.kid }, baseClaims(f), f.privateKey)],
      ['no typ', (f) => signRs256({ alg: 'RS256', kid: f.kid }, baseClaims(f), f.privateKey)],
      [
        'no exp',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { exp: undefined }),
            f.privateKey,
          ),
      ],
      [
        'a string payload',
        (f) => signRs256({ alg: 'RS256', typ: 'at+jwt', kid: f.kid }, 'hello', f.privateKey),
      ],
      [
        'no jti',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { jti: undefined }),
            f.privateKey,
          ),
      ],
      [
        'a malformed bound_entity',
        (f) =>
          signRs256(
            { alg: 'RS256', typ: 'at+jwt', kid: f.kid },
            baseClaims(f, { bound_entity: ['empl_A', 'empl_B'] }),
            f.privateKey,
          ),
      ],
      ['an opaque token with a bad checksum', () => `vit_at_${'A'.repeat(43)}ZZZZZZ`],
      ['an unknown opaque token', () => 'vit_at_' + 'B'.repeat(43) + 'xxxxxx'],
      ['garbage', () => 'not-a-token'],
    ];

    it.each(cases)('responds 401 invalid_token for %s', async (_label, make) => {
      const token = make(fx);
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
      );
      expect(JSON.stringify(res.body)).not.toContain(ISSUER);
    });

    it('answers an ID token used as an access token with invalid_token', async () => {
      const idToken = fx.kit.tokens.signIdToken('user-1', 'client-1');
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${idToken}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
    });
  });

  describe('when the token is expired', () => {
    it('responds 401 with exactly the expired_token body and an invalid_token challenge', async () => {
      const token = await issue({ ttl: 60 });
      fx.clock.ms += 61_000;
      try {
        const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body).toEqual(EXPIRED_BODY);
        expect(res.text).toBe(JSON.stringify(EXPIRED_BODY));
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="api", error="invalid_token", error_description="Access token expired"',
        );
      } finally {
        fx.clock.ms -= 61_000;
      }
    });

    it('answers an expired opaque token with expired_token', async () => {
      const token = await issue({ ttl: 60, format: 'opaque', prefix: 'vit_at_' });
      fx.clock.ms += 60_000;
      try {
        const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body).toEqual(EXPIRED_BODY);
      } finally {
        fx.clock.ms -= 60_000;
      }
    });

    it('answers an expired token for another audience with invalid_token, not expired_token', async () => {
      const iat = Math.floor(fx.clock.ms / 1000) - 3600;
      const token = signRs256(
        { alg: 'RS256', typ: 'at+jwt', kid: fx.kid },
        baseClaims(fx, { aud: 'https://other.test', iat, exp: iat + 60 }),
        fx.privateKey,
      );
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
    });
  });

  describe('when the token is revoked', () => {
    it('rejects a JWT revoked by jti, and a re-encoded copy of it', async () => {
      const token = await issue();
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      expect(await fx.kit.tokens.revokeToken(token)).toBe(true);
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].errorType).toBe('invalid_token');
    });

    it('rejects an opaque token after revocation', async () => {
      const token = await issue({ format: 'opaque', prefix: 'vit_at_' });
      expect(await fx.kit.tokens.revokeToken(token)).toBe(true);
      const res = await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
    });

    it('rejects every token of a subject issued up to a subject cut-off, and accepts later ones', async () => {
      const before = await issue({ subject: 'user-cut' });
      await fx.kit.tokens.revokeSubject('user-cut');
      fx.clock.ms += 1000;
      try {
        const after = await issue({ subject: 'user-cut' });
        expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${before}`)).status).toBe(
          401,
        );
        expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${after}`)).status).toBe(
          200,
        );
      } finally {
        fx.clock.ms -= 1000;
      }
    });

    it('rejects tokens of a client after a client cut-off', async () => {
      const token = await issue({ clientId: 'client-cut', format: 'opaque', prefix: 'vit_at_' });
      await fx.kit.tokens.revokeClient('client-cut');
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    });

    it('rejects access tokens of a revoked refresh family', async () => {
      const { family } = await fx.kit.tokens.startRefreshFamily({ subject: 'user-1', clientId: 'client-1' });
      const token = await issue({ familyId: family.familyId });
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      await fx.kit.tokens.revokeFamily(family.familyId);
      expect((await request(fx.app).get('/probe').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    });
  });

  describe('when a scope is required', () => {
    it('responds 403 insufficient_scope with the scope in the challenge', async () => {
      const res = await request(fx.app)
        .get('/scoped')
        .set('Authorization', `Bearer ${await issue()}`);
      expect(res.status).toBe(403);
      expect(res.body.errors[0].errorType).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="insufficient_scope", scope="plans:read"',
      );
    });

    it('passes a token carrying the scope', async () => {
      const res = await request(fx.app)
        .get('/scoped')
        .set('Authorization', `Bearer ${await issue({ scope: 'plans:read other' })}`);
      expect(res.status).toBe(200);
    });
  });

  describe('when a binding is enforced', () => {
    const employer = { id: 'empr_A', type: 'employer' as const };
    const employee = { id: 'empl_A1', type: 'employee' as const };
    const table: [string, { id: string; type: 'employer' | 'employee' } | null, string, number][] = [
      ['an employer token on its own employer', employer, '/employers/empr_A', 200],
      ['an employer token on another employer', employer, '/employers/empr_B', 403],
      ['an employer token on its employee', employer, '/employees/empl_A2', 200],
      ['an employer token on a foreign employee', employer, '/employees/empl_B1', 403],
      ['an employee token on itself', employee, '/employees/empl_A1', 200],
      ['an employee token on another employee', employee, '/employees/empl_A2', 403],
      ['an employee token on its employer', employee, '/employers/empr_A', 403],
      ['an employee token on a longer id', employee, '/employees/empl_A12', 403],
      ['an employee token on a case variant', employee, '/employees/EMPL_A1', 403],
      ['an employee token on an encoded path trick', employee, '/employees/empl_A1%2F..%2Fempl_A2', 403],
      ['an employee token on a NUL suffix', employee, '/employees/empl_A1%00', 403],
      ['an unbound token on an employee', null, '/employees/empl_A1', 200],
      ['an unbound token on a deny-by-default route', null, '/strict/employees/empl_A1', 403],
    ];

    it.each(table)('answers %s (binding %j, path %s) with %i', async (_label, boundEntity, path, status) => {
      const res = await request(fx.app)
        .get(path)
        .set('Authorization', `Bearer ${await issue({ boundEntity, format: 'opaque', prefix: 'vit_at_' })}`);
      expect(res.status).toBe(status);
      if (status === 403) expect(res.body.errors[0].errorType).toBe('insufficient_scope');
    });

    it('ignores client-supplied parameters beside the route parameter', async () => {
      const token = await issue({ boundEntity: employee });
      const res = await request(fx.app)
        .get('/employees/empl_A1?employeeId=empl_A2')
        .set('Authorization', `Bearer ${token}`)
        .set('X-Employee-Id', 'empl_A2');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'empl_A1' });
    });
  });
});

const afterAllClose: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(afterAllClose.map((f) => f()));
});

describe('requireToken handing a verified request on (deferNext)', () => {
  /**
   * An app that schedules a setImmediate before requireToken runs, and reports the order in which
   * that callback and the route handler ran: a hand-off in the check phase comes after it, a
   * hand-off in the same tick (or its microtasks) before it. A memory store answers without I/O.
   */
  async function orderOf(deferNext: boolean | undefined, token?: string): Promise<request.Response> {
    const keys = new KeySet({ keys: [{ kid: 'k', alg: 'RS256', privateKey: rsaKey }] });
    const kit = createTokenKit({ store: new MemoryTokenStore(), keys, issuer: ISSUER });
    const app = express();
    app.get(
      '/probe',
      (req, _res, next) => {
        const order: string[] = [];
        (req as { order?: string[] }).order = order;
        setImmediate(() => order.push('earlier immediate'));
        next();
      },
      requireToken({ kit, ...(deferNext === undefined ? {} : { deferNext }) }),
      (req, res) => {
        const order = (req as { order?: string[] }).order!;
        order.push('handler');
        res.json({ order: [...order], sub: req.auth?.subject });
      },
    );
    const bearer =
      token ?? (await kit.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' })).token;
    return request(app).get('/probe').set('Authorization', `Bearer ${bearer}`);
  }

  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  it('hands on in the check phase by default, with req.auth set', async () => {
    const res = await orderOf(undefined);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ order: ['earlier immediate', 'handler'], sub: 'user-1' });
  });

  it('hands on in the same turn with deferNext: false', async () => {
    const res = await orderOf(false);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ order: ['handler'], sub: 'user-1' });
  });

  it('answers a refusal at once, deferred or not', async () => {
    for (const deferNext of [true, false]) {
      const res = await orderOf(deferNext, 'not-a-token.x.y');
      expect(res.status).toBe(401);
    }
  });

  it.each(['yes', 1, {}])('refuses deferNext %p at construction', (value) => {
    const keys = new KeySet({ keys: [{ kid: 'k', alg: 'RS256', privateKey: rsaKey }] });
    const kit = createTokenKit({ store: new MemoryTokenStore(), keys, issuer: ISSUER });
    expect(() => requireToken({ kit, deferNext: value as unknown as boolean })).toThrow(/deferNext/);
  });
});
