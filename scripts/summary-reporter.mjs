// Prints the plain closing line CI reads: `tests: N passed, N failed`.
export default class SummaryReporter {
  onTestRunEnd(testModules) {
    let passed = 0;
    let failed = 0;
    const visit = (children) => {
      for (const test of children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
      }
    };
    for (const module of testModules) {
      visit(module.children);
      if (module.state() === 'failed' && module.children.size === 0) failed++;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
  }
}
