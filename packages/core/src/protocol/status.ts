/**
 * A server's status, as `status` answers it: one type for the server that reports it, the client
 * that checks it, and the CLI that prints it. It travels as a map, so `kiln status --json` shows
 * the field names.
 */
import { ReplyReader } from './replies.js';

/** A server's role in its group, as the seeds name the states. */
export type ServerState = 'START' | 'PASSIVE-UNINITIALIZED' | 'PASSIVE-SYNCING' | 'PASSIVE-STANDBY' | 'ACTIVE-COORDINATOR' | 'STOPPED';

const SERVER_STATES: ReadonlySet<string> = new Set<ServerState>(['START', 'PASSIVE-UNINITIALIZED', 'PASSIVE-SYNCING', 'PASSIVE-STANDBY', 'ACTIVE-COORDINATOR', 'STOPPED']);

/** Per-mirror replication state, for status. */
export interface MirrorStatus {
  name: string;
  ackedLsn: number;
  lag: number;
  inSync: boolean;
  /** Records acknowledged per second over the last few seconds. */
  rate: number;
  /** Heard from within the lease: false for a mirror that is down or cut off. True from servers older than this field. */
  reachable: boolean;
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

/** What `kiln status` and the client's `serverStatus()` report. */
export interface ServerStatus {
  name: string;
  clusterId: string;
  state: ServerState;
  term: number;
  /** LSN of the last record in this server's log. */
  lastLsn: number;
  /** Highest acknowledged LSN; readers see nothing above it. */
  commitIndex: number;
  /** Client connections open now. */
  connections: number;
  subscriptions: number;
  /** Transactions accepted and not yet durable. */
  pendingTransactions: number;
  persistent: boolean;
  /** Addresses listened on. */
  listen: string[];
  uptimeMs: number;
  /** The group, when this server is a member of one: the active, its members, the in-sync set, mirror progress. */
  group?: GroupStatus;
  /**
   * A voter's term in each stripe's elections, in stripe order (`term` is the first's): a voter
   * votes in every stripe behind one address. Absent on a server, and from older voters.
   */
  stripeTerms?: number[];
}

/** The status as it goes out: exactly the fields above, whatever else the server's objects hold. */
export function serverStatusToWire(s: ServerStatus): Record<string, unknown> {
  const base = {
    name: s.name,
    clusterId: s.clusterId,
    state: s.state,
    term: s.term,
    lastLsn: s.lastLsn,
    commitIndex: s.commitIndex,
    connections: s.connections,
    subscriptions: s.subscriptions,
    pendingTransactions: s.pendingTransactions,
    persistent: s.persistent,
    listen: [...s.listen],
    uptimeMs: s.uptimeMs,
  };
  const withTerms = s.stripeTerms ? { ...base, stripeTerms: [...s.stripeTerms] } : base;
  if (!s.group) return withTerms;
  const g = s.group;
  return {
    ...withTerms,
    group: {
      leader: g.leader,
      members: g.members.map((m) => ({ name: m.name, kind: m.kind })),
      inSync: [...g.inSync],
      viewVersion: g.viewVersion,
      removed: g.removed,
      diverged: { entries: g.diverged.entries, records: g.diverged.records },
      mirrors: g.mirrors.map((m) => ({ name: m.name, ackedLsn: m.ackedLsn, lag: m.lag, inSync: m.inSync, rate: m.rate, reachable: m.reachable })),
    },
  };
}

/** @throws ProtocolError when the reply is not a status */
export function serverStatusFromWire(value: unknown): ServerStatus {
  const check = new ReplyReader('status');
  const s = check.map(value, 'status');
  const state = check.string(s.state, 'state');
  if (!SERVER_STATES.has(state)) check.fail('state', `must be a server state, not ${JSON.stringify(state.slice(0, 40))}`);
  const status: ServerStatus = {
    name: check.string(s.name, 'name'),
    clusterId: check.string(s.clusterId, 'clusterId'),
    state: state as ServerState,
    term: check.count(s.term, 'term'),
    lastLsn: check.count(s.lastLsn, 'lastLsn'),
    commitIndex: check.count(s.commitIndex, 'commitIndex'),
    connections: check.count(s.connections, 'connections'),
    subscriptions: check.count(s.subscriptions, 'subscriptions'),
    pendingTransactions: check.count(s.pendingTransactions, 'pendingTransactions'),
    persistent: check.boolean(s.persistent, 'persistent'),
    listen: check.array(s.listen, 'listen').map((url, i) => check.string(url, `listen[${i}]`)),
    uptimeMs: check.count(s.uptimeMs, 'uptimeMs'),
  };
  if (s.stripeTerms !== undefined) status.stripeTerms = check.array(s.stripeTerms, 'stripeTerms').map((term, i) => check.count(term, `stripeTerms[${i}]`));
  return s.group === undefined ? status : { ...status, group: groupStatusFromWire(s.group, check) };
}

function groupStatusFromWire(value: unknown, check: ReplyReader): GroupStatus {
  const g = check.map(value, 'group');
  const diverged = check.map(g.diverged, 'group.diverged');
  return {
    leader: g.leader === null ? null : check.string(g.leader, 'group.leader'),
    members: check.array(g.members, 'group.members').map((raw, i) => {
      const m = check.map(raw, `group.members[${i}]`);
      if (m.kind !== 'server' && m.kind !== 'voter') check.fail(`group.members[${i}].kind`, "must be 'server' or 'voter'");
      return { name: check.string(m.name, `group.members[${i}].name`), kind: m.kind };
    }),
    inSync: check.array(g.inSync, 'group.inSync').map((name, i) => check.string(name, `group.inSync[${i}]`)),
    viewVersion: check.count(g.viewVersion, 'group.viewVersion'),
    removed: check.boolean(g.removed, 'group.removed'),
    diverged: { entries: check.count(diverged.entries, 'group.diverged.entries'), records: check.count(diverged.records, 'group.diverged.records') },
    mirrors: check.array(g.mirrors, 'group.mirrors').map((raw, i) => {
      const m = check.map(raw, `group.mirrors[${i}]`);
      const rate = m.rate;
      if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) check.fail(`group.mirrors[${i}].rate`, 'must be a non-negative number');
      const lag = m.lag;
      if (typeof lag !== 'number' || !Number.isSafeInteger(lag)) check.fail(`group.mirrors[${i}].lag`, 'must be an integer');
      return { name: check.string(m.name, `group.mirrors[${i}].name`), ackedLsn: check.count(m.ackedLsn, `group.mirrors[${i}].ackedLsn`), lag, inSync: check.boolean(m.inSync, `group.mirrors[${i}].inSync`), rate, reachable: m.reachable === undefined || check.boolean(m.reachable, `group.mirrors[${i}].reachable`) };
    }),
  };
}
