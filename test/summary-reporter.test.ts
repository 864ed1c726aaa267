// Proves the CI summary line counts every failed file and suite: a suite or file that fails in
// `beforeAll`, at collection or in `afterAll` counts as a failure, even though its tests never ran.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = fileURLToPath(new URL('./fixtures/summary/vitest.config.mjs', import.meta.url));

it('counts files and suites that fail outside a test', async () => {
  const run = await promisify(execFile)(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', config], { cwd: root }).then(
    () => ({ code: 0, stdout: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  expect(run.code).toBe(1);
  // Two passing tests (one beside a teardown that fails); four failing files: a suite's
  // beforeAll, a file's beforeAll, a file that throws while collected, a suite's afterAll.
  expect(run.stdout.trim().split('\n').at(-1)).toBe('tests: 2 passed, 4 failed');
});
