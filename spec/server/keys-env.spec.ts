/**
 * The demo server's key settings from the environment: fixed keys from `TOKEN_KIT_KEYS_FILE`, the
 * rotation schedule, and the issuer the shared key store is kept under.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KeySet } from '../../lib/keys/key-set';
import { keyStoreIssuer, loadKeysFile, parseKeySchedule } from '../../lib/server/keys-env';
import { runCli } from '../../lib/server/cli';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'etk-keys-env-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `express-token-kit keys generate` prints for these arguments. */
async function generated(...args: string[]): Promise<string> {
  const out: string[] = [];
  const code = await runCli(
    ['keys', 'generate', ...args],
    {},
    { stdout: (l) => out.push(l), stderr: () => undefined },
  );
  expect(code).toBe(0);
  return out.join('\n');
}

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('loadKeysFile', () => {
  it.each([['pem'], ['jwk']])(
    'loads what `keys generate --format %s` prints, as the signing key',
    async (format) => {
      const printed = await generated('--alg', 'ES256', '--kid', `fixed-${format}`, '--format', format);
      const keys = await loadKeysFile(await file(`one-${format}.json`, printed));
      expect(keys.signingKey()).toMatchObject({ kid: `fixed-${format}`, alg: 'ES256' });
      expect(keys.jwks().keys).toEqual([(JSON.parse(printed) as { publicJwk: unknown }).publicJwk]);
    },
  );

  it('loads a JWKS-like document of private JWKs: the first signs, a public JWK verifies only', async () => {
    const a = JSON.parse(await generated('--kid', 'a', '--format', 'jwk')) as { privateKey: object };
    const b = JSON.parse(await generated('--alg', 'ES256', '--kid', 'b', '--format', 'jwk')) as {
      publicJwk: object;
    };
    const keys = await loadKeysFile(
      await file('jwks.json', JSON.stringify({ keys: [a.privateKey, b.publicJwk] })),
    );
    expect(keys.signingKey().kid).toBe('a');
    expect(keys.kids()).toEqual(['a', 'b']);
    expect(keys.verificationKey('b', 'ES256')).toBeDefined();
  });

  it('loads an HS256 secret as `keys generate` prints it', async () => {
    const keys = await loadKeysFile(await file('hs.json', await generated('--alg', 'HS256', '--kid', 'h')));
    expect(keys.signingKey()).toMatchObject({ kid: 'h', alg: 'HS256' });
    expect(keys.jwks().keys).toEqual([]);
  });

  describe('when the file is bad', () => {
    it.each([
      ['missing', null, /cannot read the file \(ENOENT\)/],
      ['not JSON', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----', /not JSON/],
      ['an empty keys list', '{"keys":[]}', /"keys" is empty/],
      [
        'a JWK without kid',
        '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c","alg":"ES256"}]}',
        /keys\[0\] is a JWK without "kid" and "alg"/,
      ],
      ['an object without kid and alg', '{"privateKey":"x"}', /needs "kid" and "alg"/],
      ['a number', '42', /must be a JSON object/],
      [
        'an unreadable PEM',
        '{"kid":"k","alg":"RS256","privateKey":"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----"}',
        /privateKey is not a readable private key/,
      ],
      ['an unknown algorithm', '{"kid":"k","alg":"none","secret":"x"}', /alg must be one of/],
    ])('refuses %s with an error naming the variable and the file', async (name, text, message) => {
      const p =
        text === null
          ? path.join(dir, 'no-such-file.json')
          : await file(`bad-${name.replace(/\W/g, '-')}.json`, text);
      const err = (await loadKeysFile(p).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toContain(`TOKEN_KIT_KEYS_FILE (${p})`);
      expect(err.message).toMatch(message);
    });

    it('refuses a file whose keys cannot sign, and never prints key material', async () => {
      const printed = JSON.parse(await generated('--kid', 'pub', '--format', 'jwk')) as {
        publicJwk: { n: string };
        privateKey: { d: string };
      };
      const err = (await loadKeysFile(
        await file('public-only.json', JSON.stringify({ keys: [printed.publicJwk] })),
      ).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/no key can sign/);
      const bad = { ...printed.privateKey, kty: 'EC' };
      const err2 = (await loadKeysFile(await file('mixed.json', JSON.stringify({ keys: [bad] }))).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err2.message).toMatch(/keys\[0\]/);
      for (const e of [err, err2]) {
        expect(e.message).not.toContain(printed.publicJwk.n.slice(0, 20));
        expect(e.message).not.toContain(printed.privateKey.d.slice(0, 20));
      }
    });
  });

  it('gives a key set like createKeySet would (the same signing key and JWKS)', async () => {
    const printed = await generated('--kid', 'same');
    const keys = await loadKeysFile(await file('same.json', printed));
    const direct = new KeySet({ keys: [JSON.parse(printed) as never] });
    expect(keys.jwks()).toEqual(direct.jwks());
  });
});

describe('parseKeySchedule', () => {
  it('defaults to RS256 and manual rotation, leaving the lead time and leeway to the key manager', () => {
    expect(parseKeySchedule({})).toEqual({ algorithm: 'RS256', rotateEvery: 0 });
  });

  it.each([
    [{ TOKEN_KIT_ROTATE_EVERY: '30d' }, { rotateEvery: 30 * 86_400 }],
    [{ TOKEN_KIT_ROTATE_EVERY: '3600' }, { rotateEvery: 3600 }],
    [{ TOKEN_KIT_ROTATE_EVERY: '0' }, { rotateEvery: 0 }],
    [{ TOKEN_KIT_PUBLISH_AHEAD: '10m' }, { publishAhead: 600 }],
    [{ TOKEN_KIT_KEY_LEEWAY: '2h' }, { leeway: 7200 }],
    [
      { TOKEN_KIT_ROTATE_EVERY: '120', TOKEN_KIT_PUBLISH_AHEAD: '60' },
      { rotateEvery: 120, publishAhead: 60 },
    ],
    [{ TOKEN_KIT_KEY_ALG: 'es256' }, { algorithm: 'ES256' }],
  ])('reads %j', (env, expected) => {
    expect(parseKeySchedule(env)).toMatchObject(expected);
  });

  it.each([
    [{ TOKEN_KIT_KEY_ALG: 'HS256' }, /^TOKEN_KIT_KEY_ALG must be RS256 or ES256/],
    [{ TOKEN_KIT_KEY_ALG: 'none' }, /^TOKEN_KIT_KEY_ALG/],
    [{ TOKEN_KIT_ROTATE_EVERY: '30 days' }, /^TOKEN_KIT_ROTATE_EVERY must be a duration/],
    [{ TOKEN_KIT_ROTATE_EVERY: '-1' }, /^TOKEN_KIT_ROTATE_EVERY must be a duration/],
    [{ TOKEN_KIT_ROTATE_EVERY: '1.5d' }, /^TOKEN_KIT_ROTATE_EVERY must be a duration/],
    [{ TOKEN_KIT_ROTATE_EVERY: '30' }, /^TOKEN_KIT_ROTATE_EVERY must be 0 .* or at least 60 seconds/],
    [{ TOKEN_KIT_ROTATE_EVERY: '4000d' }, /at most 10 years/],
    [
      { TOKEN_KIT_ROTATE_EVERY: '600' },
      /^TOKEN_KIT_ROTATE_EVERY \(600 s\) must be longer than TOKEN_KIT_PUBLISH_AHEAD \(600 s, the default\)/,
    ],
    [
      { TOKEN_KIT_ROTATE_EVERY: '1h', TOKEN_KIT_PUBLISH_AHEAD: '2h' },
      /must be longer than TOKEN_KIT_PUBLISH_AHEAD \(7200 s\)/,
    ],
    [{ TOKEN_KIT_PUBLISH_AHEAD: '5w' }, /^TOKEN_KIT_PUBLISH_AHEAD must be a duration/],
    [{ TOKEN_KIT_KEY_LEEWAY: 'soon' }, /^TOKEN_KIT_KEY_LEEWAY must be a duration/],
  ])('refuses %j with an error naming the variable', (env, message) => {
    expect(() => parseKeySchedule(env)).toThrow(message);
  });
});

describe('keyStoreIssuer', () => {
  it('is TOKEN_KIT_ISSUER, else the demo server default issuer from HOST and PORT', () => {
    expect(keyStoreIssuer({ TOKEN_KIT_ISSUER: 'https://auth.example.test' })).toBe(
      'https://auth.example.test',
    );
    expect(keyStoreIssuer({})).toBe('http://127.0.0.1:3000');
    expect(keyStoreIssuer({ HOST: '0.0.0.0', PORT: '8080' })).toBe('http://127.0.0.1:8080');
    expect(keyStoreIssuer({ HOST: '::1', PORT: '8080' })).toBe('http://[::1]:8080');
  });
});
