/**
 * `@kiln/core/testing`: the conformance suites that prove a store or a transport swappable.
 * Each takes the caller's own test functions (`{ describe, it, expect }` from vitest), so vitest
 * stays an optional peer dependency of core.
 *
 * @packageDocumentation
 */
export { storeConformance, type StoreFixture } from './store/index.js';
export { transportConformance, type TransportFixture, type TransportSetup, type TransportCapabilities } from './transport/index.js';
export type { TestRunner } from './runner.js';
export {
  checkHistory,
  anomalyClasses,
  type CheckResult,
  type CheckCounts,
  type AnomalyClass,
  type HistoryOp,
  type HistoryAppend,
  type HistoryAppendedRange,
  type HistoryRead,
  type EventPosition,
  type SubscriptionLog,
} from './checker/index.js';
export {
  runSeed,
  drawSwarm,
  defaultReplayCommand,
  type RunSeedOptions,
  type SeedResult,
  type SwarmParameters,
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
  SimNetwork,
  simUrl,
  SIM_SCHEME,
  type SimNetworkOptions,
  type SimNetworkFaults,
  type SimNetworkStats,
  CrashableStore,
  crashableStore,
  type CrashableStoreOptions,
  type CrashReport,
  SimCluster,
  startSingleServer,
  startGroupMember,
  type SimGroupTiming,
  type SimClusterOptions,
  type SimMemberSpec,
  type SimMemberContext,
  type SimMember,
  type StartMember,
  Workload,
  HistoryRecorder,
  type WorkloadOptions,
  Prng,
  normalizeSeed,
  Trace,
  type TraceOptions,
} from './simulation/index.js';
