/**
 * The simulation's clients: each a process that connects through the simulated network and runs
 * appends with expected versions, multi-stream transactions and reads, recording every operation
 * as a Jepsen-style history for the checker (invoke, then ok, fail or info, at virtual times).
 */
import { ClientClosedError, WrongExpectedVersionError } from '../../errors.js';
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

/** Error names that mean the transaction certainly did not commit. */
const DEFINITE_FAILURES = new Set([WrongExpectedVersionError.name]);

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
  private readonly streams: string[];
  private subscription: { log: SubscriptionLog; client: KilnClient | undefined; stop: (() => void) | undefined } | undefined;
  private finished = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    private readonly urls: readonly string[],
    options: WorkloadOptions = {},
  ) {
    this.settings = {
      processes: options.processes ?? 3,
      opsPerProcess: options.opsPerProcess ?? 30,
      streams: options.streams ?? 3,
      thinkMs: options.thinkMs ?? [0, 20],
      readProbability: options.readProbability ?? 0.25,
      multiStreamProbability: options.multiStreamProbability ?? 0.25,
      expectedVersionProbability: options.expectedVersionProbability ?? 0.6,
      requestTimeoutMs: options.requestTimeoutMs ?? 4000,
      reconnectWindowMs: options.reconnectWindowMs ?? 6000,
      subscribe: options.subscribe ?? true,
    };
    this.history = new HistoryRecorder(scheduler);
    this.randoms = Array.from({ length: this.settings.processes + 1 }, () => scheduler.random.fork());
    this.streams = Array.from({ length: this.settings.streams }, (_, i) => `stream-${i}`);
  }

  /** Processes that have finished. */
  get finishedCount(): number {
    return this.finished;
  }

  /** Every client node's name (to pause or cut off). */
  get nodeNames(): string[] {
    return Array.from({ length: this.settings.processes }, (_, p) => `c${p}`);
  }

  /** The subscriber's node name. */
  get subscriberName(): string {
    return `sub${this.settings.processes}`;
  }

  /** Runs every process to the end; resolves when all are done. */
  async run(): Promise<void> {
    if (this.settings.subscribe) void this.startSubscription();
    await Promise.all(Array.from({ length: this.settings.processes }, (_, p) => this.process(p)));
  }

  /** What the subscription delivered (empty without one). */
  subscriptionLogs(): SubscriptionLog[] {
    return this.subscription ? [this.subscription.log] : [];
  }

  /** Ends the subscription and closes its client. */
  async stopSubscription(): Promise<void> {
    const subscription = this.subscription;
    if (!subscription) return;
    subscription.stop?.();
    subscription.stop = undefined;
    const client = subscription.client;
    subscription.client = undefined;
    await client?.close();
  }

  private async connect(node: SimNode, random: Prng, clientId: string): Promise<KilnClient> {
    return connect(this.urls, {
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
    let client: KilnClient | undefined;
    let failed = false;
    let sessions = 0;
    let refused = 0;
    let eventCount = 0;
    for (let i = 0; i < this.settings.opsPerProcess; i++) {
      await sleep(random.int(this.settings.thinkMs[0], this.settings.thinkMs[1]));
      if (client && failed) {
        await client.close();
        client = undefined;
      }
      if (!client) {
        try {
          const next = await this.connect(node, random, `c${p}-${sessions++}`);
          failed = false;
          next.status$.subscribe((status) => {
            if (status.type === 'failed') failed = true;
          });
          client = next;
          refused = 0;
        } catch {
          // No server answered: back off and try again, without spending the operation.
          if (++refused <= CONNECT_ATTEMPTS_MAX) i--;
          await sleep(random.int(50, 500));
          continue;
        }
      }
      if (random.chance(this.settings.readProbability)) await this.read(p, client, random, known);
      else {
        const newId = (): string => `p${p}-${eventCount++}`;
        await this.write(p, client, random, known, newId);
      }
    }
    await client?.close();
    this.finished++;
    this.scheduler.note(`process ${p} finished`);
  }

  private async write(p: number, client: KilnClient, random: Prng, known: Map<string, number>, newId: () => string): Promise<void> {
    const count = random.chance(this.settings.multiStreamProbability) && this.streams.length > 1 ? 2 : 1;
    const chosen: string[] = [];
    while (chosen.length < count) {
      const stream = random.pick(this.streams);
      if (!chosen.includes(stream)) chosen.push(stream);
    }
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
      this.noteUnexpected(error);
      this.history.add({ process: p, type: DEFINITE_FAILURES.has(name) ? 'fail' : 'info', f: 'append', error: name });
    }
  }

  private async read(p: number, client: KilnClient, random: Prng, known: Map<string, number>): Promise<void> {
    const maxCount = 4096;
    const all = random.chance(0.3);
    const stream = all ? null : random.pick(this.streams);
    const from = all ? 1 : 0;
    this.history.add({ process: p, type: 'invoke', f: 'read', read: { stream, from, maxCount } });
    try {
      const events = stream === null ? await client.readAll({ fromLsn: 1, maxCount }) : await client.read(stream, { fromVersion: 0, maxCount });
      if (stream !== null && events.length > 0) known.set(stream, events[events.length - 1]!.version);
      this.history.add({ process: p, type: 'ok', f: 'read', read: { stream, from, maxCount, events: events.map(position) } });
    } catch (error) {
      this.noteUnexpected(error);
      // A read changes nothing, so a read that did not answer is a plain failure.
      this.history.add({ process: p, type: 'fail', f: 'read', error: errorName(error) });
    }
  }

  private async startSubscription(): Promise<void> {
    const p = this.settings.processes;
    const random = this.randoms[p]!;
    const node = this.scheduler.spawn(this.subscriberName);
    const log: SubscriptionLog = { name: '$all', stream: null, from: 1, events: [] };
    this.subscription = { log, client: undefined, stop: undefined };
    try {
      const client = await this.connect(node, random, `sub-${p}`);
      if (this.subscription.stop === undefined && this.subscription.client === undefined) this.subscription.client = client;
      const subscription = client.subscribeAll({ fromLsn: 1 }).subscribe({
        next: (event: RecordedEvent) => {
          log.events.push(position(event));
          this.scheduler.note(`delivered ${event.id} lsn ${event.lsn}`);
        },
        error: (error: unknown) => this.scheduler.note(`subscription ended: ${errorName(error)}`),
      });
      this.subscription.stop = () => subscription.unsubscribe();
    } catch (error) {
      this.scheduler.note(`subscriber could not connect: ${errorName(error)}`);
    }
  }

  private noteUnexpected(error: unknown): void {
    const name = errorName(error);
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
