// The deterministic simulation (RELIABILITY.md §3.3, tier T1): whole Kiln clusters (one group, or
// several stripes with shared voters) in one process from a seed, under swarm faults, judged by the
// history checker (and no two servers may take office in one term of a stripe, nor serve a read on
// a lease that misses what a later term committed, nor, within 1 % of drift, hold leases that
// overlap in true time). In some seeds of
// one group an operator also adds and removes servers at runtime, amid the faults (operator.ts).
// Each member's clock runs at a rate of its own within the drift leases tolerate, and about one seed
// in four runs without disks (memory mode).
// Every seed must check clean; one seed replays bit for bit; and a planted
// durability bug must be caught, in a lone server and in a cluster of stripes, and so must a
// participant that shows a transaction's part before its outcome, and an active that gives up a
// membership change without recording its view again (given-up-changes.ts scripts that split brain),
// and a lease that outlasts the election's wait, and clocks that drift past the bound. A member that restarts without a disk after
// membership changes must hold the active's view again before it votes (memory-restart.ts).
//
//   KILN_SEED=<n>        run (and report in full) one seed only: the replay command of a failure
//   KILN_SIM_TRACE=<n>   trace lines that one seed's report keeps (default 200)
//   KILN_SEEDS=<count>   how many seeds to run (default 1000)
//   KILN_SEED_BASE=<n>   the first seed (default 1); `random` picks one, printed for replay
//   KILN_SIM_OPS=<n>     client operations per seed (default 80)
//   KILN_SIM_PLANTED_BUG=1  plant the ack-before-fsync bug everywhere (to see a failure report)
//   KILN_SIM_PLANTED_BUG=give-up  plant giving up a membership change without recording the view again
//   KILN_SIM_PLANTED_BUG=long-lease  plant a lease that outlasts the election's wait (leases then overlap)
//   KILN_SIM_SERVERS=<n> fix the group's servers at n, in one stripe (by default each seed draws 1 to 5, and 0 to 2 voters)
//   KILN_SIM_STRIPES=<n> fix the stripes at n (by default about a third of the seeds draw 2 to 4 stripes of 1 to 3 servers, the rest one)
//   KILN_SIM_DRIFT=<d>   fix every seed's clock drift at d (0.05 = 5 %; by default each draws 0 to 1 %): each clock's rate
//                        is drawn in 1 ± d, half of them at an end. Beyond 1 % leases may overlap: each seed's overlaps
//                        are counted and printed, and only a read served on a lease that misses a later term's
//                        commit fails it (besides the history checker's anomalies)
import { memoryStore } from '@kiln/store-memory';
import { describe, expect, it } from 'vitest';
import { connect, type KilnClient } from '../src/client/client.js';
import { anomalyClasses, overlappingLeases, staleLeaseReads } from '../src/testing/checker/index.js';
import {
  defaultReplayCommand,
  Prng,
  runGivenUpChanges,
  runMemoryRestart,
  runSeed,
  Scheduler,
  SIM_CLOCK_DRIFT_MAX,
  SimCluster,
  SimNetwork,
  simUrl,
  startGroupMember,
  startSingleServer,
  type RunSeedOptions,
  type SeedResult,
  type SimGroupTiming,
  type SimPlantedBugs,
  type StartMember,
  visiblePreparesStore,
} from '../src/testing/simulation/index.js';

const createStore = (): ReturnType<typeof memoryStore> => memoryStore();
const ops = Number(process.env.KILN_SIM_OPS ?? 80);
const servers = process.env.KILN_SIM_SERVERS === undefined ? undefined : Number(process.env.KILN_SIM_SERVERS);
const stripes = process.env.KILN_SIM_STRIPES === undefined ? undefined : Number(process.env.KILN_SIM_STRIPES);
const drift = process.env.KILN_SIM_DRIFT === undefined ? undefined : Number(process.env.KILN_SIM_DRIFT);
/** The environment a replay needs besides the seed. */
const replayEnv = [
  process.env.KILN_SIM_SERVERS ? `KILN_SIM_SERVERS=${servers}` : '',
  process.env.KILN_SIM_STRIPES ? `KILN_SIM_STRIPES=${stripes}` : '',
  process.env.KILN_SIM_DRIFT ? `KILN_SIM_DRIFT=${drift}` : '',
  process.env.KILN_SIM_OPS ? `KILN_SIM_OPS=${ops}` : '',
  process.env.KILN_SIM_PLANTED_BUG ? `KILN_SIM_PLANTED_BUG=${process.env.KILN_SIM_PLANTED_BUG}` : '',
]
  .filter(Boolean)
  .join(' ');
const options: RunSeedOptions = {
  createStore,
  ops,
  ackBeforeSync: process.env.KILN_SIM_PLANTED_BUG === '1',
  giveUpWithoutRecording: process.env.KILN_SIM_PLANTED_BUG === 'give-up',
  longLease: process.env.KILN_SIM_PLANTED_BUG === 'long-lease',
  swarm: { ...(servers === undefined ? {} : { servers }), ...(stripes === undefined ? {} : { stripes }), ...(drift === undefined ? {} : { clockDrift: drift }) },
  replayCommand: (seed) => `${replayEnv ? `${replayEnv} ` : ''}${defaultReplayCommand(seed)}`,
};

/**
 * Seeds found before clocks drifted and before drawn seeds ran without disks, run as they were
 * found: true clocks, disks (a seed draws both after everything else, so the rest stays as drawn).
 */
const asFound = { clockDrift: 0, persistence: 'restartable' } as const;

/** A failure report: the replay command first, then what went wrong and the run's last events. */
function report(result: SeedResult): string {
  const lines = [`seed ${result.seed} FAILED; replay with:`, `  ${result.replay}`];
  const anomalies = anomalyClasses.filter((c) => result.counts[c] > 0).map((c) => `${c}=${result.counts[c]}`);
  if (anomalies.length > 0) lines.push(`anomalies: ${anomalies.join(' ')}`);
  for (const problem of result.problems) lines.push(`problem: ${problem}`);
  for (const [kind, examples] of Object.entries(result.check?.examples ?? {})) {
    for (const example of examples.slice(0, 5)) lines.push(`  ${kind}: ${example}`);
  }
  lines.push(`swarm: ${JSON.stringify(result.swarm)}`);
  lines.push(`faults: ${result.stats.faults.join('; ') || 'none'}`);
  if (result.trace.length > 0) lines.push('last trace events:', ...result.trace.map((l) => `  ${l}`));
  return lines.join('\n');
}

/** Runs a seed; on failure runs it again keeping the trace, for the report. */
async function checkSeed(seed: number): Promise<SeedResult> {
  const result = await runSeed(seed, options);
  if (result.ok) return result;
  const detailed = await runSeed(seed, { ...options, traceLinesKept: 60 });
  console.error(report(detailed));
  return detailed;
}

const single = process.env.KILN_SEED;

if (single !== undefined) {
  it(`seed ${single} checks clean and replays bit for bit`, async () => {
    const seed = Number(single);
    const result = await runSeed(seed, { ...options, traceLinesKept: Number(process.env.KILN_SIM_TRACE ?? 200) });
    const summary = `seed ${result.seed}: ${result.ok ? 'ok' : 'FAILED'}, trace ${result.traceHash}, ${JSON.stringify(result.stats)}`;
    console.log(result.ok ? summary : `${summary}\n${report(result)}`);
    const again = await runSeed(seed, options);
    expect(again.traceHash, 'the same seed must give the same trace').toBe(result.traceHash);
    expect(result.ok, report(result)).toBe(true);
  });
} else {
  const count = Number(process.env.KILN_SEEDS ?? 1000);
  const base =
    process.env.KILN_SEED_BASE === 'random' ? new Prng(Date.now()).nextUint32() : Number(process.env.KILN_SEED_BASE ?? 1);
  const chunk = 100;

  /** The cluster shapes the seeds drew: `servers+voters` of one stripe, and `stripes:`, `servers:`, `voters:` of several; memory mode and drift of one and of several. */
  const shapes = new Set<string>();
  const noteShape = ({ swarm }: SeedResult): void => {
    const where = swarm.stripes === 1 ? 'one stripe' : 'stripes';
    if (swarm.persistence === 'memory') shapes.add(`memory, ${where}`);
    if (swarm.clockDrift > 0) shapes.add(`drift, ${where}`);
    if (swarm.stripes === 1) shapes.add(`${swarm.servers}+${swarm.voters}`);
    if (swarm.membershipChanges > 0) shapes.add('membership changes');
    else for (const shape of [`stripes:${swarm.stripes}`, `voters:${swarm.voters}`, ...swarm.stripeServers.map((n) => `servers:${n}`)]) shapes.add(shape);
  };
  /** Seeds whose leases overlapped, whose history the checker faulted, and that served a stale read on a lease: printed under KILN_SIM_DRIFT. */
  const tally = { seeds: 0, leaseOverlaps: 0, historyAnomalies: 0, staleLeaseReads: 0 };
  const noteTally = (result: SeedResult): void => {
    tally.seeds++;
    if (result.leaseOverlaps.length > 0) tally.leaseOverlaps++;
    if (result.check === undefined || !result.check.valid) tally.historyAnomalies++;
    if (result.problems.some((p) => p.startsWith('safety: stale read on a lease'))) tally.staleLeaseReads++;
  };

  describe(`simulation: ${count} seeds from ${base}`, () => {
    for (let start = 0; start < count; start += chunk) {
      const first = base + start;
      const last = base + Math.min(start + chunk, count) - 1;
      it(`seeds ${first}..${last} check clean`, async () => {
        const failed: string[] = [];
        for (let seed = first; seed <= last; seed++) {
          const result = await checkSeed(seed);
          noteShape(result);
          noteTally(result);
          if (!result.ok) failed.push(result.replay);
        }
        expect(failed, `failing seeds; replay each with:\n${failed.join('\n')}`).toEqual([]);
      }, 120_000);
    }

    it.runIf(count >= 1000 && servers === undefined && stripes === undefined)('drew every shape: one group of 1 to 5 servers with 0 to 2 voters, some with membership changes; 2 to 4 stripes of 1 to 3 servers with 0 to 2 voters; each of both in memory mode and with drifting clocks', () => {
      const modes = ['memory', 'drift'].flatMap((mode) => [`${mode}, one stripe`, `${mode}, stripes`]);
      const group = [1, 2, 3, 4, 5].flatMap((n) => [0, 1, 2].filter((v) => n !== 2 || v > 0).map((v) => `${n}+${v}`)).concat('membership changes', ...modes);
      const striped = [...[2, 3, 4].map((n) => `stripes:${n}`), ...[1, 2, 3].map((n) => `servers:${n}`), ...[0, 1, 2].map((n) => `voters:${n}`)];
      expect([...group, ...striped].filter((shape) => !shapes.has(shape))).toEqual([]);
    });

    it.runIf(drift !== undefined)(`counts the seeds whose leases overlapped at ${(drift ?? 0) * 100} % drift`, () => {
      const { seeds, leaseOverlaps, historyAnomalies, staleLeaseReads } = tally;
      console.log(`drift ${drift}: ${seeds} seeds from ${base}: leases overlap in ${leaseOverlaps}, the history checker finds anomalies in ${historyAnomalies}, a read on a lease misses a later term's commit in ${staleLeaseReads}`);
      expect(seeds).toBe(count);
    });
  });

  describe('simulation: seeds that failed under other legal group timings (in one stripe, as when they were found)', () => {
    /** Group members with `timing`; a seed that drew a lone server still runs it alone, as by default. */
    const withTiming = (timing: SimGroupTiming): StartMember => {
      const member = startGroupMember(timing);
      return (context) => (context.members.length === 1 ? startSingleServer(context) : member(context));
    };
    const cases: Array<{ timing: Required<SimGroupTiming>; seeds: number[]; why: string }> = [
      // A new active answered a resend from its de-duplication table for a record its predecessor
      // wrote and never committed; a failover to the in-sync mirror that lacked it then lost it.
      // 636 and 1778 still did so after the replication code became role objects; 1686 and 2284
      // (found before) no longer reach either bug, and stay as cheap guards.
      { timing: { electionTimeMs: 1000, mirrorTimeoutMs: 900, leaseMs: 100 }, seeds: [636, 1778], why: 'acknowledged resend of an uncommitted record' },
      { timing: { electionTimeMs: 1000, mirrorTimeoutMs: 500, leaseMs: 400 }, seeds: [1686], why: 'acknowledged resend of an uncommitted record' },
      // An active of a later term that wrote nothing left two mirrors with an earlier active's
      // uncommitted tail.
      { timing: { electionTimeMs: 1000, mirrorTimeoutMs: 500, leaseMs: 400 }, seeds: [2284], why: "a mirror keeps an earlier term's tail past the active's log" },
    ];
    for (const { timing, seeds, why } of cases) {
      it(`${timing.electionTimeMs}/${timing.mirrorTimeoutMs}/${timing.leaseMs} ms: seeds ${seeds.join(', ')} check clean (${why})`, async () => {
        const failed: string[] = [];
        for (const seed of seeds) {
          const found = { ...options, swarm: { ...options.swarm, ...asFound, stripes: 1 }, startMember: withTiming(timing) };
          const result = await runSeed(seed, found);
          if (!result.ok) failed.push(report(await runSeed(seed, { ...found, traceLinesKept: 60 })));
        }
        expect(failed, failed.join('\n\n')).toEqual([]);
      });
    }
  });

  describe('simulation harness', () => {
    it('replays a seed bit for bit: the same trace hash 10 times out of 10', async () => {
      for (const seed of [3, 11, 45]) {
        const hashes = new Set<string>();
        for (let run = 0; run < (seed === 3 ? 10 : 2); run++) hashes.add((await runSeed(seed, options)).traceHash);
        expect([...hashes], `seed ${seed}`).toHaveLength(1);
      }
    });

    it('finds the same seeds clean when every task waits for the whole microtask queue (a real event-loop turn)', async () => {
      // The default counts quiet microtask turns and never leaves the simulation; this checks that
      // the approximation hides nothing: no task here ever cuts into a promise chain.
      const exact: RunSeedOptions = { ...options, scheduler: { drainMicrotasks: () => new Promise((resolve) => setImmediate(resolve)) } };
      const failed: string[] = [];
      for (let seed = 1; seed <= 100; seed++) {
        const result = await runSeed(seed, exact);
        if (!result.ok) failed.push(report(result));
      }
      expect(failed, failed.join('\n\n')).toEqual([]);
    });

    it('gives different seeds different runs', async () => {
      const hashes = new Set<string>();
      for (let seed = 1; seed <= 10; seed++) hashes.add((await runSeed(seed, options)).traceHash);
      expect(hashes.size).toBe(10);
    });

    it('catches a planted bug: a disk that acknowledges before its fsync loses acknowledged writes on a crash', async () => {
      const caught: SeedResult[] = [];
      for (let seed = 1; seed <= 200 && caught.length < 3; seed++) {
        // A lone server: in a group the mirrors' copies would hide a lost local write.
        const result = await runSeed(seed, { ...options, swarm: { ...asFound, servers: 1, voters: 0 }, ackBeforeSync: true });
        if (!result.ok) {
          expect(result.problems, `seed ${seed}: the run itself must complete`).toEqual([]);
          caught.push(result);
        }
      }
      expect(caught.length, 'no seed in 1..200 caught acknowledging before fsync').toBeGreaterThan(0);
      // A seed may also be caught by a subscriber that was sent events the crash then lost, before
      // their writer saw the acknowledgement (it resent them): the same bug, seen by the reader.
      expect(caught.some((r) => r.counts.lost > 0), `seeds ${caught.map((r) => r.seed).join(', ')}: none lost an acknowledged write`).toBe(true);
    });

    it('catches the planted bug in a cluster of stripes, and names the stripe that lost the write', async () => {
      // Stripes of one server and no voters (no mirror copy hides a lost write), crashed often, with
      // slow fsyncs that lose everything unsynced: the window the bug opens, widened.
      const swarm = { ...asFound, stripeServers: [1, 1, 1], voters: 0, crashes: 3, stripeLosses: 1, syncDelayMaxMs: 10, unsyncedSurvivalProbability: 0 };
      // A lost decide may also show as a transaction over several stripes that its coordinator
      // aborted and a participant committed: the same bug, seen across stripes. Look on for a loss.
      let caught: SeedResult | undefined;
      for (let seed = 1; seed <= 200 && caught === undefined; seed++) {
        const result = await runSeed(seed, { ...options, swarm, ackBeforeSync: true });
        if (!result.ok && result.counts.lost > 0) caught = result;
      }
      expect(caught, 'no seed in 1..200 lost a write acknowledged before fsync in a cluster of stripes').toBeDefined();
      expect(caught!.problems, `seed ${caught!.seed}: the run itself must complete`).toEqual([]);
      expect(caught!.counts.lost, `seed ${caught!.seed}: ${report(caught!)}`).toBeGreaterThan(0);
      expect(caught!.check!.examples.lost![0]).toMatch(/^stripe [abc]: acknowledged transaction /);
    });

    it('catches a planted bug: a participant whose prepared events are visible before the outcome', async () => {
      // Every disk keeps a prepare as a commit: a transaction over several stripes shows a part
      // before it is decided (and again at its outcome), or one that aborted.
      const caught: SeedResult[] = [];
      for (let seed = 1; seed <= 30 && caught.length < 3; seed++) {
        const result = await runSeed(seed, { ...options, swarm: { stripes: 3 }, createStore: () => visiblePreparesStore(memoryStore()) });
        if (result.check !== undefined && !result.check.valid) caught.push(result);
      }
      expect(caught.length, 'fewer than 3 seeds in 1..30 caught prepared events made visible').toBe(3);
      const classes = new Set(caught.flatMap((r) => anomalyClasses.filter((c) => r.counts[c] > 0)));
      expect([...classes], 'the part is seen twice or without its transaction').toEqual(expect.arrayContaining(['duplicatedTransactions']));
    });

    it('catches a planted bug: a lease that outlasts the election\'s wait overlaps its successor\'s', async () => {
      const caught: SeedResult[] = [];
      for (let seed = 1; seed <= 100 && caught.length < 2; seed++) {
        const result = await runSeed(seed, { ...options, longLease: true });
        if (result.problems.some((p) => p.startsWith('safety: leases overlap'))) caught.push(result);
      }
      expect(caught.length, 'fewer than 2 seeds in 1..100 caught leases that overlap').toBe(2);
    });

    it('keeps a stalled active from renewing its lease with answers held through the stall (seeds 70 and 285, found by the lease check)', async () => {
      // Paused past its lease while a mirror took over, the active took the answers waiting for it
      // as fresh, and held its lease again for an instant before the new term reached it.
      for (const seed of [70, 285]) {
        const result = await runSeed(seed, { ...options, swarm: { ...options.swarm, ...asFound } });
        expect(result.problems, `seed ${seed}`).toEqual([]);
      }
    });

    it('asks each stripe for the topology only while every stripe has an active that stays in office (seeds 3842189736, 3842190581 and 982222158 of two stripes, found by the topology check)', async () => {
      // Frames lost after healing cost a lone server with a voter its lease: in one seed its stripe
      // had no active when asked (the other stripe still named it, as far as it had heard), in the
      // other the asked active stepped down mid-question and named no active for its own stripe;
      // in the third it stepped down as it was dialled, and refused the question.
      for (const seed of [3842189736, 3842190581, 982222158]) {
        const result = await runSeed(seed, { ...options, swarm: { stripes: 2 } });
        expect(result.problems, `seed ${seed}`).toEqual([]);
      }
    });

    it('keeps leases apart when a partition meets redials on their way (seed 563479818, three stripes, found by the lease check)', async () => {
      // sc2 and the voter redialled sc1 after its connections were reset; the partition that came
      // next refused their dials at once, as if sc1 were gone, and they elected 340 ms after they
      // last heard it, while its lease ran on (no read went stale). A partition drops a SYN now.
      const result = await runSeed(563479818, { ...options, swarm: { ...options.swarm, stripes: 3 } });
      expect(result.stats.faults).toContain('9039ms partition [sa1,sb1,sc1,c0,c2,sub4-a,sub4-c] from the rest for 930 ms');
      expect(result.ok, report(result)).toBe(true);
    });

    it('catches a planted bug: two membership changes given up in a row, without recording the view again, let both sides of a cut acknowledge writes', async () => {
      // The scripted sequence of view-change.ts's module comment; the same seeds, with and without the bug.
      for (const seed of [1, 2, 3]) {
        const fixed = await runGivenUpChanges({ createStore, seed });
        expect(fixed.additions, `seed ${seed}: both additions given up`).toEqual(['TimeoutError', 'TimeoutError']);
        expect(fixed.problems, `seed ${seed}`).toEqual([]);
        expect(fixed.tookOffice, `seed ${seed}: only the side of c, d, f elects`).toHaveLength(1);
        expect(fixed.check?.valid, `seed ${seed}: ${JSON.stringify(fixed.check?.examples)}`).toBe(true);

        const planted = await runGivenUpChanges({ createStore, seed, planted: { giveUpWithoutRecording: true } });
        expect(planted.additions, `seed ${seed}: both additions given up`).toEqual(['TimeoutError', 'TimeoutError']);
        expect(planted.tookOffice, `seed ${seed}: both sides elect`).toHaveLength(2);
        expect(planted.check?.counts.lost, `seed ${seed}: ${planted.problems.join('; ')}`).toBeGreaterThan(0);
      }
    });

    // memory-restart.ts scripts it: before the fix the restarted member and one that missed the
    // additions elected a second active by the three servers they knew, and writes were lost (19 to
    // 26 acknowledged ones in seeds 1 to 5): the active never sent the restarted member its view
    // again. It now asks on the active's first append, well within its quiet period.
    it('sends a member restarted without a disk the view it forgot before its quiet period ends: two additions', async () => {
      for (const seed of [1, 2, 3]) {
        const result = await runMemoryRestart({ createStore, seed });
        expect(result.additions, `seed ${seed}: both additions recorded`).toEqual(['recorded', 'recorded']);
        expect(result.problems, `seed ${seed}`).toEqual([]);
        expect(result.tookOffice, `seed ${seed}: no one else takes office while the active keeps its majority`).toEqual([]);
        expect(result.check?.valid, `seed ${seed}: ${JSON.stringify(result.check?.examples)}`).toBe(true);
      }
    });

    it('never crashes the last copy of a stripe without disks, even when its active has stepped down (seed 3842189503, two stripes)', async () => {
      // sa1 acknowledged a write and stepped down (reporting no commit index); its mirror crashed
      // and came back empty, still in the view's in-sync set as no active removed it. The nemesis
      // took that mirror for a copy and crashed sa1: the write was lost, as memory mode warns.
      const result = await runSeed(3842189503, { ...options, swarm: { ...options.swarm, stripes: 2 } });
      expect(result.stats.faults).toContain("5774ms crash sa1 left out: it holds the last copy of its stripe's log, without a disk");
      expect(result.ok, report(result)).toBe(true);
    });

    it('elects no server restarted empty over the voter that heard the commits, while the mirror holding them is paused (seed 4291979044, memory mode)', async () => {
      // s1 acknowledged LSN 1-23 with s2 in sync, crashed and came back empty, still in the view's
      // in-sync set; s2 was paused. The two voters elected the empty s1 (3 of 4), which removed s2
      // from the set and committed alone: s2's 23 writes were lost when it rejoined. Each member
      // now remembers the commit point an active told it, and votes for no log that lacks it.
      const result = await runSeed(4291979044, options);
      expect(result.stats.faults).toContain('6173ms pause s2 for 2970 ms');
      expect(result.ok, report(result)).toBe(true);
    });

    it('elects no server restarted empty while the server holding the commits is cut off, though the two others are a majority (seed 4291980459, memory mode)', async () => {
      // s1 acknowledged LSN 1-10 with s3 (s2 out of the in-sync set), s3 crashed and came back
      // empty, and a partition reset s1's links for a second: s2, which never heard those commits,
      // and the empty s3 elected s3 without hearing s1, and s1's writes were lost. A server
      // restarted without a disk now takes office only once it heard every in-sync server, none
      // ahead of it: s3 stands down and s1 wins the next term.
      const result = await runSeed(4291980459, options);
      expect(result.stats.faults).toContain('9150ms partition [s2,s3] from the rest for 188 ms');
      expect(result.ok, report(result)).toBe(true);
    });

    it('sends no prepare of a coordinator that stepped down: the healed run ends with nothing prepared (seeds 563479482, three stripes, and 3923321508, two)', async () => {
      // The coordinator's active lost its lease while waiting for the vote of a stripe cut off from
      // it; its link redialled 4.5 to 5 s later and sent the prepare again. The part was prepared
      // with nobody to decide it (the next office presumes abort) and held its streams until the
      // participant asked: the run ended first, 0.45 and 0.65 s after that prepare.
      for (const [seed, stripes] of [[563479482, 3], [3923321508, 2]] as const) {
        const result = await runSeed(seed, { ...options, swarm: { ...options.swarm, stripes } });
        expect(result.ok, report(result)).toBe(true);
      }
    });

    it('elects the mirror its active readmitted just before it crashed (seed 2597087503, two stripes, memory mode, 200 operations)', async () => {
      // sa1 recorded view 3 with sa2 back in sync and crashed 81 ms later, before another append
      // told sa2; sa2 held the writes but stayed PASSIVE-SYNCING and never stood, and sa1 came back
      // empty and stood down for it: stripe a had no active for good (its writes unreachable).
      const result = await runSeed(2597087503, { ...options, ops: 200, swarm: { ...options.swarm, stripes: 2, clockDrift: 0.01 } });
      expect(result.stats.faults).toContain('4746ms crash sa1 for 1047 ms');
      expect(result.ok, report(result)).toBe(true);
    });

    /** A group without disks for seeds 1 to 3, elected once; `scene` runs on each, and the group is shut down after. */
    async function onMemoryGroups(
      members: ReadonlyArray<{ name: string; role?: 'voter' }>,
      scene: (group: { seed: number; scheduler: Scheduler; network: SimNetwork; cluster: SimCluster; active: string }) => Promise<void>,
    ): Promise<void> {
      for (const seed of [1, 2, 3]) {
        const scheduler = new Scheduler({ seed });
        const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
        const cluster = new SimCluster({ scheduler, network, createStore, persistence: 'memory', members: [...members], startMember: startGroupMember() });
        try {
          await scheduler.settle(cluster.start(), 30_000, 'cluster start');
          await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 30_000 });
          const active = cluster.activeName();
          expect(active, `seed ${seed}: a cold start elects`).toBeDefined();
          await scene({ seed, scheduler, network, cluster, active: active! });
        } finally {
          await scheduler.settle(cluster.closeAll(), 30_000, 'shutdown').catch(() => {});
          await cluster.dispose();
        }
      }
    }
    const threeServersAndVoter = [{ name: 's1' }, { name: 's2' }, { name: 's3' }, { name: 'v1', role: 'voter' as const }];

    it('elects again once every server of a memory group forgot everything, its voter remembering', async () => {
      // Keeping a member restarted without a disk out of elections until an active sent it the view
      // (831e1bf) broke this: nothing acknowledged survives, and the group must become available again.
      await onMemoryGroups(threeServersAndVoter, async ({ seed, scheduler, cluster }) => {
        const tookOfficeBefore = cluster.tookOffice.length;
        for (const name of ['s1', 's2', 's3']) await cluster.crash(name);
        await scheduler.settle(cluster.start(), 30_000, 'restart');
        await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 60_000 });
        expect(cluster.activeName(), `seed ${seed}: the servers elect again: ${cluster.describeServers().join('; ')}`).toBeDefined();
        expect(cluster.tookOffice.length, `seed ${seed}: a restarted server took office`).toBeGreaterThan(tookOfficeBefore);
        // The restarted servers count terms from 0 again and make a majority without the voter,
        // so one of them may take office in a term it held before it forgot: harmless here, as
        // no record of that term survives anywhere (every server forgot; a voter keeps none).
        expect(cluster.problems.filter((p) => !/ took office twice in term /.test(p)), `seed ${seed}`).toEqual([]);
      });
    });

    it('elects again when the active dies before a restarted mirror got the view, and returns without a disk', async () => {
      // a's views to b are lost, so b never learns the view; then a dies and returns with nothing.
      // Only c remembers, and it cannot win alone: a rule that kept b and a out of elections until
      // an active sent them the view would leave the group without an active for good.
      await onMemoryGroups([{ name: 's1' }, { name: 's2' }, { name: 's3' }], async ({ seed, scheduler, network, cluster, active: a }) => {
        const b = cluster.serverNames.find((name) => name !== a)!;
        network.dropKinds(a, [b], ['view']);
        await cluster.crash(b);
        await scheduler.settle(cluster.restart(b), 30_000, `restart ${b}`);
        await scheduler.run({ untilMs: scheduler.now + 3_000 });
        await cluster.crash(a);
        await scheduler.settle(cluster.restart(a), 30_000, `restart ${a}`);
        await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 60_000 });
        expect(cluster.activeName(), `seed ${seed}: ${cluster.describeServers().join('; ')}`).toBeDefined();
        expect(cluster.problems, `seed ${seed}`).toEqual([]);
      });
    });

    it('elects past the voter\'s term when two servers of a memory group restart while the third is cut off, once it is back', async () => {
      // The restarted servers count terms from 0 again and need the voter, which is in a later term;
      // the cut-off server may hold records the group committed (the last copy: seed 4291980459),
      // so while it is away neither restarted server takes office, though together they are a
      // majority. Once it is back the group elects again (not poll for ever), in a term no server
      // took office in before.
      await onMemoryGroups(threeServersAndVoter, async ({ seed, scheduler, network, cluster, active: a }) => {
        const [b, c] = cluster.serverNames.filter((name) => name !== a) as [string, string];
        // Every member records the active's view first: a group that recorded none had no active, and committed nothing.
        const recorded = (): boolean => cluster.describeServers().every((line) => / view 1 /.test(line));
        await scheduler.run({ until: recorded, untilMs: scheduler.now + 5_000 });
        expect(recorded(), `seed ${seed}: ${cluster.describeServers().join('; ')}`).toBe(true);
        network.isolate(c, ['s1', 's2', 's3', 'v1']);
        await cluster.crash(a);
        await cluster.crash(b);
        const tookOfficeBefore = cluster.tookOffice.length;
        await scheduler.settle(cluster.restart(a), 30_000, `restart ${a}`);
        await scheduler.settle(cluster.restart(b), 30_000, `restart ${b}`);
        await scheduler.run({ untilMs: scheduler.now + 10_000 });
        expect(cluster.tookOffice.slice(tookOfficeBefore), `seed ${seed}: no restarted server takes office while ${c} is cut off`).toEqual([]);
        network.heal();
        await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 60_000 });
        expect(cluster.activeName(), `seed ${seed}: ${cluster.describeServers().join('; ')}`).toBeDefined();
        expect(cluster.problems, `seed ${seed}`).toEqual([]);
      });
    });

    /**
     * Three servers; once the first active holds its lease, its clock runs at 1 - drift and the
     * others' at 1 + drift, and it is cut off. Returns the leases that overlap, and who took office after the cut.
     */
    async function cutOffSlowActive(seed: number, drift: number): Promise<{ overlaps: string[]; successors: string[] }> {
      const scheduler = new Scheduler({ seed });
      const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
      const cluster = new SimCluster({ scheduler, network, createStore, members: [{ name: 's1' }, { name: 's2' }, { name: 's3' }], startMember: startGroupMember() });
      try {
        await scheduler.settle(cluster.start(), 30_000, 'cluster start');
        await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 30_000 });
        const active = cluster.activeName();
        expect(active, `seed ${seed}: a cold start elects`).toBeDefined();
        await scheduler.run({ untilMs: scheduler.now + 2_000 });
        for (const name of cluster.names) scheduler.machineClock(name).setRate(name === active ? 1 - drift : 1 + drift);
        const cutAt = cluster.tookOffice.length;
        network.isolate(active!, cluster.names);
        await scheduler.run({ untilMs: scheduler.now + 5_000 });
        return { overlaps: cluster.leaseIntervals().flatMap(overlappingLeases), successors: cluster.tookOffice.slice(cutAt).map((t) => t.name) };
      } finally {
        await scheduler.settle(cluster.closeAll(), 30_000, 'shutdown').catch(() => {});
        await cluster.dispose();
      }
    }

    it('sees clock drift: a cut-off active on a slow clock keeps its lease past a successor on fast clocks only beyond the drift bound', async () => {
      // The successor's first poll waits mirrorTimeoutMs (700 ms) on its fast clock, the old lease
      // runs leaseMs (600 ms) on the slow one: apart up to (700 - 600) / (700 + 600), about 7.7 %
      // of drift, before the election's own steps; the drawn seeds' 1 % stays well inside. At 30 %
      // the new active holds its lease before the old one's runs out, and the lease check must say so.
      for (const seed of [1, 2, 3]) {
        const within = await cutOffSlowActive(seed, SIM_CLOCK_DRIFT_MAX);
        expect(within.successors, `seed ${seed}: the others elect`).toHaveLength(1);
        expect(within.overlaps, `seed ${seed}`).toEqual([]);
        const beyond = await cutOffSlowActive(seed, 0.3);
        expect(beyond.successors, `seed ${seed}: the others elect`).toHaveLength(1);
        expect(beyond.overlaps, `seed ${seed}: leases overlap`).toHaveLength(1);
      }
    });

    /**
     * The rarer case of docs/replication.md's drift paragraphs: b lost the active a before c did
     * (their link cut first), so once a is cut off from both, only the election's own steps keep
     * the leases apart. a's clock runs at 1 - clockDrift, b's and c's at 1 + clockDrift. A reader
     * that reaches only a reads on its lease all along; a writer appends to the successor from the
     * moment it takes office. Returns the leases that overlap, the reads a served after its
     * successor took office, the commit index the successor reached, and the reads that missed one
     * of its commits.
     */
    async function readsOnTouchingLeases(seed: number, clockDrift: number, planted: SimPlantedBugs = {}): Promise<{ overlaps: string[]; lateReads: number; successorCommitIndex: number; stale: string[] }> {
      const scheduler = new Scheduler({ seed });
      const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
      // Who has sent a poll in place of one that lapsed, refused by a member that still heard the active.
      const pollsRefused = new Set<string>();
      const member = startGroupMember({}, planted);
      const startMember: StartMember = (context) =>
        member({ ...context, log: (line) => void (/election for term \d+ cannot complete: .* still hear an active/.test(line) && pollsRefused.add(context.name), context.log(line)) });
      const cluster = new SimCluster({ scheduler, network, createStore, members: [{ name: 's1' }, { name: 's2' }, { name: 's3' }], startMember });
      const clients: KilnClient[] = [];
      let stopped = false;
      /** Runs `op` every few ms on a client of its own that reaches only `servers`, until stopped. */
      const keepDoing = async (name: string, servers: string[], op: (client: KilnClient) => Promise<unknown>): Promise<void> => {
        const node = scheduler.spawn(name);
        const timers = scheduler.timers(node);
        network.partition([name], cluster.serverNames.filter((server) => !servers.includes(server)));
        const random = scheduler.random.fork();
        const client = await connect(servers.map(simUrl), { transports: [network.transport(name)], clientId: name, clock: scheduler.clock(node), timers, random, reconnectWindowMs: 60_000 });
        clients.push(client);
        while (!stopped) {
          await op(client).catch(() => undefined);
          await new Promise<void>((resolve) => timers.setTimeout(resolve, 5));
        }
      };
      try {
        await scheduler.settle(cluster.start(), 30_000, 'cluster start');
        await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + 30_000 });
        const a = cluster.activeName();
        expect(a, `seed ${seed}: a cold start elects`).toBeDefined();
        const [b, c] = cluster.serverNames.filter((name) => name !== a) as [string, string];
        const loops = [keepDoing('reader', [a!], (client) => client.read('s', { fromVersion: 0 }))];
        await scheduler.run({ untilMs: scheduler.now + 2_000 });
        for (const name of cluster.names) scheduler.machineClock(name).setRate(name === a ? 1 - clockDrift : 1 + clockDrift);
        const cutAt = cluster.tookOffice.length;
        network.partition([a!], [b]);
        // b polls again now, and c refuses: c hears a. Cut c off from a at once, so that c grants
        // b's next poll, leaseMs on b's clock later, as soon as a's silence allows it.
        await scheduler.run({ until: () => pollsRefused.has(b), untilMs: scheduler.now + 5_000 });
        expect(pollsRefused.has(b), `seed ${seed}: b polled while c heard a`).toBe(true);
        network.partition([a!], [c]);
        // A writer appends to the successor from the moment it takes office: it commits as early as it may.
        await scheduler.run({ until: () => cluster.tookOffice.length > cutAt, untilMs: scheduler.now + 5_000 });
        let written = 0;
        loops.push(keepDoing('writer', [c], (client) => client.transact([{ stream: 's', events: [{ id: `w${written++}`, type: 'sim', data: {} }] }])));
        await scheduler.run({ untilMs: scheduler.now + 3_000 });
        stopped = true;
        await scheduler.settle(Promise.all(loops), 30_000, 'clients stop');
        const successor = cluster.tookOffice.slice(cutAt);
        // c wins: it polled on b's behalf once a fell silent, and b dropped out of the in-sync set.
        expect(successor.map((t) => t.name), `seed ${seed}: one successor`).toEqual([c]);
        const served = cluster.servedOnLeases()[0] ?? [];
        const after = successor[0]!;
        return {
          overlaps: cluster.leaseIntervals().flatMap(overlappingLeases),
          lateReads: served.filter((e) => e.kind === 'read' && e.name === a && e.atMs > after.atMs).length,
          successorCommitIndex: Math.max(0, ...served.filter((e) => e.kind === 'commit' && e.term === after.term).map((e) => e.commitIndex)),
          stale: staleLeaseReads(served),
        };
      } finally {
        stopped = true;
        for (const client of clients) await scheduler.settle(client.close(), 30_000, 'client close').catch(() => {});
        await scheduler.settle(cluster.closeAll(), 30_000, 'shutdown').catch(() => {});
        await cluster.dispose();
      }
    }

    it('serves no stale read on leases that touch at 5 % drift, below the bound: the successor commits nothing until its predecessor left the in-sync set', async () => {
      // (700 - 600) / (700 + 600) = 7.7 %, however the election began. In some seeds c takes office
      // while a still believes in its lease, and a serves reads on it after that: the lease check
      // reports the overlap, and no read misses a commit of c. With the planted lease that outlasts
      // the election's wait, those reads outlast the in-sync set's wait too, and go stale.
      const touching: number[] = [];
      for (const seed of [1, 2, 3, 4]) {
        const run = await readsOnTouchingLeases(seed, 0.05);
        expect(run.successorCommitIndex, `seed ${seed}: the successor committed`).toBeGreaterThan(0);
        expect(run.stale, `seed ${seed}`).toEqual([]);
        if (run.overlaps.length > 0 && run.lateReads > 0) touching.push(seed);
      }
      expect(touching.length, 'seeds whose leases touched, the old one serving reads after its successor took office').toBeGreaterThanOrEqual(2);
      for (const seed of touching.slice(0, 2)) {
        const planted = await readsOnTouchingLeases(seed, 0.05, { longLease: true });
        expect(planted.stale.length, `seed ${seed}: reads on a lease that outlasts the wait go stale`).toBeGreaterThan(0);
      }
    });

    it('runs tasks in (virtual time, sequence) order, holds a paused node, drops a crashed one', async () => {
      const scheduler = new Scheduler({ seed: 1 });
      const ran: string[] = [];
      const a = scheduler.spawn('a');
      const b = scheduler.spawn('b');
      const timersA = scheduler.timers(a);
      const timersB = scheduler.timers(b);
      timersA.setTimeout(() => ran.push('a10'), 10);
      timersB.setTimeout(() => ran.push('b5'), 5);
      timersA.defer(() => ran.push('a0'));
      timersB.setTimeout(() => ran.push('b10'), 10);
      timersA.setTimeout(() => ran.push('cancelled'), 1).cancel();
      scheduler.pause('b');
      await scheduler.run({ untilMs: 20 });
      expect(ran).toEqual(['a0', 'a10']);
      expect(scheduler.now).toBe(20);
      scheduler.resume('b');
      const late = scheduler.timers(scheduler.node('a'));
      scheduler.kill('a');
      late.setTimeout(() => ran.push('dead'), 1);
      await scheduler.run();
      expect(ran).toEqual(['a0', 'a10', 'b5', 'b10']);
    });

    it('draws the same numbers from the same seed on every platform', () => {
      // Pinned: a change here silently changes every seed's run, so old replay commands break.
      const prng = new Prng(42);
      expect(Array.from({ length: 4 }, () => prng.nextUint32())).toEqual([2837322924, 544945897, 479756282, 3500138142]);
      expect(new Prng(42).uuid()).toBe('ace9fa9e-942a-4220-a6d6-a5c2b51be28d');
      expect(new Prng(43).nextUint32()).not.toBe(2837322924);
    });
  });
}
