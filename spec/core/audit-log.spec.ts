import { auditRecord, composeEventListeners, createJsonLineLogger } from '../../lib/core/audit-log';
import type { TokenEvent } from '../../lib/core/events';

describe('createJsonLineLogger', () => {
  it('writes allowlisted fields only, dropping anything else on the event', () => {
    const lines: string[] = [];
    const log = createJsonLineLogger(
      { write: (l: string) => lines.push(l) },
      { fields: { service: 'auth' } },
    );
    const event = {
      type: 'issued',
      at: 1_700_000_000,
      jti: 'j1',
      clientId: 'c1',
      subject: 's1',
      boundEntity: { id: 'empr_1', type: 'employer', extra: 'x' },
      token: 'must-not-appear',
    } as unknown as TokenEvent;
    log(event);
    expect(lines).toEqual([
      `${JSON.stringify({
        level: 'info',
        msg: 'token_event',
        service: 'auth',
        type: 'issued',
        at: 1_700_000_000,
        jti: 'j1',
        clientId: 'c1',
        subject: 's1',
        boundEntity: { id: 'empr_1', type: 'employer' },
      })}\n`,
    ]);
  });

  it.each([
    ['auth_failed', 'warn'],
    ['binding_denied', 'warn'],
    ['refresh_reuse_detected', 'error'],
    ['store_unavailable', 'error'],
    ['claims_refused', 'error'],
    ['revoked', 'info'],
  ] as const)('logs %s at level %s', (type, level) => {
    const lines: string[] = [];
    createJsonLineLogger({ write: (l: string) => lines.push(l) })({ type, at: 1 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level, type });
  });

  it('swallows sink failures', () => {
    const log = createJsonLineLogger({
      write: () => {
        throw new Error('disk full');
      },
    });
    expect(() => log({ type: 'issued', at: 1 })).not.toThrow();
  });

  it('throws at factory time without a sink', () => {
    expect(() => createJsonLineLogger(undefined as never)).toThrow(TypeError);
  });

  it('keeps a null binding as null', () => {
    expect(auditRecord({ type: 'issued', at: 1, boundEntity: null })).toEqual({
      type: 'issued',
      at: 1,
      boundEntity: null,
    });
  });
});

describe('composeEventListeners', () => {
  it('calls every listener, even after one throws', () => {
    const seen: string[] = [];
    const listener = composeEventListeners(
      (e) => seen.push(`a:${e.type}`),
      () => {
        throw new Error('broken sink');
      },
      undefined,
      (e) => seen.push(`b:${e.type}`),
    );
    listener({ type: 'revoked', at: 1 });
    expect(seen).toEqual(['a:revoked', 'b:revoked']);
  });

  it('throws at factory time for a listener that is not a function', () => {
    expect(() => composeEventListeners('nope' as never)).toThrow(TypeError);
  });
});
