/**
 * Fixtures of the router D specs: seeded applications and users, the RFC 6749 §2.3.1 Basic header,
 * and a store that can be made to fail.
 */
import type { Express } from 'express';
import request from 'supertest';
import { StoreUnavailableError, TokenError } from '../../lib/errors';
import type { TokenKit } from '../../lib/core/token-kit';
import type { UserVerifier } from '../../lib/core/grants';
import type { TokenStore } from '../../lib/stores/token-store';

/** A seeded application with its plaintext secret. */
export interface TestClient {
  readonly id: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly grantTypes: readonly string[];
}

/** The applications every router D spec seeds. */
export interface TestClients {
  /** All three grants, scopes `read write`. */
  readonly full: TestClient;
  /** Another client with all three grants, for cross-client cases. */
  readonly other: TestClient;
  /** `client_credentials` only (the default). */
  readonly ccOnly: TestClient;
  /** `password` and `refresh_token`, no `client_credentials`. */
  readonly userOnly: TestClient;
  /** Id and secret full of characters Basic must form-encode (`:`, `+`, `%`, space, non-ASCII). */
  readonly odd: TestClient;
}

/** The one user of the password grant. */
export const USER = {
  username: 'alice',
  password: 'correct horse battery staple',
  sub: 'user-alice',
} as const;

/** A user verifier that knows {@link USER}. */
export const verifyUser: UserVerifier = async (username, password) =>
  username === USER.username && password === USER.password ? { sub: USER.sub } : null;

const ALL_GRANTS = ['client_credentials', 'password', 'refresh_token'];

/** Seeds the applications of {@link TestClients} into a kit. */
export async function seedClients(kit: TokenKit): Promise<TestClients> {
  const make = async (
    name: string,
    grantTypes: readonly string[],
    ids: { clientId?: string; clientSecret?: string } = {},
  ): Promise<TestClient> => {
    const app = await kit.credentials.createApplication({
      name,
      grantTypes,
      scopes: ['read', 'write'],
      ...ids,
    });
    return { id: app.id, clientId: app.clientId, clientSecret: app.clientSecret, grantTypes };
  };
  return {
    full: await make('Full', ALL_GRANTS),
    other: await make('Other', ALL_GRANTS),
    ccOnly: await make('CcOnly', ['client_credentials']),
    userOnly: await make('UserOnly', ['password', 'refresh_token']),
    odd: await make('Odd', ALL_GRANTS, { clientId: 'odd:client id+1', clientSecret: 'se:cr%et +ü/=' }),
  };
}

/** RFC 6749 Appendix B encoding, as a conforming client does it before Basic. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** `Basic base64(formEncode(id) ":" formEncode(secret))`, per RFC 6749 §2.3.1. */
export function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

/** The Basic header of a seeded client. */
export function basicOf(client: TestClient): string {
  return basic(client.clientId, client.clientSecret);
}

/** A form body. */
export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/**
 * A store whose calls fail (as a Redis outage looks to the core) while failing is on: every call,
 * or only the calls of `methods`.
 */
export function failingStore(store: TokenStore): {
  store: TokenStore;
  fail(on: boolean, methods?: readonly (keyof TokenStore)[]): void;
} {
  let failing = false;
  let only: ReadonlySet<string> | undefined;
  const proxy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
      return (...args: unknown[]) => {
        if (failing && (only === undefined || only.has(property))) {
          return Promise.reject(new StoreUnavailableError('simulated outage'));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    fail(on, methods) {
      failing = on;
      only = methods === undefined ? undefined : new Set(methods);
    },
  };
}

/** The decoded header and payload of a compact JWS (no verification). */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>,
  };
}

/** The token with one claim changed and the original signature kept. */
export function tamperJwt(token: string, claims: Record<string, unknown>): string {
  const [h, p, s] = token.split('.');
  const payload = { ...(JSON.parse(Buffer.from(p!, 'base64url').toString()) as object), ...claims };
  return `${h!}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s!}`;
}

/** oauth4webapi's fetch, routed into an app in process (no socket). */
export function fetchInto(app: Express): (url: string, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const target = new URL(url);
    const path = `${target.pathname}${target.search}`;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const res =
      init?.method === 'POST'
        ? await request(app).post(path).set(headers).send(String(init.body))
        : await request(app).get(path).set(headers);
    return new Response(res.text, {
      status: res.status,
      headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') },
    });
  };
}

/** The `TokenError` code a promise rejects with, or `ok` when it resolves; any other error is thrown. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TokenError) return err.code;
    throw err;
  }
  return 'ok';
}
