import express, { type Express } from 'express';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createMetrics, type TokenKitMetrics } from '../../lib/middleware/metrics';
import { requireToken } from '../../lib/middleware/require-token';
import { createAuthRouter } from '../../lib/routers/auth-router';
import type { TokenKit } from '../../lib/core/token-kit';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { makeKit } from '../helpers/kit';

/** The value of one sample line (`name{labels} value`) in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  let metrics: TokenKitMetrics;
  let kit: TokenKit;
  let app: Express;
  let client: { clientId: string; clientSecret: string };

  beforeEach(async () => {
    metrics = createMetrics({ registry: new Registry() });
    ({ kit } = await makeKit({ store: new MemoryTokenStore(), onEvent: metrics.onEvent }));
    client = await kit.credentials.createApplication({ name: 'App' });
    app = express();
    app.use('/api', createAuthRouter({ kit }));
    app.get('/me', metrics.observe(requireToken({ kit })), (req, res) =>
      res.json({ sub: req.auth?.subject }),
    );
    app.get('/metrics', metrics.handler);
  });

  async function token(): Promise<string> {
    const res = await request(app).post('/api/auth/tokens/').send({
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
    });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  async function scrape(): Promise<string> {
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text;
  }

  it('counts issuance, failures and validations by outcome, and observes validation latency', async () => {
    const good = await token();
    await token();
    await request(app)
      .post('/api/auth/tokens/')
      .send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' })
      .expect(401);
    await request(app).get('/me').set('Authorization', `Bearer ${good}`).expect(200);
    await request(app).get('/me').set('Authorization', `Bearer ${good}`).expect(200);
    await request(app).get('/me').expect(401);
    await request(app).get('/me').set('Authorization', 'Bearer not.a.jwt').expect(401);

    const text = await scrape();
    expect(sample(text, 'etk_tokens_issued_total{binding="none"}')).toBe(2);
    expect(sample(text, 'etk_token_events_total{type="issued",reason="none"}')).toBe(2);
    expect(sample(text, 'etk_auth_failures_total{reason="client"}')).toBe(1);
    expect(sample(text, 'etk_auth_failures_total{reason="invalid_token"}')).toBe(1);
    expect(sample(text, 'etk_token_validations_total{outcome="valid"}')).toBe(2);
    expect(sample(text, 'etk_token_validations_total{outcome="missing_token"}')).toBe(1);
    expect(sample(text, 'etk_token_validations_total{outcome="invalid_token"}')).toBe(1);
    expect(sample(text, 'etk_token_validation_duration_seconds_count{outcome="valid"}')).toBe(2);
    expect(sample(text, 'etk_token_validation_duration_seconds_bucket{le="+Inf",outcome="valid"}')).toBe(2);
    expect(sample(text, 'etk_token_validation_duration_seconds_count{outcome="invalid_token"}')).toBe(1);
    expect(sample(text, 'etk_token_validation_duration_seconds_sum{outcome="valid"}')).toBeGreaterThanOrEqual(
      0,
    );
    // no token, client id or secret ever becomes a label
    expect(text).not.toContain(good);
    expect(text).not.toContain(client.clientId);
  });

  it('counts store errors by source and keeps label values in a closed vocabulary', async () => {
    metrics.onEvent({ type: 'store_unavailable', at: 1, reason: 'store' });
    metrics.onEvent({ type: 'store_unavailable', at: 1, reason: 'rate_limit_store' });
    metrics.onEvent({ type: 'auth_failed', at: 1, reason: 'Not A Label "value"\n' });
    const text = await scrape();
    expect(sample(text, 'etk_store_errors_total{source="store"}')).toBe(1);
    expect(sample(text, 'etk_store_errors_total{source="rate_limit_store"}')).toBe(1);
    expect(sample(text, 'etk_auth_failures_total{reason="other"}')).toBe(1);
  });

  it('uses its own registry by default and a custom prefix when given', async () => {
    const own = createMetrics({ prefix: 'auth_' });
    own.onEvent({ type: 'issued', at: 1, boundEntity: { id: 'empl_1', type: 'employee' } });
    const text = await own.registry.metrics();
    expect(text).toContain('auth_tokens_issued_total{binding="employee"} 1');
  });

  it.each([
    ['a registry that is not one', { registry: {} }, TypeError],
    ['a bad prefix', { prefix: 'bad prefix' }, TypeError],
    ['empty buckets', { latencyBuckets: [] }, RangeError],
    ['a negative bucket', { latencyBuckets: [-1] }, RangeError],
  ])('throws at factory time for %s', (_name, options, type) => {
    expect(() => createMetrics(options as never)).toThrow(type);
  });
});
