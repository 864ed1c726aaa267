import { defineConfig } from 'vitest/config';
import LongFirstSequencer from './scripts/long-first-sequencer.mjs';

// Files that assert timing under real processes: no election while clocks jump, an active kept in
// office while a mirror rejoins, a lease that runs out within bounds. They run last, one at a time
// with nothing beside them (vitest runs a project of one worker after the others), so a neighbour's
// load cannot make their margins lie.
const timingNames = ['partition', 'clock-skew', 'rejoin-disruption'];

// Tests import packages by name (`@kiln/core`), so they run against the built `dist/` that
// `npm test` builds first: what a user installs is what is tested.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.mjs'],
    sequence: { sequencer: LongFirstSequencer },
    projects: [
      {
        extends: true,
        // Two files at once even on 2 cores: most of a fault test's time is processes waiting out
        // elections and leases, not CPU. Each worker draws its ports from a slice of its own.
        test: {
          name: 'suite',
          // Left out by name in the pattern, not by `exclude`: a project's own exclude would drop
          // the command line's --exclude (npm run test:quick's).
          include: ['packages/*/test/**/*.test.ts', `test/**/!(${timingNames.join('|')}).test.ts`],
          maxWorkers: 2,
        },
      },
      { extends: true, test: { name: 'timing', include: timingNames.map((name) => `test/${name}.test.ts`), maxWorkers: 1 } },
    ],
  },
});
