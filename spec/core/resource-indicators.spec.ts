/**
 * RFC 8707 resource indicators in the core: parsing the `resource` values of a request, checking
 * an application's allow-list, and the audience of issued and refreshed tokens.
 */
import { TokenError } from '../../lib/errors';
import {
  applicationResources,
  grantResources,
  MAX_REQUEST_RESOURCES,
  refreshResources,
  requestedResources,
  resourceProblem,
} from '../../lib/core/resource-indicators';
import type { RefreshFamily } from '../../lib/stores/token-store';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return err.code;
    throw err;
  }
  return 'ok';
}

function family(resources?: unknown): RefreshFamily {
  return {
    familyId: 'f1',
    sub: 'user-1',
    clientId: 'client-1',
    scope: '',
    boundEntity: null,
    createdAt: 1,
    expiresAt: 2,
    lastUsedAt: 1,
    ...(resources === undefined ? {} : { data: { resources } }),
  };
}

const API = 'https://api.example.test/';
const BILLING = 'https://billing.example.test/v1';

describe('resourceProblem', () => {
  it.each([
    ['an https URL', 'https://api.example.test/orders?x=1'],
    ['a URN', 'urn:example:resource'],
    ['percent-encoding', 'https://api.example.test/a%20b'],
  ])('accepts %s', (_case, value) => {
    expect(resourceProblem(value)).toBeUndefined();
  });

  it.each([
    ['a relative path', '/api'],
    ['a scheme-relative URL', '//api.example.test/'],
    ['a bare host', 'api.example.test'],
    ['a fragment', 'https://api.example.test/#x'],
    ['an empty fragment', 'https://api.example.test/#'],
    ['a space', 'https://api.example.test/a b'],
    ['a quote', 'https://api.example.test/"'],
    ['a newline', 'https://api.example.test/\n'],
    ['non-ASCII', 'https://api.example.test/ü'],
    ['a backslash', 'https://api.example.test\\x'],
    ['an empty string', ''],
    ['a number', 42],
    ['an object', { href: API }],
    ['513 characters', `https://a.test/${'a'.repeat(498)}`],
    ['a scheme starting with a digit', '1http://a.test/'],
  ])('refuses %s', (_case, value) => {
    expect(resourceProblem(value)).toEqual(expect.any(String));
  });
});

describe('requestedResources', () => {
  it('answers none for an absent parameter', () => {
    expect(requestedResources(undefined)).toEqual([]);
  });

  it('takes one value or several, de-duplicated in their order', () => {
    expect(requestedResources(API)).toEqual([API]);
    expect(requestedResources([BILLING, API, BILLING, API])).toEqual([BILLING, API]);
  });

  it.each([
    ['a fragment', 'https://api.example.test/#frag'],
    ['a relative URI', 'orders'],
    ['an empty value', ''],
    ['an empty array', []],
    ['a number', 7],
    ['null', null],
    ['an object', { resource: API }],
    ['an array holding a number', [API, 7]],
    ['a nested array', [[API]]],
    [
      `${MAX_REQUEST_RESOURCES + 1} values`,
      Array.from({ length: MAX_REQUEST_RESOURCES + 1 }, (_, i) => `${API}${i}`),
    ],
    ['100 values', Array.from({ length: 100 }, (_, i) => `${API}${i}`)],
    ['100 copies of one value', Array.from({ length: 100 }, () => API)],
  ])('answers invalid_target (RFC 8707 §2) for %s', (_case, raw) => {
    expect(codeOf(() => requestedResources(raw))).toBe('invalid_target');
  });
});

describe('applicationResources', () => {
  it('de-duplicates a valid list and leaves an absent one absent', () => {
    expect(applicationResources([API, API, BILLING])).toEqual([API, BILLING]);
    expect(applicationResources(undefined)).toBeUndefined();
  });

  it.each([
    ['a string', API],
    ['a relative entry', [API, '/v1']],
    ['a fragment', ['https://a.test/#x']],
    ['a non-string', [API, 1]],
    ['33 entries', Array.from({ length: 33 }, (_, i) => `${API}${i}`)],
  ])('throws a TypeError naming the option for %s', (_case, value) => {
    expect(() => applicationResources(value)).toThrow(/resources/);
    expect(() => applicationResources(value)).toThrow(TypeError);
  });
});

describe('grantResources', () => {
  const client = { resources: [API, BILLING] };

  it('leaves the kit’s audience when no resource is requested', () => {
    expect(grantResources(client, [])).toBeUndefined();
    expect(grantResources({}, undefined)).toBeUndefined();
  });

  it('answers the requested resources of the allow-list, several allowed', () => {
    expect(grantResources(client, [BILLING, API])).toEqual([BILLING, API]);
  });

  it.each([
    ['a resource outside the allow-list', client, [API, 'https://evil.test/']],
    ['a different case of an allowed one', client, ['HTTPS://api.example.test/']],
    ['a trailing-slash variant', client, ['https://api.example.test']],
    ['a client without an allow-list', {}, [API]],
    ['no client', null, [API]],
  ])('answers invalid_target for %s', (_case, who, requested) => {
    expect(codeOf(() => grantResources(who, requested))).toBe('invalid_target');
  });
});

describe('refreshResources', () => {
  const client = { resources: [API, BILLING] };

  it('keeps the family’s resources when none are requested', () => {
    expect(refreshResources(family([API, BILLING]), client, [])).toEqual([API, BILLING]);
  });

  it('narrows to a requested subset', () => {
    expect(refreshResources(family([API, BILLING]), client, [BILLING])).toEqual([BILLING]);
  });

  it('keeps the kit’s audience for a family granted none', () => {
    expect(refreshResources(family(), client, undefined)).toBeUndefined();
  });

  it.each([
    ['a resource the family was not granted', family([API]), client, [API, BILLING]],
    ['any resource for a family granted none', family(), client, [API]],
    ['a family resource the client may no longer request', family([API]), { resources: [BILLING] }, []],
  ])('answers invalid_target for %s', (_case, f, who, requested) => {
    expect(codeOf(() => refreshResources(f, who, requested))).toBe('invalid_target');
  });

  it('ignores malformed family data as no resources', () => {
    expect(refreshResources(family('https://a.test/'), null, [])).toBeUndefined();
    expect(refreshResources(family([1, 2]), null, [])).toBeUndefined();
  });
});
