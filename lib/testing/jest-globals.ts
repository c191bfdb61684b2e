/**
 * The few jest globals the contract suites use, typed structurally so that the package compiles,
 * and its declarations type-check, without `@types/jest`. Read from `globalThis` when a suite is
 * registered: jest (or a runner with jest-compatible globals) must be running it.
 */

/** The matchers the suites call, on a value or (`resolves`, `rejects`) on a promise's outcome. */
export interface ContractMatchers<R> {
  toBe(expected: unknown): R;
  toEqual(expected: unknown): R;
  toMatchObject(expected: object): R;
  toBeNull(): R;
  toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): R;
  toBeLessThanOrEqual(expected: number): R;
  toHaveLength(expected: number): R;
}

/** `expect(value)`: the matchers, negated with `not`, on a promise with `resolves` / `rejects`. */
export interface ContractExpectation extends ContractMatchers<void> {
  readonly not: ContractMatchers<void>;
  readonly resolves: ContractMatchers<Promise<void>>;
  readonly rejects: ContractMatchers<Promise<void>>;
}

/** The jest globals the suites use. */
export interface ContractGlobals {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => unknown, timeout?: number): void;
  beforeEach(fn: () => unknown, timeout?: number): void;
  afterEach(fn: () => unknown, timeout?: number): void;
  expect: ((actual: unknown) => ContractExpectation) & {
    objectContaining(expected: object): unknown;
  };
}

/** The running test framework's globals; throws a clear error outside jest. */
export function contractGlobals(): ContractGlobals {
  const g = globalThis as unknown as Partial<ContractGlobals>;
  for (const name of ['describe', 'it', 'beforeEach', 'afterEach', 'expect'] as const) {
    if (typeof g[name] !== 'function') {
      throw new Error(
        `express-token-kit/testing: the contract suites register jest tests; ${name}() is not defined (run them under jest)`,
      );
    }
  }
  return g as ContractGlobals;
}
