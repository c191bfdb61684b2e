/**
 * The token-exchange grant (RFC 8693, lib/core/grants/token-exchange.ts), called as createOAuthRouter
 * calls it: who may exchange which token, narrowing only (scope, audience, binding, lifetime), the
 * `act` claim, the revocation linkage to the subject token, and the refusals of bad input. On the
 * memory store and a real Redis, with an injected clock.
 */
import type { ApplicationInfo } from '../../lib/core/credentials';
import type { TokenKit, TokenKitOptions } from '../../lib/core/token-kit';
import { grantContext } from '../../lib/core/grants/context';
import type { TokenEndpointRequest } from '../../lib/core/grants/oauth-grant';
import { tokenExchangeGrant, TOKEN_EXCHANGE_GRANT_TYPE } from '../../lib/core/grants/token-exchange';
import { createTokenKit } from '../../lib/core/token-kit';
import { KeySet } from '../../lib/keys/key-set';
import type { AccessTokenFormat, AuthInfo, BoundEntity } from '../../lib/types';
import { createClock, makeKit, storeFactories, type StoreHarness, type TestClock } from '../helpers/kit';
import { codeOf, decodeJwt } from '../helpers/oauth';

const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TYPE = 'urn:ietf:params:oauth:token-type:';
const EMPLOYER: BoundEntity = { id: 'empr_SGVsbG8gV29ybGQ', type: 'employer' };
const ALICE: BoundEntity = { id: 'empl_QWxpY2U', type: 'employee' };
const BOB: BoundEntity = { id: 'empl_Qm9i', type: 'employee' };
const OTHER_EMPLOYER = 'empr_T3RoZXI';
const MALLORY: BoundEntity = { id: 'empl_TWFsbG9yeQ', type: 'employee' };
const EMPLOYEES: Readonly<Record<string, string>> = {
  [ALICE.id]: EMPLOYER.id,
  [BOB.id]: EMPLOYER.id,
  [MALLORY.id]: OTHER_EMPLOYER,
};
const employerOf = (employerId: string, employeeId: string): boolean => EMPLOYEES[employeeId] === employerId;

interface Client {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A token-endpoint request of `client` with `params` (an empty value reads as absent, as the router does). */
function exchangeRequest(
  kit: TokenKit,
  client: Client,
  params: Record<string, string>,
  resources?: readonly string[],
): TokenEndpointRequest {
  return {
    param: (name) => (Object.hasOwn(params, name) && params[name] !== '' ? params[name] : undefined),
    scope: params.scope,
    ...(resources === undefined ? {} : { resources }),
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    ip: '192.0.2.1',
    authenticate: (): Promise<ApplicationInfo> =>
      kit.grants.authenticateClient(client.clientId, client.clientSecret),
  };
}

/** The verification outcome of a token: its identity, or the error code. */
async function verdict(kit: TokenKit, token: string): Promise<string> {
  return codeOf(kit.tokens.verifyAccessToken(token));
}

describe.each(storeFactories)('token exchange on the %s store', (_name, factory) => {
  let stores: StoreHarness;
  let clock: TestClock;
  let kit: TokenKit;
  let exchanger: ApplicationInfo & Client;
  let stranger: ApplicationInfo & Client;
  let ccOnly: ApplicationInfo & Client;

  beforeAll(async () => {
    stores = await factory('token-exchange');
  });
  afterAll(() => stores.cleanup());

  async function build(
    options: Omit<TokenKitOptions, 'store' | 'keys' | 'issuer' | 'now'> = {},
  ): Promise<void> {
    clock = createClock();
    ({ kit } = await makeKit({ store: (await stores.create(clock.now)).store, now: clock, ...options }));
    exchanger = await kit.credentials.createApplication({
      name: 'Exchanger',
      grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE],
      scopes: ['read', 'write'],
    });
    stranger = await kit.credentials.createApplication({
      name: 'Stranger',
      grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE],
    });
    ccOnly = await kit.credentials.createApplication({ name: 'CcOnly', scopes: ['read'] });
  }

  beforeEach(() => build({ tokenExchange: { employerOf } }));

  /** A token of the exchanging client itself (client_credentials style). */
  async function ownToken(
    input: { scope?: string; boundEntity?: BoundEntity | null; ttl?: number; audience?: string[] } = {},
    format: AccessTokenFormat = 'jwt',
  ): Promise<string> {
    return (
      await kit.tokens.issueAccessToken({
        subject: exchanger.clientId,
        clientId: exchanger.clientId,
        scope: input.scope ?? 'read write',
        format,
        ...(input.boundEntity === undefined ? {} : { boundEntity: input.boundEntity }),
        ...(input.ttl === undefined ? {} : { ttl: input.ttl }),
        ...(input.audience === undefined ? {} : { audience: input.audience }),
      })
    ).token;
  }

  /** A router A style token: opaque `vit_at_`, issued to an API key, maybe bound. */
  async function apiKeyToken(boundEntity: BoundEntity | null, ttl = 900): Promise<string> {
    return (
      await kit.tokens.issueAccessToken({
        subject: 'key-1',
        clientId: 'key-1',
        boundEntity,
        ttl,
        format: 'opaque',
        prefix: 'vit_at_',
      })
    ).token;
  }

  async function exchange(
    client: Client,
    subjectToken: string,
    params: Record<string, string> = {},
    resources?: readonly string[],
  ): Promise<{ token: string; auth: AuthInfo; expiresIn: number; scope: string; type?: string }> {
    const result = await tokenExchangeGrant.token(
      grantContext(kit.grants),
      exchangeRequest(
        kit,
        client,
        { subject_token: subjectToken, subject_token_type: ACCESS, ...params },
        resources,
      ),
    );
    const auth = await kit.tokens.verifyAccessToken(result.accessToken.token);
    return {
      token: result.accessToken.token,
      auth,
      expiresIn: result.accessToken.expiresIn,
      scope: result.scope,
      ...(result.issuedTokenType === undefined ? {} : { type: result.issuedTokenType }),
    };
  }

  async function refusal(
    client: Client,
    params: Record<string, string>,
    resources?: readonly string[],
  ): Promise<string> {
    return codeOf(
      tokenExchangeGrant.token(grantContext(kit.grants), exchangeRequest(kit, client, params, resources)),
    );
  }

  describe('when the client exchanges its own token', () => {
    it('issues an access token for the same subject with act naming the client (RFC 8693 §4.1)', async () => {
      const subject = await ownToken();
      const out = await exchange(exchanger, subject);
      expect(out.type).toBe(ACCESS);
      expect(out.auth).toMatchObject({ subject: exchanger.clientId, clientId: exchanger.clientId });
      expect(out.auth.scopes).toEqual(['read', 'write']);
      expect(out.auth.claims.act).toEqual({ sub: exchanger.clientId });
      // the family derived from the subject's jti: revoking the subject revokes it
      expect(decodeJwt(out.token).payload.sid).toBe(`x:${String(decodeJwt(subject).payload.jti)}`);
    });

    it('narrows the scope, and refuses a wider one with invalid_scope', async () => {
      const subject = await ownToken({ scope: 'read' });
      expect((await exchange(exchanger, subject, { scope: 'read' })).auth.scopes).toEqual(['read']);
      expect(
        await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS, scope: 'write' }),
      ).toBe('invalid_scope');
      expect(
        await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS, scope: 'read write' }),
      ).toBe('invalid_scope');
    });

    it('narrows the audience to one of the subject’s, and refuses another with invalid_target', async () => {
      const subject = await ownToken({ audience: ['https://a.test', 'https://b.test'] });
      const opts = { audiences: ['https://a.test', 'https://b.test'] };
      const base = { subject_token: subject, subject_token_type: ACCESS };
      for (const [params, resources, expected] of [
        [{ audience: 'https://b.test' }, undefined, ['https://b.test']],
        [{}, ['https://a.test'], ['https://a.test']],
        [{}, undefined, ['https://a.test', 'https://b.test']],
      ] as const) {
        const result = await tokenExchangeGrant.token(
          grantContext(kit.grants),
          exchangeRequest(kit, exchanger, { ...base, ...params }, resources),
        );
        expect((await kit.tokens.verifyAccessToken(result.accessToken.token, opts)).audience).toEqual(
          expected,
        );
      }
      expect(
        await refusal(exchanger, {
          subject_token: subject,
          subject_token_type: ACCESS,
          audience: 'https://c.test',
        }),
      ).toBe('invalid_target');
      expect(
        await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS }, ['https://c.test']),
      ).toBe('invalid_target');
    });

    it('never outlives the subject token, nor the normal access-token lifetime', async () => {
      const short = await ownToken({ ttl: 10 });
      clock.advance(3.5);
      const out = await exchange(exchanger, short);
      expect(out.auth.expiresAt).toBe(decodeJwt(short).payload.exp);
      expect(out.expiresIn).toBe(7);
      const long = await ownToken({ ttl: 7200 });
      expect((await exchange(exchanger, long)).expiresIn).toBe(kit.tokens.accessTokenTtl);
    });

    it('refuses a subject token in its last second, and an expired one, with invalid_request', async () => {
      const subject = await ownToken({ ttl: 2 });
      clock.advance(2);
      expect(await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
      clock.advance(kit.tokens.clockTolerance + 1);
      expect(await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
    });

    it('nests the subject’s act when an exchanged token is exchanged again, up to a bound', async () => {
      let token = await ownToken();
      const acts: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const out = await exchange(exchanger, token);
        acts.push(out.auth.claims.act);
        token = out.token;
      }
      expect(acts[2]).toEqual({
        sub: exchanger.clientId,
        act: { sub: exchanger.clientId, act: { sub: exchanger.clientId } },
      });
      expect(await refusal(exchanger, { subject_token: token, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
    });

    it('records the actor token’s subject as the actor, and ends with it', async () => {
      const subject = await ownToken();
      const actor = await ownToken({ ttl: 60 });
      const out = await exchange(exchanger, subject, { actor_token: actor, actor_token_type: JWT });
      expect(out.auth.claims.act).toEqual({ sub: exchanger.clientId });
      expect(out.expiresIn).toBe(60);
    });

    it('issues an opaque token with act in its record when the kit issues opaque tokens', async () => {
      await build({ tokenExchange: { employerOf }, accessTokenFormat: 'opaque' });
      const out = await exchange(exchanger, await ownToken());
      expect(out.auth.format).toBe('opaque');
      expect(out.auth.claims.act).toEqual({ sub: exchanger.clientId });
      expect((await kit.tokens.inspect(out.token)).kind).toBe('access');
    });
  });

  describe('who may exchange a token', () => {
    it('refuses another client’s token with invalid_request (RFC 8693 §2.2.2)', async () => {
      const subject = await ownToken();
      expect(await refusal(stranger, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
      expect(
        await refusal(stranger, { subject_token: await apiKeyToken(null), subject_token_type: ACCESS }),
      ).toBe('invalid_request');
    });

    it('emits auth_failed for a refused subject token, with ids only', async () => {
      const events: Record<string, unknown>[] = [];
      await build({ tokenExchange: { employerOf }, onEvent: (event) => events.push({ ...event }) });
      const subject = await ownToken();
      await refusal(stranger, { subject_token: subject, subject_token_type: ACCESS });
      await refusal(stranger, { subject_token: 'garbage', subject_token_type: ACCESS });
      const failures = events.filter((e) => e.type === 'auth_failed');
      expect(failures).toEqual([
        expect.objectContaining({ clientId: stranger.clientId, reason: 'subject_token:not_acceptable' }),
        expect.objectContaining({ clientId: stranger.clientId, reason: 'subject_token' }),
      ]);
      expect(JSON.stringify(events)).not.toContain(subject);
    });

    it('accepts a token whose aud names the client (the resource server it was sent to)', async () => {
      const subject = await ownToken({ audience: [stranger.clientId] });
      const result = await tokenExchangeGrant.token(
        grantContext(kit.grants),
        exchangeRequest(kit, stranger, { subject_token: subject, subject_token_type: ACCESS }),
      );
      const auth = await kit.tokens.verifyAccessToken(result.accessToken.token, {
        audiences: [stranger.clientId],
      });
      expect(auth).toMatchObject({ subject: exchanger.clientId, clientId: stranger.clientId });
      expect(auth.claims.act).toEqual({ sub: stranger.clientId });
    });

    it('accepts another token when mayExchange says so, and answers 503 when it throws', async () => {
      const seen: string[] = [];
      await build({
        tokenExchange: {
          employerOf,
          mayExchange: (token, client) => {
            seen.push(`${token.clientId}>${client.name}`);
            if (client.name === 'Stranger') throw new Error('policy store down');
            return client.name === 'Exchanger';
          },
        },
      });
      const out = await exchange(exchanger, await apiKeyToken(EMPLOYER));
      expect(out.auth).toMatchObject({
        subject: 'key-1',
        clientId: exchanger.clientId,
        boundEntity: EMPLOYER,
      });
      expect(
        await refusal(stranger, { subject_token: await apiKeyToken(null), subject_token_type: ACCESS }),
      ).toBe('service_unavailable');
      expect(seen).toEqual(['key-1>Exchanger', 'key-1>Stranger']);
    });

    it('refuses a client without the grant with unauthorized_client, a bad secret with invalid_client', async () => {
      const subject = await ownToken();
      expect(await refusal(ccOnly, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'unauthorized_client',
      );
      expect(
        await refusal(
          { ...exchanger, clientSecret: 'wrong' },
          { subject_token: subject, subject_token_type: ACCESS },
        ),
      ).toBe('invalid_client');
    });
  });

  describe('bindings', () => {
    beforeEach(() => build({ tokenExchange: { employerOf, mayExchange: () => true } }));

    it('binds an employer token to one of its employees, as the employer resolver decides', async () => {
      const out = await exchange(exchanger, await apiKeyToken(EMPLOYER), {
        bound_entity_id: ALICE.id,
        bound_entity_type: 'employee',
      });
      expect(out.auth.boundEntity).toEqual(ALICE);
    });

    it('keeps the subject’s binding when none is asked for, or the same one is', async () => {
      const subject = await apiKeyToken(ALICE);
      expect((await exchange(exchanger, subject)).auth.boundEntity).toEqual(ALICE);
      expect(
        (await exchange(exchanger, subject, { bound_entity_id: ALICE.id, bound_entity_type: 'employee' }))
          .auth.boundEntity,
      ).toEqual(ALICE);
    });

    it.each([
      ['another employer’s employee', EMPLOYER, MALLORY],
      ['the employer of an employee token', ALICE, EMPLOYER],
      ['a sibling of an employee token', ALICE, BOB],
      ['another employer', EMPLOYER, { id: OTHER_EMPLOYER, type: 'employer' }],
    ] as const)('refuses %s with invalid_target', async (_case, bound, wanted) => {
      const subject = await apiKeyToken(bound);
      expect(
        await refusal(exchanger, {
          subject_token: subject,
          subject_token_type: ACCESS,
          bound_entity_id: wanted.id,
          bound_entity_type: wanted.type,
        }),
      ).toBe('invalid_target');
    });

    it('never binds an unbound token without authorizeBinding, and binds it when authorizeBinding says so', async () => {
      const wanted = { bound_entity_id: ALICE.id, bound_entity_type: 'employee' };
      const subject = await apiKeyToken(null);
      expect(
        await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS, ...wanted }),
      ).toBe('invalid_target');
      await build({
        tokenExchange: { mayExchange: () => true, authorizeBinding: (entity) => entity.id === ALICE.id },
      });
      expect((await exchange(exchanger, await apiKeyToken(null), wanted)).auth.boundEntity).toEqual(ALICE);
    });

    it('refuses employer-to-employee without a resolver, and answers 503 when the resolver throws', async () => {
      const wanted = { bound_entity_id: ALICE.id, bound_entity_type: 'employee' };
      await build({ tokenExchange: { mayExchange: () => true } });
      expect(
        await refusal(exchanger, {
          subject_token: await apiKeyToken(EMPLOYER),
          subject_token_type: ACCESS,
          ...wanted,
        }),
      ).toBe('invalid_target');
      await build({
        tokenExchange: {
          mayExchange: () => true,
          employerOf: () => {
            throw new Error('directory down');
          },
        },
      });
      expect(
        await refusal(exchanger, {
          subject_token: await apiKeyToken(EMPLOYER),
          subject_token_type: ACCESS,
          ...wanted,
        }),
      ).toBe('service_unavailable');
    });

    it.each([
      ['an id without a type', { bound_entity_id: ALICE.id }],
      ['a type without an id', { bound_entity_type: 'employee' }],
      ['an id of the wrong type', { bound_entity_id: EMPLOYER.id, bound_entity_type: 'employee' }],
      ['an unknown type', { bound_entity_id: ALICE.id, bound_entity_type: 'team' }],
      ['a malformed id', { bound_entity_id: 'empl_a/../b', bound_entity_type: 'employee' }],
    ])('refuses %s with invalid_request', async (_case, params) => {
      const subject = await apiKeyToken(EMPLOYER);
      expect(
        await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS, ...params }),
      ).toBe('invalid_request');
    });
  });

  describe('revocation of the subject token', () => {
    beforeEach(() => build({ tokenExchange: { employerOf, mayExchange: () => true } }));

    it.each(['jwt', 'opaque'] as const)(
      'revokes what was exchanged from a %s subject token revoked with revokeToken',
      async (format) => {
        const subject = await ownToken({}, format);
        const out = await exchange(exchanger, subject);
        const again = await exchange(exchanger, out.token);
        expect(await kit.tokens.revokeToken(subject)).toBe(true);
        expect(await verdict(kit, subject)).toBe('invalid_token');
        expect(await verdict(kit, out.token)).toBe('invalid_token');
        expect(await verdict(kit, again.token)).toBe('invalid_token');
      },
    );

    it('revokes what was exchanged from a router A token revoked by its jti', async () => {
      const subject = await apiKeyToken(EMPLOYER);
      const out = await exchange(exchanger, subject, {
        bound_entity_id: ALICE.id,
        bound_entity_type: 'employee',
      });
      const auth = await kit.tokens.verifyAccessToken(subject);
      await kit.tokens.revokeJti(auth.jti, auth.expiresAt);
      expect(await verdict(kit, out.token)).toBe('invalid_token');
    });

    it('revokes what was exchanged from a refresh family’s token when the family is revoked', async () => {
      const { family } = await kit.tokens.startRefreshFamily({
        subject: 'user-1',
        clientId: exchanger.clientId,
      });
      const subject = (
        await kit.tokens.issueAccessToken({
          subject: 'user-1',
          clientId: exchanger.clientId,
          familyId: family.familyId,
        })
      ).token;
      const out = await exchange(exchanger, subject);
      expect(out.auth.familyId).toBe(family.familyId);
      await kit.tokens.revokeFamily(family.familyId);
      expect(await verdict(kit, out.token)).toBe('invalid_token');
    });

    it('covers the exchanged token with a subject cut-off set after it, even in the same second', async () => {
      clock.set(Math.floor(clock.now() / 1000) * 1000 + 100);
      const subject = await ownToken();
      clock.advance(0.5);
      const out = await exchange(exchanger, subject);
      clock.advance(0.3); // still the same second as the exchange
      await kit.tokens.revokeSubject(exchanger.clientId);
      expect(await verdict(kit, subject)).toBe('invalid_token');
      expect(await verdict(kit, out.token)).toBe('invalid_token');
      // a cut-off covers the subject: nothing can be exchanged from it any more
      expect(await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
    });

    it('covers an exchange in the last millisecond of a second with a cut-off at the next, not a later subject', async () => {
      clock.set(Math.floor(clock.now() / 1000) * 1000 + 998);
      const subject = await ownToken();
      clock.advance(0.001);
      const out = await exchange(exchanger, subject);
      clock.advance(0.001); // the next second begins
      await kit.tokens.revokeSubject(exchanger.clientId);
      expect(await verdict(kit, out.token)).toBe('invalid_token');
      // a subject issued after the cut-off, in the same second, exchanges and works
      clock.advance(0.2);
      const later = await exchange(exchanger, await ownToken());
      expect(await verdict(kit, later.token)).toBe('ok');
    });

    it('leaves the subject token alone when the exchanged token is revoked', async () => {
      const subject = await ownToken();
      const out = await exchange(exchanger, subject);
      expect(await kit.tokens.revokeToken(out.token)).toBe(true);
      expect(await verdict(kit, out.token)).toBe('invalid_token');
      expect(await verdict(kit, subject)).toBe('ok');
    });
  });

  describe('DPoP-bound tokens (RFC 9449)', () => {
    const KEY_A = 'A'.repeat(43);
    const KEY_B = 'B'.repeat(43);

    async function boundToken(jkt: string): Promise<string> {
      return (
        await kit.tokens.issueAccessToken({
          subject: exchanger.clientId,
          clientId: exchanger.clientId,
          scope: 'read write',
          jkt,
        })
      ).token;
    }

    function withProof(subjectToken: string, dpopJkt: string | undefined) {
      const request = exchangeRequest(kit, exchanger, {
        subject_token: subjectToken,
        subject_token_type: ACCESS,
      });
      return tokenExchangeGrant.token(grantContext(kit.grants), {
        ...request,
        ...(dpopJkt === undefined ? {} : { dpopJkt }),
      });
    }

    it('refuses to exchange a bound subject token without a proof of its key (no bearer laundering)', async () => {
      const subject = await boundToken(KEY_A);
      await expect(codeOf(withProof(subject, undefined))).resolves.toBe('invalid_request');
    });

    it('refuses a bound subject token with a proof of another key', async () => {
      const subject = await boundToken(KEY_A);
      await expect(codeOf(withProof(subject, KEY_B))).resolves.toBe('invalid_request');
    });

    it('binds the exchanged token to the key of the proof that came with the request', async () => {
      const bound = await withProof(await boundToken(KEY_A), KEY_A);
      expect(bound.accessToken.jkt).toBe(KEY_A);
      expect(decodeJwt(bound.accessToken.token).payload.cnf).toEqual({ jkt: KEY_A });
      const fromUnbound = await withProof(await ownToken(), KEY_B);
      expect(fromUnbound.accessToken.jkt).toBe(KEY_B);
      expect(decodeJwt(fromUnbound.accessToken.token).payload.cnf).toEqual({ jkt: KEY_B });
    });

    it('issues an unbound token when no proof was sent for an unbound subject', async () => {
      const plain = await withProof(await ownToken(), undefined);
      expect(plain.accessToken.jkt).toBeUndefined();
      expect(decodeJwt(plain.accessToken.token).payload.cnf).toBeUndefined();
    });
  });

  describe('bad input', () => {
    let subject: string;
    beforeEach(async () => {
      subject = await ownToken();
    });

    const SUBJECT = '<the subject token>';
    it.each([
      ['no subject_token', { subject_token_type: ACCESS }],
      ['no subject_token_type', { subject_token: SUBJECT }],
      [
        'subject_token_type refresh_token',
        { subject_token: SUBJECT, subject_token_type: `${TYPE}refresh_token` },
      ],
      ['subject_token_type id_token', { subject_token: SUBJECT, subject_token_type: `${TYPE}id_token` }],
      ['an unknown subject_token_type', { subject_token: SUBJECT, subject_token_type: 'urn:example:other' }],
      [
        'actor_token without actor_token_type',
        { subject_token: SUBJECT, subject_token_type: ACCESS, actor_token: SUBJECT },
      ],
      [
        'actor_token_type without actor_token',
        { subject_token: SUBJECT, subject_token_type: ACCESS, actor_token_type: ACCESS },
      ],
      [
        'requested_token_type refresh_token',
        { subject_token: SUBJECT, subject_token_type: ACCESS, requested_token_type: `${TYPE}refresh_token` },
      ],
      [
        'requested_token_type jwt',
        { subject_token: SUBJECT, subject_token_type: ACCESS, requested_token_type: JWT },
      ],
      ['a malformed scope', { subject_token: SUBJECT, subject_token_type: ACCESS, scope: 'read  "write' }],
    ])('refuses %s with invalid_request', async (_case, params: Record<string, string>) => {
      const input = Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, v === SUBJECT ? subject : v]),
      );
      expect(await refusal(exchanger, input)).toBe('invalid_request');
    });

    it('refuses a too long audience with invalid_target', async () => {
      expect(
        await refusal(exchanger, {
          subject_token: subject,
          subject_token_type: ACCESS,
          audience: `https://a.test/${'a'.repeat(5000)}`,
        }),
      ).toBe('invalid_target');
    });

    it.each([
      ['garbage', 'not-a-token'],
      ['a huge value', 'a'.repeat(100_000)],
      ['a tampered JWT', ''],
    ])('refuses %s as subject_token with invalid_request', async (_case, value) => {
      const token = value === '' ? `${subject.slice(0, -4)}AAAA` : value;
      expect(await refusal(exchanger, { subject_token: token, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
    });

    it('refuses a refresh token and an ID token passed as access tokens', async () => {
      const { refreshToken } = await kit.tokens.startRefreshFamily({
        subject: exchanger.clientId,
        clientId: exchanger.clientId,
      });
      const idToken = kit.tokens.signIdToken(exchanger.clientId, exchanger.clientId);
      for (const token of [refreshToken, idToken]) {
        expect(await refusal(exchanger, { subject_token: token, subject_token_type: ACCESS })).toBe(
          'invalid_request',
        );
        expect(await refusal(exchanger, { subject_token: token, subject_token_type: JWT })).toBe(
          'invalid_request',
        );
      }
    });

    it('refuses an opaque token declared as a JWT', async () => {
      expect(
        await refusal(exchanger, { subject_token: await ownToken({}, 'opaque'), subject_token_type: JWT }),
      ).toBe('invalid_request');
    });

    it('refuses a revoked subject token and a bad actor token with invalid_request', async () => {
      expect(
        await refusal(exchanger, {
          subject_token: subject,
          subject_token_type: ACCESS,
          actor_token: 'garbage',
          actor_token_type: ACCESS,
        }),
      ).toBe('invalid_request');
      await kit.tokens.revokeToken(subject);
      expect(await refusal(exchanger, { subject_token: subject, subject_token_type: ACCESS })).toBe(
        'invalid_request',
      );
    });

    it('refuses a token of another kit, and one of another issuer of the same keys, with invalid_request', async () => {
      const foreignKeys = createTokenKit({
        store: (await stores.create(clock.now)).store,
        keys: await KeySet.generate('ES256', 'foreign'),
        issuer: kit.tokens.issuer,
        now: clock.now,
      });
      const sameKeysOtherIssuer = await makeKit({
        store: (await stores.create(clock.now)).store,
        now: clock,
        issuer: 'https://other-issuer.test',
      });
      for (const source of [foreignKeys, sameKeysOtherIssuer.kit]) {
        const token = (
          await source.tokens.issueAccessToken({ subject: exchanger.clientId, clientId: exchanger.clientId })
        ).token;
        expect(await refusal(exchanger, { subject_token: token, subject_token_type: ACCESS })).toBe(
          'invalid_request',
        );
      }
    });
  });
});
