/**
 * `application rotate` and users' sessions: by default the application's own tokens die and
 * users' sessions survive (refreshing with the new credentials); `--revoke-user-tokens` kills every
 * token of the application. The CLI runs in-process on the run's Redis; a kit on the same key
 * prefix plays the server.
 */
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import type { TokenKit } from '../../lib/core/token-kit';
import { EXIT_OK, EXIT_USAGE, runCli } from '../../lib/server/cli';
import { makeKit } from '../helpers/kit';
import { USER, verifyUser } from '../helpers/oauth';
import { connectTestRedis, testRedisUrl, type TestRedis } from '../helpers/redis';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function parse<T>(run: Run): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: EXIT_OK, stderr: '' });
  return JSON.parse(run.stdout) as T;
}

interface Created {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

describe('express-token-kit application rotate', () => {
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;
  let kit: TokenKit;

  beforeAll(async () => {
    redis = await connectTestRedis('cli-rotate');
    env = { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: redis.prefix };
    ({ kit } = await makeKit({
      store: new RedisTokenStore({ client: redis.client, keyPrefix: redis.prefix }),
      verifyUser,
    }));
    // The prefix holds kit data before the first CLI call, so the CLI's empty-prefix warning (which
    // names other specs' prefixes on the shared Redis while they run) cannot reach stderr.
    await kit.credentials.createApiKey({ name: 'prefix-marker' });
  });
  afterAll(() => redis.cleanup());

  /** An application made by the CLI, a client token and a user's session issued by the kit. */
  async function setup(): Promise<{ app: Created; own: string; access: string; refresh: string }> {
    const app = parse<Created>(
      await cli(
        [
          'application',
          'create',
          '--name',
          'Billing',
          '--grant-types',
          'client_credentials,password,refresh_token',
        ],
        env,
      ),
    );
    const own = await kit.grants.clientCredentials({
      clientId: app.clientId,
      clientSecret: app.clientSecret,
    });
    const client = await kit.grants.authenticateClient(app.clientId, app.clientSecret);
    const user = await kit.grants.password({ username: USER.username, password: USER.password, client });
    return { app, own: own.accessToken.token, access: user.accessToken.token, refresh: user.refreshToken! };
  }

  async function refreshWith(refreshToken: string, clientId: string, clientSecret: string): Promise<unknown> {
    const client = await kit.grants.authenticateClient(clientId, clientSecret);
    return kit.grants.refresh({ refreshToken, client, enforceGrantTypes: true });
  }

  it("revokes the application's own tokens and keeps users' sessions by default", async () => {
    const { app, own, access, refresh } = await setup();
    const rotated = parse<Created>(await cli(['application', 'rotate', '--id', app.id], env));
    await expect(kit.tokens.verifyAccessToken(own)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(kit.tokens.verifyAccessToken(access)).resolves.toMatchObject({ subject: USER.sub });
    await expect(refreshWith(refresh, app.clientId, app.clientSecret)).rejects.toMatchObject({
      code: 'invalid_client',
    });
    await expect(refreshWith(refresh, rotated.clientId, rotated.clientSecret)).resolves.toMatchObject({
      subject: USER.sub,
    });
  });

  it('revokes every token of the application with --revoke-user-tokens', async () => {
    const { app, own, access, refresh } = await setup();
    const rotated = parse<Created>(
      await cli(['application', 'rotate', '--id', app.id, '--revoke-user-tokens'], env),
    );
    await expect(kit.tokens.verifyAccessToken(own)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(kit.tokens.verifyAccessToken(access)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(refreshWith(refresh, rotated.clientId, rotated.clientSecret)).rejects.toMatchObject({
      code: 'invalid_grant',
    });
  });

  it('keeps every token with --keep-tokens', async () => {
    const { app, own, access } = await setup();
    parse<Created>(await cli(['application', 'rotate', '--id', app.id, '--keep-tokens'], env));
    await expect(kit.tokens.verifyAccessToken(own)).resolves.toMatchObject({ clientId: app.clientId });
    await expect(kit.tokens.verifyAccessToken(access)).resolves.toMatchObject({ subject: USER.sub });
  });

  it('refuses --keep-tokens with --revoke-user-tokens (exit 2) and rotates nothing', async () => {
    const { app } = await setup();
    const run = await cli(
      ['application', 'rotate', '--id', app.id, '--keep-tokens', '--revoke-user-tokens'],
      env,
    );
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stderr).toMatch(/contradict/);
    expect(await kit.credentials.authenticateClient(app.clientId, app.clientSecret)).not.toBeNull();
  });

  it('documents --revoke-user-tokens in the help', async () => {
    const run = await cli(['--help'], env);
    expect(run.stdout).toContain('--revoke-user-tokens');
  });
});
