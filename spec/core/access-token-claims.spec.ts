import { makeKit, storeFactories, type StoreHarness, type TestKit } from '../helpers/kit';
import type { IssueAccessTokenInput } from '../../lib/core/token-service';

/** Plain JavaScript callers: no types to stop them, so every input goes through a cast. */
function js(input: Record<string, unknown>): IssueAccessTokenInput {
  return input as unknown as IssueAccessTokenInput;
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

async function thrown(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe.each(storeFactories)('TokenService.issueAccessToken on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let test: TestKit;

  beforeAll(async () => {
    stores = await factory('access-token-claims');
  });
  afterAll(async () => {
    await stores.cleanup();
  });
  beforeEach(async () => {
    test = await makeKit({ store: (await stores.create()).store });
  });

  describe('when given custom claims', () => {
    it('adds them to the JWT payload and to AuthInfo.claims', async () => {
      const tenant = { id: 'acme', plan: 'gold', seats: 12, flags: [true, null], nested: { deep: ['x'] } };
      const { token } = await test.kit.tokens.issueAccessToken(
        js({ subject: 'user-1', clientId: 'app-1', claims: { tenant, region: 'eu' } }),
      );
      expect(payloadOf(token)).toMatchObject({ sub: 'user-1', client_id: 'app-1', tenant, region: 'eu' });
      const auth = await test.kit.tokens.verifyAccessToken(token);
      expect(auth.claims).toMatchObject({ tenant, region: 'eu' });
      expect(auth.subject).toBe('user-1');
    });

    it('copies them: later changes to the caller object do not reach the token', async () => {
      const claims = { tenant: { id: 'acme' } };
      const issuing = test.kit.tokens.issueAccessToken(js({ subject: 'u', clientId: 'c', claims }));
      claims.tenant.id = 'evil';
      expect(payloadOf((await issuing).token).tenant).toEqual({ id: 'acme' });
    });

    it('hands out a deeply frozen AuthInfo, also when it is remembered', async () => {
      const { token } = await test.kit.tokens.issueAccessToken(
        js({ subject: 'u', clientId: 'c', claims: { tenant: { roles: ['admin'] } } }),
      );
      for (let i = 0; i < 2; i += 1) {
        const auth = await test.kit.tokens.verifyAccessToken(token);
        const tenant = auth.claims.tenant as { roles: string[] };
        expect(Object.isFrozen(tenant)).toBe(true);
        expect(Object.isFrozen(tenant.roles)).toBe(true);
        expect(() => tenant.roles.push('root')).toThrow(TypeError);
      }
    });

    it('accepts an empty claims object, also on an opaque token', async () => {
      const jwt = await test.kit.tokens.issueAccessToken(js({ subject: 'u', clientId: 'c', claims: {} }));
      expect(payloadOf(jwt.token)).not.toHaveProperty('claims');
      const opaque = await test.kit.tokens.issueAccessToken(
        js({ subject: 'u', clientId: 'c', format: 'opaque', claims: {} }),
      );
      expect((await test.kit.tokens.verifyAccessToken(opaque.token)).subject).toBe('u');
    });
  });

  describe('when the claims are refused', () => {
    it.each([
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'nbf',
      'jti',
      'cnf',
      'client_id',
      'scope',
      'bound_entity',
      'sid',
      'typ',
      'act',
    ])('throws TypeError naming the reserved claim %s', async (claim) => {
      const error = await thrown(
        test.kit.tokens.issueAccessToken(
          js({ subject: 'u', clientId: 'c', claims: { ok: 1, [claim]: 'x' } }),
        ),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(
        `issueAccessToken: claims[${JSON.stringify(claim)}] is reserved: the token service sets ${claim} itself`,
      );
    });

    it.each<[string, unknown, RegExp]>([
      ['claims is a string', 'tenant=acme', /claims must be a plain object of JSON values/],
      ['claims is null', null, /claims must be a plain object/],
      ['claims is an array', ['tenant'], /claims must be a plain object/],
      ['claims is a Map', new Map([['tenant', 'acme']]), /claims must be a plain object/],
      [
        'a claim is undefined',
        { tenant: undefined },
        /claims\["tenant"\] must be a JSON value .*got undefined/,
      ],
      [
        'a claim is a function',
        { tenant: () => 'acme' },
        /claims\["tenant"\] must be a JSON value .*got function/,
      ],
      ['a claim is a bigint', { seats: 10n }, /claims\["seats"\] must be a JSON value .*got bigint/],
      ['a claim is a Date', { at: new Date(0) }, /claims\["at"\] must be a JSON value .*got Date/],
      ['a claim is NaN', { n: Number.NaN }, /claims\["n"\] must be a finite number, got NaN/],
      [
        'a nested claim is Infinity',
        { a: { b: [1, Infinity] } },
        /claims\["a"\]\["b"\]\[1\] must be a finite number/,
      ],
      [
        'a nested claim is a symbol',
        { a: [Symbol('s')] },
        /claims\["a"\]\[0\] must be a JSON value .*got symbol/,
      ],
      ['a claim name is empty', { '': 'x' }, /claim names must not be empty/],
    ])('throws TypeError when %s', async (_case, claims, message) => {
      const error = await thrown(
        test.kit.tokens.issueAccessToken(js({ subject: 'u', clientId: 'c', claims })),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(message);
    });

    it('throws TypeError for a cycle (too deep), never a stack overflow', async () => {
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      const error = await thrown(
        test.kit.tokens.issueAccessToken(js({ subject: 'u', clientId: 'c', claims: { loop } })),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/claims\["loop"\]\["self"\].* is nested deeper than 16 levels/);
    });

    it('throws TypeError for claims on an opaque token, and stores nothing', async () => {
      const error = await thrown(
        test.kit.tokens.issueAccessToken(
          js({ subject: 'u', clientId: 'c', format: 'opaque', claims: { tenant: 'a' } }),
        ),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/claims are carried by JWT access tokens only/);
    });

    it('throws RangeError when the claims make the token longer than verifiers accept', async () => {
      const error = await thrown(
        test.kit.tokens.issueAccessToken(
          js({ subject: 'u', clientId: 'c', claims: { blob: 'x'.repeat(4000) } }),
        ),
      );
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/more than the 4096 verifiers accept/);
    });
  });

  describe('when the input has an unknown field', () => {
    it.each([
      ['a typo of claims', { subject: 'u', clientId: 'c', claim: { tenant: 'acme' } }, 'claim'],
      ['a typo of ttl', { subject: 'u', clientId: 'c', expiresIn: 60 }, 'expiresIn'],
      ['a snake_case field', { subject: 'u', client_id: 'c', clientId: 'c' }, 'client_id'],
    ])('throws TypeError naming it (%s)', async (_case, input, field) => {
      const error = await thrown(test.kit.tokens.issueAccessToken(js(input)));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(
        new RegExp(`^issueAccessToken: unknown input field "${field}" \\(expected subject, clientId, `),
      );
    });

    it.each([
      ['null', null],
      ['a string', 'user-1'],
      ['an array', ['user-1']],
    ])('throws TypeError when the input is %s', async (_case, input) => {
      const error = await thrown(test.kit.tokens.issueAccessToken(input as unknown as IssueAccessTokenInput));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/input must be an object/);
    });

    it('still accepts every documented field', async () => {
      const issued = await test.kit.tokens.issueAccessToken({
        subject: 'u',
        clientId: 'c',
        format: 'jwt',
        audience: 'https://api.test',
        audienceAsArray: true,
        issuer: 'https://issuer.test',
        scope: 'read',
        boundEntity: null,
        ttl: 60,
        typ: 'at+jwt',
        prefix: 'etk_at_',
        familyId: 'fam-1',
        claims: { tenant: 'acme' },
      });
      expect(payloadOf(issued.token)).toMatchObject({
        aud: ['https://api.test'],
        sid: 'fam-1',
        tenant: 'acme',
      });
    });
  });
});
