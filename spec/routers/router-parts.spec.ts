/**
 * The parts the routers are composed of, on their own: router D's form parsing (RFC 6749 §3.2)
 * and client authentication (RFC 6749 §2.3.1 and Appendix B), and the shared request helpers of
 * routers A–C. The HTTP behaviour of each is asserted by the router specs.
 */
import type { Request } from 'express';
import { TokenError } from '../../lib/errors';
import { formDecode, readClientCredentials } from '../../lib/routers/oauth/client-auth';
import { parseForm } from '../../lib/routers/oauth/form';
import {
  booleanField,
  defined,
  mapRejection,
  MAX_PARAMETERS,
  requireBearerCredential,
  type Body,
} from '../../lib/routers/shared';
import { basic } from '../helpers/oauth';

/** A request with these Authorization header values (as Node keeps them). */
function withAuthorization(...values: string[]): Request {
  return {
    headers: values.length === 0 ? {} : { authorization: values.join(', ') },
    rawHeaders: values.flatMap((v) => ['Authorization', v]),
  } as unknown as Request;
}

function errorOf(fn: () => unknown): TokenError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return err;
    throw err;
  }
  return undefined;
}

describe('router D: form bodies', () => {
  it('parses into a null-prototype object', () => {
    const body = parseForm('grant_type=client_credentials&__proto__=x&scope=a+b');
    expect(Object.getPrototypeOf(body)).toBeNull();
    expect(Object.keys(body)).toEqual(['grant_type', '__proto__', 'scope']);
    expect(Object.hasOwn(body, '__proto__') && body['__proto__']).toBe('x');
    expect(body.scope).toBe('a b');
  });

  it('refuses a repeated parameter and more than MAX_PARAMETERS', () => {
    expect(errorOf(() => parseForm('a=1&a=2'))).toMatchObject({
      code: 'invalid_request',
      message: 'A parameter was repeated',
    });
    const many = Array.from({ length: MAX_PARAMETERS + 1 }, (_, i) => `p${i}=v`).join('&');
    expect(errorOf(() => parseForm(many))).toMatchObject({
      code: 'invalid_request',
      message: 'Too many parameters',
    });
    const enough = Array.from({ length: MAX_PARAMETERS }, (_, i) => `p${i}=v`).join('&');
    expect(Object.keys(parseForm(enough))).toHaveLength(MAX_PARAMETERS);
  });
});

describe('router D: client authentication', () => {
  it('decodes Basic parts as RFC 6749 Appendix B form-encoding', () => {
    expect(formDecode('se%3Acr%25et+%C3%BC')).toBe('se:cr%et ü');
    expect(formDecode('%E0%A4%A')).toBeUndefined();
  });

  it('reads HTTP Basic, form-decoded, or the body, never both', () => {
    const body: Body = { client_id: 'odd:id+1' };
    expect(readClientCredentials(withAuthorization(basic('odd:id+1', 's:e c')), body)).toEqual({
      clientId: 'odd:id+1',
      clientSecret: 's:e c',
      basic: true,
    });
    expect(readClientCredentials(withAuthorization(), { client_id: 'a', client_secret: 'b' })).toEqual({
      clientId: 'a',
      clientSecret: 'b',
      basic: false,
    });
    expect(
      errorOf(() => readClientCredentials(withAuthorization(basic('a', 'b')), { client_secret: 'b' })),
    ).toMatchObject({
      code: 'invalid_request',
      message: 'More than one method used for client authentication',
    });
    expect(
      errorOf(() => readClientCredentials(withAuthorization(basic('a', 'b')), { client_id: 'c' })),
    ).toMatchObject({
      code: 'invalid_request',
      message: 'client_id differs from the authenticated client',
    });
  });

  it.each([
    ['not base64', 'Basic ***'],
    ['no colon', `Basic ${Buffer.from('nocolon').toString('base64')}`],
    ['not UTF-8', `Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString('base64')}`],
    ['a bad percent-escape', `Basic ${Buffer.from('a%zz:b').toString('base64')}`],
  ])('refuses Basic credentials with %s', (_case, header) => {
    expect(errorOf(() => readClientCredentials(withAuthorization(header), {}))).toMatchObject({
      code: 'invalid_request',
      message: 'Malformed Basic credentials',
    });
  });
});

describe('routers A–C: shared helpers', () => {
  it('booleanField: undefined when absent or null, invalid_request for another type', () => {
    expect(booleanField({ a: true }, 'a')).toBe(true);
    expect(booleanField({ a: null }, 'a')).toBeUndefined();
    expect(errorOf(() => booleanField({ a: 'true' }, 'a'))).toMatchObject({
      code: 'invalid_request',
      message: 'a must be a boolean',
    });
  });

  it('defined: a member only when the value is defined', () => {
    expect(defined('ttl', 5)).toEqual({ ttl: 5 });
    expect(defined('ttl', undefined)).toEqual({});
    expect(defined('flag', false)).toEqual({ flag: false });
  });

  it('requireBearerCredential: the bearer credential, or the given error', () => {
    expect(requireBearerCredential(withAuthorization('Bearer abc'), 'unauthorized')).toBe('abc');
    for (const req of [withAuthorization(), withAuthorization('Basic abc')]) {
      expect(errorOf(() => requireBearerCredential(req, 'invalid_api_key'))?.code).toBe('invalid_api_key');
    }
  });

  it('mapRejection: passes a value through and maps a rejection', async () => {
    await expect(mapRejection(Promise.resolve(1), () => new Error('no'))).resolves.toBe(1);
    await expect(
      mapRejection(Promise.reject(new Error('a')), () => new TokenError('not_found')),
    ).rejects.toThrow(new TokenError('not_found'));
  });
});
