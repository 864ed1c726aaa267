import { configDefaults, defineConfig } from 'vitest/config';

// Files that assert timing under real processes: no election while clocks jump, an active kept in
// office while a mirror rejoins, a lease that runs out within bounds. They run last, one at a time
// with nothing beside them (vitest runs a project of one worker after the others), so a neighbour's
// load cannot make their margins lie.
const timingFiles = ['test/partition.test.ts', 'test/clock-skew.test.ts', 'test/rejoin-disruption.test.ts'];

// Tests import packages by name (`@kiln/core`), so they run against the built `dist/` that
// `npm test` builds first: what a user installs is what is tested.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.mjs'],
    projects: [
      {
        extends: true,
        // Two files at once even on 2 cores: most of a fault test's time is processes waiting out
        // elections and leases, not CPU. Each worker draws its ports from a slice of its own.
        test: {
          name: 'suite',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...timingFiles],
          maxWorkers: 2,
        },
      },
      { extends: true, test: { name: 'timing', include: timingFiles, maxWorkers: 1 } },
    ],
  },
});
