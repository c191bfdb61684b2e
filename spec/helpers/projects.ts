/**
 * Which spec files run in which jest project (read by jest.config.ts and project-setup.ts).
 *
 * - `unit`: fast, in-process specs on the memory store only: no Redis, no PostgreSQL, no servers on
 *   real ports of their own, no child processes, no `npm pack` (supertest's ephemeral in-process
 *   listener is fine).
 * - `integration`: everything else: Redis topologies, PostgreSQL, started servers, the CLI,
 *   packaging, scale and interop specs.
 *
 * A file listed in {@link SPLIT_SPECS} runs in both: its `describe.each(storeFactories)` cases run on
 * the memory store in `unit` and on Redis in `integration` (see `storeFactories` in kit.ts), and any
 * other group in it says where it runs with `describeOnStore`. A spec file listed nowhere runs in
 * `integration` with both stores, so a new file always runs exactly once.
 *
 * Paths are relative to the repository root.
 */

/** Spec files that run only in the `unit` project. */
export const UNIT_SPECS: readonly string[] = [
  'spec/core/audit-events.spec.ts',
  'spec/core/audit-log.spec.ts',
  'spec/core/credential-store-option.spec.ts',
  'spec/core/jwt.spec.ts',
  'spec/core/layering.spec.ts',
  'spec/core/resource-indicators.spec.ts',
  'spec/core/token-kit.spec.ts',
  'spec/core/token-context.spec.ts',
  'spec/keys/jwk-input.spec.ts',
  'spec/keys/kek.spec.ts',
  'spec/keys/random-kid.spec.ts',
  'spec/keys/key-manager.spec.ts',
  'spec/keys/key-set-replace.spec.ts',
  'spec/keys/key-set.spec.ts',
  'spec/middleware/metrics.spec.ts',
  'spec/middleware/require-token-checks.spec.ts',
  'spec/resource/remote-keys.spec.ts',
  'spec/routers/charset.spec.ts',
  'spec/routers/host-app.spec.ts',
  'spec/routers/http-hygiene.spec.ts',
  'spec/routers/protected-resource-router.spec.ts',
  'spec/routers/router-parts.spec.ts',
  'spec/server/keys-env.spec.ts',
  'spec/server/seed.spec.ts',
  'spec/stores/memory-credential-store.spec.ts',
  'spec/stores/memory-token-store.spec.ts',
  'spec/stores/redis-scripts.spec.ts',
  'spec/util/options.spec.ts',
  'spec/util/bounded-cache.spec.ts',
];

/** Spec files whose memory-store cases run in `unit` and whose Redis cases run in `integration`. */
export const SPLIT_SPECS: readonly string[] = [
  'spec/core/access-token-claims.spec.ts',
  'spec/core/credential-rotation-race.spec.ts',
  'spec/core/credentials.spec.ts',
  'spec/core/cutoff-instants.spec.ts',
  'spec/core/custom-claims.spec.ts',
  'spec/core/grant-modules.spec.ts',
  'spec/core/token-exchange.spec.ts',
  'spec/middleware/require-token-dpop.spec.ts',
  'spec/core/refresh-family.spec.ts',
  'spec/middleware/oauth-error-format.spec.ts',
  'spec/routers/api-key-binding.spec.ts',
  'spec/routers/api-key-router.spec.ts',
  'spec/routers/auth-router.spec.ts',
  'spec/routers/key-rotation.spec.ts',
  'spec/routers/oauth-introspection-access.spec.ts',
  'spec/routers/oauth-resource-indicators.spec.ts',
  'spec/routers/oauth-client-assertion.spec.ts',
  'spec/routers/oauth-router.spec.ts',
  'spec/routers/provider-router.spec.ts',
  'spec/routers/refresh-refusal.spec.ts',
  'spec/routers/rotation-sessions.spec.ts',
];

/** The jest projects. */
export type TestProject = 'unit' | 'integration';

/** The stores `storeFactories` yields for `specPath` (relative to the root) in `project`. */
export function storesFor(project: TestProject, specPath: string): string {
  if (project === 'unit') return 'memory';
  return SPLIT_SPECS.includes(specPath) ? 'redis' : 'memory,redis';
}
