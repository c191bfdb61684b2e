'use strict';
/**
 * Options of the library that not every build has: the bench passes them only when the compiled
 * library supports them, so it runs against older and newer builds alike.
 *
 * - The revocation replica (`RedisRevocationView` option `replica: true | false | 'auto'`, and its
 *   `replicating` getter): detected on the compiled class. BENCH_REPLICA (`auto`, `true` or
 *   `false`) sets it for every view of the bench; by default the library's own default applies,
 *   and the optional scenario `rt-rs256-no-replica` runs the view with `replica: false`.
 * - BENCH_VIEW_OPTIONS (JSON) adds options to every `RedisRevocationView.start` of the bench, and
 *   BENCH_KIT_OPTIONS (JSON) to every `createTokenKit` of the servers under test (e.g.
 *   `{"verifiedCacheBytes": 8388608}` on a build that has it), for trying a setting by hand.
 */

/** True when the compiled RedisRevocationView can be a replica (has the `replicating` getter). */
function supportsReplica(kitLib) {
  const proto = kitLib.RedisRevocationView?.prototype;
  return Boolean(proto && Object.getOwnPropertyDescriptor(proto, 'replicating'));
}

function replicaSetting() {
  const raw = process.env.BENCH_REPLICA;
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'auto') return 'auto';
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new RangeError("BENCH_REPLICA must be 'auto', 'true' or 'false'");
}

/**
 * Extra `RedisRevocationView.start` options for this build: `replica` (the given one, else
 * BENCH_REPLICA) when the build supports it, then BENCH_VIEW_OPTIONS.
 */
function viewOptions(kitLib, { replica } = {}) {
  const out = {};
  const wanted = replica ?? replicaSetting();
  if (wanted !== undefined && supportsReplica(kitLib)) out.replica = wanted;
  const raw = process.env.BENCH_VIEW_OPTIONS;
  return raw ? { ...out, ...JSON.parse(raw) } : out;
}

/** Extra `createTokenKit` options of the servers under test (BENCH_KIT_OPTIONS), none by default. */
function kitOptions() {
  const raw = process.env.BENCH_KIT_OPTIONS;
  return raw ? JSON.parse(raw) : {};
}

/** A one-line description of the optional features in use, for the report. */
function describeFeatures(kitLib) {
  const extra = viewOptions(kitLib);
  const replica = supportsReplica(kitLib)
    ? `this build has the revocation replica (\`replica\` option; bench setting: ${
        extra.replica === undefined ? "the library's default" : JSON.stringify(extra.replica)
      })`
    : 'this build has no revocation replica (per-jti view cleared by every announcement)';
  const others = Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'replica'));
  const kit = Object.keys(kitOptions()).length
    ? `; createTokenKit options ${JSON.stringify(kitOptions())}`
    : '';
  return `${Object.keys(others).length ? `${replica}; view options ${JSON.stringify(others)}` : replica}${kit}`;
}

module.exports = { describeFeatures, kitOptions, supportsReplica, viewOptions };
