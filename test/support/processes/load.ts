// A write load for crash tests, and the ledger that judges what the log holds afterwards.
//
// Every event carries a unique id, so one read of the log tells exactly which transactions it
// holds (the Elle/Jepsen queue-checker idea). A transaction is `acked` when the client got its
// result, `rejected` when the server refused it for certain (WrongExpectedVersion), and
// `indeterminate` when its connection died under it: then it may or may not be in the log, but at
// most once.
import { EventEmitter } from 'node:events';
import { connect, type KilnClient, type RecordedEvent, type TransactionResult } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { seededRandom } from '../cluster.js';

export type TxnState = 'pending' | 'acked' | 'rejected' | 'indeterminate';

export interface LedgerTxn {
  key: string;
  /** Event ids per stream, in the order they were sent. */
  appends: Array<{ stream: string; ids: string[] }>;
  state: TxnState;
  result?: TransactionResult;
  /** When the acknowledgement arrived (`performance.now()`). */
  ackedAtMs?: number;
  /** Error name when not acked. */
  error?: string;
}

/** Errors a kill or a restart can cause; anything else is a finding. */
const EXPECTED_ERRORS = new Set(['ConnectionClosedError', 'TimeoutError', 'ClientClosedError', 'ServerShuttingDownError', 'WrongExpectedVersionError']);

export class Ledger extends EventEmitter {
  readonly txns = new Map<string, LedgerTxn>();
  readonly byEvent = new Map<string, LedgerTxn>();
  ackedCount = 0;
  readonly errorCounts = new Map<string, number>();
  /** Errors outside EXPECTED_ERRORS, with their messages. */
  readonly unexpected: string[] = [];

  add(txn: LedgerTxn): void {
    this.txns.set(txn.key, txn);
    for (const a of txn.appends) for (const id of a.ids) this.byEvent.set(id, txn);
  }

  ack(txn: LedgerTxn, result: TransactionResult): void {
    txn.state = 'acked';
    txn.result = result;
    txn.ackedAtMs = performance.now();
    this.ackedCount++;
    this.emit('ack', this.ackedCount);
  }

  failed(txn: LedgerTxn, error: unknown): void {
    const name = (error as Error)?.name ?? String(error);
    txn.error = name;
    txn.state = name === 'WrongExpectedVersionError' ? 'rejected' : 'indeterminate';
    this.errorCounts.set(name, (this.errorCounts.get(name) ?? 0) + 1);
    if (!EXPECTED_ERRORS.has(name)) this.unexpected.push(`${name}: ${(error as Error)?.message}`);
  }

  acked(): LedgerTxn[] {
    return [...this.txns.values()].filter((t) => t.state === 'acked');
  }

  /** Resolves once `ackedCount >= target`, or rejects after `timeoutMs`. Waits on ack events, not on time. */
  waitForAcks(target: number, timeoutMs = 20_000): Promise<void> {
    if (this.ackedCount >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAck = (count: number): void => {
        if (count < target) return;
        this.off('ack', onAck);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('ack', onAck);
        reject(new Error(`only ${this.ackedCount} of ${target} acknowledgements within ${timeoutMs} ms; errors ${JSON.stringify([...this.errorCounts])}`));
      }, timeoutMs);
      this.on('ack', onAck);
    });
  }
}

export interface LoadOptions {
  url: string;
  ledger: Ledger;
  seed: number;
  /** Writers whose client resends in-flight transactions itself across a restart (long reconnect window). */
  resendingWriters: number;
  /** Writers with a short reconnect window that make a new client (new clientId) after each failure. */
  reconnectingWriters: number;
  /** Shared streams the writers contend on. @default 6 */
  sharedStreams?: number;
}

export interface Load {
  /** Stops every writer after its current request and waits for all of them. */
  stop(): Promise<void>;
  readonly streams: string[];
}

/** Starts the writers. Each resending writer runs three loops on one client; a reconnecting writer runs one. */
export function startLoad(options: LoadOptions): Load {
  const { ledger } = options;
  const random = seededRandom(options.seed);
  const sharedCount = options.sharedStreams ?? 6;
  const shared = Array.from({ length: sharedCount }, (_, i) => `shared-${i}`);
  const streams = [...shared];
  let stopping = false;
  let txnNumber = 0;
  const tcp = tcpTransport();

  const newTxn = (writer: string, picks: string[], eventsPer: () => number): LedgerTxn => {
    const n = txnNumber++;
    let k = 0;
    const txn: LedgerTxn = {
      key: `${writer}-t${n}`,
      appends: picks.map((stream) => ({ stream, ids: Array.from({ length: eventsPer() }, () => `${writer}-t${n}-e${k++}`) })),
      state: 'pending',
    };
    ledger.add(txn);
    return txn;
  };
  const pickShared = (): string[] => {
    const first = shared[random.int(0, sharedCount - 1)]!;
    if (random.next() >= 0.2) return [first];
    const second = shared[random.int(0, sharedCount - 1)]!;
    return second === first ? [first] : [first, second];
  };
  const send = (client: KilnClient, txn: LedgerTxn, expected: (stream: string) => number | 'any' | 'no-stream'): Promise<TransactionResult> =>
    client.transact(
      txn.appends.map((a) => ({
        stream: a.stream,
        expectedVersion: expected(a.stream),
        events: a.ids.map((id) => ({ id, type: 'Load', data: { id, stream: a.stream } })),
      })),
    );

  const openClient = (reconnectWindowMs: number): Promise<KilnClient> =>
    connect(options.url, { transports: [tcp], reconnectWindowMs, requestTimeoutMs: 30_000 });

  /** Tries to connect until it works or the load stops; a server being restarted refuses for a while. */
  const reconnectUntilUp = async (reconnectWindowMs: number): Promise<KilnClient | undefined> => {
    const deadline = Date.now() + 60_000;
    while (!stopping) {
      try {
        return await openClient(reconnectWindowMs);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    return undefined;
  };

  // A loop appending 1-3 events to one or two shared streams with expectedVersion 'any'.
  const sharedLoop = async (writer: string, client: () => KilnClient | undefined, onFailure: () => Promise<void>): Promise<void> => {
    while (!stopping) {
      const c = client();
      if (!c) return;
      const txn = newTxn(writer, pickShared(), () => random.int(1, 3));
      try {
        ledger.ack(txn, await send(c, txn, () => 'any'));
      } catch (error) {
        ledger.failed(txn, error);
        await onFailure();
      }
    }
  };

  // A loop appending to the writer's own stream with an exact expected version, learning the
  // version again after any failure. A WrongExpectedVersion refusal must leave nothing behind.
  const ownLoop = async (writer: string, client: KilnClient): Promise<void> => {
    const stream = `own-${writer}`;
    streams.push(stream);
    let believed: number | 'no-stream' = 'no-stream';
    while (!stopping) {
      // Now and then guess wrong on purpose, so refusals happen under load too.
      const wrong = random.next() < 0.1;
      const expected: number | 'no-stream' = wrong ? (believed === 'no-stream' ? 5 : believed + 3) : believed;
      const txn = newTxn(writer, [stream], () => random.int(1, 2));
      try {
        const result = await send(client, txn, () => expected);
        ledger.ack(txn, result);
        const range = result.streams[0]!;
        believed = range.firstVersion + range.eventCount - 1;
      } catch (error) {
        ledger.failed(txn, error);
        if (stopping) return;
        try {
          const [head] = await client.read(stream, { direction: 'backward', maxCount: 1 });
          believed = head ? head.version : 'no-stream';
        } catch {
          // The server is down; the client keeps reconnecting, and the next append will tell.
        }
      }
    }
  };

  const loops: Array<Promise<void>> = [];
  const clients = new Set<KilnClient>();

  for (let w = 0; w < options.resendingWriters; w++) {
    const writer = `r${w}`;
    loops.push(
      (async () => {
        const client = await reconnectUntilUp(60_000);
        if (!client) return;
        clients.add(client);
        // Failures are rare here (the client resends across restarts): carry on with the same client.
        const same = (): KilnClient => client;
        await Promise.all([sharedLoop(writer, same, async () => {}), sharedLoop(writer, same, async () => {}), ownLoop(writer, client)]);
      })(),
    );
  }
  for (let w = 0; w < options.reconnectingWriters; w++) {
    const writer = `c${w}`;
    loops.push(
      (async () => {
        let client: KilnClient | undefined = await reconnectUntilUp(100);
        if (!client) return;
        clients.add(client);
        await sharedLoop(
          writer,
          () => client,
          async () => {
            const old = client!;
            clients.delete(old);
            await old.close();
            client = await reconnectUntilUp(100);
            if (client) clients.add(client);
          },
        );
      })(),
    );
  }

  // A writer that dies of an error is a finding, reported with the rest, not an unhandled rejection.
  const guarded = loops.map((loop) => loop.catch((error: unknown) => void ledger.unexpected.push(`writer died: ${(error as Error)?.stack ?? error}`)));

  return {
    streams,
    async stop() {
      stopping = true;
      await Promise.all(guarded);
      await Promise.all([...clients].map((c) => c.close()));
    },
  };
}

/** One event as a read of the whole log returned it. */
export type SeenEvent = Pick<RecordedEvent, 'lsn' | 'stream' | 'version' | 'id'>;

/** Reads the whole log, LSN 1 onwards, in pages, until a page comes back empty. */
export async function readWholeLog(client: KilnClient): Promise<SeenEvent[]> {
  const out: SeenEvent[] = [];
  for (let fromLsn = 1; ; ) {
    const page = await client.readAll({ fromLsn, maxCount: 1000 });
    if (page.length === 0) return out;
    for (const e of page) out.push({ lsn: e.lsn, stream: e.stream, version: e.version, id: e.id });
    fromLsn = page[page.length - 1]!.lsn + 1;
  }
}

/**
 * Checks a read of the whole log against the ledger and returns a list of violations (empty when
 * all is well):
 * - LSNs are dense from 1, and each stream's versions are dense from 0 in LSN order;
 * - every event id is one the load wrote (no invented values), and appears once (no duplicates);
 * - each record holds exactly one transaction's events, all of them (atomicity);
 * - every transaction in `mustHold` is there, at the LSN and versions its acknowledgement gave;
 * - no refused transaction is there.
 */
export function checkLog(events: readonly SeenEvent[], ledger: Ledger, mustHold: Iterable<LedgerTxn>): string[] {
  const problems: string[] = [];
  const report = (message: string): void => {
    if (problems.length < 20) problems.push(message);
  };
  const heads = new Map<string, number>();
  const byId = new Map<string, SeenEvent>();
  const byLsn = new Map<number, SeenEvent[]>();
  let lastLsn = 0;
  for (const e of events) {
    if (e.lsn !== lastLsn && e.lsn !== lastLsn + 1) report(`LSN gap: ${lastLsn} then ${e.lsn}`);
    lastLsn = e.lsn;
    const version = heads.get(e.stream) ?? -1;
    if (e.version !== version + 1) report(`stream ${e.stream}: version ${e.version} follows ${version} (LSN ${e.lsn})`);
    heads.set(e.stream, e.version);
    if (byId.has(e.id)) report(`event ${e.id} appears twice: LSN ${byId.get(e.id)!.lsn} and ${e.lsn}`);
    byId.set(e.id, e);
    if (!ledger.byEvent.has(e.id)) report(`event ${e.id} at LSN ${e.lsn} was never written`);
    let list = byLsn.get(e.lsn);
    if (!list) byLsn.set(e.lsn, (list = []));
    list.push(e);
  }
  for (const [lsn, list] of byLsn) {
    const txn = ledger.byEvent.get(list[0]!.id);
    if (!txn) continue;
    const expected = txn.appends.flatMap((a) => a.ids).sort();
    const got = list.map((e) => e.id).sort();
    if (JSON.stringify(expected) !== JSON.stringify(got)) report(`LSN ${lsn} holds ${got.join(',')} but transaction ${txn.key} is ${expected.join(',')}`);
    if (txn.state === 'rejected') report(`refused transaction ${txn.key} (${txn.error}) is in the log at LSN ${lsn}`);
  }
  for (const txn of mustHold) {
    const result = txn.result!;
    for (const append of txn.appends) {
      const range = result.streams.find((s) => s.stream === append.stream);
      append.ids.forEach((id, k) => {
        const seen = byId.get(id);
        if (!seen) report(`acknowledged event ${id} (${txn.key}, LSN ${result.lsn}) is missing`);
        else if (seen.lsn !== result.lsn || seen.stream !== append.stream || seen.version !== (range?.firstVersion ?? NaN) + k) {
          report(`acknowledged event ${id} is at ${seen.stream}@${seen.version} LSN ${seen.lsn}, but its ack said LSN ${result.lsn} version ${(range?.firstVersion ?? NaN) + k}`);
        }
      });
    }
  }
  return problems;
}
