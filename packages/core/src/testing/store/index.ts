/**
 * The store conformance suite. A store is done when this passes against it:
 *
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * import { storeConformance } from '@kiln/core/testing';
 * storeConformance({ describe, it, expect }, { name: 'memory', create: async () => memoryStore() });
 * ```
 *
 * Every store the suite creates sits behind core's checked layer, as it does in a server, so the
 * suite tests the pair: the store stores, the layer checks.
 */
import type { TestRunner } from '../runner.js';
import { appendReadTests } from './append-read.js';
import { badArgumentTests } from './bad-arguments.js';
import { closedTests } from './closed.js';
import { suiteContext, type StoreFixture } from './context.js';
import { corruptTests } from './corrupt.js';
import { formatVersionTests } from './format-version.js';
import { metaTests } from './meta.js';
import { reopenTests } from './reopen.js';
import { streamIndexTests } from './stream-index.js';
import { tornTailTests } from './torn-tail.js';
import { truncateTests } from './truncate.js';

export type { StoreFixture } from './context.js';

/**
 * Declares the store conformance tests with the caller's own test functions.
 * The reopen and torn-tail areas, and most of the format-version area, run only when the fixture can `reopen`.
 * @param runner `{ describe, it, expect }` from the caller's test framework (vitest)
 * @param fixture how to create, reopen and remove the stores under test
 */
export function storeConformance(runner: TestRunner, fixture: StoreFixture): void {
  runner.describe(`store conformance: ${fixture.name}`, () => {
    const context = suiteContext(runner, fixture);
    appendReadTests(context);
    streamIndexTests(context);
    truncateTests(context);
    metaTests(context);
    closedTests(context);
    badArgumentTests(context);
    corruptTests(context);
    formatVersionTests(context);
    if (fixture.reopen) {
      reopenTests(context);
      tornTailTests(context);
    }
  });
}
