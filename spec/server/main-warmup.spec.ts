import { startDemoServer } from '../../lib/server/main';

describe('the demo server warm-up', () => {
  it('runs before serving, succeeds, and stays out of the audit log and the metrics', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const audit: string[] = [];
    const server = await startDemoServer(
      { PORT: '0', TOKEN_KIT_METRICS: '1' },
      { log: (l) => lines.push(l), warn: (l) => warnings.push(l), audit: { write: (l) => audit.push(l) } },
    );
    try {
      expect(warnings).toEqual([]);
      expect(audit).toEqual([]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).not.toMatch(/^etk_token_events_total\{[^}]*\} [1-9]/m);
      expect(metrics).not.toMatch(/^etk_tokens_issued_total\{[^}]*\} [1-9]/m);
      expect(metrics).not.toMatch(/^etk_token_validations_total\{[^}]*\} [1-9]/m);
      // The first request after the start is served at once, never the 503 of the start.
      const res = await fetch(`${server.url}/.well-known/jwks.json`);
      expect(res.status).toBe(200);
    } finally {
      await server.close();
    }
  }, 60_000);
});
