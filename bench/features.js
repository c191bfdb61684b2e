'use strict';
/**
 * Options of the library that not every build has: the bench passes them only when the compiled
 * library supports them, so it runs against older and newer builds alike.
 *
 * BENCH_VIEW_OPTIONS (JSON) adds options to every `RedisRevocationView.start` of the bench, for
 * trying a setting by hand.
 */

/** Extra `RedisRevocationView.start` options for this build (none by default). */
function viewOptions(_kitLib) {
  const raw = process.env.BENCH_VIEW_OPTIONS;
  return raw ? JSON.parse(raw) : {};
}

/** A one-line description of the optional features in use, for the report. */
function describeFeatures(kitLib) {
  const extra = viewOptions(kitLib);
  return Object.keys(extra).length
    ? `RedisRevocationView options ${JSON.stringify(extra)}`
    : 'RedisRevocationView with its defaults';
}

module.exports = { viewOptions, describeFeatures };
