/**
 * The simulation's clients: each a process that connects through the simulated network and runs
 * appends with expected versions, multi-stream transactions and reads, recording every operation
 * as a Jepsen-style history for the checker (invoke, then ok, fail or info, at virtual times).
 *
 * In a cluster of several stripes a process keeps one client per stripe, connected to that
 * stripe's servers, and sends each operation to the stripe of its streams (the slot table's
 * routing, done here until the client routes by itself). Streams come in hash-tagged pairs
 * (`acct-{3}`, `ledger-{3}`) so that two-stream transactions within one stripe exist; a share of
 * transactions spans two stripes on purpose, committed all or nothing (two-phase commit).
 */
import { ClientClosedError, CrossStripeTransactionError, StreamBusyError, WrongExpectedVersionError, WrongStripeError } from '../../errors.js';
import { connect, type KilnClient, type TransactAppend } from '../../client/client.js';
import type { RecordedEvent } from '../../log/events.js';
import type { EventPosition, HistoryAppend, HistoryOp, SubscriptionLog } from '../checker/types.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler, SimNode } from './scheduler.js';

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  /** Client processes, each with one operation in flight at a time. @default 3 */
  processes?: number;
  /** Operations each process issues. @default 30 */
  opsPerProcess?: number;
  /** Streams written and read: `stream-0` ... @default 3 */
  streams?: number;
  /** Pause between a process's operations, in virtual ms: [min, max]. @default [0, 20] */
  thinkMs?: [number, number];
  /** Share of operations that read (a stream or `$all`). @default 0.25 */
  readProbability?: number;
  /** Share of writes that span two streams. @default 0.25 */
  multiStreamProbability?: number;
  /** With several stripes: share of writes that span two stripes (committed over both, or over neither). @default 0.12 */
  crossStripeProbability?: number;
  /** Share of stream appends that carry the version the process last saw instead of `'any'`. @default 0.6 */
  expectedVersionProbability?: number;
  /** The clients' request timeout, in virtual ms. @default 4000 */
  requestTimeoutMs?: number;
  /** The clients' reconnect window, in virtual ms. @default 6000 */
  reconnectWindowMs?: number;
  /** Also subscribe to `$all` from one extra client and record what it delivers. @default true */
  subscribe?: boolean;
}

/** Failed connects in a row after which a process gives up an operation. */
const CONNECT_ATTEMPTS_MAX = 100;

/**
 * Error names that mean the transaction certainly did not commit: a stripe refuses streams before
 * it commits anything, and a transaction over several stripes that a participant voted no on was
 * aborted before any part became visible.
 */
const DEFINITE_FAILURES = new Set([WrongExpectedVersionError.name, StreamBusyError.name, WrongStripeError.name]);

/** Where the workload's streams live: each stripe's servers, and the stripe of a stream. */
export interface WorkloadCluster {
  /** Each stripe's name and its servers' client URLs, in the layout's order. */
  stripes: ReadonlyArray<{ name: string; urls: readonly string[] }>;
  /** The index of the stripe holding `stream` (the slot table's routing). */
  stripeOf(stream: string): number;
}

/** A client of one stripe, and whether it has given up (it is then replaced). */
interface StripeSession {
  client: KilnClient;
  failed: boolean;
}

/** The history, in the shape the checker (`checkHistory`) takes. */
export class HistoryRecorder {
  /** Entries so far, in order. */
  readonly ops: HistoryOp[] = [];

  constructor(private readonly scheduler: Scheduler) {}

  /** Records one entry at the current virtual time. */
  add(entry: Omit<HistoryOp, 'index' | 'timeMs'>): void {
    const op: HistoryOp = { ...entry, index: this.ops.length, timeMs: this.scheduler.now };
    this.ops.push(op);
    this.scheduler.note(`history ${op.process} ${op.type} ${op.f}${op.error ? ` ${op.error}` : ''}${op.result ? ` lsn ${op.result.lsn}` : ''}`);
  }
}

/**
 * Client processes running a random workload against the servers at `urls`. Call {@link run};
 * it resolves once every process has finished its operations and closed its client.
 */
export class Workload {
  /** The history recorded so far. */
  readonly history: HistoryRecorder;
  /** Errors no correct server should cause (bad arguments, protocol errors), for the report. */
  readonly unexpectedErrors: string[] = [];
  private readonly settings: Required<WorkloadOptions>;
  private readonly randoms: Prng[];
  private readonly cluster: WorkloadCluster;
  /** The streams of each stripe. */
  private readonly streams: string[][];
  /** One `$all` subscription per stripe, once started. */
  private readonly subscriptions: Array<{ log: SubscriptionLog; client: KilnClient | undefined; stop: (() => void) | undefined }> = [];
  private finished = 0;

  /** `cluster`: the servers' client URLs (one stripe), or the stripes of a cluster of several. */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    cluster: readonly string[] | WorkloadCluster,
    options: WorkloadOptions = {},
  ) {
    this.settings = {
      processes: options.processes ?? 3,
      opsPerProcess: options.opsPerProcess ?? 30,
      streams: options.streams ?? 3,
      thinkMs: options.thinkMs ?? [0, 20],
      readProbability: options.readProbability ?? 0.25,
      multiStreamProbability: options.multiStreamProbability ?? 0.25,
      crossStripeProbability: options.crossStripeProbability ?? 0.12,
      expectedVersionProbability: options.expectedVersionProbability ?? 0.6,
      requestTimeoutMs: options.requestTimeoutMs ?? 4000,
      reconnectWindowMs: options.reconnectWindowMs ?? 6000,
      subscribe: options.subscribe ?? true,
    };
    this.history = new HistoryRecorder(scheduler);
    this.cluster = isCluster(cluster) ? cluster : { stripes: [{ name: '', urls: cluster }], stripeOf: () => 0 };
    const stripeCount = this.cluster.stripes.length;
    // A subscriber per stripe: the first shares the processes' draws, as with one stripe.
    this.randoms = Array.from({ length: this.settings.processes + stripeCount }, () => scheduler.random.fork());
    this.streams = stripeCount === 1 ? [Array.from({ length: this.settings.streams }, (_, i) => `stream-${i}`)] : taggedStreams(this.cluster, this.settings.streams);
  }

  /** Processes that have finished. */
  get finishedCount(): number {
    return this.finished;
  }

  /** Every client node's name (to pause or cut off). */
  get nodeNames(): string[] {
    return Array.from({ length: this.settings.processes }, (_, p) => `c${p}`);
  }

  /** The subscribers' node names, one per stripe. */
  get subscriberNames(): string[] {
    const first = `sub${this.settings.processes}`;
    return this.cluster.stripes.length === 1 ? [first] : this.cluster.stripes.map((s) => `${first}-${s.name}`);
  }

  /** Runs every process to the end; resolves when all are done. */
  async run(): Promise<void> {
    if (this.settings.subscribe) this.cluster.stripes.forEach((_, stripe) => void this.startSubscription(stripe));
    await Promise.all(Array.from({ length: this.settings.processes }, (_, p) => this.process(p)));
  }

  /** What the subscription of `stripe` delivered (empty without one). */
  subscriptionLogs(stripe = 0): SubscriptionLog[] {
    const subscription = this.subscriptions[stripe];
    return subscription ? [subscription.log] : [];
  }

  /** Ends the subscriptions and closes their clients. */
  async stopSubscription(): Promise<void> {
    for (const subscription of this.subscriptions) {
      subscription.stop?.();
      subscription.stop = undefined;
      const client = subscription.client;
      subscription.client = undefined;
      await client?.close();
    }
  }

  private async connect(node: SimNode, random: Prng, clientId: string, stripe: number): Promise<KilnClient> {
    return connect(this.cluster.stripes[stripe]!.urls, {
      transports: [this.network.transport(node.name)],
      clientId,
      name: clientId,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      reconnectWindowMs: this.settings.reconnectWindowMs,
      clock: this.scheduler.clock(node),
      timers: this.scheduler.timers(node),
      random,
    });
  }

  private async process(p: number): Promise<void> {
    const random = this.randoms[p]!;
    const node = this.scheduler.spawn(`c${p}`);
    const timers = this.scheduler.timers(node);
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => timers.setTimeout(resolve, ms));
    const known = new Map<string, number>();
    const clients = new Map<number, StripeSession>();
    const stripeCount = this.cluster.stripes.length;
    let sessions = 0;
    let refused = 0;
    let eventCount = 0;
    for (let i = 0; i < this.settings.opsPerProcess; i++) {
      await sleep(random.int(this.settings.thinkMs[0], this.settings.thinkMs[1]));
      // The operation's stripe first, then its streams within it (no draw with one stripe).
      const stripe = stripeCount > 1 ? random.int(0, stripeCount - 1) : 0;
      let session = clients.get(stripe);
      if (session?.failed) {
        await session.client.close();
        clients.delete(stripe);
        session = undefined;
      }
      if (!session) {
        try {
          const client = await this.connect(node, random, `c${p}-${sessions++}`, stripe);
          const next: StripeSession = { client, failed: false };
          client.status$.subscribe((status) => {
            if (status.type === 'failed') next.failed = true;
          });
          clients.set(stripe, (session = next));
          refused = 0;
        } catch {
          // No server answered: back off and try again, without spending the operation.
          if (++refused <= CONNECT_ATTEMPTS_MAX) i--;
          await sleep(random.int(50, 500));
          continue;
        }
      }
      if (random.chance(this.settings.readProbability)) await this.read(p, stripe, session.client, random, known);
      else {
        const newId = (): string => `p${p}-${eventCount++}`;
        await this.write(p, stripe, session.client, random, known, newId);
      }
    }
    for (const session of clients.values()) await session.client.close();
    this.finished++;
    this.scheduler.note(`process ${p} finished`);
  }

  private async write(p: number, stripe: number, client: KilnClient, random: Prng, known: Map<string, number>, newId: () => string): Promise<void> {
    const chosen = this.drawStreams(stripe, random);
    const appends: TransactAppend[] = [];
    const historyAppends: HistoryAppend[] = [];
    for (const stream of chosen) {
      const ids = Array.from({ length: random.int(1, 3) }, newId);
      const head = known.get(stream);
      const expectedVersion = random.chance(this.settings.expectedVersionProbability) ? (head === undefined ? 'no-stream' : head) : 'any';
      appends.push({ stream, expectedVersion, events: ids.map((id) => ({ id, type: 'sim', data: { p } })) });
      historyAppends.push({ stream, eventIds: ids, expectedVersion });
    }
    this.history.add({ process: p, type: 'invoke', f: 'append', txn: { appends: historyAppends } });
    try {
      const result = await client.transact(appends);
      for (const range of result.streams) known.set(range.stream, range.firstVersion + range.eventCount - 1);
      this.history.add({ process: p, type: 'ok', f: 'append', result: { lsn: result.lsn, streams: result.streams.map((r) => ({ ...r })) } });
    } catch (error) {
      const name = errorName(error);
      if (error instanceof WrongExpectedVersionError && Number.isSafeInteger(error.actual)) {
        if (error.actual < 0) known.delete(error.stream);
        else known.set(error.stream, error.actual);
      }
      this.noteUnexpected(error, chosen, stripe);
      this.history.add({ process: p, type: DEFINITE_FAILURES.has(name) ? 'fail' : 'info', f: 'append', error: name });
    }
  }

  /**
   * The streams of one write to `stripe`: one, two of that stripe (often a hash-tagged pair), or,
   * with several stripes only, one of it and one of another stripe (a transaction over two).
   */
  private drawStreams(stripe: number, random: Prng): string[] {
    const own = this.streams[stripe]!;
    const stripeCount = this.streams.length;
    if (stripeCount > 1 && random.chance(this.settings.crossStripeProbability)) {
      const other = (stripe + random.int(1, stripeCount - 1)) % stripeCount;
      return [random.pick(own), random.pick(this.streams[other]!)];
    }
    const count = random.chance(this.settings.multiStreamProbability) && own.length > 1 ? 2 : 1;
    const chosen: string[] = [];
    while (chosen.length < count) {
      const stream = random.pick(own);
      if (!chosen.includes(stream)) chosen.push(stream);
    }
    return chosen;
  }

  private async read(p: number, stripe: number, client: KilnClient, random: Prng, known: Map<string, number>): Promise<void> {
    const maxCount = 4096;
    const all = random.chance(0.3);
    const stream = all ? null : random.pick(this.streams[stripe]!);
    const from = all ? 1 : 0;
    // With several stripes, `$all` is one stripe's log: say which.
    const where = all && this.streams.length > 1 ? { stripe: this.cluster.stripes[stripe]!.name } : {};
    this.history.add({ process: p, type: 'invoke', f: 'read', read: { stream, from, maxCount, ...where } });
    try {
      const events = stream === null ? await client.readAll({ fromLsn: 1, maxCount, ...where }) : await client.read(stream, { fromVersion: 0, maxCount });
      if (stream !== null && events.length > 0) known.set(stream, events[events.length - 1]!.version);
      this.history.add({ process: p, type: 'ok', f: 'read', read: { stream, from, maxCount, ...where, events: events.map(position) } });
    } catch (error) {
      this.noteUnexpected(error, stream === null ? [] : [stream], stripe);
      // A read changes nothing, so a read that did not answer is a plain failure.
      this.history.add({ process: p, type: 'fail', f: 'read', error: errorName(error) });
    }
  }

  private async startSubscription(stripe: number): Promise<void> {
    const p = this.settings.processes;
    const random = this.randoms[p + stripe]!;
    const name = this.subscriberNames[stripe]!;
    const node = this.scheduler.spawn(name);
    const several = this.cluster.stripes.length > 1;
    const stripeName = this.cluster.stripes[stripe]!.name;
    const log: SubscriptionLog = { name: several ? `$all of stripe ${stripeName}` : '$all', stream: null, from: 1, events: [] };
    const subscription: (typeof this.subscriptions)[number] = { log, client: undefined, stop: undefined };
    this.subscriptions[stripe] = subscription;
    try {
      const client = await this.connect(node, random, several ? `sub-${p}-${stripeName}` : `sub-${p}`, stripe);
      if (subscription.stop === undefined && subscription.client === undefined) subscription.client = client;
      const live = client.subscribeAll({ fromLsn: 1, ...(several ? { stripe: stripeName } : {}) }).subscribe({
        next: (event: RecordedEvent) => {
          log.events.push(position(event));
          this.scheduler.note(`delivered ${event.id} lsn ${event.lsn}`);
        },
        error: (error: unknown) => this.scheduler.note(`subscription ended: ${errorName(error)}`),
      });
      subscription.stop = () => live.unsubscribe();
    } catch (error) {
      this.scheduler.note(`subscriber could not connect: ${errorName(error)}`);
    }
  }

  /** `streams`: those of the operation, sent to `stripe`; a stripe refusing streams it holds misroutes, and a transaction over several stripes is never refused. */
  private noteUnexpected(error: unknown, streams: readonly string[], stripe: number): void {
    const name = errorName(error);
    const refused = error instanceof WrongStripeError || error instanceof CrossStripeTransactionError;
    if (error instanceof CrossStripeTransactionError || (refused && streams.every((s) => this.cluster.stripeOf(s) === stripe))) {
      this.unexpectedErrors.push(`${name} for streams [${streams.join(', ')}] of stripe ${this.cluster.stripes[stripe]!.name}, sent to that stripe: ${error.message}`);
      return;
    }
    if (name === 'InvalidArgumentError' || name === 'ProtocolError' || !(error instanceof Error) || error instanceof ClientClosedError) {
      this.unexpectedErrors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function position(event: RecordedEvent): EventPosition {
  return { stream: event.stream, version: event.version, lsn: event.lsn, id: event.id };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function isCluster(cluster: readonly string[] | WorkloadCluster): cluster is WorkloadCluster {
  return !Array.isArray(cluster);
}

/**
 * Streams for a cluster of several stripes: pairs `acct-{t}` and `ledger-{t}` sharing hash tag
 * `t` (so the same stripe), with tags picked so that every stripe holds at least one pair, and at
 * least `pairs` pairs in all.
 */
function taggedStreams(cluster: WorkloadCluster, pairs: number): string[][] {
  const streams = cluster.stripes.map((): string[] => []);
  let tags = 0;
  for (let tag = 0; tags < pairs || streams.some((s) => s.length === 0); tag++) {
    const acct = `acct-{${tag}}`;
    const stripe = cluster.stripeOf(acct);
    // Past the pairs asked for, only stripes still without streams take a tag.
    if (tags >= pairs && streams[stripe]!.length > 0) continue;
    streams[stripe]!.push(acct, `ledger-{${tag}}`);
    tags++;
  }
  return streams;
}
