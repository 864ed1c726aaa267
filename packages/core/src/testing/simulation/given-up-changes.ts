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
import type { Store } from '../../store/store.js';
import type { SimPlantedBugs } from './cluster.js';
import { runScriptedSplit, STEP_MS, type ScriptedSplitResult } from './scripted-split.js';

/** Options of {@link runGivenUpChanges}. */
export interface GivenUpChangesOptions {
  /** Makes an empty store for each server's simulated disk. */
  createStore: () => Store;
  /** The scheduler's seed: it draws delays, election jitter and disk timings. */
  seed: number;
  /** Bugs planted in every server. @default none */
  planted?: SimPlantedBugs;
}

const SERVERS = ['s1', 's2', 's3', 's4'];
const SPARES = ['s5', 's6'];

/** Runs the sequence once; never throws for what the group does. */
export function runGivenUpChanges(options: GivenUpChangesOptions): Promise<ScriptedSplitResult> {
  const group = { seed: options.seed, createStore: options.createStore, persistence: 'restartable' as const, servers: SERVERS, spares: SPARES, planted: options.planted ?? {} };
  return runScriptedSplit(group, async ({ scheduler, network, cluster, active: a, addMirror }) => {
    const [b, c, d] = SERVERS.filter((name) => name !== a) as [string, string, string];
    const [e, f] = SPARES as [string, string];
    const add = async (spare: string, missing: string[]): Promise<void> => {
      await scheduler.settle(cluster.restart(spare), STEP_MS, `start ${spare}`);
      const loss = network.dropKinds(a, missing, ['view']);
      await addMirror(spare);
      network.restoreKinds(loss);
    };
    await add(e, [c, d]);
    await add(f, [b, d]);
    return { sides: [[a, b, e], [c, d, f]] };
  });
}
