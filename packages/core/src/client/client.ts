/**
 * The Kiln client: transactions with expected versions, reads, and subscriptions as rxjs
 * Observables, over whichever transport handles each URL's scheme. It imports nothing from
 * `node:`, so it bundles for a browser.
 */
import type { Observable } from 'rxjs';
import { InvalidArgumentError, ProtocolError } from '../errors.js';
import { DEFAULT_BUSY_RETRIES, DEFAULT_BUSY_RETRY_DELAY_MS, defaultClientTiming, defaultConnectionLimits } from '../limits.js';
import type { EventData, RecordedEvent } from '../log/events.js';
import { decodeRecord, Decision } from '../log/record.js';
import type { ForcedDecision } from '../replication/diverged-report.js';
import type { GroupView } from '../replication/group-view.js';
import { type LogDigest, type MirrorSpec, type TransactionAppend, type TransactionResult } from '../protocol/messages.js';
import type { ArgumentsOf, OperationName, ResultOf } from '../protocol/operations.js';
import type { ServerStatus } from '../protocol/status.js';
import type { Topology } from '../protocol/topology.js';
import type { OpenTransaction, ResolveOutcome } from '../protocol/txn-messages.js';
import type { BackupPage, BackupPageRequest } from '../protocol/backup-messages.js';
import { systemClock, systemRandom, systemTimers, type Random } from '../time.js';
import { sessionClientId } from './session-client-id.js';
import { retryWhileBusy, type BusyRetrySettings } from './busy-retry.js';
import { eventsOf } from './events.js';
import { Link, type ClientStatus } from './link.js';
import { readAllLog, readAllLogPage, readAllPages, subscribeAllLog } from './merged-log.js';
import { readEvents, readStreamPage, readStreamPages } from './stream-reads.js';
import { subscribeStream } from './stream-subscription.js';
import type { AllPage, AppendOptions, AppendResult, ClientOptions, ReadAllOptions, ReadAllStreamOptions, ReadOptions, ReadStreamOptions, StreamPage, SubscribeAllOptions, SubscribeOptions, TransactAppend } from './options.js';
import type { PositionedEvent } from './position.js';
import { TopologyRouter } from './topology-router.js';
import { appendArgument, appendResultOf, transactArgument, wireAppends, type ArgumentName } from './wire-appends.js';

export type { AllPage, AppendOptions, AppendResult, ClientOptions, ReadAllOptions, ReadAllStreamOptions, ReadOptions, ReadStreamOptions, StreamPage, SubscribeAllOptions, SubscribeOptions, TransactAppend } from './options.js';

/** A transaction a server gave up to follow the active (see {@link KilnClient.diverged}). */
export interface DivergedTransaction {
  /** The report entry it is in. */
  entry: number;
  /** When the server gave it up, ms since the epoch. */
  atMs: number;
  /** The term of the active whose log replaced it. */
  replacedInTerm: number;
  lsn: number;
  term: number;
  /** The `(clientId, seq)` the client sent it with. */
  clientId: string;
  seq: number;
  timestampMs: number;
  /** Its events, with the stream versions they had on the diverged server. */
  events: RecordedEvent[];
  /**
   * Present when this is no truncated transaction but a prepared part of one over several stripes
   * that an operator ended with a forced decision (`kiln txn resolve`); `atMs` is when.
   */
  forcedByOperator?: ForcedDecision;
}

/**
 * Connects to a Kiln server. `urls` may name several servers; the client uses the first that
 * answers and moves to the others if it loses its connection.
 *
 * It then asks that server for the cluster's topology. In a cluster of several stripes, the
 * client connects to each stripe's servers on first use and sends every stream's operations to
 * its stripe (see {@link KilnClient.transact}, {@link KilnClient.readAll}); one URL of any
 * server is enough.
 */
export async function connect(urls: string | readonly string[], options: ClientOptions): Promise<KilnClient> {
  if (typeof urls !== 'string' && !Array.isArray(urls)) throw new InvalidArgumentError('urls', "must be a server's URL or a list of them, e.g. 'tcp://127.0.0.1:7410'");
  const list = typeof urls === 'string' ? [urls] : [...urls];
  if (list.length === 0) throw new InvalidArgumentError('urls', 'must name at least one server');
  // A JavaScript caller may leave the options out: name what is missing rather than fail on reading it.
  if (!options?.transports || options.transports.length === 0) throw new InvalidArgumentError('transports', 'must hold at least one transport, e.g. connect(url, { transports: [tcpTransport()] })');
  const random = options.random ?? systemRandom;
  const clientId = sessionClientId(options.clientId, random);
  const newLink = (urls: readonly string[]): Link =>
    new Link({
      urls,
      transports: options.transports,
      limits: { ...defaultConnectionLimits, ...options.limits },
      hello: { name: options.name ?? 'kiln-client', ...(options.credentials ? { credentials: options.credentials } : {}) },
      requestTimeoutMs: options.requestTimeoutMs ?? defaultClientTiming.requestTimeoutMs,
      reconnectWindowMs: options.reconnectWindowMs ?? defaultClientTiming.reconnectWindowMs,
      serverSilenceMs: options.serverSilenceMs ?? defaultClientTiming.serverSilenceMs,
      clock: options.clock ?? systemClock,
      timers: options.timers ?? systemTimers,
      random,
    });
  const link = newLink(list);
  await link.open();
  let topology: Topology | undefined;
  try {
    topology = await link.request('topology', null);
  } catch (error) {
    // A server with no usable topology is taken for a cluster of one stripe; it still refuses
    // streams it does not hold (WrongStripeError), so nothing goes astray.
    if (!(error instanceof ProtocolError)) {
      await link.close();
      throw error;
    }
  }
  const busyRetry = { retries: options.busyRetries ?? DEFAULT_BUSY_RETRIES, delayMs: options.busyRetryDelayMs ?? DEFAULT_BUSY_RETRY_DELAY_MS, timers: options.timers ?? systemTimers, random };
  return new KilnClient(new TopologyRouter(link, topology, newLink), clientId, random, busyRetry);
}

/** A connection to Kiln. Create one with {@link connect}. */
export class KilnClient {
  /** @internal */
  constructor(
    private readonly router: TopologyRouter,
    /**
     * Tags this client's transactions, with a sequence number, for exactly-once resends: the
     * `clientId` option followed by `/` and a UUID drawn at connect (see {@link ClientOptions.clientId}).
     */
    readonly clientId: string,
    private readonly random: Random,
    private readonly busyRetry: BusyRetrySettings,
  ) {}

  /**
   * The connection's state: connected, disconnected, reconnecting, reconnected, failed, closed. In
   * a cluster of several stripes, each stripe's connection's, with `stripe` naming it.
   */
  get status$(): Observable<ClientStatus> {
    return this.router.status$;
  }

  /**
   * Appends events to one stream, atomically. `Data` types the events' `data`
   * (`client.append<OrderEvent>('order-17', [...])`).
   *
   * A stream name is a non-empty string of well-formed Unicode (no lone UTF-16 surrogate, which
   * UTF-8 cannot hold), at most the server's `streamNameBytesMax` (512) bytes of UTF-8, not
   * starting with `$`. Every method taking a stream name holds it to this rule.
   * @throws WrongExpectedVersionError when the stream is not at `expectedVersion`
   * @throws InvalidArgumentError when the stream name breaks the rule (an empty or not well-formed
   * name is refused before anything is sent), `events` is empty, or a value in an event is one
   * MessagePack cannot carry (a BigInt, a function, a symbol, a cycle), named by its path
   * (`events[0].data.amount`)
   */
  append<Data = unknown>(stream: string, events: readonly EventData<Data>[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.commit([{ stream, events, expectedVersion: options.expectedVersion ?? 'any' }], appendArgument).then(appendResultOf);
  }

  /**
   * Commits appends to several streams, and checks on streams it does not write, as one
   * transaction: all or nothing. In a cluster of several stripes, a transaction whose streams lie
   * on several commits over all of them (two-phase commit, coordinated by the lowest stripe), at
   * about twice the latency of one on one stripe: give streams that go together a common hash tag
   * (`account-{42}`, `ledger-{42}`) to keep them on one.
   * @throws WrongExpectedVersionError naming the first stream whose expected version does not hold
   * @throws StreamBusyError when a stream stayed held by another transaction over several stripes through every retry (`busyRetries`)
   * @throws StripeUnavailableError when the stripe had no reachable active within `reconnectWindowMs`:
   * its `transactionFate` is `unknown` when the transaction may have committed (read its streams
   * before sending it again: a new `transact` is a new transaction), `not-committed` when it was
   * never sent (the stripe was lost before), or a participant's stripe had none within the
   * coordinator's `txnTimeoutMs`
   * @throws InvalidArgumentError naming the argument that breaks a rule (`appends[0].events[1].data.amount`)
   */
  transact<Data = unknown>(appends: readonly TransactAppend<Data>[]): Promise<TransactionResult> {
    return this.commit(appends, transactArgument);
  }

  /**
   * Sends a transaction; errors name each part as the caller passed it (`argument`). A plain
   * function, not an async one, so that a transaction costs no promise beyond those below; a
   * refused argument still arrives as a rejection.
   */
  private commit(appends: readonly TransactAppend[], argument: ArgumentName): Promise<TransactionResult> {
    let wire: TransactionAppend[];
    try {
      wire = wireAppends(appends, argument, this.newEventId);
    } catch (error) {
      return Promise.reject(error);
    }
    // The seq is taken once per stripe tried; a resend after a reconnect carries the same one. A
    // transaction over several stripes goes to the lowest, its coordinator.
    return retryWhileBusy(this.busyRetry, () =>
      this.router.routed(
        appends.map((a) => a.stream),
        (stripe) => this.router.request(stripe, 'transact', { clientId: this.clientId, seq: this.router.nextSeq(stripe), appends: wire }),
      ),
    );
  }

  /**
   * Reads events of one stream, in version order (or reverse): `maxCount` of them (default 1000,
   * at most the server's `readCountMax`, 4096), or fewer only when the stream ends first. A stream
   * with no events reads as empty. `Data` types the events' `data`, unchecked. To learn whether
   * the end was reached use {@link readPage}; to read a whole stream, {@link readStream}.
   */
  async read<Data = unknown>(stream: string, options: ReadOptions = {}): Promise<RecordedEvent<Data>[]> {
    return (await readEvents(this.router, stream, options)).events as RecordedEvent<Data>[];
  }

  /** Reads as {@link read} does (`maxCount` default 1000), saying whether it reached the end and where the next page starts. */
  readPage<Data = unknown>(stream: string, options: ReadOptions = {}): Promise<StreamPage<Data>> {
    return readStreamPage(this.router, stream, options) as Promise<StreamPage<Data>>;
  }

  /**
   * Reads a whole stream from `fromVersion` on (or back), `pageSize` events (default 1000) per
   * request, to its end as the last page found it: `for await (const e of client.readStream('order-17'))`.
   */
  readStream<Data = unknown>(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent<Data>> {
    return readStreamPages(this.router, stream, options) as AsyncGenerator<RecordedEvent<Data>>;
  }

  /**
   * Reads the whole log (`$all`): `maxCount` events at most (default 1000), in whole
   * transactions, each with the `position` to read on from. In a cluster of several stripes it
   * merges the stripes' logs, keeping each stripe's order: the earliest commit timestamp first,
   * ties to the lower stripe index (see {@link ReadAllOptions}). With `filter`, only matching
   * events, chosen on the server. `Data` types the events' `data`, unchecked.
   * @throws StripeEpochChangedError when `from` names an earlier life of a stripe
   * @throws StripeUnavailableError when a stripe read had no reachable active within `reconnectWindowMs`
   */
  async readAll<Data = unknown>(options: ReadAllOptions = {}): Promise<PositionedEvent<Data>[]> {
    return (await readAllLog(this.router, options)) as PositionedEvent<Data>[];
  }

  /** Reads as {@link readAll} does, with the `position` to read on from, even after a page a filter left empty. */
  async readAllPage<Data = unknown>(options: ReadAllOptions = {}): Promise<AllPage<Data>> {
    return (await readAllLogPage(this.router, options)) as AllPage<Data>;
  }

  /** Reads `$all` to its end, `pageSize` events (default 1000) per request: `for await (const e of client.readAllStream())`. */
  readAllStream<Data = unknown>(options: ReadAllStreamOptions = {}): AsyncGenerator<PositionedEvent<Data>> {
    return readAllPages(this.router, options) as AsyncGenerator<PositionedEvent<Data>>;
  }

  /**
   * Subscribes to one stream: every event from `fromVersion` on, first those already written,
   * then live, with no gap and no duplicate, across reconnects too. `Data` types the events'
   * `data`, unchecked.
   */
  subscribe<Data = unknown>(stream: string, options: SubscribeOptions = {}): Observable<RecordedEvent<Data>> {
    return subscribeStream(this.router, stream, options.fromVersion ?? 0) as Observable<RecordedEvent<Data>>;
  }

  /**
   * Subscribes to the whole log, as {@link subscribe} does for one stream; each event carries the
   * `position` to resume from. In a cluster of several stripes it follows every stripe (or the
   * one `stripe` names), each in its own order, stripes interleaved as their events arrive; a
   * stripe that stays out of reach past `reconnectWindowMs` ends it with `StripeUnavailableError`.
   * With `filter`, only matching events cross the network, and `onCheckpoint` hears the position
   * moving on past those that do not match.
   */
  subscribeAll<Data = unknown>(options: SubscribeAllOptions = {}): Observable<PositionedEvent<Data>> {
    return subscribeAllLog(this.router, options) as Observable<PositionedEvent<Data>>;
  }

  /**
   * The server's status: state, term, LSN, commit index, connections, and its group's. In a
   * cluster of several stripes, this and the calls below go to the stripe of the server the
   * client connected to first.
   */
  serverStatus(): Promise<ServerStatus> {
    return this.toHome('status', null);
  }

  /** The cluster as the connected server knows it: the slot table, every stripe's servers, and each stripe's active and term. */
  topology(): Promise<Topology> {
    return this.toHome('topology', null);
  }

  /**
   * Adds a mirror to the group at runtime (the request goes to the active); resolves with the
   * recorded view once a majority of the old and new members hold it. The mirror then catches up
   * and joins the in-sync set; `serverStatus()` shows its progress. Asking again for the same
   * mirror resolves at once.
   *
   * @throws InvalidArgumentError when its name or an address is taken, or the server is in no group
   */
  async addMirror(mirror: MirrorSpec): Promise<GroupView> {
    return this.toHome('addMirror', mirror);
  }

  /**
   * Removes a mirror from the group at runtime (the request goes to the active); resolves with
   * the recorded view.
   *
   * @throws InvalidArgumentError when `name` is no mirror or is the active
   */
  async removeMirror(name: string): Promise<GroupView> {
    return this.toHome('removeMirror', name);
  }

  /**
   * A fingerprint of the log of the server this client is connected to, from LSN 1 through
   * `throughLsn` (or its log's end): equal digests through the same LSN mean equal logs. Compare
   * the members of a group by connecting to each with `reconnectWindowMs: 0`. It reads the whole
   * range from the server's store.
   */
  async logDigest(throughLsn: number): Promise<LogDigest> {
    return this.toHome('logDigest', throughLsn);
  }

  /** The connected server's digest of its stored records in a range, each CRC checked (`kiln verify` compares servers by it); needs `admin` on `"*"` with auth. */
  rangeDigest(range: ArgumentsOf<'rangeDigest'>): Promise<ResultOf<'rangeDigest'>> {
    return this.toHome('rangeDigest', range);
  }

  /**
   * The `diverged` report of the server this client is connected to (availability mode):
   * transactions it had committed, maybe acknowledged, then gave up to follow an active of a
   * higher term after a partition healed, oldest first. Empty on a server that never diverged.
   * Read it from each server, for example with `kiln diverged URL`, and apply again what still
   * matters.
   */
  async *diverged(): AsyncGenerator<DivergedTransaction> {
    for (let index = 0; ; index++) {
      const entry = await this.toHome('diverged', index);
      if (!entry) return;
      const { atMs, replacedInTerm, records, forcedByOperator } = entry;
      for (const { lsn, bytes } of records) {
        const record = decodeRecord(bytes, lsn);
        // A prepare names the streams its part only checks too: they have no events.
        const events = record.appends.filter((a) => a.eventCount > 0).flatMap((a) =>
          eventsOf({ lsn: record.lsn, stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount, timestampMs: record.timestampMs, events: a.events }),
        );
        yield {
          entry: index,
          atMs,
          replacedInTerm,
          lsn: record.lsn,
          term: record.term,
          clientId: record.clientId,
          seq: record.seq,
          timestampMs: record.timestampMs,
          events,
          ...(forcedByOperator ? { forcedByOperator } : {}),
        };
      }
    }
  }

  /**
   * The transactions over several stripes open on the server this client is connected to (its
   * stripe's active): those it is deciding as coordinator, and the parts it prepared and has not
   * ended. `kiln txn list` asks every stripe.
   */
  openTransactions(): Promise<OpenTransaction[]> {
    return this.toHome('txnList', null);
  }

  /**
   * An operator's way out for a transaction in doubt (its coordinator's stripe lost): ends the
   * part the connected server's stripe prepared with `decision`, unless the coordinator answers
   * after all (then its decision stands). A forced decision is kept in the server's `diverged`
   * report. `kiln txn resolve` asks every stripe.
   */
  resolveTransaction(txnId: string, decision: 'commit' | 'abort'): Promise<ResolveOutcome> {
    return this.toHome('txnResolve', { txnId, decision: decision === 'commit' ? Decision.Commit : Decision.Abort });
  }

  /**
   * One page of the committed log as stored, for `kiln backup` (docs/operations.md): from the
   * active, or with `fromMirror` from the connected server as an in-sync mirror (connect to it
   * alone, with `reconnectWindowMs: 0`). Needs `admin` on a server with auth.
   */
  backupPage(request: BackupPageRequest): Promise<BackupPage> {
    return this.toHome('backupPage', request);
  }

  /** Closes the connection (every stripe's). Requests still in flight fail with `ClientClosedError`. */
  close(): Promise<void> {
    return this.router.close();
  }

  /** The id of an event given none. */
  private readonly newEventId = (): string => this.random.uuid();

  /** Sends a request about the server itself to the server the client connected to (its stripe's active, or the voter). */
  private toHome<K extends OperationName>(op: K, args: ArgumentsOf<K>): Promise<ResultOf<K>> {
    return this.router.requestHome(op, args);
  }
}
