/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';
import { SPLIT_SPECS, UNIT_SPECS } from './spec/helpers/projects';

// Two projects (spec/helpers/projects.ts says which file runs where and why):
// `npm run test:unit` (memory store only, with the coverage gate), `npm run test:integration` (Redis,
// PostgreSQL, servers, packaging), and `npm test` runs both in one jest invocation.

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const inRoot = (file: string): string => `<rootDir>/${file}`;

const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  setupFilesAfterEnv: ['<rootDir>/spec/helpers/project-setup.ts'],
};

const config: Config = {
  testTimeout: 20000,
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      // lib/ too, so that lib files no unit spec loads still count (as uncovered) in the gate.
      roots: ['<rootDir>/spec', '<rootDir>/lib'],
      globals: { ETK_TEST_PROJECT: 'unit' },
      testMatch: [...UNIT_SPECS, ...SPLIT_SPECS].map(inRoot),
    },
    {
      ...shared,
      displayName: 'integration',
      globals: { ETK_TEST_PROJECT: 'integration' },
      // Every spec file but the unit-only ones, so a new file runs here (on both stores) until it is
      // classified in projects.ts.
      testMatch: ['<rootDir>/spec/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...UNIT_SPECS.map((file) => `${escape(`/${file}`)}$`)],
      // Only the integration project needs the run's private redis-server.
      globalSetup: '<rootDir>/spec/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/spec/helpers/global-teardown.ts',
      // Coverage measures the unit project only: nothing is instrumented here.
      coveragePathIgnorePatterns: ['.*'],
    },
  ],
  // The unit coverage gate (`--coverage`, which `npm test` and `npm run test:unit` pass). The Redis
  // and PostgreSQL stores are left out on purpose: memory-only unit specs cannot cover them; the
  // integration project exercises them.
  collectCoverageFrom: [
    '<rootDir>/lib/core/**/*.ts',
    '<rootDir>/lib/stores/**/*.ts',
    '!<rootDir>/lib/stores/redis-*.ts',
    '!<rootDir>/lib/stores/postgres-*.ts',
  ],
  coverageThreshold: {
    global: {},
    './lib/core/': { lines: 90 },
    './lib/stores/memory-token-store.ts': { lines: 90 },
    './lib/stores/memory-credential-store.ts': { lines: 90 },
  },
};

export default config;
