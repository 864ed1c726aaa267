/**
 * The Kiln client: transactions with expected versions, reads, and subscriptions as rxjs
 * Observables, over whichever transport handles each URL's scheme. It imports nothing from
 * `node:`, so it bundles for a browser.
 */
import { Observable, type Subscriber } from 'rxjs';
import { InvalidArgumentError, type KilnError } from '../errors.js';
import { DEFAULT_READ_COUNT, defaultClientTiming, defaultConnectionLimits, type ConnectionLimits } from '../limits.js';
import { encodeEvents, type EventData, type ExpectedVersion, type RecordedEvent } from '../log/events.js';
import { decodeRecord } from '../log/record.js';
import { checkAppendStreamText, checkStreamNameText, checkWellFormed } from '../log/stream-name.js';
import type { GroupView } from '../replication/group-view.js';
import { checkExpectedVersion, CLIENT_ID_LENGTH_MAX, type EventSlice, type LogDigest, type MirrorSpec, type TransactionResult } from '../protocol/messages.js';
import type { ServerStatus } from '../protocol/status.js';
import type { Topology } from '../protocol/topology.js';
import type { Direction } from '../store/store.js';
import { systemClock, systemRandom, systemTimers, type Clock, type Random, type Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { eventsOf } from './events.js';
import { Link, type ClientStatus } from './link.js';

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
}

/** Options of {@link connect}. */
export interface ClientOptions {
  /** Transports to dial with; each URL goes to the one handling its scheme. */
  transports: readonly Transport[];
  /**
   * Names this client's transactions in the log (and in `diverged()` reports). Each `connect()`
   * tags them `<clientId>/<random UUID>`, numbered from 1, so the id may be reused, by a later
   * client or by several at once, without one taking another's transaction for a resend.
   * Exactly-once resends hold within one client, across its reconnects and failovers; a new
   * client starts a new sequence, so a transaction whose outcome an old client never learned is
   * found by reading the stream. At most 91 characters. @default a random UUID (used as is)
   */
  clientId?: string;
  /** A name the server shows in logs. @default 'kiln-client' */
  name?: string;
  /** Time a request may take, resends included, before it fails with `TimeoutError`. @default 30000 */
  requestTimeoutMs?: number;
  /** Time to find a server again after a connection drops before requests fail. @default 10000 */
  reconnectWindowMs?: number;
  /**
   * With requests outstanding, a server silent for this long is taken for dead and the client
   * moves on (it pings after half of it). @default 2000
   */
  serverSilenceMs?: number;
  /** Frame cap, queue cap, in-flight cap and idle timeout; must match the server's. */
  limits?: Partial<Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax' | 'inFlightMax' | 'idleTimeoutMs'>>;
  clock?: Clock;
  timers?: Timers;
  random?: Random;
}

/** Options of {@link KilnClient.append}. */
export interface AppendOptions {
  /** The version the stream must be at. @default 'any' */
  expectedVersion?: ExpectedVersion;
}

/** One stream's part of {@link KilnClient.transact}. */
export interface TransactAppend {
  /** The stream's name: see {@link KilnClient.append} for the rule. */
  stream: string;
  /** Events to append; leave out to only check the stream's version. */
  events?: readonly EventData[];
  /** @default 'any' */
  expectedVersion?: ExpectedVersion;
}

/** What an append returns. */
export interface AppendResult {
  /** LSN of the transaction. */
  lsn: number;
  /** Version of the first event appended. */
  firstVersion: number;
  /** Version of the last event appended: pass it as the next append's `expectedVersion`. */
  lastVersion: number;
}

/** Options of {@link KilnClient.read}. */
export interface ReadOptions {
  /** First version to read (forward) or last (backward). @default 0 forward, the end backward */
  fromVersion?: number;
  /** @default 'forward' */
  direction?: Direction;
  /** Events returned at most. @default 1000 */
  maxCount?: number;
}

/** Options of {@link KilnClient.readAll}. */
export interface ReadAllOptions {
  /** First LSN to read (forward) or last (backward). @default 1 forward, the end backward */
  fromLsn?: number;
  /** @default 'forward' */
  direction?: Direction;
  /** Records (transactions) read at most. @default 1000 */
  maxCount?: number;
}

/** Options of {@link KilnClient.subscribe}. */
export interface SubscribeOptions {
  /** First version delivered. @default 0 */
  fromVersion?: number;
}

/** Options of {@link KilnClient.subscribeAll}. */
export interface SubscribeAllOptions {
  /** First LSN delivered. @default 1 */
  fromLsn?: number;
}

const END = Number.MAX_SAFE_INTEGER;

/**
 * Connects to a Kiln server. `urls` may name several servers; the client uses the first that
 * answers and moves to the others if it loses its connection.
 */
export async function connect(urls: string | readonly string[], options: ClientOptions): Promise<KilnClient> {
  const list = typeof urls === 'string' ? [urls] : [...urls];
  if (list.length === 0) throw new InvalidArgumentError('urls', 'must name at least one server');
  if (!options.transports || options.transports.length === 0) throw new InvalidArgumentError('transports', 'must hold at least one transport');
  const random = options.random ?? systemRandom;
  const clientId = sessionClientId(options.clientId, random);
  const link = new Link({
    urls: list,
    transports: options.transports,
    limits: { ...defaultConnectionLimits, ...options.limits },
    name: options.name ?? 'kiln-client',
    requestTimeoutMs: options.requestTimeoutMs ?? defaultClientTiming.requestTimeoutMs,
    reconnectWindowMs: options.reconnectWindowMs ?? defaultClientTiming.reconnectWindowMs,
    serverSilenceMs: options.serverSilenceMs ?? defaultClientTiming.serverSilenceMs,
    clock: options.clock ?? systemClock,
    timers: options.timers ?? systemTimers,
  });
  await link.open();
  return new KilnClient(link, clientId, random);
}

/** Length of the `/<UUID>` a given `clientId` gets. */
const SESSION_SUFFIX_LENGTH = 37;

/**
 * The id this client's transactions carry: unique to this client, since the server tells
 * transactions apart by `(clientId, seq)` and every client numbers its own from 1.
 */
function sessionClientId(clientId: string | undefined, random: Random): string {
  if (clientId === undefined) return random.uuid();
  const lengthMax = CLIENT_ID_LENGTH_MAX - SESSION_SUFFIX_LENGTH;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > lengthMax) {
    throw new InvalidArgumentError('clientId', `must be a string of 1 to ${lengthMax} characters`);
  }
  // The id goes into the log as UTF-8: a lone surrogate would come back as another id after a restart.
  checkWellFormed(clientId, 'clientId');
  return `${clientId}/${random.uuid()}`;
}

/** The events of a page's slices that lie in the range read, in read order. */
function inRange(slices: readonly EventSlice[], direction: Direction, fromVersion: number): RecordedEvent[] {
  // Slices come in read order; a backward read also reverses the events inside each slice.
  return direction === 'forward'
    ? slices.flatMap((s) => eventsOf(s)).filter((e) => e.version >= fromVersion)
    : slices.flatMap((s) => eventsOf(s).reverse()).filter((e) => e.version <= fromVersion);
}

/** A connection to Kiln. Create one with {@link connect}. */
export class KilnClient {
  private seq = 0;

  /** @internal */
  constructor(
    private readonly link: Link,
    /**
     * Tags this client's transactions, with a sequence number, for exactly-once resends: the
     * `clientId` option followed by `/` and a UUID drawn at connect (see {@link ClientOptions.clientId}).
     */
    readonly clientId: string,
    private readonly random: Random,
  ) {}

  /** The connection's state: connected, disconnected, reconnecting, reconnected, failed, closed. */
  get status$(): Observable<ClientStatus> {
    return this.link.status$.asObservable();
  }

  /**
   * Appends events to one stream, atomically.
   *
   * A stream name is a non-empty string of well-formed Unicode (no lone UTF-16 surrogate, which
   * UTF-8 cannot hold), at most the server's `streamNameBytesMax` (512) bytes of UTF-8, not
   * starting with `$`. Every method taking a stream name holds it to this rule.
   * @throws WrongExpectedVersionError when the stream is not at `expectedVersion`
   * @throws InvalidArgumentError when the stream name breaks the rule (an empty or not well-formed
   * name is refused before anything is sent)
   */
  async append(stream: string, events: readonly EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    const result = await this.transact([{ stream, events, expectedVersion: options.expectedVersion ?? 'any' }]);
    const range = result.streams[0]!;
    return { lsn: result.lsn, firstVersion: range.firstVersion, lastVersion: range.firstVersion + range.eventCount - 1 };
  }

  /**
   * Commits appends to several streams, and checks on streams it does not write, as one
   * transaction: all or nothing.
   * @throws WrongExpectedVersionError naming the first stream whose expected version does not hold
   */
  async transact(appends: readonly TransactAppend[]): Promise<TransactionResult> {
    if (!Array.isArray(appends) || appends.length === 0) throw new InvalidArgumentError('appends', 'must hold at least one stream');
    const wire = appends.map((a, i) => {
      checkAppendStreamText(a.stream, i);
      if (a.events !== undefined && (!Array.isArray(a.events) || a.events.length === 0)) {
        throw new InvalidArgumentError(`appends[${i}].events`, 'must be a non-empty array when given');
      }
      const expectedVersion = checkExpectedVersion(a.expectedVersion ?? 'any', `appends[${i}].expectedVersion`);
      return a.events ? { stream: a.stream, expectedVersion, events: encodeEvents(a.events, () => this.random.uuid()) } : { stream: a.stream, expectedVersion };
    });
    // The seq is taken once; a resend after a reconnect carries the same one.
    return this.link.request('transact', { clientId: this.clientId, seq: ++this.seq, appends: wire });
  }

  /**
   * Reads events of one stream, in version order (or reverse): `maxCount` of them, or fewer only
   * when the stream ends first. A stream with no events reads as empty.
   */
  async read(stream: string, options: ReadOptions = {}): Promise<RecordedEvent[]> {
    checkStreamNameText(stream);
    const direction = options.direction ?? 'forward';
    let fromVersion = options.fromVersion ?? (direction === 'forward' ? 0 : END);
    const maxCount = options.maxCount ?? DEFAULT_READ_COUNT;
    const events: RecordedEvent[] = [];
    // The server ends a page early only at its byte cap, and says so: read on from there.
    for (;;) {
      const { slices, truncated } = await this.link.request('read', { stream, fromVersion, direction, maxCount: maxCount - events.length });
      const page = inRange(slices, direction, fromVersion);
      events.push(...page.slice(0, maxCount - events.length));
      const last = events[events.length - 1];
      if (!truncated || page.length === 0 || events.length >= maxCount || !last) return events;
      fromVersion = direction === 'forward' ? last.version + 1 : last.version - 1;
      if (fromVersion < 0) return events;
    }
  }

  /** Reads the whole log by LSN: every event of `maxCount` transactions at most. */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const direction = options.direction ?? 'forward';
    const fromLsn = options.fromLsn ?? (direction === 'forward' ? 1 : END);
    const maxCount = options.maxCount ?? DEFAULT_READ_COUNT;
    const { slices } = await this.link.request('readAll', { fromLsn, direction, maxCount });
    return slices.flatMap((s) => eventsOf(s));
  }

  /**
   * Subscribes to one stream: every event from `fromVersion` on, first those already written,
   * then live, with no gap and no duplicate, across reconnects too.
   */
  subscribe(stream: string, options: SubscribeOptions = {}): Observable<RecordedEvent> {
    return this.observe(stream, options.fromVersion ?? 0);
  }

  /** Subscribes to the whole log from `fromLsn`, as {@link subscribe} does for one stream. */
  subscribeAll(options: SubscribeAllOptions = {}): Observable<RecordedEvent> {
    return this.observe(null, options.fromLsn ?? 1);
  }

  /** The server's status: state, term, LSN, commit index, connections, and its group's. */
  serverStatus(): Promise<ServerStatus> {
    return this.link.request('status', null);
  }

  /** The cluster as the connected server knows it: the slot table, every stripe's servers, and each stripe's active and term. */
  topology(): Promise<Topology> {
    return this.link.request('topology', null);
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
    return this.link.request('addMirror', mirror);
  }

  /**
   * Removes a mirror from the group at runtime (the request goes to the active); resolves with
   * the recorded view.
   *
   * @throws InvalidArgumentError when `name` is no mirror or is the active
   */
  async removeMirror(name: string): Promise<GroupView> {
    return this.link.request('removeMirror', name);
  }

  /**
   * A fingerprint of the log of the server this client is connected to, from LSN 1 through
   * `throughLsn` (or its log's end): equal digests through the same LSN mean equal logs. Compare
   * the members of a group by connecting to each with `reconnectWindowMs: 0`. It reads the whole
   * range from the server's store.
   */
  async logDigest(throughLsn: number): Promise<LogDigest> {
    return this.link.request('logDigest', throughLsn);
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
      const entry = await this.link.request('diverged', index);
      if (!entry) return;
      const { atMs, replacedInTerm, records } = entry;
      for (const { lsn, bytes } of records) {
        const record = decodeRecord(bytes, lsn);
        const events = record.appends.flatMap((a) =>
          eventsOf({ lsn: record.lsn, stream: a.stream, firstVersion: a.firstVersion, eventCount: a.eventCount, timestampMs: record.timestampMs, events: a.events }),
        );
        yield { entry: index, atMs, replacedInTerm, lsn: record.lsn, term: record.term, clientId: record.clientId, seq: record.seq, timestampMs: record.timestampMs, events };
      }
    }
  }

  /** Closes the connection. Requests still in flight fail with `ClientClosedError`. */
  close(): Promise<void> {
    return this.link.close();
  }

  private observe(stream: string | null, from: number): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((subscriber: Subscriber<RecordedEvent>) => {
      // Thrown here, the error reaches the subscriber as the observable's error.
      if (stream !== null) checkStreamNameText(stream);
      let next = from;
      const id = this.link.subscribe({
        resumeArgs: (subscriptionId) => ({ subscriptionId, stream, from: next }),
        deliver: (slices) => {
          let highestLsn = 0;
          for (const slice of slices) {
            if (stream === null) {
              if (slice.lsn < next) continue;
              highestLsn = Math.max(highestLsn, slice.lsn);
              for (const event of eventsOf(slice)) subscriber.next(event);
            } else {
              for (const event of eventsOf(slice)) {
                if (event.version < next) continue;
                next = event.version + 1;
                subscriber.next(event);
              }
            }
          }
          if (stream === null && highestLsn >= next) next = highestLsn + 1;
        },
        fail: (error: KilnError) => subscriber.error(error),
      });
      return () => this.link.unsubscribe(id);
    });
  }
}
