/**
 * A scripted run of the split brain that two membership changes given up in a row open over an
 * even-sized group (view-change.ts's module comment): servers a, b, c, d, a active. View 2 adds e
 * while a's `view` messages to c and d are lost (heartbeats pass): only b (and e) record it, and it
 * is given up. View 3 adds f while a's `view` messages to b and d are lost: only c (and f) record
 * it, given up too. Then the group is cut into a, b, e and c, d, f, a client on each side. Unless
 * the active recorded its members again after each give-up, b's side elects by a..e and c's by
 * a..d, f, and both acknowledge writes; once healed, the side of the lower term loses its own.
 * Drawn seeds seldom line all this up; this run does it on purpose, on the simulation's network,
 * disks and time, judged as a drawn seed is: one active a term, and the history checker.
 */
import type { GroupMemberConfig, GroupView } from '../../replication/group-view.js';
import type { Store } from '../../store/store.js';
import { checkHistory } from '../checker/index.js';
import type { CheckResult } from '../checker/types.js';
import { SimCluster, startGroupMember, type SimPlantedBugs } from './cluster.js';
import { SimNetwork, simUrl } from './network.js';
import { Scheduler } from './scheduler.js';
import { Workload } from './workload.js';

/** Options of {@link runGivenUpChanges}. */
export interface GivenUpChangesOptions {
  /** Makes an empty store for each server's simulated disk. */
  createStore: () => Store;
  /** The scheduler's seed: it draws delays, election jitter and disk timings. */
  seed: number;
  /** Bugs planted in every server. @default none */
  planted?: SimPlantedBugs;
}

/** What the run saw. */
export interface GivenUpChangesResult {
  /** How each addition ended: `recorded`, or the error's name (`TimeoutError` when given up). */
  additions: string[];
  /** Each server that took office after the cut, as `name term N`. */
  tookOffice: string[];
  /** The history checker's verdict on the clients' history and the final logs; absent when the run did not get there. */
  check: CheckResult | undefined;
  /** Two servers in office in one term, an exception in a task, a step that did not finish, no convergence. */
  problems: string[];
  /** The run's trace, for a report. */
  trace: string[];
}

const SERVERS = ['s1', 's2', 's3', 's4'];
const SPARES = ['s5', 's6'];
/** How long each step may take, virtual ms: an election, a change given up after an election time. */
const STEP_MS = 30_000;
/** How long both sides of the cut get to elect before the clients write, virtual ms. */
const ELECTIONS_MS = 5_000;
/** How long the clients write while the group is cut, virtual ms. */
const CUT_WRITES_MS = 10_000;

/** Runs the sequence once; never throws for what the group does. */
export async function runGivenUpChanges(options: GivenUpChangesOptions): Promise<GivenUpChangesResult> {
  const scheduler = new Scheduler({ seed: options.seed, traceLinesKept: 200 });
  const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
  const cluster = new SimCluster({
    scheduler,
    network,
    createStore: options.createStore,
    members: [...SERVERS.map((name) => ({ name })), ...SPARES.map((name) => ({ name, spare: true }))],
    startMember: startGroupMember({}, options.planted),
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
    const [b, c, d] = SERVERS.filter((name) => name !== a) as [string, string, string];
    const [e, f] = SPARES as [string, string];
    const add = async (spare: string, missing: string[]): Promise<void> => {
      await scheduler.settle(cluster.restart(spare), STEP_MS, `start ${spare}`);
      const loss = network.dropKinds(a, missing, ['view']);
      const server = cluster.member(a)?.server;
      if (!server) throw new Error(`${a} is down`);
      additions.push(await scheduler.settle(outcome(server.addMirror(spareConfig(spare))), STEP_MS, `add ${spare}`));
      network.restoreKinds(loss);
    };
    await add(e, [c, d]);
    await add(f, [b, d]);
    const cutAtMs = scheduler.now;
    const [c0, c1] = workload.nodeNames as [string, string];
    network.partition([a, b, e, c0], [c, d, f, c1]);
    await scheduler.run({ untilMs: scheduler.now + ELECTIONS_MS });
    // The client cut off from the side that elects finishes only once the cut heals.
    const writing = workload.run();
    await scheduler.run({ untilMs: scheduler.now + CUT_WRITES_MS });
    tookOffice.push(...cluster.tookOffice.filter((t) => t.atMs >= cutAtMs).map((t) => `${t.name} term ${t.term}`));
    network.heal();
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

function outcome(change: Promise<GroupView>): Promise<string> {
  return change.then(
    () => 'recorded',
    (error: unknown) => (error instanceof Error ? error.name : String(error)),
  );
}
