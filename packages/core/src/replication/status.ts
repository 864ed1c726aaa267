/**
 * What a member reports about itself and its group: the types status is made of, shared by the
 * server (which answers `status`) and the member (which fills them in).
 */

/** A server's role in its group, as the seeds name the states. */
export type ServerState = 'START' | 'PASSIVE-UNINITIALIZED' | 'PASSIVE-SYNCING' | 'PASSIVE-STANDBY' | 'ACTIVE-COORDINATOR' | 'STOPPED';

/** Per-mirror replication state, for status. */
export interface MirrorStatus {
  name: string;
  ackedLsn: number;
  lag: number;
  inSync: boolean;
  /** Records acknowledged per second over the last few seconds. */
  rate: number;
}

/** A member's view of its group, for status. */
export interface GroupStatus {
  leader: string | null;
  /** The voting members of the recorded view. */
  members: Array<{ name: string; kind: 'server' | 'voter' }>;
  inSync: string[];
  viewVersion: number;
  /** True once this member learned it was removed from the group. */
  removed: boolean;
  /** The `diverged` report so far (availability mode): entries and the records they keep. */
  diverged: { entries: number; records: number };
  mirrors: MirrorStatus[];
}
