// Failover with real processes: a three-server group and a two-server group with a voter, in both
// modes, under a write load. The active is killed with SIGKILL again and again and restarted; the
// history checker must find no anomaly (nothing acknowledged lost, nothing duplicated, every
// acknowledged position where the log has it, real-time order), and every server must end with
// the same log.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KilnError, WrongExpectedVersionError } from '@kiln/core/client';
import { anomalyClasses, checkHistory, type EventPosition, type HistoryOp } from '@kiln/core/testing/checker';
import { cluster, connectWithin, GROUP_SHAPES, kill, killAllMembers, launch, pollUntil, seededRandom, stopAndReadLogs } from './support/cluster.js';

const KILLS = 10;

const dirs: string[] = [];
afterAll(async () => {
  killAllMembers();
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// The shapes run at once, each its own cluster and ports: a failover is mostly waiting (for the
// kill to be noticed, for an election), so four overlap in about the time of the slowest alone.
for (const [servers, voters, persistence] of GROUP_SHAPES) {
  describe.concurrent(`a ${persistence} group of ${servers} servers and ${voters} voter(s) under SIGKILL of its active`, () => {
    it(`loses and duplicates nothing over ${KILLS} kills, and every server ends with the same log`, async () => {
      const seed = Number(process.env.KILN_FAILOVER_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`failover seed ${seed} (replay with KILN_FAILOVER_SEED=${seed})`);
      const random = seededRandom(seed);
      const root = await mkdtemp(join(tmpdir(), 'kiln-failover-'));
      console.log(`failover: logs in ${root} (kept with KILN_KEEP=1)`);
      dirs.push(root);
      const { file, members } = await cluster(servers, voters, root, random, persistence);
      for (const m of members) launch(file, m);
      const serverMembers = members.filter((m) => !m.voter);
      const client = await connectWithin(serverMembers.map((m) => m.client));

      // The history the checker judges (RELIABILITY.md §2.4): each append's invocation and outcome.
      const history: HistoryOp[] = [];
      const record = (op: Omit<HistoryOp, 'index' | 'timeMs'>): void => void history.push({ ...op, index: history.length, timeMs: performance.now() });
      let acked = 0;
      let failed = 0;
      let running = true;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; running; i++) {
          const id = `w${w}-${i}`;
          const stream = `stream-${w}`;
          record({ process: w, type: 'invoke', f: 'append', txn: { appends: [{ stream, eventIds: [id] }] } });
          try {
            const r = await client.append(stream, [{ id, type: 'E', data: i }]);
            record({ process: w, type: 'ok', f: 'append', result: { lsn: r.lsn, streams: [{ stream, firstVersion: r.firstVersion, eventCount: 1 }] } });
            acked++;
          } catch (error) {
            if (!(error instanceof KilnError) || error instanceof WrongExpectedVersionError) throw error;
            // The reconnect window ran out: the append may or may not have committed.
            record({ process: w, type: 'info', f: 'append', error: error.name });
            failed++;
          }
        }
      };
      const writers = [0, 1, 2, 3].map(writer);

      const activeName = async (): Promise<string> => {
        let name = '';
        await pollUntil('an active', async () => {
          const status = await client.serverStatus().catch(() => undefined);
          if (status?.state !== 'ACTIVE-COORDINATOR') return false;
          name = String(status.name);
          return true;
        }, 60_000);
        return name;
      };

      for (let k = 0; k < KILLS; k++) {
        const before = acked;
        const wanted = random.int(5, 60);
        await pollUntil('progress before the kill', () => acked >= before + wanted, 30_000);
        // Kill only a group whose every server is in sync again: with a mirror still catching up,
        // losing the active leaves no server holding every commit, and consistency mode waits.
        await pollUntil('every server in sync', async () => {
          const status = await client.serverStatus().catch(() => undefined);
          const group = status?.group as { inSync: string[] } | undefined;
          return status?.state === 'ACTIVE-COORDINATOR' && group?.inSync.length === servers;
        }, 60_000);
        const active = await activeName();
        const target = serverMembers.find((m) => m.name === active)!;
        await kill(target);
        const afterKill = acked;
        await pollUntil('progress on the new active', () => acked > afterKill + 5, 30_000);
        launch(file, target);
      }
      running = false;
      await Promise.all(writers);

      // Let every mirror catch up, then stop all and compare logs on disk.
      const lastLsn = Number((await client.serverStatus()).lastLsn);
      await pollUntil('mirrors caught up', async () => {
        const group = (await client.serverStatus()).group as { mirrors: Array<{ ackedLsn: number }> };
        return group.mirrors.every((m) => m.ackedLsn >= lastLsn);
      }, 60_000);
      const stored: EventPosition[] = [];
      for (let from = 1; from <= lastLsn; from = (stored[stored.length - 1]?.lsn ?? from) + 1) {
        for (const e of await client.readAll({ fromLsn: from, maxCount: 1000 })) stored.push({ stream: e.stream, version: e.version, lsn: e.lsn, id: e.id });
      }
      await client.close();
      const logs = await stopAndReadLogs(members, persistence, lastLsn);
      for (const log of logs.slice(1)) expect(log).toEqual(logs[0]);
      const check = checkHistory(history, [stored]);
      const anomalies = anomalyClasses.filter((c) => check.counts[c] > 0).map((c) => `${c}=${check.counts[c]}: ${(check.examples[c] ?? []).slice(0, 3).join('; ')}`);
      expect(anomalies).toEqual([]);
      expect(check.valid).toBe(true);
      console.log(`failover: ${KILLS} kills, ${acked} acked, ${failed} indeterminate (${check.counts.recovered} of them committed), ${lastLsn} records; checker: 0 anomalies`);
    }, 240_000);
  });
}

