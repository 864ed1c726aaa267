// A mirror paused (SIGSTOP: a GC pause, a stalled VM) long enough to leave the in-sync set and to
// miss the active for longer than the election window must not depose that healthy active when it
// resumes: the active stays in office in the same term, and the mirror rejoins the in-sync set.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cluster, inSyncActive, killAllMembers, launch, pollUntil, seededRandom, statusOf, TEST_TIMING } from './support/cluster.js';

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('a mirror that resumes from a pause', () => {
  it('leaves the active in office, in the same term, and rejoins in sync', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-rejoin-'));
    dirs.push(root);
    const { file, members } = await cluster(2, 1, root, seededRandom(11));
    for (const m of members) launch(file, m);
    const servers = members.filter((m) => !m.voter);
    const active = await inSyncActive(servers);
    const mirror = servers.find((m) => m !== active)!;
    const term = (await statusOf(active.client))!.term;

    mirror.process!.kill('SIGSTOP');
    await pollUntil('the active to drop the paused mirror from the in-sync set', async () => {
      const status = await statusOf(active.client);
      return status?.state === 'ACTIVE-COORDINATOR' && !status.group!.inSync.includes(mirror.name);
    }, 30_000, 100);
    // Past the election window too, counted from when it left the set: its own patience has long run out.
    const pausedSince = Date.now();
    await pollUntil('the pause to outlast the election window', () => Date.now() - pausedSince > TEST_TIMING.electionTimeMs, 10_000, 100);
    mirror.process!.kill('SIGCONT');

    // Whatever the resumed mirror does, the active must be seen in office in its term throughout.
    const watchUntil = Date.now() + 2 * TEST_TIMING.electionTimeMs;
    while (Date.now() < watchUntil) {
      const status = await statusOf(active.client);
      expect({ state: status?.state, term: status?.term }).toEqual({ state: 'ACTIVE-COORDINATOR', term });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await pollUntil('the mirror back in sync', async () => {
      const status = await statusOf(active.client);
      return status?.term === term && status.group!.inSync.includes(mirror.name);
    }, 30_000, 100);
    const log = await readFile(join(root, `${active.name}.log`), 'utf8');
    expect(log).not.toMatch(/steps down/);
  }, 120_000);
});
