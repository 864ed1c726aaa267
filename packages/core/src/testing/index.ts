/**
 * `@kiln/core/testing`: the conformance suites that prove a store or a transport swappable.
 * Each takes the caller's own test functions (`{ describe, it, expect }` from vitest), so vitest
 * stays an optional peer dependency of core.
 *
 * The history checker and the deterministic simulation are their own entry points,
 * `@kiln/core/testing/checker` and `@kiln/core/testing/simulation`.
 *
 * @packageDocumentation
 */
export { storeConformance, type StoreFixture } from './store/index.js';
export { transportConformance, type TransportFixture, type TransportSetup, type TransportCapabilities } from './transport/index.js';
export type { TestRunner } from './runner.js';
