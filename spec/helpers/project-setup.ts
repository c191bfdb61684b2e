/**
 * Per-file setup of both jest projects (`setupFilesAfterEnv`): tells `storeFactories` (kit.ts)
 * which stores this file runs on, through `ETK_TEST_STORES` (see projects.ts). The project's name
 * comes from its `globals.ETK_TEST_PROJECT` in jest.config.ts.
 */
import path from 'node:path';
import { storesFor, type TestProject } from './projects';

const project = (globalThis as { ETK_TEST_PROJECT?: TestProject }).ETK_TEST_PROJECT;
if (project !== 'unit' && project !== 'integration') {
  throw new Error('ETK_TEST_PROJECT is not set: run the specs through jest.config.ts');
}
const testPath = expect.getState().testPath ?? '';
const relative = path.relative(path.resolve(__dirname, '../..'), testPath).split(path.sep).join('/');
process.env.ETK_TEST_STORES = storesFor(project, relative);
