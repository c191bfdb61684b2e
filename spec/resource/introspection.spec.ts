/**
 * The RFC 7662 introspection client of resource-server mode against a stand-in endpoint on a real
 * socket that counts its requests: a cache bounded in count and never past the token's `exp`,
 * `cacheMaxAge: 0`, and answers that are no RFC 7662 answer. Time moves by an injected clock.
 */
import { DEFAULT_FETCH_MAX_BYTES } from '../../lib/resource/fetch';
import { Introspector } from '../../lib/resource/introspection';
import { createClock, type TestClock } from '../helpers/kit';
import { startJoseIssuer, type JoseIssuer } from '../helpers/remote-issuers';

jest.setTimeout(30_000);

describe('Introspector', () => {
  let clock: TestClock;
  let as: JoseIssuer;
  const limits = { timeoutMs: 1000, maxBytes: DEFAULT_FETCH_MAX_BYTES };

  beforeEach(async () => {
    clock = createClock();
    as = await startJoseIssuer(clock);
  });
  afterEach(() => as.close());

  const introspector = (options: { cacheMaxAge?: number; maxEntries?: number } = {}): Introspector =>
    new Introspector(
      { endpoint: `${as.url}/introspect`, clientId: 'rs', clientSecret: 'rs-secret', ...options },
      limits,
      clock.now,
    );

  it('remembers an answer for cacheMaxAge, and no longer', async () => {
    const i = introspector({ cacheMaxAge: 30 });
    as.introspectAnswer = { active: true, exp: clock.seconds() + 3600 };
    await i.introspect('t1');
    clock.advance(29);
    await i.introspect('t1');
    expect(as.introspectRequests).toBe(1);
    clock.advance(1);
    await i.introspect('t1');
    expect(as.introspectRequests).toBe(2);
  });

  it('never remembers an answer past the token’s exp', async () => {
    const i = introspector({ cacheMaxAge: 600 });
    as.introspectAnswer = { active: true, exp: clock.seconds() + 5 };
    await i.introspect('t1');
    clock.advance(4);
    await i.introspect('t1');
    expect(as.introspectRequests).toBe(1);
    clock.advance(1);
    await i.introspect('t1');
    expect(as.introspectRequests).toBe(2);
  });

  it('asks every time with cacheMaxAge 0', async () => {
    const i = introspector({ cacheMaxAge: 0 });
    for (let n = 0; n < 3; n++) await i.introspect('t1');
    expect(as.introspectRequests).toBe(3);
  });

  it('holds at most maxEntries answers, evicting the oldest', async () => {
    const i = introspector({ cacheMaxAge: 600, maxEntries: 2 });
    for (const t of ['t1', 't2', 't3']) await i.introspect(t);
    expect(as.introspectRequests).toBe(3);
    await i.introspect('t3');
    await i.introspect('t2');
    expect(as.introspectRequests).toBe(3);
    await i.introspect('t1');
    expect(as.introspectRequests).toBe(4);
  });

  it('sends one request for concurrent calls with the same token', async () => {
    const i = introspector({ cacheMaxAge: 0 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => i.introspect('same')));
    expect(answers.every((a) => a.active)).toBe(true);
    expect(as.introspectRequests).toBe(1);
  });

  it('authenticates with client_secret_basic and sends the token as a form (RFC 7662 §2.1)', async () => {
    const seen: { authorization?: string; body?: string; type?: string } = {};
    as.server.prependListener('request', (req) => {
      if (req.url !== '/introspect') return;
      seen.authorization = req.headers.authorization;
      seen.type = req.headers['content-type'];
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => (seen.body = body));
    });
    await introspector().introspect('tok en+/=');
    expect(seen.authorization).toBe(`Basic ${Buffer.from('rs:rs-secret').toString('base64')}`);
    expect(seen.type).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(seen.body).get('token')).toBe('tok en+/=');
    expect(new URLSearchParams(seen.body).get('token_type_hint')).toBe('access_token');
  });

  it.each([
    ['an array', []],
    ['no active member', { scope: 'read' }],
    ['a string active', { active: 'true' }],
    ['null', null],
  ])('rejects an answer that is %s', async (_name, answer) => {
    as.introspectAnswer = answer;
    await expect(introspector().introspect('t1')).rejects.toThrow();
  });

  it('answers inactive without keeping any member of the answer', async () => {
    as.introspectAnswer = { active: false, sub: 'leak' };
    expect(await introspector().introspect('t1')).toEqual({ active: false, claims: {} });
  });
});
