/**
 * The frame of a scripted split-brain run: servers and spares on the simulation's network, a script
 * that leads the group into some state, then a cut into two sides with a client on each, writes
 * while cut, the heal, and the verdict as a drawn seed gets it (one active a term, the history
 * checker on every server's final log). Drawn seeds seldom line such a sequence up; a script does
 * it on purpose.
 */
import type { GroupMemberConfig, GroupView } from '../../replication/group-view.js';
import type { Store } from '../../store/store.js';
import { checkHistory } from '../checker/index.js';
import type { CheckResult } from '../checker/types.js';
import { SimCluster, startGroupMember, type SimPlantedBugs } from './cluster.js';
import { SimNetwork, simUrl } from './network.js';
import { Scheduler } from './scheduler.js';
import { Workload } from './workload.js';

/** What a scripted split run saw. */
export interface ScriptedSplitResult {
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

/** The group a script works on. */
export interface SplitGroup {
  seed: number;
  /** Makes an empty store for each server's disk (or memory). */
  createStore: () => Store;
  persistence: 'restartable' | 'memory';
  servers: readonly string[];
  /** Servers that are not members until the script adds them. */
  spares: readonly string[];
  /** Bugs planted in every server. */
  planted: SimPlantedBugs;
}

/** What a script drives, once the servers elected their first active. */
export interface SplitScene {
  scheduler: Scheduler;
  network: SimNetwork;
  cluster: SimCluster;
  /** The first active. */
  active: string;
  /** Asks the active to add `spare` (started already) and keeps how that ended in `additions`. */
  addMirror: (spare: string) => Promise<void>;
}

/** Where a script leaves the group: the two sides of the cut (servers; a client joins each), and what to undo at the heal. */
export interface SplitPlan {
  sides: [readonly string[], readonly string[]];
  onHeal?: () => void;
}

/** How long each step may take, virtual ms: an election, a change given up after an election time. */
export const STEP_MS = 30_000;
/** How long both sides of the cut get to elect before the clients write, virtual ms. */
const ELECTIONS_MS = 5_000;
/** How long the clients write while the group is cut, virtual ms. */
const CUT_WRITES_MS = 10_000;

/** Runs `script`, then the cut, the writes, the heal and the checks; never throws for what the group does. */
export async function runScriptedSplit(group: SplitGroup, script: (scene: SplitScene) => Promise<SplitPlan>): Promise<ScriptedSplitResult> {
  const scheduler = new Scheduler({ seed: group.seed, traceLinesKept: 200 });
  const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
  const cluster = new SimCluster({
    scheduler,
    network,
    createStore: group.createStore,
    persistence: group.persistence,
    members: [...group.servers.map((name) => ({ name })), ...group.spares.map((name) => ({ name, spare: true }))],
    startMember: startGroupMember({}, group.planted),
  });
  const workload = new Workload(scheduler, network, group.servers.map(simUrl), { processes: 2, opsPerProcess: 30, thinkMs: [20, 80], subscribe: false });
  const additions: string[] = [];
  const tookOffice: string[] = [];
  const problems: string[] = [];
  let check: CheckResult | undefined;
  try {
    await scheduler.settle(cluster.start(group.servers), STEP_MS, 'cluster start');
    await scheduler.run({ until: () => cluster.activeName() !== undefined, untilMs: scheduler.now + STEP_MS });
    const active = cluster.activeName();
    if (active === undefined) throw new Error('no active was elected');
    const addMirror = async (spare: string): Promise<void> => {
      const server = cluster.member(active)?.server;
      if (!server) throw new Error(`${active} is down`);
      additions.push(await scheduler.settle(outcome(server.addMirror(spareConfig(spare))), STEP_MS, `add ${spare}`));
    };
    const plan = await script({ scheduler, network, cluster, active, addMirror });
    const cutAtMs = scheduler.now;
    const [c0, c1] = workload.nodeNames as [string, string];
    network.partition([...plan.sides[0], c0], [...plan.sides[1], c1]);
    await scheduler.run({ untilMs: scheduler.now + ELECTIONS_MS });
    // The client cut off from the side that elects finishes only once the cut heals.
    const writing = workload.run();
    await scheduler.run({ untilMs: scheduler.now + CUT_WRITES_MS });
    tookOffice.push(...cluster.tookOffice.filter((t) => t.atMs >= cutAtMs).map((t) => `${t.name} term ${t.term}`));
    network.heal();
    plan.onHeal?.();
    await scheduler.settle(writing, STEP_MS * 2, 'workload');
    await scheduler.settle(cluster.start(), STEP_MS, 'restart after healing');
    if ((await scheduler.run({ until: () => cluster.converged(), untilMs: scheduler.now + 100_000 })) !== 'done') {
      problems.push(`liveness: the healed group did not converge within 100 s: ${cluster.describeServers().join('; ')}`);
    }
    const healedActive = cluster.activeName();
    const servers = cluster.groupServers().sort((x, y) => Number(y === healedActive) - Number(x === healedActive));
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
