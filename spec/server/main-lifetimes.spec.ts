import { spawn } from 'node:child_process';
import path from 'node:path';
import { DemoConfigError, startDemoServer, type DemoServer } from '../../lib/server/main';
import { MAX_ACCESS_TOKEN_LIFETIME } from '../../lib/defaults';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'lib', 'server', 'main.ts');
const quiet = { log: () => undefined, warn: () => undefined, audit: { write: () => true } };

/** The claims of a JWT, unverified. */
function claims(jwt: string): { iat: number; exp: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as {
    iat: number;
    exp: number;
  };
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('demo server token lifetimes', () => {
  describe('when set', () => {
    let server: DemoServer;

    beforeAll(async () => {
      server = await startDemoServer(
        {
          PORT: '0',
          TOKEN_KIT_ACCESS_TOKEN_TTL: '120',
          TOKEN_KIT_API_KEY_TOKEN_TTL: '60',
          TOKEN_KIT_REFRESH_ABSOLUTE_TTL: '7200',
          TOKEN_KIT_REFRESH_IDLE_TTL: '600',
        },
        quiet,
      );
    });

    afterAll(async () => {
      await server.close();
    });

    it('issues router C client_credentials tokens with exp - iat = TOKEN_KIT_ACCESS_TOKEN_TTL', async () => {
      const app = server.seed.applications[0]!;
      const res = await post(`${server.url}/api/auth/tokens/`, {
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(res.status).toBe(200);
      expect(res.body.expires_in).toBe(120);
      const { iat, exp } = claims(String(res.body.access_token));
      expect(exp - iat).toBe(120);
    });

    it('issues router A tokens with a lifetime of TOKEN_KIT_API_KEY_TOKEN_TTL', async () => {
      const res = await post(
        `${server.url}/v1/auth/access-tokens`,
        { grant_type: 'client_credentials' },
        { Authorization: `Bearer ${server.seed.apiKeys[0]!.key}` },
      );
      expect(res.status).toBe(200);
      expect(res.body.expires_in).toBe(60);
      const auth = await server.kit.tokens.verifyAccessToken(String(res.body.access_token));
      expect(auth.expiresAt - auth.issuedAt).toBe(60);
    });

    it('starts refresh families with TOKEN_KIT_REFRESH_ABSOLUTE_TTL and TOKEN_KIT_REFRESH_IDLE_TTL', async () => {
      const user = server.seed.users[0]!;
      const res = await post(`${server.url}/api/auth/tokens/`, {
        grant_type: 'password',
        username: user.username,
        password: user.password,
      });
      expect(res.status).toBe(200);
      const { iat, exp } = claims(String(res.body.access_token));
      expect(exp - iat).toBe(120);
      const inspected = await server.kit.tokens.inspect(String(res.body.refresh_token));
      expect(inspected.kind).toBe('refresh');
      const family = (inspected as { family: { createdAt: number; expiresAt: number } }).family;
      expect(family.expiresAt - family.createdAt).toBe(7200);
      expect(server.kit.tokens.refreshIdleTtl).toBe(600);
      expect(server.kit.tokens.refreshAbsoluteTtl).toBe(7200);
    });
  });

  describe('when unset', () => {
    it('keeps the library defaults', async () => {
      const server = await startDemoServer({ PORT: '0' }, quiet);
      try {
        expect(server.kit.tokens.accessTokenTtl).toBe(3600);
        expect(server.kit.tokens.refreshAbsoluteTtl).toBe(30 * 24 * 3600);
        expect(server.kit.tokens.refreshIdleTtl).toBe(7 * 24 * 3600);
        const res = await post(
          `${server.url}/v1/auth/access-tokens`,
          { grant_type: 'client_credentials' },
          { Authorization: `Bearer ${server.seed.apiKeys[0]!.key}` },
        );
        expect(res.body.expires_in).toBe(900);
      } finally {
        await server.close();
      }
    });
  });

  describe('when malformed', () => {
    const cases: [Record<string, string>, RegExp][] = [];
    for (const name of [
      'TOKEN_KIT_ACCESS_TOKEN_TTL',
      'TOKEN_KIT_API_KEY_TOKEN_TTL',
      'TOKEN_KIT_REFRESH_ABSOLUTE_TTL',
      'TOKEN_KIT_REFRESH_IDLE_TTL',
    ]) {
      for (const value of ['abc', '0', '-60', '1.5', '1e3', ' 60']) {
        cases.push([
          { [name]: value },
          new RegExp(`^${name} must be a whole number of seconds from 1 to \\d+`),
        ]);
      }
    }
    cases.push([
      { TOKEN_KIT_ACCESS_TOKEN_TTL: String(MAX_ACCESS_TOKEN_LIFETIME + 1) },
      new RegExp(
        `^TOKEN_KIT_ACCESS_TOKEN_TTL must be a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_LIFETIME}`,
      ),
    ]);
    cases.push([
      { TOKEN_KIT_API_KEY_TOKEN_TTL: String(MAX_ACCESS_TOKEN_LIFETIME + 1) },
      new RegExp(
        `^TOKEN_KIT_API_KEY_TOKEN_TTL must be a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_LIFETIME}`,
      ),
    ]);
    cases.push([
      { TOKEN_KIT_REFRESH_ABSOLUTE_TTL: '9007199254740993' },
      /^TOKEN_KIT_REFRESH_ABSOLUTE_TTL must be/,
    ]);
    cases.push([
      { TOKEN_KIT_REFRESH_ABSOLUTE_TTL: '3600', TOKEN_KIT_REFRESH_IDLE_TTL: '7200' },
      /^TOKEN_KIT_REFRESH_IDLE_TTL \(7200\) must not exceed TOKEN_KIT_REFRESH_ABSOLUTE_TTL \(3600\)/,
    ]);

    it.each(cases)('rejects %j before listening', async (env, message) => {
      const lines: string[] = [];
      const err = await startDemoServer({ PORT: '0', ...env }, { ...quiet, log: (l) => lines.push(l) }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DemoConfigError);
      expect((err as Error).message).toMatch(message);
      expect(lines).toEqual([]);
    });

    it('exits 1 naming the variable, without listening, as a program', async () => {
      const { REDIS_URL: _r, TOKEN_KIT_SEED: _s, ...rest } = process.env;
      const child = spawn(process.execPath, ['-r', 'esbuild-register', MAIN], {
        cwd: ROOT,
        env: { ...rest, PORT: '0', TOKEN_KIT_ACCESS_TOKEN_TTL: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => {
        // A server that ignored the variable would listen forever: stop it, the test fails.
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('still running after 20 s');
        }, 20_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(1);
      expect(stderr).toBe(
        `express-token-kit: cannot start: TOKEN_KIT_ACCESS_TOKEN_TTL must be a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_LIFETIME}, got "0"\n`,
      );
      expect(stdout).toBe('');
    }, 30_000);
  });
});
