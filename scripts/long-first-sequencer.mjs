// Starts the files that take a minute or so first, within each project, so that neither of the
// two workers is left running one of them alone at the end. Vitest orders files by the durations
// of the last run, which a fresh clone (CI) has not got; it then runs the larger files first,
// and file size says little of how long a file of real processes waits on elections and leases.
// The list is by hand, longest first, from a CI run; the other files keep vitest's order after them.
import { BaseSequencer } from 'vitest/node';

const LONG_FILES = [
  'packages/core/test/simulation.test.ts',
  'test/failover.test.ts',
  'test/stripes-partition.test.ts',
  'test/bank.test.ts',
  'test/cli-help-errors.test.ts',
  'test/verify.test.ts',
  'test/backup.test.ts',
  'test/graceful-shutdown.test.ts',
  'test/stripes-power-loss.test.ts',
  'test/crash-recovery.test.ts',
  'test/stripes.test.ts',
  'test/cli-group-live.test.ts',
  'test/power-loss.test.ts',
];

export default class LongFirstSequencer extends BaseSequencer {
  async sort(files) {
    const sorted = await super.sort(files);
    const rank = (file) => {
      const i = LONG_FILES.findIndex((name) => file.moduleId.endsWith(`/${name}`));
      return i < 0 ? LONG_FILES.length : i;
    };
    // Projects keep the order vitest gave them; within one, Array.prototype.sort is stable, so
    // files of equal rank keep vitest's order too.
    const projects = [...new Set(sorted.map((file) => file.project.name))];
    const project = (file) => projects.indexOf(file.project.name);
    return sorted.sort((a, b) => project(a) - project(b) || rank(a) - rank(b));
  }
}
