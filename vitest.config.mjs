import { defineConfig } from 'vitest/config';

// Tests import packages by name (`@kiln/core`), so they run against the built `dist/` that
// `npm test` builds first: what a user installs is what is tested.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.mjs'],
  },
});
