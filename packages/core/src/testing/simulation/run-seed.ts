/**
 * One simulation run from one seed, VOPR-style (RELIABILITY.md §1.4, §3.3): the seed draws its own
 * fault intensities (swarm testing), its cluster's shape (one group, or several stripes with
 * shared voters), each member's clock rate within the drift Kiln's leases tolerate and its wall
 * clock's offset, and, about one seed in four, memory mode (no disks); a cluster and its clients run a bounded workload while a nemesis injects delays,
 * connection resets, pauses, partitions, crashes with restarts and wall-clock jumps (with several
 * stripes also partitions between stripes, or between a stripe and the voters, and the loss of
 * every server of a stripe at once), and in some seeds of one group an operator changes its
 * membership, some of them while the active's `view` messages to some members are lost and the
 * rest of the traffic passes; then everything heals, drains and shuts down, the final logs
 * are read from the disks, and the history checker judges the run, stripe by stripe. The same seed replays the same run, bit for
 * bit: compare {@link SeedResult.traceHash}.
 */
import type { Store } from '../../store/store.js';
import { checkHistory, checkStripes, overlappingLeases, staleLeaseReads } from '../checker/index.js';
import type { CheckCounts, CheckResult } from '../checker/types.js';
import { SimCluster, startGroupMember, startSingleServer, type SimMemberSpec, type StartMember } from './cluster.js';
import { SimNetwork, simUrl } from './network.js';
import { Operator } from './operator.js';
import { normalizeSeed, type Prng } from './prng.js';
import { Scheduler, SimulationTimeoutError, type SchedulerOptions } from './scheduler.js';
import { checkTopology } from './topology-check.js';
import { Workload } from './workload.js';

/** The fault intensities and sizes one seed draws (each can be fixed through {@link RunSeedOptions.swarm}). */
export interface SwarmParameters {
  /**
   * Stripes (mirror groups): 1 to 4. A one-stripe cluster is drawn as before stripes were, so a
   * seed that draws one stripe runs as it did then. Fixing `servers` alone fixes one stripe.
   */
  stripes: number;
  /** Servers in all: 1 to 5 in a one-stripe cluster; with several stripes, the sum of {@link stripeServers}. */
  servers: number;
  /** Servers of each stripe, in order: `[servers]` with one stripe, 1 to 3 each with several. */
  stripeServers: number[];
  /** Voters, shared by every stripe: 0 to 2, at least 1 beside a stripe of two servers (as the configuration requires). */
  voters: number;
  /** Client processes. */
  processes: number;
  /** Streams the workload uses. */
  streams: number;
  /** Shortest one-way network delay, ms. */
  delayMinMs: number;
  /** Longest one-way network delay, ms. */
  delayMaxMs: number;
  /** Chance per frame that it is lost and its connection resets. */
  resetProbability: number;
  /** Longest fsync, ms. */
  syncDelayMaxMs: number;
  /** Chance each unsynced batch survives a crash. */
  unsyncedSurvivalProbability: number;
  /** Chance a crash leaves a torn record at the tail. */
  tornWriteProbability: number;
  /** Server crashes (each followed by a restart). */
  crashes: number;
  /** Pauses of a server or a client. */
  pauses: number;
  /** Partitions (a server or a client cut off, then healed). */
  partitions: number;
  /** Explicit resets of every connection of a server. */
  resets: number;
  /** Wall-clock jumps of a server, up to ±300 s. */
  clockJumps: number;
  /** Periods in which one-way delays grow tenfold ("clogging"). */
  clogs: number;
  /** With several stripes: partitions between stripes, or between a stripe and the voters. */
  stripePartitions: number;
  /** With several stripes: losses of every server of one stripe at once (all crash, later all restart). */
  stripeLosses: number;
  /**
   * In a one-stripe group: an operator's membership changes (add a spare, remove a mirror, remove
   * the active after failing it over), 1 to 3 in a share of the seeds, else 0.
   */
  membershipChanges: number;
  /** Spare servers outside the group that a membership change may add: 1 or 2 when there are changes. */
  spares: number;
  /**
   * With membership changes, in a share of those seeds: periods in which the active's `view`
   * messages to some members are lost while everything else passes (a change then reaches only
   * some members, and may be given up). 0 to 2.
   */
  viewLosses: number;
  /**
   * How far each member's clock may run from the true rate: its rate is drawn in `1 ± clockDrift`
   * (see {@link clockRates}). 0 to {@link SIM_CLOCK_DRIFT_MAX}; 0 in a share of the seeds.
   */
  clockDrift: number;
  /** Each member's clock rate (oscillator ms per true ms), in the order of the cluster's members, spares last. */
  clockRates: number[];
  /** Each member's wall clock offset at the start, ms, in the same order. */
  wallOffsetsMs: number[];
  /**
   * `memory` (about one seed in four): no disks, a crashed member restarts empty. Such a seed
   * draws no membership changes and no losses of a whole stripe (see {@link drawSwarm}).
   */
  persistence: 'restartable' | 'memory';
}

/** Chance that a seed draws a cluster of several stripes. */
const SEVERAL_STRIPES_PROBABILITY = 0.35;
/** Chance that a seed of a one-stripe group drives membership changes. */
const MEMBERSHIP_CHANGES_PROBABILITY = 0.3;
/** Chance that a seed with membership changes also loses `view` messages for a while. */
const VIEW_LOSSES_PROBABILITY = 0.5;
/** The drift a seed's clocks may have at most: the bound Kiln's leases tolerate (docs/replication.md). */
export const SIM_CLOCK_DRIFT_MAX = 0.01;
/** Chance that a seed's clocks drift at all. */
const CLOCK_DRIFT_PROBABILITY = 0.8;
/** Largest wall clock offset between two machines at the start, ms (jumps come on top). */
const WALL_OFFSET_MAX_MS = 1_000;
/** Members a seed may have at most (4 stripes of 3 and 2 voters), each drawn a clock. */
const MEMBERS_MAX = 14;
/** Chance that a seed runs without disks. */
const MEMORY_PROBABILITY = 0.25;

/** Options of {@link runSeed}. */
export interface RunSeedOptions {
  /** Makes an empty store for each server's simulated disk, e.g. `memoryStore` of `@kiln/store-memory`. */
  createStore: () => Store;
  /** Operations the clients issue in all. @default 80 */
  ops?: number;
  /** Fixes some swarm parameters instead of drawing them. */
  swarm?: Partial<SwarmParameters>;
  /** Plants the ack-before-fsync bug in every disk (the harness's self-test). @default false */
  ackBeforeSync?: boolean;
  /**
   * Plants in every server of a group (started by default) the bug of giving up a membership
   * change without recording the current view again (the harness's self-test). @default false
   */
  giveUpWithoutRecording?: boolean;
  /**
   * Plants in every server of a group (started by default) a lease that outlasts the election's
   * wait (the harness's self-test of the lease check). @default false
   */
  longLease?: boolean;
  /**
   * Starts each member. @default a lone server without a group ({@link startSingleServer}) when
   * the seed drew one server and no voter, else a mirror group ({@link startGroupMember})
   */
  startMember?: StartMember;
  /** Scheduler settings (how microtasks settle between tasks); the seed is always the run's. */
  scheduler?: Omit<SchedulerOptions, 'seed' | 'traceLinesKept'>;
  /** Trace lines to keep for the report. @default 0 */
  traceLinesKept?: number;
  /** The command line that replays a seed. @default `KILN_SEED=<seed> npx vitest run packages/core/test/simulation.test.ts` */
  replayCommand?: (seed: number) => string;
  /** Virtual time the workload may take before the run is declared stuck, ms. @default 600000 */
  timeLimitMs?: number;
}

/** What one seed's run found. */
export interface SeedResult {
  /** The seed (a uint32). */
  seed: number;
  /** True when the checker found nothing and the run completed without harness problems. */
  ok: boolean;
  /** The checker's counts (zeros when the run did not get that far). */
  counts: CheckCounts;
  /** The checker's whole verdict, with examples of each anomaly; absent when the run did not complete. */
  check: CheckResult | undefined;
  /** FNV-1a hash of the run's event trace: equal for two runs of one seed. */
  traceHash: string;
  /** The command that replays this seed. */
  replay: string;
  /**
   * Why the run failed apart from anomalies: stuck phases, exceptions in tasks, unexpected errors,
   * reads served on a lease that miss what a later term committed before them, and leases that
   * overlap while the clocks keep within {@link SIM_CLOCK_DRIFT_MAX}.
   */
  problems: string[];
  /**
   * The leases of two terms of a stripe that overlapped in true time, whatever the drift: within
   * {@link SIM_CLOCK_DRIFT_MAX} each is also a problem; beyond it leases may touch, and only a
   * read served on one that misses a later term's commit fails the run.
   */
  leaseOverlaps: string[];
  /** The swarm parameters the seed drew. */
  swarm: SwarmParameters;
  /** Sizes of the run. */
  stats: { virtualMs: number; tasks: number; traceEvents: number; historyOps: number; frames: number; faults: string[] };
  /** The last trace lines, when {@link RunSeedOptions.traceLinesKept} asked for them. */
  trace: string[];
}

/** The default replay command for `seed`. */
export function defaultReplayCommand(seed: number): string {
  return `KILN_SEED=${seed} npx vitest run packages/core/test/simulation.test.ts`;
}

/** Draws one seed's swarm parameters (TigerBeetle's `options_swarm`, adapted to streams). */
export function drawSwarm(random: Prng, fixed: Partial<SwarmParameters> = {}): SwarmParameters {
  const delayMinMs = random.int(0, 10);
  // Drawn even when fixed, like every parameter: fixing one leaves the others as the seed drew them.
  const drawnServers = random.int(1, 5);
  const servers = fixed.servers ?? drawnServers;
  const drawn: Omit<SwarmParameters, 'stripes' | 'stripeServers' | 'stripePartitions' | 'stripeLosses' | 'membershipChanges' | 'spares' | 'viewLosses' | 'clockDrift' | 'clockRates' | 'wallOffsetsMs' | 'persistence'> = {
    servers,
    voters: servers === 2 ? random.int(1, 2) : random.int(0, 2),
    processes: random.int(1, 5),
    streams: random.int(1, 4),
    delayMinMs,
    delayMaxMs: delayMinMs + random.int(0, 30),
    resetProbability: random.chance(0.5) ? 0 : random.float(0, 0.02),
    syncDelayMaxMs: random.int(0, 10),
    unsyncedSurvivalProbability: random.float(0, 0.2),
    tornWriteProbability: random.chance(0.5) ? 0 : random.float(0, 0.5),
    crashes: random.int(0, 3),
    pauses: random.int(0, 3),
    partitions: random.int(0, 2),
    resets: random.int(0, 2),
    clockJumps: random.int(0, 2),
    clogs: random.int(0, 1),
  };
  // Stripes are drawn after everything above, so a seed that draws one stripe draws as before.
  const drawnStripes = random.chance(SEVERAL_STRIPES_PROBABILITY) ? random.int(2, 4) : 1;
  const drawnPerStripe = Array.from({ length: 4 }, () => random.int(1, 3));
  const drawnVoters = random.int(0, 2);
  const drawnVotersBesideTwo = random.int(1, 2);
  const drawnStripePartitions = random.int(0, 2);
  const drawnStripeLosses = random.int(0, 1);
  // Drawn last, so a seed draws everything else as before membership changes were driven.
  const drawnChanges = random.chance(MEMBERSHIP_CHANGES_PROBABILITY) ? random.int(1, 3) : 0;
  const drawnSpares = random.int(1, 2);
  const drawnViewLosses = random.chance(VIEW_LOSSES_PROBABILITY) ? random.int(1, 2) : 0;
  // Drawn after those, so a seed fixed to run without drift and with disks runs as before drift and memory seeds.
  const drawnDrift = random.chance(CLOCK_DRIFT_PROBABILITY) ? random.float(0, SIM_CLOCK_DRIFT_MAX) : 0;
  // Half the clocks at either end of the range: a lease is most at risk between the slowest and the fastest.
  const drawnRateShares = Array.from({ length: MEMBERS_MAX }, () => (random.chance(0.5) ? random.pick([-1, 1]) : random.float(-1, 1)));
  const drawnWallOffsetsMs = Array.from({ length: MEMBERS_MAX }, () => random.int(-WALL_OFFSET_MAX_MS, WALL_OFFSET_MAX_MS));
  const drawnPersistence = random.chance(MEMORY_PROBABILITY) ? 'memory' : 'restartable';
  const persistence = fixed.persistence ?? drawnPersistence;
  const clockDrift = fixed.clockDrift ?? drawnDrift;
  const clocks = {
    clockDrift,
    clockRates: fixed.clockRates ?? drawnRateShares.map((share) => 1 + share * clockDrift),
    wallOffsetsMs: fixed.wallOffsetsMs ?? (clockDrift === 0 ? drawnWallOffsetsMs.map(() => 0) : drawnWallOffsetsMs),
    persistence,
  };
  // Without disks, a member restarted after a runtime membership change and a partition can vote
  // by the configuration's older view, when it heard no active all through its quiet period: a
  // window docs/replication.md leaves to the product owner (operators put added servers in the
  // cluster file). Memory seeds leave it closed: they draw no membership changes.
  const changesAllowed = persistence === 'restartable';
  const stripes = fixed.stripeServers?.length ?? fixed.stripes ?? (fixed.servers !== undefined ? 1 : drawnStripes);
  if (stripes === 1) {
    const one = { ...drawn, ...fixed };
    // A lone server has no group to change.
    const membershipChanges = fixed.membershipChanges ?? ((one.servers === 1 && one.voters === 0) || !changesAllowed ? 0 : drawnChanges);
    const spares = membershipChanges === 0 ? 0 : (fixed.spares ?? drawnSpares);
    const viewLosses = membershipChanges === 0 ? 0 : (fixed.viewLosses ?? drawnViewLosses);
    return { ...one, stripes, stripeServers: [one.servers], stripePartitions: 0, stripeLosses: 0, membershipChanges, spares, viewLosses, ...clocks };
  }
  // Two servers in 'consistency' mode need a voter: with voters fixed at none, such a stripe gets three.
  const stripeServers = fixed.stripeServers ?? drawnPerStripe.slice(0, stripes).map((n) => (n === 2 && fixed.voters === 0 ? 3 : n));
  const several = {
    ...drawn,
    stripes,
    stripeServers,
    servers: stripeServers.reduce((a, b) => a + b, 0),
    voters: stripeServers.includes(2) ? drawnVotersBesideTwo : drawnVoters,
    stripePartitions: drawnStripePartitions,
    // Losing every server of a stripe at once loses its log without disks: nothing to find there.
    stripeLosses: persistence === 'memory' ? 0 : drawnStripeLosses,
  };
  return { ...several, ...fixed, servers: several.servers, stripeServers, membershipChanges: 0, spares: 0, viewLosses: 0, ...clocks };
}

/** The members of the cluster a swarm drew: `s1`... and `v1`... for one stripe; stripes `a`, `b`... with servers `sa1`, `sb1`... */
function membersOf(swarm: SwarmParameters): SimMemberSpec[] {
  const voters = Array.from({ length: swarm.voters }, (_, i) => ({ name: `v${i + 1}`, role: 'voter' as const }));
  if (swarm.stripes === 1) {
    const servers = Array.from({ length: swarm.servers }, (_, i) => ({ name: `s${i + 1}`, role: 'server' as const }));
    const spares = Array.from({ length: swarm.spares }, (_, i) => ({ name: `s${swarm.servers + i + 1}`, role: 'server' as const, spare: true }));
    return [...servers, ...voters, ...spares];
  }
  const servers = swarm.stripeServers.flatMap((count, s) => {
    const stripe = String.fromCharCode(97 + s);
    return Array.from({ length: count }, (_, i) => ({ name: `s${stripe}${i + 1}`, role: 'server' as const, stripe }));
  });
  return [...servers, ...voters];
}

const EMPTY_COUNTS: CheckCounts = {
  attempted: 0,
  acked: 0,
  read: 0,
  lost: 0,
  lostPrefix: 0,
  lostMiddle: 0,
  lostPostfix: 0,
  duplicate: 0,
  unexpected: 0,
  divergentNodes: 0,
  staleReads: 0,
  realTimeViolations: 0,
  expectedVersionDoubleSuccess: 0,
  abortedReads: 0,
  tornTransactions: 0,
  indeterminate: 0,
  recovered: 0,
  wrongPosition: 0,
  readGaps: 0,
  subscriptionAnomalies: 0,
  wrongStripe: 0,
  fracturedTransactions: 0,
  duplicatedTransactions: 0,
  fracturedReads: 0,
};

type FaultKind = 'crash' | 'pause' | 'partition' | 'reset' | 'clock' | 'clog' | 'stripe-partition' | 'stripe-loss' | 'membership' | 'view-loss';

/** Runs one seed and checks it. Never throws for a failing run; see {@link SeedResult.ok}. */
export async function runSeed(seedInput: number, options: RunSeedOptions): Promise<SeedResult> {
  const seed = normalizeSeed(seedInput);
  const scheduler = new Scheduler({ ...options.scheduler, seed, traceLinesKept: options.traceLinesKept ?? 0 });
  const swarm = drawSwarm(scheduler.random.fork(), options.swarm);
  const nemesisRandom = scheduler.random.fork();
  const problems: string[] = [];
  const faults: string[] = [];
  const network = new SimNetwork(scheduler, { delayMinMs: swarm.delayMinMs, delayMaxMs: swarm.delayMaxMs, resetProbability: swarm.resetProbability });
  const lone = swarm.servers === 1 && swarm.voters === 0;
  const members = membersOf(swarm);
  for (const [i, member] of members.entries()) {
    const machine = scheduler.machineClock(member.name);
    machine.setRate(swarm.clockRates[i]!);
    if (swarm.wallOffsetsMs[i]! !== 0) machine.jumpWallMs(swarm.wallOffsetsMs[i]!);
  }
  const cluster = new SimCluster({
    scheduler,
    network,
    createStore: options.createStore,
    persistence: swarm.persistence,
    members,
    disk: {
      syncDelayMaxMs: swarm.syncDelayMaxMs,
      unsyncedSurvivalProbability: swarm.unsyncedSurvivalProbability,
      tornWriteProbability: swarm.tornWriteProbability,
      ackBeforeSync: options.ackBeforeSync ?? false,
    },
    startMember: options.startMember ?? (lone ? startSingleServer : startGroupMember({}, { giveUpWithoutRecording: options.giveUpWithoutRecording ?? false, longLease: options.longLease ?? false })),
  });
  const opsPerProcess = Math.max(1, Math.ceil((options.ops ?? 80) / swarm.processes));
  const layout = cluster.layout;
  const stripes = cluster.stripes.map((s, i) => ({ name: layout.stripes[i]!.name, urls: s.servers.map(simUrl) }));
  // Clients are given the group's servers; they learn of a spare added from the group.
  const route = swarm.stripes === 1 ? cluster.serverNames.filter((name) => !cluster.spareNames.includes(name)).map(simUrl) : { stripes, stripeOf: (stream: string) => layout.slotTable.stripeOf(stream) };
  const workload = new Workload(scheduler, network, route, { processes: swarm.processes, opsPerProcess, streams: swarm.streams });
  let check: CheckResult | undefined;

  try {
    await scheduler.settle(cluster.start(cluster.names.filter((name) => !cluster.spareNames.includes(name))), 60_000, 'cluster start');

    // Safety phase: the workload under faults.
    let workloadDone = false;
    const running = workload.run().then(() => void (workloadDone = true));
    const expectedMs = opsPerProcess * (10 + swarm.delayMaxMs * 2 + swarm.syncDelayMaxMs);
    const nemesis = runNemesis(scheduler, network, cluster, workload, swarm, nemesisRandom, expectedMs, () => workloadDone, faults, problems);
    await scheduler.settle(running, options.timeLimitMs ?? 600_000, 'workload');
    await scheduler.settle(nemesis, 60_000, 'nemesis');

    // Heal and drain: every server up and reachable, the subscription caught up, all closed.
    network.heal();
    for (const name of [...cluster.names, ...workload.nodeNames]) scheduler.resume(name);
    await scheduler.settle(cluster.start(), 60_000, 'restart after healing');
    // Liveness: every healed stripe must converge (one active, every mirror caught up) in 100 s.
    if ((await scheduler.run({ until: () => cluster.converged(), untilMs: scheduler.now + 100_000 })) !== 'done') {
      problems.push(`liveness: the healed cluster did not converge within 100 s of virtual time: ${cluster.describeServers().join('; ')}`);
    }
    const actives = cluster.stripes.map((_, i) => cluster.activeName(i));
    // The servers of each stripe's view: a spare never added or a mirror removed holds no copy to check.
    const groups = cluster.stripes.map((_, i) => cluster.groupServers(i));
    await scheduler.run({ untilMs: scheduler.now + 3000 });
    if (cluster.stripes.length > 1) problems.push(...(await scheduler.settle(checkTopology(scheduler, network, cluster), 60_000, 'topology check')));
    await scheduler.settle(workload.stopSubscription(), 60_000, 'subscription stop');
    await scheduler.settle(cluster.closeAll(), 60_000, 'shutdown');

    // The checker compares every log of a stripe with the first: its active's.
    const logs = [];
    for (const i of cluster.stripes.keys()) {
      const order = [...groups[i]!].sort((a, b) => Number(b === actives[i]) - Number(a === actives[i]));
      const finalLogs = [];
      for (const name of order) {
        const { events, openPrepares } = await cluster.finalLog(name);
        finalLogs.push(events);
        // Healed, every participant must have ended what it prepared (asking its coordinator if nobody told it).
        if (openPrepares.length > 0) problems.push(`liveness: ${name} ends with transactions prepared and never ended: ${openPrepares.join(', ')}`);
      }
      logs.push({ name: layout.stripes[i]!.name, finalLogs, subscriptions: workload.subscriptionLogs(i) });
    }
    check =
      logs.length === 1
        ? checkHistory(workload.history.ops, logs[0]!.finalLogs, logs[0]!.subscriptions)
        : checkStripes(workload.history.ops, logs, (stream) => layout.slotTable.stripeOf(stream));
  } catch (error) {
    problems.push(error instanceof SimulationTimeoutError ? `run invalid: ${error.message}` : `harness error: ${describe(error)}`);
  } finally {
    await cluster.dispose().catch(() => {});
  }
  // No read served on a lease may miss what a later term committed before it. Within the drift
  // leases are timed for, no two actives of a stripe may even believe in leases that overlap.
  for (const served of cluster.servedOnLeases()) problems.push(...staleLeaseReads(served).map((read) => `safety: stale read on a lease: ${read}`));
  const leaseOverlaps = cluster.leaseIntervals().flatMap((leases) => overlappingLeases(leases).map((overlap) => `safety: leases overlap: ${overlap}`));
  if (swarm.clockDrift <= SIM_CLOCK_DRIFT_MAX) problems.push(...leaseOverlaps);
  problems.push(...cluster.problems, ...scheduler.errors, ...workload.unexpectedErrors.map((e) => `unexpected client error: ${e}`));
  const replay = (options.replayCommand ?? defaultReplayCommand)(seed);
  return {
    seed,
    ok: problems.length === 0 && check !== undefined && check.valid,
    counts: check?.counts ?? { ...EMPTY_COUNTS },
    check,
    traceHash: scheduler.trace.hash,
    replay,
    problems,
    leaseOverlaps,
    swarm,
    stats: {
      virtualMs: Math.round(scheduler.now),
      tasks: scheduler.taskCount,
      traceEvents: scheduler.trace.length,
      historyOps: workload.history.ops.length,
      frames: network.stats.frames,
      faults,
    },
    trace: scheduler.trace.lines(),
  };
}

/**
 * The nemesis: draws the seed's faults at times spread over the expected workload, injects them
 * one after another (each with its own duration), and stops once the workload is done.
 */
async function runNemesis(
  scheduler: Scheduler,
  network: SimNetwork,
  cluster: SimCluster,
  workload: Workload,
  swarm: SwarmParameters,
  random: Prng,
  windowMs: number,
  done: () => boolean,
  faults: string[],
  problems: string[],
): Promise<void> {
  const plan: Array<{ atMs: number; kind: FaultKind }> = [];
  const add = (count: number, kind: FaultKind): void => {
    for (let i = 0; i < count; i++) plan.push({ atMs: random.float(0, windowMs), kind });
  };
  add(swarm.crashes, 'crash');
  add(swarm.pauses, 'pause');
  add(swarm.partitions, 'partition');
  add(swarm.resets, 'reset');
  add(swarm.clockJumps, 'clock');
  add(swarm.clogs, 'clog');
  add(swarm.stripePartitions, 'stripe-partition');
  add(swarm.stripeLosses, 'stripe-loss');
  add(swarm.membershipChanges, 'membership');
  add(swarm.viewLosses, 'view-loss');
  plan.sort((a, b) => a.atMs - b.atMs);
  const start = scheduler.now;
  // Voters are crashed, paused and cut off like servers; spares start only as a membership change says.
  const members = cluster.names.filter((name) => !cluster.spareNames.includes(name));
  const operator = new Operator(scheduler, cluster, random, problems);
  const clients = workload.nodeNames;
  for (const fault of plan) {
    const wait = start + fault.atMs - scheduler.now;
    if (wait > 0) await scheduler.sleep(wait);
    if (done()) return;
    const member = random.pick(members);
    const line = (text: string): void => {
      faults.push(`${Math.round(scheduler.now)}ms ${text}`);
      scheduler.note(`nemesis: ${text}`);
    };
    switch (fault.kind) {
      case 'crash': {
        const downMs = random.int(0, 2000);
        // Without disks the last copy of a stripe's log dies with its server: the loss memory mode
        // warns of (RELIABILITY.md §3.4 counts lost acknowledgements only while a synced copy lives).
        if (swarm.persistence === 'memory' && cluster.holdsLastCopy(member)) {
          line(`crash ${member} left out: it holds the last copy of its stripe's log, without a disk`);
          break;
        }
        line(`crash ${member} for ${downMs} ms`);
        await cluster.crash(member);
        await scheduler.sleep(downMs);
        await cluster.restart(member);
        break;
      }
      case 'pause': {
        const name = random.chance(0.7) ? member : random.pick(clients);
        const pausedMs = random.int(1, 3000);
        line(`pause ${name} for ${pausedMs} ms`);
        network.pause(name);
        await scheduler.sleep(pausedMs);
        network.resume(name);
        break;
      }
      case 'partition': {
        const cutMs = random.int(1, 3000);
        const everyone = [...cluster.names, ...clients, ...subscriberNames(workload)];
        if (members.length > 1 && random.chance(0.5)) {
          // Split the group in two, clients scattered over both sides.
          const side = everyone.filter(() => random.chance(0.5));
          line(`partition [${side.join(',')}] from the rest for ${cutMs} ms`);
          network.partition(side, everyone.filter((n) => !side.includes(n)));
        } else if (random.chance(0.5)) {
          line(`isolate ${member} for ${cutMs} ms`);
          network.isolate(member, everyone);
        } else {
          const client = random.pick(clients);
          line(`isolate ${client} for ${cutMs} ms`);
          network.isolate(client, cluster.names);
        }
        await scheduler.sleep(cutMs);
        network.heal();
        break;
      }
      case 'reset':
        line(`reset the connections of ${member}`);
        network.resetConnections(member);
        break;
      case 'clock': {
        const jumpMs = random.int(-300_000, 300_000);
        line(`wall clock of ${member} jumps ${jumpMs} ms`);
        scheduler.machineClock(member).jumpWallMs(jumpMs);
        break;
      }
      case 'clog': {
        const clogMs = random.int(100, 3000);
        const { delayMinMs, delayMaxMs } = network.faults;
        line(`clog the network for ${clogMs} ms`);
        network.faults.delayMinMs = delayMinMs * 10;
        network.faults.delayMaxMs = Math.max(delayMaxMs * 10, 50);
        await scheduler.sleep(clogMs);
        network.faults.delayMinMs = delayMinMs;
        network.faults.delayMaxMs = delayMaxMs;
        break;
      }
      case 'stripe-partition': {
        const cutMs = random.int(1, 3000);
        const { stripes, voterNames } = cluster;
        const cut = random.int(0, stripes.length - 1);
        const nameOf = (i: number): string => stripes[i]!.name ?? `#${i}`;
        if (voterNames.length > 0 && random.chance(0.5)) {
          line(`partition stripe ${nameOf(cut)} from the voters for ${cutMs} ms`);
          network.partition(stripes[cut]!.servers, voterNames);
        } else {
          // Stripes on two sides, `cut` and `other` apart; each voter with one side; clients untouched.
          const other = (cut + random.int(1, stripes.length - 1)) % stripes.length;
          const onSide = stripes.map((_, i) => i === cut || (i !== other && random.chance(0.5)));
          const votersOnSide = voterNames.map(() => random.chance(0.5));
          const side = (inside: boolean): string[] => [
            ...stripes.flatMap((s, i) => (onSide[i] === inside ? s.servers : [])),
            ...voterNames.filter((_, i) => votersOnSide[i] === inside),
          ];
          line(`partition stripes [${stripes.flatMap((_, i) => (onSide[i] ? [nameOf(i)] : [])).join(',')}] from the others for ${cutMs} ms: [${side(true).join(',')}] | [${side(false).join(',')}]`);
          network.partition(side(true), side(false));
        }
        await scheduler.sleep(cutMs);
        network.heal();
        break;
      }
      case 'stripe-loss': {
        const stripe = cluster.stripes[random.int(0, cluster.stripes.length - 1)]!;
        const downMs = random.int(0, 3000);
        line(`lose every server of stripe ${stripe.name ?? '#0'} (${stripe.servers.join(',')}) for ${downMs} ms`);
        for (const name of stripe.servers) await cluster.crash(name);
        await scheduler.sleep(downMs);
        await Promise.all(stripe.servers.map((name) => cluster.restart(name)));
        break;
      }
      case 'membership':
        await operator.change(line);
        break;
      case 'view-loss': {
        const from = cluster.activeName() ?? member;
        const others = cluster.names.filter((name) => name !== from);
        const chosen = others.filter(() => random.chance(0.5));
        const to = chosen.length > 0 ? chosen : [random.pick(others)];
        const lossMs = random.int(500, 6000);
        line(`lose the view messages ${from} sends to [${to.join(',')}] for ${lossMs} ms`);
        const token = network.dropKinds(from, to, ['view']);
        // Not awaited: the faults after it, a membership change above all, happen while it lasts.
        void scheduler.sleep(lossMs).then(() => network.restoreKinds(token));
        break;
      }
    }
  }
}

function subscriberNames(workload: Workload): string[] {
  return workload.subscriberNames.filter((_, stripe) => workload.subscriptionLogs(stripe).length > 0);
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${error.stack ?? ''}`;
  return String(error);
}
