/**
 * A scripted run of a memory-mode member that restarts after membership changes and forgets the
 * view it recorded (view-change.ts's module comment assumes recorded views survive). Servers a, b,
 * c without disks, a active; a's `view` messages to c are lost (heartbeats pass) while d and e are
 * added: a, b, d and e record the five members, c still holds a, b, c. Then b crashes and restarts
 * with nothing: it follows the configuration's a, b, c again. The group is cut into a, d, e and b,
 * c, a client on each side. a keeps its lease on a majority of five; unless the active sent b the
 * current view again before b's quiet period ended (view-change.ts), b and c make a majority of
 * the three they know and elect as well, both sides acknowledge writes, and once healed one side
 * loses its own.
 */
import type { GroupMemberConfig } from '../../replication/group-view.js';
import type { Store } from '../../store/store.js';
import { checkHistory } from '../checker/index.js';
import type { CheckResult } from '../checker/types.js';
import { SimCluster, startGroupMember } from './cluster.js';
import { SimNetwork, simUrl } from './network.js';
import { Scheduler } from './scheduler.js';
import { Workload } from './workload.js';

/** Options of {@link runMemoryRestart}. */
export interface MemoryRestartOptions {
  /** Makes an empty store for each server's memory. */
  createStore: () => Store;
  /** The scheduler's seed: it draws delays, election jitter and disk timings. */
  seed: number;
}

/** What the run saw. */
export interface MemoryRestartResult {
  /** How each addition ended: `recorded`, or the error's name. */
  additions: string[];
  /** Each server that took office after the cut, as `name term N`. */
  tookOffice: string[];
  /** The history checker's verdict; absent when the run did not get there. */
  check: CheckResult | undefined;
  /** Two servers in office in one term, an exception in a task, a step that did not finish, no convergence. */
  problems: string[];
  /** The run's trace, for a report. */
  trace: string[];
}

const SERVERS = ['s1', 's2', 's3'];
const SPARES = ['s4', 's5'];
/** How long each step may take, virtual ms. */
const STEP_MS = 30_000;
/** How long the additions get to settle (the spares caught up and in sync) before b crashes, virtual ms. */
const SETTLE_MS = 3_000;
/** How long the restarted member runs before the cut: past its quiet period, hearing the active. */
const RESTARTED_MS = 3_000;
/** How long both sides of the cut get to elect before the clients write, virtual ms. */
const ELECTIONS_MS = 5_000;
/** How long the clients write while the group is cut, virtual ms. */
const CUT_WRITES_MS = 10_000;

/** Runs the sequence once; never throws for what the group does. */
export async function runMemoryRestart(options: MemoryRestartOptions): Promise<MemoryRestartResult> {
  const scheduler = new Scheduler({ seed: options.seed, traceLinesKept: 200 });
  const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
  const cluster = new SimCluster({
    scheduler,
    network,
    createStore: options.createStore,
    persistence: 'memory',
    members: [...SERVERS.map((name) => ({ name })), ...SPARES.map((name) => ({ name, spare: true }))],
    startMember: startGroupMember(),
  });
  const workload = new Workload(scheduler, network, SERVERS.map(simUrl), { processes: 2, opsPerProcess: 30, thinkMs: [20, 80], subscribe: false });
  const additions: string[] = [];
  const tookOffice: string[] = [];
  const problems: string[] = [];
  let check: CheckResult | undefined;
  try {
    await scheduler.settle(cluster.start(SERVERS), STEP_MS, 'cluster start');
    await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + STEP_MS });
    const a = cluster.activeName();
    if (a === undefined) throw new Error('no active was elected');
    const [b, c] = SERVERS.filter((name) => name !== a) as [string, string];
    const [d, e] = SPARES as [string, string];
    const loss = network.dropKinds(a, [c], ['view']);
    for (const spare of [d, e]) {
      await scheduler.settle(cluster.restart(spare), STEP_MS, `start ${spare}`);
      const server = cluster.member(a)?.server;
      if (!server) throw new Error(`${a} is down`);
      additions.push(await scheduler.settle(server.addMirror(spareConfig(spare)).then(() => 'recorded', (error: unknown) => (error instanceof Error ? error.name : String(error))), STEP_MS, `add ${spare}`));
    }
    // The spares catch up and join the in-sync set (more views) first: b then holds the last one.
    await scheduler.run({ untilMs: scheduler.now + SETTLE_MS });
    await cluster.crash(b);
    await scheduler.settle(cluster.restart(b), STEP_MS, `restart ${b}`);
    await scheduler.run({ untilMs: scheduler.now + RESTARTED_MS });
    const cutAtMs = scheduler.now;
    const [c0, c1] = workload.nodeNames as [string, string];
    network.partition([a, d, e, c0], [b, c, c1]);
    await scheduler.run({ untilMs: scheduler.now + ELECTIONS_MS });
    const writing = workload.run();
    await scheduler.run({ untilMs: scheduler.now + CUT_WRITES_MS });
    tookOffice.push(...cluster.tookOffice.filter((t) => t.atMs >= cutAtMs).map((t) => `${t.name} term ${t.term}`));
    network.heal();
    network.restoreKinds(loss);
    await scheduler.settle(writing, STEP_MS * 2, 'workload');
    await scheduler.settle(cluster.start(), STEP_MS, 'restart after healing');
    if ((await scheduler.run({ until: () => cluster.converged(), untilMs: scheduler.now + 100_000 })) !== 'done') {
      problems.push(`liveness: the healed group did not converge within 100 s: ${cluster.describeServers().join('; ')}`);
    }
    const active = cluster.activeName();
    const servers = cluster.groupServers().sort((x, y) => Number(y === active) - Number(x === active));
    await scheduler.settle(cluster.closeAll(), STEP_MS, 'shutdown');
    const logs = [];
    for (const name of servers) logs.push((await cluster.finalLog(name)).events);
    check = checkHistory(workload.history.ops, logs, []);
  } catch (error) {
    problems.push(`harness error: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await scheduler.settle(cluster.closeAll(), STEP_MS, 'shutdown').catch(() => {});
    await cluster.dispose().catch(() => {});
  }
  problems.push(...cluster.problems, ...scheduler.errors, ...workload.unexpectedErrors.map((error) => `unexpected client error: ${error}`));
  return { additions, tookOffice, check, problems, trace: scheduler.trace.lines() };
}

/** A spare as `kiln admin add-mirror` names it. */
function spareConfig(name: string): GroupMemberConfig {
  const url = simUrl(name);
  return { name, kind: 'server', peer: `${url}/peer`, clientUrls: [url], weight: 1 };
}
