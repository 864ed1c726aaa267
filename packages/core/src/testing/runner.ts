/** The subset of vitest's API the conformance suites use; the caller hands in its own. */
export interface TestRunner {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void> | void, timeoutMs?: number) => void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  expect: (actual: unknown, message?: string) => any;
  beforeEach?: (body: () => Promise<void> | void) => void;
  afterEach?: (body: () => Promise<void> | void) => void;
}
