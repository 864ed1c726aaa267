// Wall-clock jumps on real processes (libfaketime): two servers and a voter, restartable, writers
// recording every append. The active's wall clock steps +300 s, then -60 s, then strobes back and
// forth; then the mirror's, then the voter's. Leases, election timers and mirror timeouts run on
// the monotonic clock, so none of it may show: no election (the same active in the same term
// throughout), no failed append, and every acknowledged append on every server exactly once.
// And a coordinator of a transaction over two stripes, its clock stepped +300 s while it waits for
// a vote, keeps the transaction open: `txnTimeoutMs` counts on the monotonic clock too.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterLayoutOf, defaultLogLimits, validateClusterConfig } from '@kiln/core';
import type { KilnClient } from '@kiln/core/client';
import { cluster, connectWithin, killAllMembers, launch, pollUntil, seededRandom, statusOf, stripedCluster, type Member } from './support/cluster.js';
import { FakeClocks, faketimeUnavailable } from './support/faketime.js';
import { expectEveryAckOnEveryServerOnce, oneInSyncActive, stopWriters, Writers } from './support/history.js';
import { streamsByStripe } from './support/stripes.js';

const unavailable = faketimeUnavailable();
// In CI a missing libfaketime fails the file; elsewhere it is skipped, and says why.
const required = process.env.CI === 'true' || process.env.KILN_REQUIRE_FAKETIME === '1';
if (unavailable && !required) console.warn(`clock-skew tests skipped: ${unavailable}`);

const dirs: string[] = [];
const clients: KilnClient[] = [];

afterEach(async () => {
  await stopWriters(clients);
  killAllMembers();
});

afterAll(async () => {
  if (!process.env.KILN_KEEP) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A temporary folder for one test's data, logs and timestamp files, removed after the file. */
async function testRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kiln-clock-'));
  dirs.push(root);
  console.log(`clock-skew: logs in ${root} (kept with KILN_KEEP=1)`);
  return root;
}

/** Resolves once `ms` have passed since `since` (a fault's duration, not a synchronisation). */
const elapsed = (since: number, ms: number): Promise<void> => pollUntil(`${ms} ms to pass`, () => performance.now() - since >= ms, ms + 10_000, 20);

/** Watches both servers every 100 ms and collects every `name@term` seen active, until stopped. */
function watchActives(servers: readonly Member[]): { seen: Set<string>; stop: () => Promise<void> } {
  const seen = new Set<string>();
  let watching = true;
  const done = (async () => {
    while (watching) {
      for (const status of await Promise.all(servers.map((m) => statusOf(m.client)))) {
        if (status?.state === 'ACTIVE-COORDINATOR') seen.add(`${status.name}@${status.term}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    seen,
    stop: async () => {
      watching = false;
      await done;
    },
  };
}

describe.skipIf(unavailable !== undefined && !required)('wall-clock jumps on a group of two servers and a voter', () => {
  beforeAll(() => {
    if (unavailable) throw new Error(`clock-skew tests are required here (CI or KILN_REQUIRE_FAKETIME=1) but cannot run: ${unavailable}`);
  });

  it('a jump of +300 s, -60 s and a strobe on the active, the mirror and the voter: no election, no failed append, nothing lost', async () => {
    const root = await testRoot();
    const clocks = new FakeClocks(root);
    const { file, members } = await cluster(2, 1, root, seededRandom(300), 'restartable');
    for (const m of members) launch(file, m, false, await clocks.envFor(m.name));
    const servers = members.filter((m) => !m.voter);
    const client = await connectWithin(servers.map((m) => m.client));
    clients.push(client);
    const active = await oneInSyncActive(servers);
    const mirror = servers.find((m) => m !== active)!;
    const voter = members.find((m) => m.voter)!;
    const { term } = (await statusOf(active.client))!;
    const writers = new Writers(client, 3);
    await writers.progress('writes before any jump');
    const actives = watchActives(servers);

    /** The active's wall clock as its records carry it, less the real one, in seconds: it proves the jump took. */
    let probes = 0;
    const activeOffsetSeconds = async (): Promise<number> => {
      const id = `probe-${probes++}`;
      if (!(await writers.attempt(client, 'probe', 'clock-probe', id))) return NaN;
      const [event] = await client.read('clock-probe', { fromVersion: probes - 1, maxCount: 1 });
      expect(event?.id).toBe(id);
      return (event!.timestampMs - Date.now()) / 1000;
    };

    /** Holds each offset on `member` for 1.5 s, appends going on, then strobes it for 2 s and sets it back. */
    const jumpAround = async (member: Member): Promise<void> => {
      for (const offset of [300, -60]) {
        await clocks.set(member.name, offset);
        const at = performance.now();
        if (member === active) await pollUntil(`the active's clock at ${offset} s`, async () => Math.abs((await activeOffsetSeconds()) - offset) < 5, 5000, 50);
        await writers.progress(`appends with ${member.name}'s clock at ${offset} s`);
        await elapsed(at, 1500);
      }
      const strobeAt = performance.now();
      for (let flip = 0; performance.now() - strobeAt < 2000; flip++) {
        await clocks.set(member.name, flip % 2 === 0 ? 300 : -60);
        await elapsed(performance.now(), 100 + Math.floor(Math.random() * 150));
      }
      await clocks.set(member.name, 0);
      await writers.progress(`appends after ${member.name}'s strobe`);
    };

    await jumpAround(active);
    await jumpAround(mirror);
    await jumpAround(voter);
    await actives.stop();

    expect([...actives.seen]).toEqual([`${active.name}@${term}`]);
    for (const m of servers) expect((await statusOf(m.client))?.term).toBe(term);
    expect(writers.history.filter((op) => op.type !== 'invoke' && op.type !== 'ok')).toEqual([]);
    await expectEveryAckOnEveryServerOnce(members, 'restartable', writers, 'clock-skew');
  }, 60_000);

  it('a coordinator whose wall clock jumps +300 s while a participant has not voted keeps the transaction open, and commits it', async () => {
    const root = await testRoot();
    const clocks = new FakeClocks(root);
    const { file, members } = await stripedCluster(2, 1, 0, root, seededRandom(301), 'memory');
    for (const m of members) launch(file, m, false, await clocks.envFor(m.name));
    const [alpha, bravo] = members as [Member, Member];
    const client = await connectWithin([alpha.client]);
    clients.push(client);
    await pollUntil("alpha knows bravo's active", async () => (await client.topology()).stripes[1]!.active === bravo.name);
    const layout = clusterLayoutOf(validateClusterConfig(JSON.parse(await readFile(file, 'utf8'))));
    const [[a], [b]] = streamsByStripe(layout, 'skew') as [[string], [string]];
    await client.read(b); // dials bravo first

    // Bravo stopped: alpha, coordinating, waits for its vote, well within txnTimeoutMs.
    bravo.process!.kill('SIGSTOP');
    const stoppedAt = performance.now();
    // Its outcome, settled either way, so that an abort fails the test below rather than going unhandled.
    const outcome = client
      .transact([
        { stream: a, events: [{ type: 'A', data: 1 }] },
        { stream: b, events: [{ type: 'B', data: 1 }] },
      ])
      .catch((error: Error) => error);
    await pollUntil('the transaction open on its coordinator', async () => (await client.openTransactions()).length === 1, 5000, 50);
    await clocks.set(alpha.name, 300);
    // Past a few of alpha's ticks with its clock 300 s ahead: a timeout on the wall clock aborts now.
    await elapsed(performance.now(), 1500);
    const [open] = await client.openTransactions();
    expect(open, 'the transaction still open after the jump').toBeDefined();
    expect(open!.ageMs).toBeLessThan(defaultLogLimits.txnTimeoutMs);
    bravo.process!.kill('SIGCONT');
    expect(performance.now() - stoppedAt, 'bravo stopped for less than txnTimeoutMs').toBeLessThan(defaultLogLimits.txnTimeoutMs);

    const result = await outcome;
    if (result instanceof Error) throw result;
    expect(result.streams.map((s) => s.stream).sort()).toEqual([a, b].sort());
    expect((await client.read(a)).map((e) => e.type)).toEqual(['A']);
    expect((await client.read(b)).map((e) => e.type)).toEqual(['B']);
  }, 60_000);
});
