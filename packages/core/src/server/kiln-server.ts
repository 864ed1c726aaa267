/**
 * The handle of a running server: what `createServer` gives its caller.
 */
import type { ServerObservation } from '../observe/observation.js';
import type { ServerStatus } from '../protocol/status.js';
import type { GroupMemberConfig, GroupView } from '../replication/group-view.js';
import type { RecoveryReport } from '../store/checked-store.js';

/** A running server. */
export interface KilnServer {
  readonly name: string;
  /** Bound addresses, with real ports. */
  readonly urls: readonly string[];
  /** What recovery found when the store opened. */
  readonly recovery: RecoveryReport;
  status(): ServerStatus;
  /** Status, counters and the gauges a metrics endpoint reads, taken now. */
  observe(): ServerObservation;
  /**
   * Adds a mirror to this server's group at runtime, without pausing the active; resolves once
   * the new view is recorded (the mirror then catches up and joins the in-sync set by itself).
   * Start the new server first, with `joining: true` in its group options.
   *
   * @throws NotActiveError (pointing at the active) unless this server is the group's active
   * @throws InvalidArgumentError when a name or address is taken, or this server is in no group
   */
  addMirror(mirror: GroupMemberConfig): Promise<GroupView>;
  /**
   * Removes a mirror from this server's group at runtime, without pausing the active.
   *
   * @throws NotActiveError (pointing at the active) unless this server is the group's active
   * @throws InvalidArgumentError when `name` is no mirror, is the active, or this server is in no group
   */
  removeMirror(name: string): Promise<GroupView>;
  /**
   * Shuts down cleanly: stops taking requests, answers or fails those in flight, closes every
   * connection and listener, then flushes and closes the store.
   */
  close(): Promise<void>;
  /** Resolves with the cause if a store write fails; the server then stops acknowledging anything. */
  readonly failed: Promise<unknown>;
}
