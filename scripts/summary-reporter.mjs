// Prints the plain closing line CI reads: `tests: N passed, N failed`.
//
// A failure is a failed test, a suite or file whose hooks or collection failed (its tests are then
// skipped, not failed, so they alone would hide it), or an error vitest caught outside any test.
export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors = []) {
    let passed = 0;
    let failed = 0;
    for (const module of testModules) {
      let moduleFailures = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') moduleFailures++;
      }
      // A `beforeAll` or `afterAll` that throws lands on its suite or on the file, not on a test.
      for (const suite of module.children.allSuites()) moduleFailures += suite.errors().length;
      moduleFailures += module.errors().length;
      if (moduleFailures === 0 && module.state() === 'failed') moduleFailures = 1;
      failed += moduleFailures;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
  }
}
