/**
 * A whole Kiln group in one process: members started through the simulation's seams (clock,
 * timers, random, transport and a crashable disk each), which the harness can crash, restart,
 * pause and cut off from each other.
 *
 * `startMember` says how each member starts: {@link startSingleServer} for a lone server without
 * a group, {@link startGroupMember} for the servers and voters of a mirror group, or of a cluster
 * of several stripes (each server in one stripe, each voter voting in all of them).
 */
import { decodeEvents } from '../../log/events.js';
import { decodeRecord, RecordKind, visibleAppends } from '../../log/record.js';
import type { ClusterLayout } from '../../cluster/layout.js';
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { clusterLayoutOf, groupOptionsOf } from '../../config/group-options.js';
import { defaultClientTiming, defaultConnectionLimits, defaultLogLimits } from '../../limits.js';
import { createServer, type KilnServer, type ServerOptions } from '../../server/server.js';
import type { GroupOptions } from '../../replication/member-context.js';
import { createVoter } from '../../server/voter.js';
import type { Store } from '../../store/store.js';
import type { Clock, Random, Timers } from '../../time.js';
import type { Transport } from '../../transport/transport.js';
import type { ServedOnLease } from '../checker/lease-reads.js';
import type { LeaseInterval } from '../checker/leases.js';
import type { EventPosition } from '../checker/types.js';
import { CrashableStore, type CrashableStoreOptions, type CrashReport } from './crashable-store.js';
import { simUrl, type SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler, SimClock, SimNode } from './scheduler.js';

/** One member of a simulated group. */
export interface SimMemberSpec {
  /** Its name: node name, server name and address (`sim://<name>`). */
  name: string;
  /** A server holds the log; a voter only votes (and records the in-sync set). @default 'server' */
  role?: 'server' | 'voter';
  /**
   * A server's stripe, in a cluster of several; a voter votes in every stripe. Members without a
   * stripe form one group, as a one-stripe cluster. @default none
   */
  stripe?: string;
  /**
   * A spare server of a one-stripe group: outside the group's configuration, it starts (when the
   * harness starts it) as `kiln start --join` does and waits until an operator adds it. @default false
   */
  spare?: boolean;
}

/** A member as every member sees it: its spec with defaults, and its address. */
export interface SimMemberInfo {
  name: string;
  role: 'server' | 'voter';
  /** The server's stripe; undefined for voters and in a one-stripe cluster. */
  stripe: string | undefined;
  url: string;
  /** A spare server: only its own configuration names it. */
  spare: boolean;
}

/** Everything one member incarnation is started with. */
export interface SimMemberContext {
  /** The member's name. */
  name: string;
  /** Its role. */
  role: 'server' | 'voter';
  /** The scheduler's handle on this incarnation. */
  node: SimNode;
  /** Its store: a view of its simulated disk (see {@link CrashableStore.view}); `stores[0]`. */
  store: Store;
  /** One store per stripe for a voter of a cluster of several stripes (one disk each); else `[store]`. */
  stores: Store[];
  /** Its network transport. */
  transport: Transport;
  /** Addresses to listen on: `[sim://<name>]`. */
  listen: string[];
  /** Every member of the cluster, with its address: its peers for replication and elections. */
  members: readonly SimMemberInfo[];
  clock: Clock;
  timers: Timers;
  random: Random;
  /** Limits given to the cluster. */
  limits: ServerOptions['limits'];
  /** Receives the member's log lines (into the trace). */
  log: (line: string) => void;
  /** Receives each time an active finds its lease held (taking office, ticks, reads): its term and when (its monotonic ms) the lease runs out. */
  onLease: (term: number, untilMs: number) => void;
  /** Receives each read an active serves on its lease and each rise of its commit index, with its term. */
  onServed: (served: { kind: 'read' | 'commit'; term: number; commitIndex: number }) => void;
}

/** A running member, as the cluster needs to see it. */
export interface SimMember {
  /** Shuts down cleanly. */
  close(): Promise<void>;
  /** The underlying server, when the member is one. */
  server?: KilnServer;
}

/** Starts one member incarnation. */
export type StartMember = (context: SimMemberContext) => Promise<SimMember>;

/** Options of {@link SimCluster}. */
export interface SimClusterOptions {
  /** The run's scheduler. */
  scheduler: Scheduler;
  /** The run's network. */
  network: SimNetwork;
  /** Makes an empty store for a member's disk (core cannot import a store package itself). */
  createStore: () => Store;
  /** The group's members. @default one server, `s1` */
  members?: readonly SimMemberSpec[];
  /**
   * `restartable`: a crash keeps what the disk synced (see {@link CrashableStore}).
   * `memory` (diskless): a crash loses the member's whole store.
   * @default 'restartable'
   */
  persistence?: 'restartable' | 'memory';
  /** Fsync timing and crash losses of each disk. */
  disk?: Omit<CrashableStoreOptions, 'random'>;
  /** Server limits (timeouts, caps). */
  limits?: ServerOptions['limits'];
  /** Starts a member. @default {@link startSingleServer} (which refuses voters) */
  startMember?: StartMember;
}

interface MemberState {
  spec: SimMemberInfo;
  /** One disk, or one per stripe for a voter of several stripes. */
  disks: CrashableStore[];
  member: SimMember | undefined;
  /** The start in progress, if any. */
  starting: Promise<void> | undefined;
  random: Prng;
}

/** Starts a lone server, outside any group. */
export const startSingleServer: StartMember = async (context) => {
  if (context.role !== 'server') throw new Error(`member ${context.name}: a voter needs startGroupMember`);
  const server = await createServer({
    store: context.store,
    transports: [context.transport],
    listen: context.listen,
    name: context.name,
    clock: context.clock,
    timers: context.timers,
    random: context.random,
    ...(context.limits === undefined ? {} : { limits: context.limits }),
    log: context.log,
  });
  return { server, close: () => server.close() };
};

/** Election and mirror timing of {@link startGroupMember}, in virtual ms; must fit together as a config file's. */
export interface SimGroupTiming {
  /** @default 1000 */
  electionTimeMs?: number;
  /** @default 700 */
  mirrorTimeoutMs?: number;
  /** @default 600 */
  leaseMs?: number;
}

/** Bugs {@link startGroupMember} can plant in the members it starts, for the harness's self-test; none by default. */
export interface SimPlantedBugs {
  /** A membership change given up is not followed by recording the current members again (see view-change.ts). @default false */
  giveUpWithoutRecording?: boolean;
  /**
   * An active's lease outlasts the election's wait: `leaseMs` of mirrorTimeoutMs + electionTimeMs,
   * which no configuration accepts, so a cut-off active serves reads after its successor took over. @default false
   */
  longLease?: boolean;
}

/**
 * The cluster configuration the members of a simulated cluster share: one group written with
 * `servers` when no member names a stripe, else `stripes` in the order the members first name
 * them. Voters vote in every stripe.
 */
export function simClusterConfig(members: readonly SimMemberInfo[], timing: SimGroupTiming = {}, limits: ServerOptions['limits'] = {}): ClusterConfig {
  const electionTimeMs = timing.electionTimeMs ?? 1000;
  const serverOf = (m: SimMemberInfo): ServerConfig => ({ name: m.name, listen: [m.url], peer: `${m.url}/peer`, weight: 1 });
  const servers = members.filter((m) => m.role === 'server');
  const stripeNames = [...new Set(servers.flatMap((m) => (m.stripe === undefined ? [] : [m.stripe])))];
  const shape =
    stripeNames.length === 0
      ? { servers: servers.map(serverOf) }
      : { stripes: stripeNames.map((name) => ({ name, electionTimeMs, servers: servers.filter((m) => m.stripe === name).map(serverOf) })) };
  return {
    cluster: 'sim',
    persistence: 'restartable',
    failoverPriority: 'consistency',
    electionTimeMs,
    mirrorTimeoutMs: timing.mirrorTimeoutMs ?? 700,
    leaseMs: timing.leaseMs ?? 600,
    reconnectWindowMs: defaultClientTiming.reconnectWindowMs,
    voters: members.filter((m) => m.role === 'voter').map((m) => ({ name: m.name, peer: `${m.url}/peer` })),
    limits: { ...defaultConnectionLimits, ...defaultLogLimits, ...limits },
    ...shape,
  };
}

/**
 * Starts members of a mirror group (servers and voters), or of a cluster of several stripes, as
 * the CLI does: clients at `sim://<name>`, peers at `sim://<name>/peer`. Each gets its group
 * options from a cluster configuration ({@link simClusterConfig}) through {@link groupOptionsOf};
 * in a cluster of several stripes a server also gets the layout ({@link clusterLayoutOf}) and its
 * stripe, and a voter votes in every stripe through {@link createVoter}, one store each. Servers
 * get the `planted` bugs through their group options, where no cluster file can put them.
 */
export function startGroupMember(timing: SimGroupTiming = {}, planted: SimPlantedBugs = {}): StartMember {
  return async (context) => {
    const withPlanted = (group: GroupOptions): GroupOptions => ({
      ...group,
      observeLease: context.onLease,
      observeServed: context.onServed,
      ...(planted.giveUpWithoutRecording ? { plantedGiveUpWithoutRecording: true } : {}),
      ...(planted.longLease ? { plantedLeaseMs: group.mirrorTimeoutMs + group.electionTimeMs } : {}),
    });
    // A spare's file names it beside the group, as an operator writes it before adding it; the others' files do not.
    const spare = context.members.some((m) => m.name === context.name && m.spare);
    const config = simClusterConfig(context.members.filter((m) => !m.spare || m.name === context.name), timing, context.limits);
    const seams = {
      transports: [context.transport],
      clock: context.clock,
      timers: context.timers,
      random: context.random,
      ...(context.limits === undefined ? {} : { limits: context.limits }),
      log: context.log,
    };
    if (config.stripes === undefined) {
      const server = await createServer({ ...seams, store: context.store, listen: context.role === 'server' ? context.listen : [], name: context.name, group: withPlanted(groupOptionsOf(config, context.name, spare)) });
      return { server, close: () => server.close() };
    }
    const layout = clusterLayoutOf(config);
    if (context.role === 'voter') {
      const stripes = config.stripes.map((stripe, i) => ({ group: groupOptionsOf(config, context.name, false, stripe.name), store: context.stores[i]! }));
      const voter = await createVoter({ ...seams, name: context.name, layout, stripes });
      return { close: () => voter.close() };
    }
    const stripe = layout.stripes.findIndex((s) => s.servers.some((server) => server.name === context.name));
    const server = await createServer({ ...seams, store: context.store, listen: context.listen, name: context.name, group: withPlanted(groupOptionsOf(config, context.name)), cluster: { layout, stripe } });
    return { server, close: () => server.close() };
  };
}

/**
 * A simulated group, or a cluster of several stripes. Every method that starts or stops something
 * must be driven by the scheduler.
 */
export class SimCluster {
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;
  private readonly members = new Map<string, MemberState>();
  private readonly persistence: 'restartable' | 'memory';
  private readonly startMember: StartMember;
  /** Problems the cluster saw while it ran: two actives that took office in one term of a stripe. */
  readonly problems: string[] = [];
  /** Who took office in each term, by stripe (`<stripe>/<term>`), from the members' log lines. */
  private readonly officeHolders = new Map<string, string>();
  /** The intervals in which actives believed they held their lease, by stripe, in true time (see overlappingLeases). */
  private readonly leases = new Map<string, LeaseInterval[]>();
  /** The reads actives served on their leases and their commits, by stripe, in true time (see staleLeaseReads). */
  private readonly served = new Map<string, ServedOnLease[]>();
  /** The highest commit index an active of each stripe reached, by stripe (see holdsLastCopy). */
  private readonly committedHigh = new Map<string, number>();
  /** Every time a server took office, in order, with the virtual time. */
  readonly tookOffice: Array<{ name: string; term: number; atMs: number }> = [];
  /** Server names by stripe, in the order the members first name the stripes; one stripe when none does. */
  readonly stripes: ReadonlyArray<{ name: string | undefined; servers: string[] }>;

  constructor(private readonly options: SimClusterOptions) {
    this.scheduler = options.scheduler;
    this.network = options.network;
    this.persistence = options.persistence ?? 'restartable';
    this.startMember = options.startMember ?? startSingleServer;
    const specs = options.members ?? [{ name: 's1' }];
    if (specs.length === 0) throw new RangeError('a cluster needs at least one member');
    const stripeNames = [...new Set(specs.flatMap((m) => ((m.role ?? 'server') === 'server' && m.stripe !== undefined ? [m.stripe] : [])))];
    const serverNamesIn = (stripe: string | undefined): string[] => specs.filter((m) => (m.role ?? 'server') === 'server' && m.stripe === stripe).map((m) => m.name);
    this.stripes = stripeNames.length === 0 ? [{ name: undefined, servers: serverNamesIn(undefined) }] : stripeNames.map((name) => ({ name, servers: serverNamesIn(name) }));
    if (stripeNames.length > 0 && serverNamesIn(undefined).length > 0) throw new RangeError('in a cluster of several stripes every server names its stripe');
    for (const spec of specs) {
      if (this.members.has(spec.name)) throw new RangeError(`member ${spec.name} named twice`);
      const random = this.scheduler.random.fork();
      const role = spec.role ?? 'server';
      // A voter of several stripes keeps a state, so a disk, per stripe.
      const diskCount = role === 'voter' ? this.stripes.length : 1;
      this.members.set(spec.name, {
        spec: { name: spec.name, role, stripe: role === 'server' ? spec.stripe : undefined, url: simUrl(spec.name), spare: spec.spare ?? false },
        disks: Array.from({ length: diskCount }, () => this.newDisk(random)),
        member: undefined,
        starting: undefined,
        random,
      });
    }
  }

  /** The cluster's layout, as every member builds it (one stripe when no member names a stripe). */
  get layout(): ClusterLayout {
    return clusterLayoutOf(simClusterConfig(this.infos().filter((m) => !m.spare)));
  }

  /** Names of every member. */
  get names(): string[] {
    return [...this.members.keys()];
  }

  /** Names of the members that hold a log. */
  get serverNames(): string[] {
    return [...this.members.values()].filter((m) => m.spec.role === 'server').map((m) => m.spec.name);
  }

  /** Client addresses of the servers. */
  get serverUrls(): string[] {
    return this.serverNames.map(simUrl);
  }

  /** Names of the spare servers: outside the group until an operator adds them. */
  get spareNames(): string[] {
    return [...this.members.values()].filter((m) => m.spec.spare).map((m) => m.spec.name);
  }

  /** Names of the voters. */
  get voterNames(): string[] {
    return [...this.members.values()].filter((m) => m.spec.role === 'voter').map((m) => m.spec.name);
  }

  /** The running member `name`, if it is up. */
  member(name: string): SimMember | undefined {
    return this.state(name).member;
  }

  /** True while `name` runs (started, not crashed). */
  isUp(name: string): boolean {
    return this.state(name).member !== undefined && this.scheduler.isAlive(name);
  }

  /** Starts every member that is not running (or only `names`). */
  async start(names: readonly string[] = this.names): Promise<void> {
    await Promise.all(names.map((name) => this.restart(name)));
  }

  /** Starts a new incarnation of `name` on what its disk kept. Does nothing if it is up. */
  restart(name: string): Promise<void> {
    const state = this.state(name);
    if (state.starting) return state.starting;
    if (this.isUp(name)) return Promise.resolve();
    state.starting = this.startIncarnation(state).finally(() => (state.starting = undefined));
    return state.starting;
  }

  /**
   * Crashes `name` without a clean shutdown: its tasks stop, its connections reset, and its disk
   * keeps only what survives (all of it lost in `memory` persistence).
   */
  async crash(name: string): Promise<CrashReport | undefined> {
    const state = this.state(name);
    if (!this.scheduler.isAlive(name) && state.member === undefined) return undefined;
    this.scheduler.kill(name);
    this.endLeases(name);
    this.network.crashed(name);
    this.scheduler.resume(name);
    state.member = undefined;
    state.starting = undefined;
    let report: CrashReport | undefined;
    for (const [i, disk] of state.disks.entries()) {
      if (this.persistence === 'memory') {
        await disk.dispose();
        state.disks[i] = this.newDisk(state.random);
        report = { lastLsn: 0, lostRecords: Number.NaN, torn: false };
      } else {
        report = await disk.crash();
      }
      this.scheduler.note(`crash ${name}: disk${state.disks.length > 1 ? ` ${i}` : ''} keeps LSN ${report.lastLsn}, loses ${report.lostRecords}${report.torn ? ', torn tail' : ''}`);
    }
    return report!;
  }

  /**
   * True when `name` is a running server and no other running server of its stripe is in sync
   * (by the newest view a running server of the stripe holds) and holds the log up to the highest
   * commit index an active of the stripe reached: crashing it without a disk would lose
   * acknowledged transactions, as memory mode warns it does. Not the commit index the servers
   * report now: an active that stepped down reports none, and a mirror restarted empty (still in
   * the view's in-sync set, as no active has removed it) would seem to hold it all.
   */
  holdsLastCopy(name: string): boolean {
    const stripe = this.stripes.find((s) => s.servers.includes(name));
    if (stripe === undefined || !this.isUp(name)) return false;
    const statuses = stripe.servers.flatMap((server) => {
      const status = this.isUp(server) ? this.member(server)?.server?.status() : undefined;
      return status === undefined ? [] : [{ server, status }];
    });
    const committed = Math.max(this.committedHigh.get(stripe.name ?? '') ?? 0, ...statuses.map(({ status }) => status.commitIndex));
    const newest = statuses.map(({ status }) => status.group).reduce((a, b) => (b !== undefined && (a === undefined || b.viewVersion > a.viewVersion) ? b : a), undefined);
    const inSync = (server: string): boolean => newest === undefined || newest.inSync.includes(server);
    return !statuses.some(({ server, status }) => server !== name && inSync(server) && status.lastLsn >= committed);
  }

  /** The server of `stripe` (an index into {@link stripes}) that reports itself `ACTIVE-COORDINATOR`, if exactly one running server does. */
  activeName(stripe = 0): string | undefined {
    const actives = this.stripes[stripe]!.servers.filter((name) => this.isUp(name) && this.member(name)?.server?.status().state === 'ACTIVE-COORDINATOR');
    return actives.length === 1 ? actives[0] : undefined;
  }

  /**
   * True when every stripe has converged (RELIABILITY.md §3.3 liveness): every server is up, and
   * in each stripe exactly one is active and every other one holds the active's log up to its
   * commit index.
   */
  converged(): boolean {
    return this.stripes.every((_, stripe) => this.stripeConverged(stripe));
  }

  private stripeConverged(stripe: number): boolean {
    const active = this.activeName(stripe);
    if (active === undefined) return false;
    const target = this.member(active)!.server!.status().commitIndex;
    return this.groupServers(stripe).every((name) => {
      if (!this.isUp(name)) return false;
      const status = this.member(name)?.server?.status();
      return status !== undefined && status.lastLsn >= target && (name === active || status.state === 'PASSIVE-STANDBY');
    });
  }

  /**
   * The servers of `stripe` its active's recorded view names (spares added, mirrors removed), or
   * every server of the stripe when it has no active (or no group).
   */
  groupServers(stripe = 0): string[] {
    const active = this.activeName(stripe);
    const group = active === undefined ? undefined : this.member(active)?.server?.status().group;
    return group ? group.members.filter((m) => m.kind === 'server').map((m) => m.name) : this.stripes[stripe]!.servers;
  }

  /** One line per server: up or down, state, term, LSNs and the view it holds (for a liveness report). */
  describeServers(): string[] {
    return this.serverNames.map((name) => {
      const status = this.isUp(name) ? this.member(name)?.server?.status() : undefined;
      if (!status) return `${name}: down`;
      const group = status.group;
      const view = group ? `; leader ${group.leader ?? '-'}, view ${group.viewVersion} in sync [${group.inSync.join(',')}]` : '';
      return `${name}: ${status.state} term ${status.term} lastLsn ${status.lastLsn} commitIndex ${status.commitIndex}${view}`;
    });
  }

  /** Shuts every running member down cleanly. */
  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.members.values()].map(async (state) => {
        const member = state.member;
        state.member = undefined;
        if (member && this.scheduler.isAlive(state.spec.name)) await member.close();
      }),
    );
  }

  /**
   * The log on `name`'s disk, event by event in LSN order as readers see it (a prepare's events
   * only at its outcome), as the checker takes it; and the transactions over several stripes
   * whose prepare on that disk has no outcome after it. Read straight from the disk, so call it
   * once the member is closed (or crashed).
   */
  async finalLog(name: string): Promise<{ events: EventPosition[]; openPrepares: string[] }> {
    const inner = this.state(name).disks[0]!.inner;
    const events: EventPosition[] = [];
    const open = new Map<string, number>();
    for (let from = 1; ; ) {
      const records = await inner.read(from, { direction: 'forward', maxCount: 1024, maxBytes: 1024 * 1024 });
      if (records.length === 0) return { events, openPrepares: [...open].map(([id, lsn]) => `${id} (prepared at LSN ${lsn})`) };
      for (const stored of records) {
        const record = decodeRecord(stored.bytes, stored.lsn);
        if (record.kind === RecordKind.Prepare) open.set(record.txn!.id, record.lsn);
        else if (record.kind === RecordKind.Outcome) open.delete(record.txn!.id);
        for (const append of visibleAppends(record)) {
          decodeEvents(append.events).forEach(([id], i) => events.push({ stream: append.stream, version: append.firstVersion + i, lsn: record.lsn, id }));
        }
      }
      from = records[records.length - 1]!.lsn + 1;
    }
  }

  /** Closes every disk. */
  async dispose(): Promise<void> {
    for (const state of this.members.values()) for (const disk of state.disks) await disk.dispose();
  }

  private infos(): SimMemberInfo[] {
    return [...this.members.values()].map((m) => m.spec);
  }

  private state(name: string): MemberState {
    const state = this.members.get(name);
    if (!state) throw new RangeError(`no member named ${name}`);
    return state;
  }

  /** Every stripe's lease intervals in true time, for overlappingLeases. */
  leaseIntervals(): LeaseInterval[][] {
    return [...this.leases.values()];
  }

  /** Every stripe's reads served on leases and commits, in the order they happened, for staleLeaseReads. */
  servedOnLeases(): ServedOnLease[][] {
    return [...this.served.values()];
  }

  private noteServed(spec: SimMemberInfo, served: { kind: 'read' | 'commit'; term: number; commitIndex: number }): void {
    let stripe = this.served.get(spec.stripe ?? '');
    if (!stripe) this.served.set(spec.stripe ?? '', (stripe = []));
    stripe.push({ name: spec.name, ...served, atMs: this.scheduler.now });
    if (served.kind === 'commit') this.committedHigh.set(spec.stripe ?? '', Math.max(this.committedHigh.get(spec.stripe ?? '') ?? 0, served.commitIndex));
  }

  /**
   * Keeps a lease `name` found held, from now to when it runs out in true time (its clock counts
   * the rest at its machine's rate); one interval while it is renewed.
   */
  private noteLease(spec: SimMemberInfo, clock: SimClock, term: number, untilMs: number): void {
    const fromMs = this.scheduler.now;
    const lease = { name: spec.name, term, fromMs, untilMs: fromMs + clock.machine.trueMsOf(untilMs - clock.monotonicMs()) };
    let stripe = this.leases.get(spec.stripe ?? '');
    if (!stripe) this.leases.set(spec.stripe ?? '', (stripe = []));
    const last = stripe.findLast((l) => l.name === spec.name);
    if (last && last.term === term && last.untilMs >= fromMs) last.untilMs = Math.max(last.untilMs, lease.untilMs);
    else stripe.push(lease);
  }

  /** `name` stepped down or crashed: it believes in no lease from now on. */
  private endLeases(name: string): void {
    const now = this.scheduler.now;
    for (const stripe of this.leases.values()) for (const lease of stripe) if (lease.name === name && lease.untilMs > now) lease.untilMs = now;
  }

  /**
   * Keeps who took office in which term of its stripe: a second server in one term is a problem
   * (split brain), and so is one server taking office twice in a term (a restart that forgot it
   * held the term, and a second election that reused it).
   */
  private noteOffice(spec: SimMemberInfo, line: string): void {
    if (/^\S+: steps down from term/.test(line)) return this.endLeases(spec.name);
    const took = /^(\S+) is ACTIVE-COORDINATOR in term (\d+)/.exec(line);
    if (!took) return;
    this.tookOffice.push({ name: took[1]!, term: Number(took[2]), atMs: this.scheduler.now });
    const key = `${spec.stripe ?? ''}/${took[2]}`;
    const holder = this.officeHolders.get(key);
    const where = `term ${took[2]}${spec.stripe ? ` of stripe ${spec.stripe}` : ''}`;
    if (holder === undefined) this.officeHolders.set(key, took[1]!);
    else if (holder !== took[1]) this.problems.push(`safety: ${holder} and ${took[1]} both took office in ${where}`);
    else this.problems.push(`safety: ${holder} took office twice in ${where}`);
  }

  private newDisk(random: Prng): CrashableStore {
    return new CrashableStore(this.options.createStore(), { ...this.options.disk, random: random.fork() });
  }

  private async startIncarnation(state: MemberState): Promise<void> {
    const { scheduler } = this;
    const name = state.spec.name;
    const node = scheduler.spawn(name);
    const timers = scheduler.timers(node);
    const stores = state.disks.map((disk) => {
      const store = disk.view(timers, () => scheduler.now);
      return this.persistence === 'memory' ? { ...store, persistent: false } : store;
    });
    const clock = scheduler.clock(node);
    const member = await this.startMember({
      name,
      role: state.spec.role,
      node,
      store: stores[0]!,
      stores,
      transport: this.network.transport(name),
      listen: [simUrl(name)],
      members: this.infos(),
      clock,
      timers,
      random: state.random.fork(),
      limits: this.options.limits,
      log: (line) => {
        this.noteOffice(state.spec, line);
        scheduler.note(`${name}: ${line}`);
      },
      onLease: (term, untilMs) => this.noteLease(state.spec, clock, term, untilMs),
      onServed: (served) => this.noteServed(state.spec, served),
    });
    // A crash during the start leaves a member that must not be used.
    if (node.alive) state.member = member;
  }
}
