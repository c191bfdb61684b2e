/**
 * Loads an ESM-only package (jose, oauth4webapi) into a jest spec, which runs as CommonJS inside a
 * `vm` context: esbuild bundles the package into one CommonJS string, unchanged apart from the module
 * format, evaluated in the spec's context (see spec/interop/oauth-interop.spec.ts for why). Types
 * come from the package itself through `import type`.
 */
import { buildSync } from 'esbuild';

/** The package `name`, bundled to CommonJS and evaluated. */
export function loadEsm<T>(name: string): T {
  const { outputFiles } = buildSync({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: __dirname },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', outputFiles[0]!.text)(mod, mod.exports, require);
  return mod.exports as T;
}
