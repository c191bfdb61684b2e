/**
 * The external-signer seam: the built-in signer, DER → JOSE ECDSA conversion, and a tested example
 * of a KMS signer — a Vault Transit signer (the copy in docs/keys-kms.md) against a local stand-in
 * that imitates Transit's sign and key endpoints and holds the private key, so the process never
 * sees it. Tokens it signs verify on another instance that has only the public JWK.
 */
import {
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { createTokenKit } from '../../lib/core/token-kit';
import { createKeyManager, type KeyManager } from '../../lib/keys/key-manager';
import { KeySet } from '../../lib/keys/key-set';
import {
  createLocalSigner,
  derToJoseSignature,
  publicJwkOf,
  signJwsCompact,
  type PublicJwk,
  type Signer,
} from '../../lib/keys/signer';
import { MemoryKeyStore } from '../../lib/stores/memory-key-store';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';

const ISSUER = 'https://issuer.test';

// --- the example signer (as in docs/keys-kms.md) ----------------------------------------------

interface VaultTransitSignerOptions {
  /** e.g. `https://vault.internal:8200` */
  readonly vaultUrl: string;
  /** A Vault token allowed to `update` transit/sign/<key> and `read` transit/keys/<key>. */
  readonly token: string;
  /** The Transit key name (type `ecdsa-p256` for ES256, `rsa-2048` for RS256). */
  readonly keyName: string;
  readonly kid: string;
  readonly alg: 'ES256' | 'RS256';
}

async function createVaultTransitSigner(o: VaultTransitSignerOptions): Promise<Signer> {
  const headers = { 'X-Vault-Token': o.token, 'Content-Type': 'application/json' };
  const keyResponse = await fetch(`${o.vaultUrl}/v1/transit/keys/${encodeURIComponent(o.keyName)}`, {
    headers,
  });
  if (!keyResponse.ok) throw new Error(`Vault: reading key ${o.keyName} failed (${keyResponse.status})`);
  const keyBody = (await keyResponse.json()) as {
    data: { latest_version: number; keys: Record<string, { public_key: string }> };
  };
  const version = keyBody.data.latest_version;
  const pem = keyBody.data.keys[String(version)]?.public_key;
  if (pem === undefined) throw new Error(`Vault: key ${o.keyName} has no public key`);
  const publicJwk = publicJwkOf(createPublicKey(pem), o.kid, o.alg);
  return {
    kid: o.kid,
    alg: o.alg,
    publicJwk,
    async sign(signingInput) {
      const response = await fetch(
        `${o.vaultUrl}/v1/transit/sign/${encodeURIComponent(o.keyName)}/sha2-256`,
        {
          method: 'POST',
          headers,
          body: JSON.stringify({
            input: Buffer.from(signingInput).toString('base64'),
            key_version: version,
            ...(o.alg === 'RS256' ? { signature_algorithm: 'pkcs1v15' } : { marshaling_algorithm: 'asn1' }),
          }),
        },
      );
      if (!response.ok) throw new Error(`Vault: sign failed (${response.status})`);
      const body = (await response.json()) as { data: { signature: string } };
      // "vault:v<version>:<base64 signature>"
      const raw = Buffer.from(body.data.signature.split(':')[2] ?? '', 'base64');
      return o.alg === 'ES256' ? derToJoseSignature(raw) : raw;
    },
  };
}

// --- the stand-in: Transit's two endpoints, holding the private keys ---------------------------

interface StandIn {
  readonly url: string;
  readonly token: string;
  signCalls: number;
  close(): Promise<void>;
}

async function startTransitStandIn(keys: Record<string, KeyObject>): Promise<StandIn> {
  const token = randomBytes(16).toString('hex');
  const state = { signCalls: 0 };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.headers['x-vault-token'] !== token) return send(403, { errors: ['permission denied'] });
    const keyMatch = /^\/v1\/transit\/keys\/([^/]+)$/.exec(req.url ?? '');
    const signMatch = /^\/v1\/transit\/sign\/([^/]+)\/sha2-256$/.exec(req.url ?? '');
    const name = decodeURIComponent((keyMatch ?? signMatch)?.[1] ?? '');
    const key = keys[name];
    if (key === undefined) return send(404, { errors: ['no such key'] });
    if (keyMatch && req.method === 'GET') {
      const public_key = createPublicKey(key).export({ format: 'pem', type: 'spki' });
      return send(200, { data: { latest_version: 1, keys: { '1': { public_key } } } });
    }
    if (!signMatch || req.method !== 'POST') return send(405, { errors: ['method not allowed'] });
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      state.signCalls += 1;
      const body = JSON.parse(text) as { input: string; marshaling_algorithm?: string };
      const input = Buffer.from(body.input, 'base64');
      // Vault's default marshaling for ECDSA is ASN.1 DER, like AWS KMS and GCP KMS.
      const signature = cryptoSign('sha256', input, key);
      send(200, { data: { signature: `vault:v1:${signature.toString('base64')}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    get signCalls() {
      return state.signCalls;
    },
    set signCalls(v: number) {
      state.signCalls = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
}

function pemOf(jwk: PublicJwk): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({
    format: 'pem',
    type: 'spki',
  }) as string;
}

describe('createLocalSigner', () => {
  it.each(['ES256', 'RS256'] as const)('signs %s with a JOSE signature that verifies', async (alg) => {
    const { privateKey, publicKey } =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = createLocalSigner({ kid: 'k1', alg, privateKey });
    expect(signer.publicJwk).toMatchObject({ kid: 'k1', alg, use: 'sig' });
    expect(signer.publicJwk).not.toHaveProperty('d');
    const data = Buffer.from('header.payload');
    const signature = await signer.sign(data);
    expect(signature.length).toBe(alg === 'ES256' ? 64 : 256);
    expect(
      cryptoVerify(
        'sha256',
        data,
        alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey,
        signature,
      ),
    ).toBe(true);
  });

  it.each([
    ['no options', undefined],
    ['an empty kid', { kid: '', alg: 'ES256', privateKey: 'x' }],
    ['HS256', { kid: 'k', alg: 'HS256', privateKey: 'x' }],
    ['an unreadable key', { kid: 'k', alg: 'ES256', privateKey: 'not a pem' }],
    [
      'a public key',
      {
        kid: 'k',
        alg: 'ES256',
        privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
      },
    ],
    [
      'an EC key for RS256',
      {
        kid: 'k',
        alg: 'RS256',
        privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
      },
    ],
    [
      'a small RSA key',
      { kid: 'k', alg: 'RS256', privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey },
    ],
  ])('refuses %s with a TypeError', (_what, options) => {
    expect(() => createLocalSigner(options as never)).toThrow(TypeError);
  });
});

describe('derToJoseSignature', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  it('turns DER signatures into R || S, short integers left-padded (500 signatures)', () => {
    for (let i = 0; i < 500; i += 1) {
      const data = randomBytes(32);
      const der = cryptoSign('sha256', data, privateKey);
      const jose = derToJoseSignature(der);
      expect(jose.length).toBe(64);
      expect(cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
    }
  });

  it.each([
    ['empty', ''],
    ['not a sequence', '020100'],
    ['a wrong sequence length', '3006020101020101ff'],
    ['a trailing byte', '300602010102010100'],
    ['a negative integer', '3006020181020101'],
    ['a non-minimal integer', '300702020001020101'],
    ['a zero-length integer', '30050200020101'],
    ['an integer longer than 32 bytes', `3026022101${'11'.repeat(32)}020101`],
    ['a long-form length', `3081060201010201010000`],
    ['a truncated integer', '3006020501020101'],
  ])('refuses %s with a TypeError', (_what, hex) => {
    expect(() => derToJoseSignature(Buffer.from(hex, 'hex'))).toThrow(TypeError);
  });
});

describe('signJwsCompact', () => {
  it('refuses a signer that returns DER instead of R || S', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const local = createLocalSigner({ kid: 'k', alg: 'ES256', privateKey });
    const der: Signer = {
      ...local,
      sign: (input) => Promise.resolve(cryptoSign('sha256', input, privateKey)),
    };
    await expect(signJwsCompact(der, { a: 1 }, 'JWT')).rejects.toThrow(/derToJoseSignature/);
  });
});

describe('a Vault Transit signer against a local stand-in', () => {
  let standIn: StandIn;
  const managers: KeyManager[] = [];
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    standIn = await startTransitStandIn({ 'jwt-es256': ec.privateKey, 'jwt-rs256': rsa.privateKey });
  });
  afterAll(() => standIn.close());
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  it.each([
    ['ES256', 'jwt-es256'],
    ['RS256', 'jwt-rs256'],
  ] as const)(
    'signs %s access tokens through the KMS; another instance verifies them from the store',
    async (alg, keyName) => {
      const signer = await createVaultTransitSigner({
        vaultUrl: standIn.url,
        token: standIn.token,
        keyName,
        kid: `vault-${alg}`,
        alg,
      });
      const store = new MemoryKeyStore();
      const kek = randomBytes(32);
      const a = await createKeyManager({ store, kek, issuer: ISSUER, signers: [signer], pollEveryMs: 0 });
      managers.push(a);
      const info = await a.rotate({ signer, now: true });
      expect(info).toMatchObject({ kid: `vault-${alg}`, alg, state: 'active', external: true });
      const stored = (await store.load()).keys.find((k) => k.kid === signer.kid)!;
      expect(stored.sealedPrivateKey).toBeUndefined();
      expect(stored.signerRef).toBe(signer.kid);

      const kitA = createTokenKit({ store: new MemoryTokenStore(), keys: a.keys, issuer: ISSUER });
      const before = standIn.signCalls;
      const { token } = await kitA.tokens.issueAccessToken({ subject: 'user-1', clientId: 'client-1' });
      expect(standIn.signCalls).toBe(before + 1);
      expect(headerOf(token)).toEqual({ alg, typ: 'at+jwt', kid: signer.kid });

      // Another instance without the signer: verification only, from the public JWK in the store.
      const b = await createKeyManager({ store, kek, issuer: ISSUER, pollEveryMs: 0 });
      managers.push(b);
      const kitB = createTokenKit({ store: new MemoryTokenStore(), keys: b.keys, issuer: ISSUER });
      await expect(kitB.tokens.verifyAccessToken(token)).resolves.toMatchObject({ subject: 'user-1' });
      expect(b.keys.jwks().keys.map((k) => k.kid)).toContain(signer.kid);
      // And a third-party verifier with the JWKS key.
      const jwk = a.keys.jwks().keys.find((k) => k.kid === signer.kid)!;
      expect(jwt.verify(token, pemOf(jwk), { algorithms: [alg] })).toMatchObject({ sub: 'user-1' });
      // Without the signer, b cannot sign with the external key: a clear error, not a silent local key.
      await expect(kitB.tokens.issueAccessToken({ subject: 'u', clientId: 'c' })).rejects.toThrow(
        /signing key/,
      );

      // ID tokens: signIdTokenAsync goes through the KMS; the synchronous signIdToken says why it cannot.
      const idToken = await kitA.tokens.signIdTokenAsync('user-1', 'client-1');
      expect(jwt.verify(idToken, pemOf(jwk), { algorithms: [alg] })).toMatchObject({ aud: 'client-1' });
      expect(() => kitA.tokens.signIdToken('user-1', 'client-1')).toThrow(/external signer/);
    },
  );

  it('answers 503 service_unavailable when the KMS cannot sign, and signs with no other key', async () => {
    await expect(
      createVaultTransitSigner({
        vaultUrl: standIn.url,
        token: 'wrong',
        keyName: 'jwt-es256',
        kid: 'x',
        alg: 'ES256',
      }),
    ).rejects.toThrow(/403/);
    const good = await createVaultTransitSigner({
      vaultUrl: standIn.url,
      token: standIn.token,
      keyName: 'jwt-es256',
      kid: 'v-down',
      alg: 'ES256',
    });
    const down: Signer = { ...good, sign: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    const m = await createKeyManager({
      store: new MemoryKeyStore(),
      kek: randomBytes(32),
      issuer: ISSUER,
      signers: [down],
      pollEveryMs: 0,
    });
    managers.push(m);
    await m.rotate({ signer: down, now: true });
    const kit = createTokenKit({ store: new MemoryTokenStore(), keys: m.keys, issuer: ISSUER });
    await expect(kit.tokens.issueAccessToken({ subject: 'u', clientId: 'c' })).rejects.toMatchObject({
      code: 'service_unavailable',
      status: 503,
    });
    await expect(kit.tokens.signIdTokenAsync('u', 'c')).rejects.toMatchObject({
      code: 'service_unavailable',
    });
  });

  it("refuses a signer that is not among the manager's signers", async () => {
    const signer = await createVaultTransitSigner({
      vaultUrl: standIn.url,
      token: standIn.token,
      keyName: 'jwt-es256',
      kid: 'v',
      alg: 'ES256',
    });
    const m = await createKeyManager({
      store: new MemoryKeyStore(),
      kek: randomBytes(32),
      issuer: ISSUER,
      pollEveryMs: 0,
    });
    managers.push(m);
    await expect(m.rotate({ signer })).rejects.toMatchObject({ code: 'refused' });
  });

  it('a KeySet takes an external signer whose kid and alg match, and refuses one that does not', async () => {
    const signer = await createVaultTransitSigner({
      vaultUrl: standIn.url,
      token: standIn.token,
      keyName: 'jwt-es256',
      kid: 'v',
      alg: 'ES256',
    });
    const keys = new KeySet({ keys: [{ kid: 'v', alg: 'ES256', signer }] });
    expect(keys.externalSigner()).toBe(signer);
    expect(() => keys.signingKey()).toThrow(/external signer/);
    expect(() => new KeySet({ keys: [{ kid: 'other', alg: 'ES256', signer }] })).toThrow(TypeError);
    expect(() => new KeySet({ keys: [{ kid: 'v', alg: 'RS256', signer }] })).toThrow(TypeError);
    expect(() => new KeySet({ keys: [{ kid: 'v', alg: 'HS256', signer }] })).toThrow(TypeError);
  });
});
