import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  KeyEncryptionKeyError,
  kekFromEnv,
  openPrivateKey,
  parseKek,
  sealPrivateKey,
} from '../../lib/keys/kek';

describe('parseKek', () => {
  const bytes = randomBytes(32);

  it('reads 32 bytes written as base64 (44 characters) or hex (64 characters)', () => {
    expect(parseKek(bytes.toString('base64'), 'X').equals(bytes)).toBe(true);
    expect(parseKek(bytes.toString('hex'), 'X').equals(bytes)).toBe(true);
    expect(parseKek(`${bytes.toString('hex').toUpperCase()}\n`, 'X').equals(bytes)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['too short base64', randomBytes(16).toString('base64')],
    ['base64url instead of base64 padding', randomBytes(32).toString('base64url')],
    ['63 hex characters', bytes.toString('hex').slice(1)],
    ['hex with a stray character', `${bytes.toString('hex').slice(1)}g`],
    ['a passphrase', 'correct horse battery staple correct horse!!'],
    ['48 bytes of base64', randomBytes(48).toString('base64')],
  ])('refuses %s with a KeyEncryptionKeyError naming the source', (_what, text) => {
    let error: unknown;
    try {
      parseKek(text, 'TOKEN_KIT_KEK');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyEncryptionKeyError);
    expect((error as Error).message).toMatch(/key-encryption key in TOKEN_KIT_KEK/);
    if (text.length > 8) expect((error as Error).message).not.toContain(text);
  });
});

describe('kekFromEnv', () => {
  const bytes = randomBytes(32);
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etk-kek-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is undefined when neither variable is set', () => {
    expect(kekFromEnv({})).toBeUndefined();
    expect(kekFromEnv({ TOKEN_KIT_KEK: '', TOKEN_KIT_KEK_FILE: '' })).toBeUndefined();
  });

  it('reads TOKEN_KIT_KEK', () => {
    const got = kekFromEnv({ TOKEN_KIT_KEK: bytes.toString('base64') });
    expect(got?.source).toBe('TOKEN_KIT_KEK');
    expect(got?.kek.equals(bytes)).toBe(true);
  });

  it('reads TOKEN_KIT_KEK_FILE, ignoring a trailing newline', () => {
    const file = path.join(dir, 'kek');
    writeFileSync(file, `${bytes.toString('hex')}\n`);
    const got = kekFromEnv({ TOKEN_KIT_KEK_FILE: file });
    expect(got?.source).toBe('TOKEN_KIT_KEK_FILE');
    expect(got?.kek.equals(bytes)).toBe(true);
  });

  it('refuses both at once, an unreadable file and a malformed file, naming the file', () => {
    expect(() => kekFromEnv({ TOKEN_KIT_KEK: bytes.toString('base64'), TOKEN_KIT_KEK_FILE: '/x' })).toThrow(
      /key-encryption key in TOKEN_KIT_KEK or TOKEN_KIT_KEK_FILE, not both/,
    );
    const missing = path.join(dir, 'missing');
    expect(() => kekFromEnv({ TOKEN_KIT_KEK_FILE: missing })).toThrow(KeyEncryptionKeyError);
    expect(() => kekFromEnv({ TOKEN_KIT_KEK_FILE: missing })).toThrow(missing);
    const bad = path.join(dir, 'bad');
    writeFileSync(bad, 'not a key\n');
    expect(() => kekFromEnv({ TOKEN_KIT_KEK_FILE: bad })).toThrow(KeyEncryptionKeyError);
    expect(() => kekFromEnv({ TOKEN_KIT_KEK_FILE: bad })).toThrow(bad);
  });
});

describe('sealPrivateKey / openPrivateKey', () => {
  const kek = randomBytes(32);
  const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n');

  it('round-trips, with a fresh IV each time and no plaintext in the envelope', () => {
    const a = sealPrivateKey(kek, secret, 'k1.RS256');
    const b = sealPrivateKey(kek, secret, 'k1.RS256');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^etk-kek-v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('PRIVATE KEY');
    expect(openPrivateKey(kek, a, 'k1.RS256').equals(secret)).toBe(true);
  });

  it('fails with KeyEncryptionKeyError under a wrong KEK, another AAD, or a tampered envelope', () => {
    const sealed = sealPrivateKey(kek, secret, 'k1.RS256');
    expect(() => openPrivateKey(randomBytes(32), sealed, 'k1.RS256')).toThrow(KeyEncryptionKeyError);
    expect(() => openPrivateKey(randomBytes(32), sealed, 'k1.RS256')).toThrow(/key-encryption key is wrong/);
    expect(() => openPrivateKey(kek, sealed, 'k2.RS256')).toThrow(KeyEncryptionKeyError);
    expect(() => openPrivateKey(kek, sealed, 'k1.ES256')).toThrow(KeyEncryptionKeyError);
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[2]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    const tampered = [parts[0], parts[1], flipped.toString('base64url'), parts[3]].join('.');
    expect(() => openPrivateKey(kek, tampered, 'k1.RS256')).toThrow(KeyEncryptionKeyError);
    for (const bad of ['', 'plain', 'etk-kek-v2.a.b.c', `${sealed}.x`, 'etk-kek-v1.AAAA.AAAA.AAAA']) {
      expect(() => openPrivateKey(kek, bad, 'k1.RS256')).toThrow(KeyEncryptionKeyError);
    }
  });

  it('refuses a KEK that is not 32 bytes', () => {
    expect(() => sealPrivateKey(randomBytes(16), secret, 'a')).toThrow(KeyEncryptionKeyError);
    expect(() => openPrivateKey(Buffer.alloc(0), 'x', 'a')).toThrow(KeyEncryptionKeyError);
  });
});
