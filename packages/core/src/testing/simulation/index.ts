/**
 * Deterministic simulation of Kiln (DESIGN.md "Seams for deterministic simulation"; RELIABILITY.md
 * §3.3): virtual time, a simulated network and disks, a cluster with crashes and restarts, a
 * client workload recording a history, and {@link runSeed}, which runs and checks one seed.
 *
 * ```ts
 * import { memoryStore } from '@kiln/store-memory';
 * const result = await runSeed(42, { createStore: () => memoryStore() });
 * if (!result.ok) console.log(result.replay, result.counts, result.problems);
 * ```
 *
 * @module
 */
export { Prng, normalizeSeed } from './prng.js';
export { Trace, type TraceOptions } from './trace.js';
export {
  Scheduler,
  SimTimers,
  SimClock,
  MachineClock,
  SimulationTimeoutError,
  HARNESS_NODE,
  type SchedulerOptions,
  type SimNode,
  type RunOptions,
  type RunOutcome,
} from './scheduler.js';
export { SimNetwork, simUrl, SIM_SCHEME, type SimNetworkOptions, type SimNetworkFaults, type SimNetworkStats } from './network.js';
export { visiblePreparesStore } from './visible-prepares-store.js';
export { CrashableStore, crashableStore, type CrashableStoreOptions, type CrashReport } from './crashable-store.js';
export {
  SimCluster,
  startSingleServer,
  startGroupMember,
  simClusterConfig,
  type SimGroupTiming,
  type SimPlantedBugs,
  type SimMemberInfo,
  type SimClusterOptions,
  type SimMemberSpec,
  type SimMemberContext,
  type SimMember,
  type StartMember,
} from './cluster.js';
export { Workload, HistoryRecorder, type WorkloadOptions, type WorkloadCluster } from './workload.js';
export { runSeed, drawSwarm, defaultReplayCommand, SIM_CLOCK_DRIFT_MAX, type RunSeedOptions, type SeedResult, type SwarmParameters } from './run-seed.js';
export { runGivenUpChanges, type GivenUpChangesOptions } from './given-up-changes.js';
export { runMemoryRestart, type MemoryRestartOptions } from './memory-restart.js';
export type { ScriptedSplitResult } from './scripted-split.js';
