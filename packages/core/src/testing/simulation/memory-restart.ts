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
import type { Store } from '../../store/store.js';
import { runScriptedSplit, STEP_MS, type ScriptedSplitResult } from './scripted-split.js';

/** Options of {@link runMemoryRestart}. */
export interface MemoryRestartOptions {
  /** Makes an empty store for each server's memory. */
  createStore: () => Store;
  /** The scheduler's seed: it draws delays, election jitter and disk timings. */
  seed: number;
}

const SERVERS = ['s1', 's2', 's3'];
const SPARES = ['s4', 's5'];
/** How long the additions get to settle (the spares caught up and in sync) before b crashes, virtual ms. */
const SETTLE_MS = 3_000;
/** How long the restarted member runs before the cut: past its quiet period, hearing the active. */
const RESTARTED_MS = 3_000;

/** Runs the sequence once; never throws for what the group does. */
export function runMemoryRestart(options: MemoryRestartOptions): Promise<ScriptedSplitResult> {
  const group = { seed: options.seed, createStore: options.createStore, persistence: 'memory' as const, servers: SERVERS, spares: SPARES, planted: {} };
  return runScriptedSplit(group, async ({ scheduler, network, cluster, active: a, addMirror }) => {
    const [b, c] = SERVERS.filter((name) => name !== a) as [string, string];
    const [d, e] = SPARES as [string, string];
    const loss = network.dropKinds(a, [c], ['view']);
    for (const spare of [d, e]) {
      await scheduler.settle(cluster.restart(spare), STEP_MS, `start ${spare}`);
      await addMirror(spare);
    }
    // The spares catch up and join the in-sync set (more views) first: b then holds the last one.
    await scheduler.run({ untilMs: scheduler.now + SETTLE_MS });
    await cluster.crash(b);
    await scheduler.settle(cluster.restart(b), STEP_MS, `restart ${b}`);
    await scheduler.run({ untilMs: scheduler.now + RESTARTED_MS });
    return { sides: [[a, d, e], [b, c]], onHeal: () => network.restoreKinds(loss) };
  });
}
