// An active paused with SIGSTOP past the election window is succeeded; when it resumes it must
// acknowledge nothing its successor does not hold: its lease has run out, so it steps down. Both
// modes, two servers with a voter and three servers.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, KilnError, type KilnClient } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { cluster, connectWithin, GROUP_SHAPES, killAllMembers, launch, pollUntil, seededRandom, stopAndReadLogs } from './support/cluster.js';

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// The shapes run at once, each its own cluster and ports: most of a case is waiting out a lease
// and an election.
for (const [serverCount, voters, persistence] of GROUP_SHAPES) {
  describe.concurrent(`a ${persistence} group of ${serverCount} servers and ${voters} voter(s)`, () => {
    it('a paused active resumes as a mirror and loses nothing acknowledged anywhere', async () => {
      const root = await mkdtemp(join(tmpdir(), 'kiln-pause-'));
      dirs.push(root);
      const { file, members } = await cluster(serverCount, voters, root, seededRandom(7), persistence);
      for (const m of members) launch(file, m);
      const servers = members.filter((m) => !m.voter);
      const client = await connectWithin(servers.map((m) => m.client));
      let activeName = '';
      // A write makes the client find the active; status answers come from whichever server it holds.
      await client.append('warm-up', [{ type: 'E', data: 0 }]);
      await pollUntil('an active with its mirror in sync', async () => {
        const status = await client.serverStatus().catch(() => undefined);
        activeName = String(status?.name);
        return status?.state === 'ACTIVE-COORDINATOR' && (status.group as { inSync: string[] }).inSync.length === serverCount;
      }, 60_000);
      const active = servers.find((m) => m.name === activeName)!;
      // A client that knows only the active's address: whatever it is told was committed must survive.
      const pinned: KilnClient = await connect(active.client, { transports: [tcpTransport()], reconnectWindowMs: 20_000, requestTimeoutMs: 20_000 });
      const acked = new Set<string>();
      const attempt = (c: KilnClient, id: string) =>
        c.append('paused', [{ id, type: 'E', data: id }]).then(
          () => void acked.add(id),
          (error: unknown) => expect(error).toBeInstanceOf(KilnError),
        );
      for (let i = 0; i < 20; i++) await attempt(pinned, `before-${i}`);

      active.process!.kill('SIGSTOP');
      const inFlight = Array.from({ length: 5 }, (_, i) => attempt(pinned, `during-${i}`));
      let successor = 0;
      await pollUntil('a successor that acknowledges', async () => {
        await attempt(client, `successor-${successor++}`);
        return [...acked].some((id) => id.startsWith('successor-'));
      }, 60_000, 50);
      active.process!.kill('SIGCONT');
      await Promise.all(inFlight);
      for (let i = 0; i < 20; i++) await attempt(pinned, `after-${i}`);
      await pinned.close();

      const log = await readFile(join(root, `${active.name}.log`), 'utf8');
      expect(log).toMatch(/steps down/);
      const stored = new Set<string>();
      for (let from = 1; ; ) {
        const events = await client.readAll({ fromLsn: from, maxCount: 1000 });
        if (events.length === 0) break;
        for (const e of events) {
          expect(stored.has(e.id)).toBe(false);
          stored.add(e.id);
        }
        from = events[events.length - 1]!.lsn + 1;
      }
      expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
      const lastLsn = Number((await client.serverStatus()).lastLsn);
      await pollUntil('the old active caught up', async () => {
        const group = (await client.serverStatus()).group as { mirrors: Array<{ ackedLsn: number }> };
        return group.mirrors.every((m) => m.ackedLsn >= lastLsn);
      }, 60_000);
      await client.close();
      const logs = await stopAndReadLogs(members, persistence, lastLsn);
      for (const log of logs.slice(1)) expect(log).toEqual(logs[0]);
    }, 120_000);
  });
}
