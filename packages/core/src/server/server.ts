/**
 * A Kiln server: one store, one log, served over any number of transports, as a member of a
 * mirror group. A server started without a group is a group of one, standalone: it becomes the
 * active (`ACTIVE-COORDINATOR`) at once, and each start opens a new term, so every record says
 * which run of the active wrote it.
 */
import { ConfigError, InvalidArgumentError, ServerShuttingDownError, UnsupportedSchemeError } from '../errors.js';
import { checkGroupSettings } from '../config/group-settings.js';
import type { ServerState, ServerStatus } from '../protocol/status.js';
import { checkLimits, defaultGroupTiming, limitsOf, SHUTDOWN_COMMIT_WAIT_MS, type ConnectionLimits, type LogLimits } from '../limits.js';
import { checkedStore, type RecoveryReport } from '../store/checked-store.js';
import type { Store } from '../store/store.js';
import { systemClock, systemRandom, systemTimers, type Clock, type Random, type Timers } from '../time.js';
import type { Connection, Listener, Transport } from '../transport/transport.js';
import type { KilnServer } from './kiln-server.js';
import type { GroupMemberConfig, GroupView } from '../replication/group-view.js';
import { GroupMember, type GroupOptions } from '../replication/member.js';
import { Reader } from '../read/reader.js';
import { ReadBudget } from '../read/read-budget.js';
import { Session, type SessionContext } from './session.js';
import { SubscriptionHub } from '../read/subscriptions.js';
import { ClusterPresence } from '../cluster/presence.js';
import { logDigest } from '../read/log-digest.js';
import { readBackupPage } from '../read/backup-page.js';
import { rangeDigest } from '../read/range-digest.js';
import { checkPlacement, type ClusterLayout } from '../cluster/layout.js';
import type { PeerInbox } from '../replication/peer-inbox.js';
import { listenOptionsFor } from './listen-options.js';
import { Transactions } from '../txn/transactions.js';
import type { LogRecord } from '../log/record.js';
import { Authenticator, checkServerAuth, type ServerAuthOptions } from '../auth/authenticator.js';
import { FailureLog } from '../auth/failure-log.js';
import { ServerCounters } from '../observe/counters.js';
import { observeServer, type ServerObservation } from './observe-server.js';

export type { ServerState, ServerStatus } from '../protocol/status.js';
export type { KilnServer } from './kiln-server.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Where the log rests. A persistent store makes the server restartable. */
  store: Store;
  /** Transports to listen with; each URL in `listen` goes to the one handling its scheme. */
  transports: readonly Transport[];
  /** Addresses to listen on, for example `tcp://127.0.0.1:7410`. Port 0 picks a free port. */
  listen: readonly string[];
  /** The server's name in status and logs. @default 'kiln' */
  name?: string;
  /** Limits and timeouts; see `docs/LIMITS.md`. */
  limits?: Partial<ConnectionLimits & LogLimits>;
  clock?: Clock;
  timers?: Timers;
  random?: Random;
  /** Receives one line per notable event (start, recovery progress, shutdown). @default no output */
  log?: (line: string) => void;
  /**
   * Makes this server a member of a mirror group: it listens for peers on its own peer URL,
   * replicates, and takes part in elections. Without it the server is a lone active.
   */
  group?: GroupOptions;
  /**
   * The cluster this server belongs to, and the index of its stripe in it: the server records it
   * at its first start, refuses to start with a different one, reports the cluster's id, answers
   * topology requests, and refuses streams of other stripes. Without it the server is a cluster
   * of one stripe of its own.
   */
  cluster?: { layout: ClusterLayout; stripe: number };
  /** Users, tokens and roles (the file's `auth`) and the hash functions checking them; see docs/security.md. @default none: no checks */
  auth?: ServerAuthOptions;
}

/** Starts a server: opens and recovers the store, then listens. */
export function createServer(options: ServerOptions): Promise<KilnServer> {
  return startServer(options, { bindPeer: true });
}

/** How a server is placed in its process: a voter runs one per stripe, sharing one peer inbox and listener. */
export interface ServerPlacement {
  /** The inbox incoming peer messages go to; the server makes its own when absent. */
  inbox?: PeerInbox;
  /** Whether this server listens on its peer URL (a voter's first stripe does, for all). */
  bindPeer: boolean;
  /**
   * A voter's first stripe, which answers status requests for the whole voter: the voter's terms
   * in the other stripes, in stripe order, for its status's `stripeTerms`.
   */
  otherStripeTerms?: () => number[];
}

/** {@link createServer}, placed in its process. */
export async function startServer(options: ServerOptions, placement: ServerPlacement): Promise<KilnServer> {
  const { connectionLimits, logLimits } = limitsOf(options.limits);
  try {
    checkLimits(connectionLimits, logLimits);
  } catch (error) {
    throw new ConfigError('limits', (error as Error).message);
  }
  if (options.listen.length === 0 && !options.group) throw new ConfigError('listen', 'must name at least one address');
  if (options.group) checkGroupSettings(options.group);
  if (options.cluster) checkPlacement(options.cluster);
  if (options.auth) checkServerAuth(options.auth);
  const transportFor = (url: string): Transport => {
    const scheme = url.slice(0, Math.max(url.indexOf(':'), 0));
    const transport = options.transports.find((t) => t.schemes.includes(scheme) && t.listen);
    if (!transport) throw new UnsupportedSchemeError(url);
    return transport;
  };
  const self = options.group?.members.find((m) => m.name === options.group?.self);
  if (options.group && !self) throw new ConfigError('group.self', `names no member of the group`);
  const urls = self && placement.bindPeer ? [...options.listen, self.peer] : [...options.listen];
  urls.forEach(transportFor);
  const server = new Server(options, connectionLimits, logLimits, placement);
  await server.start(urls.map((url) => [url, transportFor(url)]));
  return server;
}

class Server implements KilnServer {
  readonly name: string;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: Random;
  private readonly log: (line: string) => void;
  private readonly store;
  private member!: GroupMember;
  /** Started without a group: a group of one, with no peers and no group features. */
  private readonly standalone: boolean;

  private hub!: SubscriptionHub;
  private readonly listeners: Listener[] = [];
  private readonly sessions = new Set<Promise<void>>();
  /** Client sessions open now, by connection: what observe() sums. */
  private readonly openSessions = new Map<Connection, Session>();
  private readonly counters: ServerCounters;
  private readonly openConnections = new Set<Connection>();
  private clusterId = '';
  private presence!: ClusterPresence;
  private transactions: Transactions | undefined;
  private state: ServerState = 'START';
  private startedMs = 0;
  private closing: Promise<void> | undefined;
  recovery!: RecoveryReport;
  readonly failed: Promise<unknown>;
  private reportFailure!: (error: unknown) => void;

  constructor(
    private readonly options: ServerOptions,
    private readonly connectionLimits: ConnectionLimits,
    private readonly logLimits: LogLimits,
    private readonly placement: ServerPlacement,
  ) {
    this.name = options.name ?? 'kiln';
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? systemRandom;
    this.log = options.log ?? (() => {});
    this.store = checkedStore(options.store, logLimits);
    this.failed = new Promise((resolve) => (this.reportFailure = resolve));
    this.standalone = options.group === undefined;
    this.counters = new ServerCounters(this.clock);
  }

  get urls(): string[] {
    return this.listeners.map((l) => l.url);
  }

  async start(bindings: Array<[string, Transport]>): Promise<void> {
    this.startedMs = this.clock.monotonicMs();
    this.recovery = await this.store.open();
    if (this.recovery.droppedRecords > 0) this.log(`recovery dropped ${this.recovery.droppedRecords} torn record(s) at the tail`);
    try {
      this.presence = await ClusterPresence.open({
        name: this.name,
        store: this.store,
        cluster: this.options.cluster,
        standalone: this.standalone,
        transports: this.options.transports,
        timers: this.timers,
        random: this.random,
        connectionLimits: this.connectionLimits,
        log: this.log,
        mutualTls: this.options.group?.mutualTls ?? false,
        ownFacts: () => ({
          active: this.standalone ? this.name : this.member.leaderName,
          term: this.member.term,
          members: this.standalone ? [{ name: this.name, urls: this.urls }] : this.member.servers(),
        }),
        commitIndex: () => this.member.commitIndex,
      });
    } catch (error) {
      await this.store.close();
      throw error;
    }
    this.clusterId = this.presence.clusterId;
    const reader = new Reader(this.store, this.logLimits);
    const readBudget = new ReadBudget(this.logLimits.readBytesInFlightMax);
    this.hub = new SubscriptionHub(reader, this.logLimits, () => this.member.commitIndex, readBudget);
    const txns = this.presence.directory.striped ? this.transactionsOf(this.presence.directory.layout) : undefined;
    this.transactions = txns;
    const member = new GroupMember(this.options.group ?? this.loneGroup(), {
      store: this.store,
      logLimits: this.logLimits,
      connectionLimits: this.connectionLimits,
      transports: this.options.transports,
      clock: this.clock,
      timers: this.timers,
      random: this.random,
      log: this.log,
      onCommitted: (records) => {
        this.presence.committed(records);
        txns?.committed(records);
        this.hub.dispatch(records);
      },
      onFailed: (error) => this.fail(error),
      onStepDown: () => {
        this.presence.steppedDown();
        txns?.steppedDown();
        this.dropClients('this server is no longer the active');
      },
      onTookOffice: (term) => {
        this.presence.tookOffice(term);
        txns?.tookOffice();
      },
      ...(txns ? { onRecoveredRecord: (record: LogRecord) => txns.recoveredRecord(record) } : {}),
      stripe: this.presence.stripe,
      standalone: this.standalone,
      counters: this.counters,
    });
    this.member = member;
    const inbox = this.placement.inbox ?? this.presence.ownInbox();
    inbox.register(this.presence.stripe, (message) => member.receive(message));
    const group = this.standalone ? {} : { peers: inbox, groupUrls: () => member.clientUrls() };
    const backupLog = { clusterId: this.clusterId, stripe: this.presence.directory.layout.stripes[this.presence.stripe]!.name, epoch: () => this.presence.epoch.current() };
    const context: SessionContext = {
      serverName: this.name,
      clusterId: this.clusterId,
      connectionLimits: this.connectionLimits,
      logLimits: this.logLimits,
      clock: this.clock,
      timers: this.timers,
      committer: () => member.activeCommitter(),
      readIndex: () => member.readIndex(),
      reader,
      readBudget,
      subscriptions: this.hub,
      status: () => this.status(),
      directory: this.presence.directory,
      topology: () => this.presence.topology(),
      ...(txns ? { transactions: txns } : {}),
      operator: {
        addMirror: (mirror) => this.addMirror(mirror),
        removeMirror: (name) => this.removeMirror(name),
        logDigest: (throughLsn) => logDigest(this.store, this.logLimits, throughLsn),
        rangeDigest: (range) => rangeDigest(this.store, this.logLimits, this.timers, range),
        // A standalone server's report holds only operators' forced decisions.
        diverged: (index) => member.divergedEntry(index),
        backupPage: (request) => (request.fromMirror ? member.mirrorReadIndex(request.throughLsn) : member.readIndex()).then((commitIndex) => readBackupPage(this.store, this.logLimits, backupLog, request, commitIndex)),
      },
      shuttingDown: () => this.closing !== undefined || this.state === 'STOPPED',
      ...(this.options.auth ? { auth: new Authenticator(this.options.auth, this.clock, this.timers, new FailureLog(this.log, this.name, this.clock, this.timers)) } : {}),
      counters: this.counters,
      ...group,
    };
    const onConnection = (connection: Connection): void => {
      this.openConnections.add(connection);
      const served = new Session(connection, context);
      this.openSessions.set(connection, served);
      const session = served.run();
      this.sessions.add(session);
      void connection.closed.then(() => {
        this.openConnections.delete(connection);
        this.sessions.delete(session);
        this.openSessions.delete(connection);
      });
    };
    // A standalone server is the active before its first client can arrive.
    if (this.standalone) await member.start();
    try {
      for (const [url, transport] of bindings) {
        this.listeners.push(await transport.listen!(url, onConnection, listenOptionsFor(url, this.connectionLimits, this.options.group, this.presence.directory.layout, this.log)));
      }
    } catch (error) {
      // A server that never served says nothing of shutting down: the error says why it did not start.
      this.closing ??= this.shutDown(false);
      await this.closing;
      throw error;
    }
    if (this.standalone) {
      this.log(`${this.name} is ${member.state} in term ${member.term} at LSN ${this.store.lastPosition.lsn}; listening on ${this.urls.join(', ')}`);
      return;
    }
    await member.start();
    const stripe = this.presence.directory.layout.stripes[this.presence.stripe]!.name;
    const where = this.urls.length > 0 ? `listening on ${this.urls.join(', ')}` : "on its process's peer listener";
    this.log(`${this.name} joined ${this.presence.directory.striped ? `stripe ${stripe}` : 'group'} as ${member.state}; ${where}`);
  }

  /** Transactions over several stripes, for a server of a cluster of several. */
  private transactionsOf(layout: ClusterLayout): Transactions {
    return new Transactions({
      name: this.name,
      layout,
      stripe: this.presence.stripe,
      committer: () => this.member.activeCommitter(),
      term: () => this.member.term,
      readIndex: () => this.member.readIndex(),
      transports: this.options.transports,
      limits: this.connectionLimits,
      txnTimeoutMs: this.logLimits.txnTimeoutMs,
      logLimits: this.logLimits,
      clock: this.clock,
      timers: this.timers,
      random: this.random,
      log: this.log,
      keepForced: (forced, prepareLsn) => this.member.keepForcedDecision(forced, prepareLsn),
      activeUrl: (stripe) => this.presence.directory.activeUrl(stripe),
      ...(this.options.auth?.stripeCredentials ? { credentials: this.options.auth.stripeCredentials } : {}),
    });
  }

  /** The group of a server started without one: itself alone, needing no peer address. */
  private loneGroup(): GroupOptions {
    return { self: this.name, members: [{ name: this.name, kind: 'server', peer: '', clientUrls: [], weight: 1 }], ...defaultGroupTiming };
  }

  /** Closes every client connection; clients then find the active through their reconnect. */
  private dropClients(reason: string): void {
    // Peer connections go too; members redial at once.
    for (const connection of this.openConnections) connection.close(reason);
  }

  // Async: every refusal (a lone server, a member not the active) is a rejection, never a throw.
  async addMirror(mirror: GroupMemberConfig): Promise<GroupView> {
    return this.groupMember().addMirror(mirror);
  }

  async removeMirror(name: string): Promise<GroupView> {
    return this.groupMember().removeMirror(name);
  }

  private groupMember(): GroupMember {
    if (this.standalone) throw new InvalidArgumentError('group', 'this server is a lone active, not a member of a mirror group; start it with a group to add mirrors');
    return this.member;
  }

  status(): ServerStatus {
    return {
      name: this.name,
      clusterId: this.clusterId,
      state: this.state === 'STOPPED' ? this.state : this.member.state,
      term: this.member.term,
      lastLsn: this.store.lastPosition.lsn,
      commitIndex: this.member.commitIndex,
      connections: this.openConnections.size,
      subscriptions: this.hub.size,
      pendingTransactions: this.member.pendingCount,
      persistent: this.store.persistent,
      listen: this.urls,
      uptimeMs: Math.round(this.clock.monotonicMs() - this.startedMs),
      ...(this.standalone ? {} : { group: this.member.describe() }),
      ...(this.placement.otherStripeTerms && { stripeTerms: [this.member.term, ...this.placement.otherStripeTerms()] }),
    };
  }

  observe(): ServerObservation {
    const stripe = this.presence.directory.layout.stripes[this.presence.stripe]!.name;
    const transactions = this.member.state === 'ACTIVE-COORDINATOR' ? this.transactions : undefined;
    return observeServer({ status: this.status(), stripe, counters: this.counters, sessions: this.openSessions, hub: this.hub, member: this.member, transactions });
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(announce = true): Promise<void> {
    if (announce) this.log(`${this.name} shutting down: ${this.member?.pendingCount ?? 0} transaction(s) in flight`);
    if (this.member) {
      // Answers in flight need the mirrors; give them a moment, then fail what is left.
      await this.member.drainCommits(SHUTDOWN_COMMIT_WAIT_MS, new ServerShuttingDownError());
      await this.member.stop();
    }
    this.presence?.close();
    await this.transactions?.close();
    // Closing a connection flushes the answers already queued on it before the socket goes.
    for (const connection of this.openConnections) connection.close('server shutting down');
    await Promise.all(this.listeners.map((listener) => listener.close()));
    await Promise.all(this.sessions);
    this.state = 'STOPPED';
    if (this.store.isOpen) await this.store.close();
    if (announce) this.log(`${this.name} stopped at LSN ${this.store.lastPosition.lsn}`);
  }

  private fail(error: unknown): void {
    // Once: a mirror's store fails again on every apply until the process exits.
    if (this.state === 'STOPPED') return;
    this.state = 'STOPPED';
    this.log(`${this.name} FAILED: store write failed (${(error as Error)?.message ?? String(error)}); acknowledging nothing more`);
    this.reportFailure(error);
  }
}
