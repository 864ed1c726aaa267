/**
 * The de-duplication table: for each client, the results of its most recent transactions by
 * `seq`, so that a resent transaction gets its original result instead of committing twice.
 * Whether a resend writes what the original wrote is the committer's check, against the original's
 * record (see `sameWrites`): the table keeps results only.
 * It holds only what the log holds (every record carries its `(clientId, seq)` and its writes),
 * so any server rebuilds the same table from the log's tail.
 */
import type { LogLimits } from '../limits.js';
import type { LogRecord } from '../log/record.js';
import { OldestKeys } from '../oldest-keys.js';
import type { TransactionResult } from '../protocol/messages.js';
import type { CheckedStore } from '../store/checked-store.js';
import { answersClient, resultOf } from './transaction-rules.js';

/** Progress reported while the de-duplication table is rebuilt. */
export interface RecoveryProgress {
  scanned: number;
  total: number;
}

interface ClientHistory {
  highestSeq: number;
  /** Results by seq, in commit order, so the oldest is first to go. */
  results: Map<number, TransactionResult>;
  /** The first key of `results`: while it is inside the window and the map not over it, nothing is due to go. */
  oldestSeq: number;
}

/** What the table knows of one `(clientId, seq)`. */
export type DedupLookup = { kind: 'committed'; result: TransactionResult } | { kind: 'expired' } | { kind: 'unknown' };

// Every transaction is looked up: the answers without a result are made once, not per lookup.
const UNKNOWN: DedupLookup = Object.freeze({ kind: 'unknown' });
const EXPIRED: DedupLookup = Object.freeze({ kind: 'expired' });

export class DedupTable {
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recently seen.
  private readonly clients = new Map<string, ClientHistory>();
  private readonly leastRecentClient = new OldestKeys(this.clients);
  /** The client remembered last: the last key of `clients`, which needs no moving to the end. */
  private newestClient: string | undefined;

  constructor(
    /** Results kept per client, counted back from its newest seq. */
    private readonly window: number,
    /** Clients remembered; the least recently seen is forgotten first. */
    private readonly clientsMax: number,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  lookup(clientId: string, seq: number): DedupLookup {
    const history = this.clients.get(clientId);
    if (!history) return UNKNOWN;
    const known = history.results.get(seq);
    if (known) return { kind: 'committed', result: known };
    // A seq this far back may have committed and been forgotten; the server cannot tell.
    if (seq <= history.highestSeq - this.window) return EXPIRED;
    return UNKNOWN;
  }

  remember(clientId: string, seq: number, result: TransactionResult): void {
    let history = this.clients.get(clientId);
    if (!history) {
      history = { highestSeq: seq, results: new Map(), oldestSeq: seq };
      if (this.clients.size >= this.clientsMax) this.leastRecentClient.deleteOldest();
      this.clients.set(clientId, history);
    } else if (clientId !== this.newestClient) {
      this.clients.delete(clientId);
      this.clients.set(clientId, history);
    }
    this.newestClient = clientId;
    history.results.set(seq, result);
    if (seq > history.highestSeq) history.highestSeq = seq;
    // Checked on every commit, walked only when something is due: a key iterator per commit cost more than the rest.
    if (history.oldestSeq > history.highestSeq - this.window && history.results.size <= this.window) return;
    for (const oldSeq of history.results.keys()) {
      if (oldSeq > history.highestSeq - this.window && history.results.size <= this.window) {
        history.oldestSeq = oldSeq;
        return;
      }
      history.results.delete(oldSeq);
    }
  }
}

/**
 * Rebuilds `table` from the log's tail, `dedupRecoveryRecordsMax` records at most, reporting
 * progress along the way; `observe` sees every record scanned.
 */
export async function rebuildDedupTable(table: DedupTable, store: CheckedStore, limits: LogLimits, onProgress?: (progress: RecoveryProgress) => void, observe?: (record: LogRecord) => void): Promise<void> {
  const last = store.lastPosition.lsn;
  let from = Math.max(1, last - limits.dedupRecoveryRecordsMax + 1);
  const total = last - from + 1;
  let scanned = 0;
  while (from <= last) {
    const records = await store.readRecords(from, { direction: 'forward', maxCount: limits.readCountMax, maxBytes: limits.readBytesMax });
    if (records.length === 0) break;
    for (const record of records) {
      if (answersClient(record)) table.remember(record.clientId, record.seq, resultOf(record));
      observe?.(record);
    }
    scanned += records.length;
    from = records[records.length - 1]!.lsn + 1;
    onProgress?.({ scanned, total });
  }
}
