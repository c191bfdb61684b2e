import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadSeedFile, parseSeed, seedEmployerResolver, SeedError } from '../../lib/server/seed';

const EXAMPLE = path.join(__dirname, '..', '..', 'docs', 'seed.example.json');

type Json = Record<string, unknown>;

function validSeed(): Json {
  return {
    apiKeys: [{ key: 'key_one_1234567890', name: 'Acme Platform' }],
    employers: [{ id: 'empr_1', employees: ['empl_1', 'empl_2'] }],
    applications: [
      {
        id: '5B0A8F3E-2C4D-4E6F-8A1B-9C0D1E2F3A4B',
        name: 'TestApp',
        organization: '123',
        clientId: 'client-1',
        clientSecret: 'secret-1',
        applicationTypes: ['API'],
        grantTypes: ['client_credentials', 'password'],
      },
    ],
    users: [{ username: 'carmen', password: 'pw', sub: 'user_1' }],
    providers: [
      {
        id: '497f6eca-6276-4993-bfeb-53cbbbba6f08',
        domain: 'auth.example.test',
        apiKeys: ['provider_key_1'],
        clients: [{ id: '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a', audience: 'https://api.example.test' }],
      },
    ],
  };
}

/** Applies `edit` to a fresh valid seed. */
function seedWith(edit: (s: Json) => unknown): Json {
  const s = validSeed();
  edit(s);
  return s;
}

function first(s: Json, section: string): Json {
  return (s[section] as Json[])[0]!;
}

describe('parseSeed', () => {
  describe('when the seed is valid', () => {
    it('returns a normalised copy with lowercased UUIDs', () => {
      const seed = parseSeed(validSeed());
      expect(seed.applications[0]!.id).toBe('5b0a8f3e-2c4d-4e6f-8a1b-9c0d1e2f3a4b');
      expect(seed.applications[0]!.grantTypes).toEqual(['client_credentials', 'password']);
      expect(seed.providers[0]!.domain).toBe('auth.example.test');
      expect(seed.employers[0]!.employees).toEqual(['empl_1', 'empl_2']);
    });

    it('defaults grantTypes to client_credentials', () => {
      const seed = parseSeed(seedWith((s) => delete first(s, 'applications').grantTypes));
      expect(seed.applications[0]!.grantTypes).toEqual(['client_credentials']);
    });

    it('accepts a null or absent provider domain', () => {
      expect(
        parseSeed(seedWith((s) => (first(s, 'providers').domain = null))).providers[0]!.domain,
      ).toBeNull();
      expect(parseSeed(seedWith((s) => delete first(s, 'providers').domain)).providers[0]!.domain).toBeNull();
    });

    it('treats absent sections as empty lists', () => {
      expect(parseSeed({})).toEqual({
        apiKeys: [],
        employers: [],
        applications: [],
        users: [],
        providers: [],
      });
    });

    it('matches the example shown in docs/getting-started.md', async () => {
      const guide = await readFile(path.join(__dirname, '..', '..', 'docs', 'getting-started.md'), 'utf8');
      const block = /## Seed file[\s\S]*?```json\n([\s\S]*?)```/.exec(guide)?.[1];
      expect(JSON.parse(block!)).toEqual(JSON.parse(await readFile(EXAMPLE, 'utf8')));
    });

    it('accepts docs/seed.example.json', async () => {
      const seed = await loadSeedFile(EXAMPLE);
      expect(seed.apiKeys.length).toBeGreaterThan(0);
      expect(seed.applications.some((a) => a.grantTypes.includes('password'))).toBe(true);
      expect(seed.providers.some((p) => p.domain === null)).toBe(true);
      expect(seed.providers.some((p) => p.domain !== null)).toBe(true);
    });
  });

  describe('when a field is malformed', () => {
    const cases: [string, unknown, string][] = [
      ['the seed is an array', [], 'the seed must be a JSON object'],
      ['the seed is null', null, 'the seed must be a JSON object'],
      ['a top-level field is unknown', seedWith((s) => (s.clients = [])), 'clients is not a known field'],
      ['apiKeys is not an array', seedWith((s) => (s.apiKeys = {})), 'apiKeys must be an array'],
      [
        'an API key is not an object',
        seedWith((s) => (s.apiKeys = ['k'])),
        'apiKeys[0] must be a JSON object',
      ],
      [
        'an API key is empty',
        seedWith((s) => (first(s, 'apiKeys').key = '')),
        'apiKeys[0].key must be a non-empty string',
      ],
      [
        'an API key is not a string',
        seedWith((s) => (first(s, 'apiKeys').key = 42)),
        'apiKeys[0].key must be a non-empty string',
      ],
      [
        'an API key has no name',
        seedWith((s) => delete first(s, 'apiKeys').name),
        'apiKeys[0].name must be a non-empty string',
      ],
      [
        'an API key has an unknown field',
        seedWith((s) => (first(s, 'apiKeys').scopes = [])),
        'apiKeys[0].scopes is not a known field',
      ],
      [
        'two API keys are equal',
        seedWith((s) => (s.apiKeys as Json[]).push({ key: 'key_one_1234567890', name: 'Other' })),
        'apiKeys[1].key duplicates the key of apiKeys[0].key',
      ],
      [
        'a provider key equals an API key',
        seedWith((s) => (first(s, 'providers').apiKeys = ['key_one_1234567890'])),
        'providers[0].apiKeys[0] duplicates the key of apiKeys[0].key',
      ],
      ['employers is not an array', seedWith((s) => (s.employers = 'empr_1')), 'employers must be an array'],
      [
        'an employer id lacks the empr_ prefix',
        seedWith((s) => (first(s, 'employers').id = 'empl_1')),
        'employers[0].id must be an employer id',
      ],
      [
        'an employer id has a path separator',
        seedWith((s) => (first(s, 'employers').id = 'empr_1/../x')),
        'employers[0].id must be an employer id',
      ],
      [
        'an employee id lacks the empl_ prefix',
        seedWith((s) => (first(s, 'employers').employees = ['empl_1', 'empr_2'])),
        'employers[0].employees[1] must be an employee id',
      ],
      [
        'employees is not an array',
        seedWith((s) => (first(s, 'employers').employees = 'empl_1')),
        'employers[0].employees must be an array',
      ],
      [
        'an employer id repeats',
        seedWith((s) => (s.employers as Json[]).push({ id: 'empr_1', employees: [] })),
        'employers[1].id duplicates the id of employers[0].id',
      ],
      [
        'an employee belongs to two employers',
        seedWith((s) => (s.employers as Json[]).push({ id: 'empr_2', employees: ['empl_2'] })),
        'employers[1].employees[0] duplicates the employee id of employers[0].employees[1]',
      ],
      [
        'an application id is not a UUID',
        seedWith((s) => (first(s, 'applications').id = 'app-1')),
        'applications[0].id must be a UUID',
      ],
      [
        'an application has no name',
        seedWith((s) => (first(s, 'applications').name = '')),
        'applications[0].name must be a non-empty string',
      ],
      [
        'an application organization is not a string',
        seedWith((s) => (first(s, 'applications').organization = 123)),
        'applications[0].organization must be a string',
      ],
      [
        'an application has no clientId',
        seedWith((s) => delete first(s, 'applications').clientId),
        'applications[0].clientId must be a non-empty string',
      ],
      [
        'an application clientId is too long',
        seedWith((s) => (first(s, 'applications').clientId = 'c'.repeat(129))),
        'applications[0].clientId must be at most 128 characters',
      ],
      [
        'an application clientSecret is empty',
        seedWith((s) => (first(s, 'applications').clientSecret = '')),
        'applications[0].clientSecret must be a non-empty string',
      ],
      [
        'applicationTypes is not an array',
        seedWith((s) => (first(s, 'applications').applicationTypes = 'API')),
        'applications[0].applicationTypes must be an array',
      ],
      [
        'an application type is empty',
        seedWith((s) => (first(s, 'applications').applicationTypes = ['API', ''])),
        'applications[0].applicationTypes[1] must be a non-empty string',
      ],
      [
        'grantTypes names an unknown grant',
        seedWith((s) => (first(s, 'applications').grantTypes = ['client_credentials', 'implicit'])),
        'applications[0].grantTypes[1] must be one of: client_credentials, password, refresh_token',
      ],
      [
        'grantTypes is empty',
        seedWith((s) => (first(s, 'applications').grantTypes = [])),
        'applications[0].grantTypes must not be empty',
      ],
      [
        'grantTypes repeats a grant',
        seedWith((s) => (first(s, 'applications').grantTypes = ['password', 'password'])),
        'applications[0].grantTypes[1] duplicates the grant of applications[0].grantTypes[0]',
      ],
      [
        'an application has an unknown field',
        seedWith((s) => (first(s, 'applications').client_secret = 'x')),
        'applications[0].client_secret is not a known field',
      ],
      [
        'two applications share an id',
        seedWith((s) =>
          (s.applications as Json[]).push({ ...first(s, 'applications'), clientId: 'client-2' }),
        ),
        'applications[1].id duplicates the id of applications[0].id',
      ],
      [
        'two applications share a clientId',
        seedWith((s) =>
          (s.applications as Json[]).push({
            ...first(s, 'applications'),
            id: '8d1e2f3a-4b5c-4d6e-9f0a-1b2c3d4e5f60',
          }),
        ),
        'applications[1].clientId duplicates the clientId of applications[0].clientId',
      ],
      [
        'a user has no username',
        seedWith((s) => delete first(s, 'users').username),
        'users[0].username must be a non-empty string',
      ],
      [
        'a user password is a number',
        seedWith((s) => (first(s, 'users').password = 1234)),
        'users[0].password must be a non-empty string',
      ],
      [
        'a user has no sub',
        seedWith((s) => (first(s, 'users').sub = '')),
        'users[0].sub must be a non-empty string',
      ],
      [
        'two users share a username',
        seedWith((s) => (s.users as Json[]).push({ username: 'carmen', password: 'x', sub: 'user_2' })),
        'users[1].username duplicates the username of users[0].username',
      ],
      [
        'a user has an unknown field',
        seedWith((s) => (first(s, 'users').passwordHash = 'x')),
        'users[0].passwordHash is not a known field',
      ],
      [
        'a provider id is not a UUID',
        seedWith((s) => (first(s, 'providers').id = 'prov_1')),
        'providers[0].id must be a UUID',
      ],
      [
        'a provider domain is a URL',
        seedWith((s) => (first(s, 'providers').domain = 'https://auth.example.test')),
        'providers[0].domain must be a host name',
      ],
      [
        'a provider domain is not a string',
        seedWith((s) => (first(s, 'providers').domain = true)),
        'providers[0].domain must be a host name',
      ],
      [
        'a provider has no apiKeys',
        seedWith((s) => delete first(s, 'providers').apiKeys),
        'providers[0].apiKeys must be an array',
      ],
      [
        'a provider has an empty apiKeys list',
        seedWith((s) => (first(s, 'providers').apiKeys = [])),
        'providers[0].apiKeys must not be empty',
      ],
      [
        'a provider key is empty',
        seedWith((s) => (first(s, 'providers').apiKeys = [''])),
        'providers[0].apiKeys[0] must be a non-empty string',
      ],
      [
        'a provider client id is not a UUID',
        seedWith((s) => (first(s, 'providers').clients = [{ id: 'c1', audience: 'a' }])),
        'providers[0].clients[0].id must be a UUID',
      ],
      [
        'a provider client has no audience',
        seedWith((s) => (first(s, 'providers').clients = [{ id: '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a' }])),
        'providers[0].clients[0].audience must be a non-empty string',
      ],
      [
        'a provider client has an unknown field',
        seedWith(
          (s) =>
            (first(s, 'providers').clients = [
              { id: '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a', audience: 'a', secret: 'x' },
            ]),
        ),
        'providers[0].clients[0].secret is not a known field',
      ],
      [
        'two provider clients share an id',
        seedWith(
          (s) =>
            (first(s, 'providers').clients = [
              { id: '2f1c7a9e-3b4d-4c5e-8f6a-7b8c9d0e1f2a', audience: 'a' },
              { id: '2F1C7A9E-3B4D-4C5E-8F6A-7B8C9D0E1F2A', audience: 'b' },
            ]),
        ),
        'providers[0].clients[1].id duplicates the id of providers[0].clients[0].id',
      ],
      [
        'a provider has an unknown field',
        seedWith((s) => (first(s, 'providers').name = 'x')),
        'providers[0].name is not a known field',
      ],
    ];

    it.each(cases)('throws a SeedError naming the field when %s', (_name, json, message) => {
      let error: unknown;
      try {
        parseSeed(json);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(SeedError);
      expect((error as SeedError).message).toContain(message);
      expect((error as SeedError).message.startsWith((error as SeedError).path)).toBe(true);
    });
  });
});

describe('loadSeedFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'etk-seed-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('throws a SeedError naming the file when it cannot be read', async () => {
    const file = path.join(dir, 'missing.json');
    await expect(loadSeedFile(file)).rejects.toThrow(`cannot read ${file} (ENOENT)`);
  });

  it('throws a SeedError with the parser position when the file is not JSON', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"apiKeys": [}');
    const err = (await loadSeedFile(file).catch((e: unknown) => e)) as SeedError;
    expect(err).toBeInstanceOf(SeedError);
    expect(err.message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON: .+`),
    );
  });

  it('throws a SeedError naming the field when the JSON is malformed', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(seedWith((s) => (first(s, 'applications').clientSecret = ''))));
    await expect(loadSeedFile(file)).rejects.toThrow(
      'applications[0].clientSecret must be a non-empty string',
    );
  });

  it('returns the parsed seed of a valid file', async () => {
    const file = path.join(dir, 'good.json');
    await writeFile(file, JSON.stringify(validSeed()));
    await expect(loadSeedFile(file)).resolves.toEqual(parseSeed(validSeed()));
  });
});

describe('seedEmployerResolver', () => {
  const isEmployerOf = seedEmployerResolver(parseSeed(validSeed()));

  it('answers true for an employee of the employer', () => {
    expect(isEmployerOf('empr_1', 'empl_2')).toBe(true);
  });

  it('answers false for another employer, an unknown employee and prototype names', () => {
    expect(isEmployerOf('empr_2', 'empl_1')).toBe(false);
    expect(isEmployerOf('empr_1', 'empl_3')).toBe(false);
    expect(isEmployerOf('empr_1', '__proto__')).toBe(false);
  });
});
