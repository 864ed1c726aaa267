// The live status page in real headless Chromium (issue 14): a mirror group's page, served by the
// mirror, shows the active and the mirror in sync; the active is killed (SIGKILL) and the page,
// never reloaded, shows the mirror as the new active within the election time. A screenshot of
// the page after the failover is saved under test-artifacts/ (gitignored).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM, runsInChromium } from './support/chromium.js';
import { inSyncActive, kill, killAllMembers, launch, pollUntil, seededRandom, TEST_TIMING } from './support/cluster.js';
import { get, observedCluster, type ObservedMember } from './support/observed-cluster.js';

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

describe.skipIf(!runsInChromium('the status page test'))('the status page in Chromium', () => {
  const dirs: string[] = [];
  let context: BrowserContext | undefined;

  afterAll(async () => {
    await context?.close();
    killAllMembers();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the active and its in-sync mirror, then the new active after the old one is killed, without a reload', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the page test needs Debian's Chromium (apt-get install -y chromium; .ci/run installs it)`);
    const root = mkdtempSync(join(tmpdir(), 'kiln-status-page-'));
    dirs.push(root);
    const { file, members } = await observedCluster(2, 1, root, seededRandom(2014));
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const active = (await inSyncActive(servers)) as ObservedMember;
    const mirror = servers.find((m) => m !== active)!;
    await pollUntil("the mirror's HTTP listener", async () => (await get(`${mirror.http}/health/live`))?.status === 200);

    const profile = mkdtempSync(join(tmpdir(), 'kiln-chromium-profile-'));
    dirs.push(profile);
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 20_000, viewport: { width: 900, height: 900 } });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // The page of any server shows the whole cluster: open the mirror's, which outlives the active.
    await page.goto(`${mirror.http}/`);
    const row = (name: string) => page.locator(`tr[data-member="${name}"]`);
    await page.locator(`tr[data-member="${active.name}"][data-state="ACTIVE-COORDINATOR"]`).waitFor({ timeout: 20_000 });
    await page.locator(`tr[data-member="${mirror.name}"][data-state="PASSIVE-STANDBY"]`).waitFor({ timeout: 20_000 });
    expect(await row(mirror.name).locator('td').nth(5).textContent()).toBe('yes');
    expect(await page.locator('tr[data-voter="v1"][data-state="reachable"]').count()).toBe(1);
    expect(await page.locator('#chart polyline').count()).toBe(1);

    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    const killedAt = Date.now();
    await kill(active);
    // Within the election time: the mirror hears the refused redial, elects itself with the voter,
    // and the page's next picture (one a second) shows it.
    await page.locator(`tr[data-member="${mirror.name}"][data-state="ACTIVE-COORDINATOR"]`).waitFor({ timeout: TEST_TIMING.electionTimeMs + 1000 });
    const tookMs = Date.now() - killedAt;
    await page.locator(`tr[data-member="${active.name}"][data-state="unreachable"]`).waitFor({ timeout: 5000 });
    await page.locator('#events li', { hasText: `${mirror.name} is the active` }).waitFor({ timeout: 5000 });
    expect(navigations).toBe(0);
    expect(pageErrors).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-failover.png'), fullPage: true });
    console.log(`status page: new active ${mirror.name} shown ${tookMs} ms after SIGKILL of ${active.name}; screenshot in test-artifacts/status-page-failover.png`);
  }, 120_000);
});
