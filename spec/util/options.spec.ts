import {
  absoluteHttpUrl,
  atLeast,
  audienceArray,
  booleanOption,
  describeValue,
  functionOption,
  hasMethod,
  httpUrl,
  invalidOption,
  isQuotable,
  matchingString,
  missingOption,
  nonEmptyString,
  objectOption,
  objectWith,
  oneOf,
  optionConflict,
  optionalFunction,
  positiveInteger,
  positiveNumber,
  positiveNumbers,
  quotableString,
  scopeTokens,
  stringArray,
  stringOption,
  wholeMilliseconds,
  wholeNumber,
  wholeSeconds,
} from '../../lib/util/options';
import { requireBinding, requireScope } from '../../lib/middleware/guards';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import { createOAuthRouter } from '../../lib/routers/oauth-router';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit } from '../helpers/kit';

/** An object whose toString and valueOf would lie about it, or blow up when called. */
const hostileObject = {
  toString: () => {
    throw new Error('toString called');
  },
  valueOf: () => 5,
};

/** Number-ish values that are not whole numbers, or not numbers at all. */
const NOT_WHOLE: readonly unknown[] = [
  Number.NaN,
  Infinity,
  -Infinity,
  1.5,
  '5',
  '',
  true,
  {},
  [],
  [5],
  hostileObject,
  5n,
  2 ** 53,
];

describe('describeValue', () => {
  it.each([
    [5, '5'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    [-Infinity, '-Infinity'],
    ['a"b', '"a\\"b"'],
    ['\r\n', '"\\r\\n"'],
    [true, 'true'],
    [undefined, 'undefined'],
    [null, 'null'],
    [5n, '5n'],
    [Symbol('s'), 'a symbol'],
    [() => 1, 'a function'],
    [[1], 'an array'],
    [hostileObject, 'an object'],
  ])('describes %p as %s without calling anything on it', (value, shown) => {
    expect(describeValue(value)).toBe(shown);
  });

  it('cuts a long string at 64 characters', () => {
    expect(describeValue('x'.repeat(1000))).toBe(JSON.stringify(`${'x'.repeat(64)}…`));
  });
});

describe('wholeSeconds', () => {
  it('takes the fallback for undefined and accepts the bounds', () => {
    expect(wholeSeconds(undefined, 5, 'x')).toBe(5);
    expect(wholeSeconds(0, 5, 'x', 0, 10)).toBe(0);
    expect(wholeSeconds(10, 5, 'x', 0, 10)).toBe(10);
  });

  it.each([...NOT_WHOLE, -1, 0, 11])('refuses %p with a RangeError naming the option', (bad) => {
    expect(() => wholeSeconds(bad as number, 5, 'f: ttl', 1, 10)).toThrow(RangeError);
    expect(() => wholeSeconds(bad as number, 5, 'f: ttl', 1, 10)).toThrow(
      /^f: ttl must be a whole number of seconds from 1 to 10, got /,
    );
  });

  it('shows the bad value as written', () => {
    expect(() => wholeSeconds(1.5, 5, 'ttl')).toThrow(
      `ttl must be a whole number of seconds from 1 to ${Number.MAX_SAFE_INTEGER}, got 1.5`,
    );
    expect(() => wholeSeconds('5' as unknown as number, 5, 'ttl', 1, 9)).toThrow(
      'ttl must be a whole number of seconds from 1 to 9, got "5"',
    );
  });

  it('refuses a bad fallback too (a programming mistake is not let through)', () => {
    expect(() => wholeSeconds(undefined, 0, 'ttl')).toThrow(RangeError);
  });
});

describe('wholeMilliseconds', () => {
  it('accepts a whole number of milliseconds in bounds', () => {
    expect(wholeMilliseconds(undefined, 100, 'ms')).toBe(100);
    expect(wholeMilliseconds(1, 100, 'ms')).toBe(1);
  });

  it.each([...NOT_WHOLE, 0, -1, 2_147_483_648])('refuses %p', (bad) => {
    expect(() => wholeMilliseconds(bad, 100, 'f: timeoutMs', 1, 2_147_483_647)).toThrow(
      /^f: timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got /,
    );
  });
});

describe('wholeNumber', () => {
  it('says "from min" without an upper bound and "from min to max" with one', () => {
    expect(() => wholeNumber(-1, 0, 'maxQueue', 0)).toThrow(
      new RangeError('maxQueue must be a whole number from 0, got -1'),
    );
    expect(() => wholeNumber(11, 0, 'hops', 0, 10)).toThrow(
      new RangeError('hops must be a whole number from 0 to 10, got 11'),
    );
    expect(wholeNumber(undefined, 3, 'n')).toBe(3);
    expect(wholeNumber(0, 3, 'n')).toBe(0);
  });

  it.each(NOT_WHOLE)('refuses %p', (bad) => {
    expect(() => wholeNumber(bad, 0, 'n', 0, 2 ** 60)).toThrow(RangeError);
  });
});

describe('positiveInteger', () => {
  it('accepts 1 and up', () => {
    expect(positiveInteger(1, 5, 'n')).toBe(1);
    expect(positiveInteger(undefined, 5, 'n')).toBe(5);
  });

  it.each([...NOT_WHOLE, 0, -1])('refuses %p', (bad) => {
    expect(() => positiveInteger(bad, 5, 'f: n')).toThrow(/^f: n must be a positive integer, got /);
  });
});

describe('positiveNumber', () => {
  it('accepts fractions above zero', () => {
    expect(positiveNumber(0.5, 1, 'n')).toBe(0.5);
    expect(positiveNumber(undefined, 1, 'n')).toBe(1);
  });

  it.each([0, -1, -0.5, Number.NaN, Infinity, '1', hostileObject, [], true])('refuses %p', (bad) => {
    expect(() => positiveNumber(bad, 1, 'f: sweepIntervalMs')).toThrow(
      /^f: sweepIntervalMs must be a positive number, got /,
    );
  });
});

describe('atLeast', () => {
  it('accepts the minimum and above, refuses below and non-numbers', () => {
    expect(atLeast(10, 500, 'heartbeatMs', 10)).toBe(10);
    expect(atLeast(undefined, 500, 'heartbeatMs', 10)).toBe(500);
    for (const bad of [9, 9.99, Number.NaN, Infinity, '50', hostileObject]) {
      expect(() => atLeast(bad, 500, 'heartbeatMs', 10)).toThrow(/^heartbeatMs must be at least 10, got /);
    }
  });
});

describe('positiveNumbers', () => {
  it('copies a list of positive numbers', () => {
    const given = [0.5, 1];
    const got = positiveNumbers(given, [1], 'buckets');
    expect(got).toEqual([0.5, 1]);
    expect(got).not.toBe(given);
    expect(positiveNumbers(undefined, [1], 'buckets')).toEqual([1]);
  });

  it.each([[[]], [[0]], [[-1]], [[Number.NaN]], [[Infinity]], [['1']], [[1, null]]])(
    'refuses %j with a RangeError',
    (bad) => {
      expect(() => positiveNumbers(bad, [1], 'buckets')).toThrow(RangeError);
    },
  );

  it.each(['1', 1, hostileObject])('refuses the non-array %p with a TypeError', (bad) => {
    expect(() => positiveNumbers(bad, [1], 'buckets')).toThrow(TypeError);
  });
});

describe('nonEmptyString', () => {
  it('accepts any non-empty string, blank ones included', () => {
    expect(nonEmptyString(' ', 'id')).toBe(' ');
  });

  it.each(['', undefined, null, 5, hostileObject, ['a']])('refuses %p', (bad) => {
    expect(() => nonEmptyString(bad, 'f: id')).toThrow(new TypeError('f: id must be a non-empty string'));
  });
});

describe('stringOption', () => {
  it('accepts the empty string and takes the fallback for undefined', () => {
    expect(stringOption('', 'etk:', 'keyPrefix')).toBe('');
    expect(stringOption(undefined, 'etk:', 'keyPrefix')).toBe('etk:');
  });

  it.each([5, hostileObject, ['a'], true])('refuses %p', (bad) => {
    expect(() => stringOption(bad, 'etk:', 'f: keyPrefix')).toThrow(/^f: keyPrefix must be a string, got /);
  });
});

describe('matchingString', () => {
  const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

  it('accepts a match and refuses anything else, showing the value', () => {
    expect(matchingString(undefined, 'tokens', 'schema', identifier, 'an identifier')).toBe('tokens');
    expect(() => matchingString('a"b', 'x', 'schema', identifier, 'an identifier')).toThrow(
      new TypeError('schema must be an identifier, got "a\\"b"'),
    );
    expect(() => matchingString(hostileObject, 'x', 'schema', identifier, 'an identifier')).toThrow(
      new TypeError('schema must be an identifier, got an object'),
    );
  });
});

describe('quotableString and isQuotable', () => {
  it.each(['', ' ', 'api', 'my realm', '!#$%&()*+,-./:;<=>?@[]^_`{|}~'])('accepts %p', (good) => {
    expect(isQuotable(good)).toBe(true);
    expect(quotableString(good, 'api', 'realm')).toBe(good);
  });

  it.each(['"', 'a"b', '\\', 'a\\"', '\r\n', 'a\r\nSet-Cookie: x=1', '\t', '\0', '\x7f', 'é', '€', '\u2028'])(
    'refuses %j: it could end or corrupt a quoted-string (RFC 7230 §3.2.6)',
    (bad) => {
      expect(isQuotable(bad)).toBe(false);
      expect(() => quotableString(bad, 'api', 'f: realm')).toThrow(
        new TypeError('f: realm must be printable ASCII without quotes'),
      );
    },
  );

  it.each([5, hostileObject, ['api'], true])('refuses the non-string %p', (bad) => {
    expect(isQuotable(bad)).toBe(false);
    expect(() => quotableString(bad, 'api', 'realm')).toThrow(TypeError);
  });

  it('takes the fallback for undefined', () => {
    expect(quotableString(undefined, 'api', 'realm')).toBe('api');
  });
});

describe('scopeTokens', () => {
  it('copies a non-empty array of scope tokens', () => {
    const given = ['read', 'plans:write', 'a!#[]~'];
    const got = scopeTokens(given, 'scopes');
    expect(got).toEqual(given);
    expect(got).not.toBe(given);
  });

  it.each([
    [[]],
    [['']],
    [['a b']],
    [['a"b']],
    [['a\\b']],
    [['a\r\n']],
    [['é']],
    [[' ']],
    [[5]],
    [[hostileObject]],
    ['read'],
    [hostileObject],
    [undefined],
  ])('refuses %p (RFC 6749 §3.3 scope-token)', (bad) => {
    expect(() => scopeTokens(bad, 'f: scopes')).toThrow(
      /^f: scopes must be a non-empty array of scope tokens/,
    );
  });
});

describe('stringArray', () => {
  it('accepts an array of non-empty strings, empty unless nonEmpty', () => {
    expect(stringArray([], [], 'aud')).toEqual([]);
    expect(stringArray(undefined, ['x'], 'aud')).toEqual(['x']);
    expect(() => stringArray([], [], 'aud', true)).toThrow(
      new TypeError('aud must be a non-empty array of non-empty strings'),
    );
  });

  it.each([[['']], [[5]], [[hostileObject]], ['a'], [hostileObject]])('refuses %p', (bad) => {
    expect(() => stringArray(bad, [], 'f: aud')).toThrow(
      new TypeError('f: aud must be an array of non-empty strings'),
    );
  });
});

describe('audienceArray', () => {
  it('turns one audience into a list and keeps a list', () => {
    expect(audienceArray('https://a.test', ['x'])).toEqual(['https://a.test']);
    expect(audienceArray(['a', 'b'], ['x'])).toEqual(['a', 'b']);
    expect(audienceArray(undefined, ['x'])).toEqual(['x']);
  });

  it.each(['', [], [''], [5], hostileObject])('refuses %p', (bad) => {
    expect(() => audienceArray(bad as string, [])).toThrow(
      new TypeError('audience must be a non-empty string or array of strings'),
    );
  });
});

describe('functionOption and optionalFunction', () => {
  it('accepts functions, and undefined when optional', () => {
    const f = (): number => 1;
    expect(functionOption(f, 'cb')).toBe(f);
    expect(optionalFunction(f, 'cb')).toBe(f);
    expect(optionalFunction(undefined, 'cb')).toBeUndefined();
  });

  it.each([null, 'f', 5, hostileObject, [], { call: () => 1 }])('refuses %p', (bad) => {
    expect(() => functionOption(bad as never, 'f: cb')).toThrow(new TypeError('f: cb must be a function'));
    expect(() => optionalFunction(bad as never, 'f: cb')).toThrow(new TypeError('f: cb must be a function'));
  });

  it('refuses undefined when required', () => {
    expect(() => functionOption(undefined as never, 'cb')).toThrow(TypeError);
  });
});

describe('hasMethod and objectWith', () => {
  const pool = { query: () => 1, connect: () => 2 };

  it('checks an injected object by shape', () => {
    expect(hasMethod(pool, 'query')).toBe(true);
    expect(hasMethod({ query: 1 }, 'query')).toBe(false);
    expect(hasMethod(null, 'query')).toBe(false);
    expect(hasMethod(undefined, 'query')).toBe(false);
    expect(objectWith(pool, ['query', 'connect'], 'pool', 'a pg Pool')).toBe(pool);
  });

  it.each<unknown>([
    undefined,
    null,
    {},
    { query: () => 1 },
    { query: () => 1, connect: 'x' },
    'pool',
    hostileObject,
  ])('refuses %p', (bad) => {
    expect(() => objectWith(bad, ['query', 'connect'], 'f: pool', 'a pg Pool (query and connect)')).toThrow(
      new TypeError('f: pool must be a pg Pool (query and connect)'),
    );
  });
});

describe('objectOption', () => {
  it('accepts an object and refuses null, arrays and primitives', () => {
    expect(objectOption({}, 'o')).toEqual({});
    for (const bad of [null, undefined, [], 'x', 5, () => 1]) {
      expect(() => objectOption(bad, 'f: options')).toThrow(new TypeError('f: options must be an object'));
    }
  });
});

describe('oneOf', () => {
  it('lists one, two and more choices the way the messages always read', () => {
    expect(() => oneOf('x', ['a'], 't')).toThrow(new TypeError(`t must be 'a', got "x"`));
    expect(() => oneOf('x', ['a', 'b'], 't')).toThrow(new TypeError(`t must be 'a' or 'b', got "x"`));
    expect(() => oneOf('x', ['a', 'b', 'c'], 't')).toThrow(
      new TypeError(`t must be one of 'a', 'b', 'c', got "x"`),
    );
    expect(() => oneOf('xml', ['errors', 'code', 'oauth'], 'errorFormat', undefined, 'a function')).toThrow(
      new TypeError(`errorFormat must be 'errors', 'code', 'oauth' or a function, got "xml"`),
    );
  });

  it('accepts a choice and takes the fallback for undefined', () => {
    expect(oneOf('b', ['a', 'b'], 't')).toBe('b');
    expect(oneOf(undefined, ['a', 'b'], 't', 'a')).toBe('a');
  });

  it.each([undefined, 'A', ' a', 'a ', hostileObject, ['a'], 0])('refuses %p', (bad) => {
    expect(() => oneOf(bad, ['a', 'b'], 't')).toThrow(TypeError);
  });

  it('does not let a prototype member in', () => {
    expect(() => oneOf('toString', ['a'], 't')).toThrow(TypeError);
  });
});

describe('booleanOption', () => {
  it('accepts booleans and takes the fallback for undefined', () => {
    expect(booleanOption(false, true, 'b')).toBe(false);
    expect(booleanOption(undefined, true, 'b')).toBe(true);
  });

  it.each(['true', 'yes', 1, 0, hostileObject, []])('refuses %p', (bad) => {
    expect(() => booleanOption(bad, false, 'f: allowUnbound')).toThrow(
      new TypeError('f: allowUnbound must be a boolean'),
    );
  });
});

describe('absoluteHttpUrl', () => {
  it.each(['https://a.test', 'http://127.0.0.1:3000/base/'])('accepts %p as given', (good) => {
    expect(absoluteHttpUrl(good, 'issuer')).toBe(good);
  });

  it.each(['/auth', '', 'a.test', hostileObject, 5])('refuses %p as no absolute URL', (bad) => {
    expect(() => absoluteHttpUrl(bad, 'baseUrl')).toThrow(/^baseUrl must be an absolute http\(s\) URL, got /);
  });

  it.each(['ftp://a.test', 'javascript:alert(1)', 'https://a.test/?x=1', 'https://a.test/#f'])(
    'refuses %p: another scheme, a query or a fragment',
    (bad) => {
      expect(() => absoluteHttpUrl(bad, 'baseUrl')).toThrow(
        /^baseUrl must be an absolute http\(s\) URL without query or fragment, got /,
      );
    },
  );
});

describe('httpUrl', () => {
  it.each(['https://a.test', 'http://127.0.0.1:3000/base/', 'https://a.test/?x=1', 'https://a.test/#f'])(
    'accepts %p as given',
    (good) => {
      expect(httpUrl(good, 'jwksUri')).toBe(good);
    },
  );

  it.each(['/auth', '', 'a.test', 'ftp://a.test', 'javascript:alert(1)', hostileObject, 5])(
    'refuses %p as no absolute http(s) URL',
    (bad) => {
      expect(() => httpUrl(bad, 'jwksUri')).toThrow(TypeError);
      expect(() => httpUrl(bad, 'jwksUri')).toThrow(/^jwksUri must be an http\(s\) URL, got /);
    },
  );
});

describe('optionConflict, missingOption and invalidOption', () => {
  it('build TypeErrors with the message given, for the caller to throw', () => {
    for (const build of [optionConflict, missingOption, invalidOption]) {
      const err = build('f takes a or b, not both');
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe('f takes a or b, not both');
    }
  });
});

describe('the factories checking their options through it', () => {
  const HOSTILE_REALMS = ['a"b', 'a\\', 'api\r\nSet-Cookie: x=1', 'é', 5, hostileObject];

  it.each(HOSTILE_REALMS)('refuse the realm %p at factory time', async (realm) => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    const bad = realm as string;
    expect(() => requireToken({ kit, realm: bad })).toThrow(TypeError);
    expect(() => requireScope(['read'], { realm: bad })).toThrow(TypeError);
    expect(() => requireBinding({ param: 'id', type: 'employer', realm: bad })).toThrow(TypeError);
    expect(() => createAuthRouter({ kit, realm: bad })).toThrow(TypeError);
    expect(() => createOAuthRouter({ kit, realm: bad })).toThrow(TypeError);
  });

  it.each([[['a b']], [['a"b']], [['']], [['read\r\n']]])(
    'refuse the scopes %j, which would corrupt the challenge',
    async (scopes) => {
      const { kit } = await makeKit({ store: new MemoryTokenStore() });
      expect(() => requireToken({ kit, scopes })).toThrow(TypeError);
      expect(() => requireScope(scopes)).toThrow(TypeError);
    },
  );

  it('refuse a non-boolean allowUnbound instead of reading it as true (fail closed)', () => {
    expect(() =>
      requireBinding({ param: 'id', type: 'employer', allowUnbound: 'no' as unknown as boolean }),
    ).toThrow(new TypeError('requireBinding: allowUnbound must be a boolean'));
  });

  it('still accept the defaults and good values', async () => {
    const { kit } = await makeKit({ store: new MemoryTokenStore() });
    expect(typeof requireToken({ kit, realm: 'my api', scopes: ['plans:read'] })).toBe('function');
    expect(typeof requireToken({ kit, scopes: [] })).toBe('function');
    expect(typeof requireScope(['plans:read'], { realm: 'api' })).toBe('function');
    expect(typeof requireBinding({ param: 'id', type: 'employer', allowUnbound: true })).toBe('function');
  });
});
