/**
 * What a group member is given: the group's settings, and what it needs from the server around
 * it. Its own module, so the member's roles can name it without importing the member.
 */
import type { ConnectionLimits, LogLimits } from '../limits.js';
import type { LogRecord } from '../log/record.js';
import type { ServerCounters } from '../observe/counters.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Clock, Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import type { GroupMemberConfig } from './group-view.js';

/** The group settings every member shares. */
export interface GroupOptions {
  /** This member's name. */
  self: string;
  /**
   * Every voting member, this one included, as the configuration names them. Once the group
   * recorded a view of its own (after any change of membership or of the in-sync set), the
   * recorded view wins over this list at start.
   */
  members: readonly GroupMemberConfig[];
  /**
   * Set on a server added to a running group: it starts outside the in-sync set, so it neither
   * stands for election nor disturbs the group until the active adds it and it has caught up.
   * @default false
   */
  joining?: boolean;
  /**
   * `consistency`: no split brain, ever. `availability`: a lone server takes over after the
   * election window; the losing side's divergent transactions go to the `diverged` report.
   * @default 'consistency'
   */
  failoverPriority?: 'consistency' | 'availability';
  /** @default 5000 (`defaultGroupTiming` in limits.ts) */
  electionTimeMs: number;
  /** @default 1000 (`defaultGroupTiming` in limits.ts) */
  mirrorTimeoutMs: number;
  /** @default 800 (`defaultGroupTiming` in limits.ts) */
  leaseMs: number;
  /**
   * Peer links are mutual TLS (the cluster file has a top-level `tls`): an outgoing link accepts
   * only a member whose certificate carries that member's name, the peer listener asks every
   * member for its certificate, and the inbox takes a member's messages only from a connection
   * whose certificate carries the sender's name.
   * @default false
   */
  mutualTls?: boolean;
  /**
   * @internal A planted bug for the simulation's self-test, which no cluster file can set: a
   * membership change given up is not followed by recording the current members again (the
   * behaviour before that fix; view-change.ts says why it lets two candidates win one term).
   * @default false
   */
  plantedGiveUpWithoutRecording?: boolean;
  /**
   * @internal A planted bug for the simulation's self-test, which no cluster file can set: the
   * active's lease lasts this long instead of `leaseMs`, past the wait of an election (the
   * configuration refuses it), so a cut-off active serves reads after its successor took office.
   * @default undefined (`leaseMs`)
   */
  plantedLeaseMs?: number;
  /**
   * @internal For the simulation's lease check, which no cluster file can set: called each time
   * the active finds its lease held (taking office, each tick, each read served on it), with its
   * term and the monotonic time (of its clock) its lease runs to, as far as it knows then.
   * @default nothing
   */
  observeLease?: (term: number, untilMs: number) => void;
  /**
   * @internal For the simulation's check of reads served on leases, which no cluster file can
   * set: called with its term and the commit index each time the active serves a read on its
   * lease, and each time its commit index rises (it then acknowledges what it committed).
   * @default nothing
   */
  observeServed?: (served: { kind: 'read' | 'commit'; term: number; commitIndex: number }) => void;
}

/** What a member needs from the server around it. */
export interface MemberContext {
  store: CheckedStore;
  logLimits: LogLimits;
  connectionLimits: ConnectionLimits;
  transports: readonly Transport[];
  clock: Clock;
  timers: Timers;
  random: Random;
  log: (line: string) => void;
  /** Called with newly committed records, in LSN order, while this member is the active. */
  onCommitted: (records: readonly LogRecord[]) => void;
  /** Called once if a store write fails; the member's committer then refuses all work. */
  onFailed: (error: unknown) => void;
  /** Called when this member stops being the active. */
  onStepDown: () => void;
  /** Called with each record recovery scans before this member takes office, in LSN order. @default nothing */
  onRecoveredRecord?: (record: LogRecord) => void;
  /** Called when this member took office as the active in `term`. @default nothing */
  onTookOffice?: (term: number) => void;
  /** The stripe this member's group is, stamped on every message it sends. @default SINGLE_STRIPE */
  stripe?: number;
  /**
   * A server outside any mirror group: the group is the configuration's one member, which opens
   * a new term and becomes the active at once. A view recorded while the log served in a group
   * is kept on disk but not followed.
   * @default false
   */
  standalone?: boolean;
  /** What the server counts (commits, elections), when someone watches. @default nothing counted */
  counters?: ServerCounters;
}
