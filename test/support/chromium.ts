// Chromium for the tests that drive a page. Locally a missing Chromium skips them with a message
// saying how to install it; with KILN_REQUIRE_BROWSER=1 (set by .ci/run) they run and fail.
import { existsSync } from 'node:fs';

/** Debian's Chromium, driven with playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/** True when the tests of `what` should run; prints why when they are skipped. */
export function runsInChromium(what: string): boolean {
  if (existsSync(CHROMIUM) || process.env.KILN_REQUIRE_BROWSER === '1') return true;
  console.warn(`skipped ${what}: ${CHROMIUM} is missing; install it with: sudo apt-get install -y chromium (.ci/run installs it and sets KILN_REQUIRE_BROWSER=1)`);
  return false;
}
