/**
 * Pairs a history's invokes with their completions (in order, per process) and folds the appends
 * into logical transactions: a resend (an invoke whose first event id repeats an earlier one) is
 * another attempt of the same transaction.
 */
import type { Report } from './report.js';
import type { EventPosition, HistoryAppend, HistoryAppendedRange, HistoryOp } from './types.js';

/** One invoke of a transaction and how it ended. */
export interface Attempt {
  /** The process that sent it. */
  process: number | string;
  /** History index of its invoke. */
  invokeIndex: number;
  /** Time of its invoke. */
  invokeMs: number;
  /** `Infinity` when the invoke never completed. */
  completeMs: number;
  /** An invoke that never completed is `info`. */
  type: 'ok' | 'fail' | 'info';
  /** The acknowledgement's LSN and versions, on `ok` (see {@link HistoryOp.result}). */
  result?: { lsn: number; streams: HistoryAppendedRange[]; participant?: boolean };
  /** The error's name, on `fail` and `info`. */
  error?: string;
}

/** A logical transaction: one set of events, sent one or more times. */
export interface Txn {
  /** Its first event id, or `#<invoke index>` when it appends no events. */
  key: string;
  /** What the first attempt sent, per stream. */
  appends: HistoryAppend[];
  /** Every event id, in the order sent. */
  ids: string[];
  /** Every invoke of it, in history order. */
  attempts: Attempt[];
  /** `ok` if any attempt was acknowledged, else `info` if any may have committed, else `fail`. */
  status: 'ok' | 'fail' | 'info';
  /** Earliest invoke. */
  invokeMs: number;
  /** Earliest acknowledgement; `Infinity` when never acknowledged. */
  okMs: number;
  /** The process of the first acknowledged attempt (the producer, for lost-write classes). */
  producer: number | string;
  /** History index of the first invoke: the producer's order. */
  order: number;
}

/** A completed read or a subscription delivery. */
export interface Read {
  /** A linearizable read, or a subscription delivery recorded in the history. */
  kind: 'read' | 'delivery';
  /** The reading process. */
  process: number | string;
  /** History index of the invoke (of the entry, for a delivery). */
  index: number;
  /** Time of the invoke. */
  invokeMs: number;
  /** Time of the completion. */
  completeMs: number;
  /** The stream, or `null` for `$all`. */
  stream: string | null;
  /** First version (stream) or LSN (`$all`) asked for. */
  from: number;
  /** The events returned. */
  events: EventPosition[];
  /** The page size asked for, if any. */
  maxCount?: number;
}

/** The history, paired and folded. */
export interface PairedHistory {
  /** Logical transactions, in order of first invoke. */
  txns: Txn[];
  /** Event id -> its transaction. */
  byId: Map<string, Txn>;
  /** Completed reads and subscription deliveries, in history order. */
  reads: Read[];
}

/** Pairs and folds `history`, warning about malformed entries. */
export function pairHistory(history: readonly HistoryOp[], report: Report): PairedHistory {
  const txns: Txn[] = [];
  const byId = new Map<string, Txn>();
  const byKey = new Map<string, Txn>();
  const reads: Read[] = [];
  const pending = new Map<number | string, HistoryOp>();
  const openAttempts = new Map<number | string, { txn: Txn; attempt: Attempt }>();

  const startAppend = (op: HistoryOp): void => {
    const appends = op.txn?.appends ?? [];
    const ids = appends.flatMap((a) => a.eventIds);
    const key = ids[0] ?? `#${op.index}`;
    let txn = byKey.get(key);
    if (!txn) {
      txn = { key, appends, ids, attempts: [], status: 'fail', invokeMs: op.timeMs, okMs: Infinity, producer: op.process, order: op.index };
      byKey.set(key, txn);
      txns.push(txn);
      for (const id of ids) {
        const other = byId.get(id);
        if (other) report.warn(() => `event id ${id} is invoked by two different transactions (${other.key} and ${key})`);
        else byId.set(id, txn);
      }
    }
    const attempt: Attempt = { process: op.process, invokeIndex: op.index, invokeMs: op.timeMs, completeMs: Infinity, type: 'info' };
    txn.attempts.push(attempt);
    txn.invokeMs = Math.min(txn.invokeMs, op.timeMs);
    openAttempts.set(op.process, { txn, attempt });
  };

  for (const op of history) {
    if (op.f === 'subscribe-delivery') {
      if (op.read) reads.push({ kind: 'delivery', process: op.process, index: op.index, invokeMs: op.timeMs, completeMs: op.timeMs, stream: op.read.stream, from: op.read.from, events: op.read.events ?? [] });
      continue;
    }
    if (op.type === 'invoke') {
      if (pending.has(op.process)) report.warn(() => `process ${op.process} invoked op ${op.index} with op ${pending.get(op.process)?.index} still in flight`);
      pending.set(op.process, op);
      if (op.f === 'append') startAppend(op);
      continue;
    }
    const invoke = pending.get(op.process);
    if (!invoke || invoke.f !== op.f) {
      report.warn(() => `op ${op.index} (${op.type} ${op.f}) on process ${op.process} completes no matching invoke`);
      continue;
    }
    pending.delete(op.process);
    if (op.f === 'read') {
      if (op.type !== 'ok') continue;
      const stream = op.read?.stream !== undefined ? op.read.stream : (invoke.read?.stream ?? null);
      const from = op.read?.from ?? invoke.read?.from ?? 0;
      const maxCount = op.read?.maxCount ?? invoke.read?.maxCount;
      const read: Read = { kind: 'read', process: op.process, index: invoke.index, invokeMs: invoke.timeMs, completeMs: op.timeMs, stream, from, events: op.read?.events ?? [] };
      if (maxCount !== undefined) read.maxCount = maxCount;
      reads.push(read);
      continue;
    }
    const open = openAttempts.get(op.process);
    if (!open) continue;
    openAttempts.delete(op.process);
    const { txn, attempt } = open;
    attempt.type = op.type;
    attempt.completeMs = op.timeMs;
    if (op.result) attempt.result = op.result;
    if (op.error !== undefined) attempt.error = op.error;
    if (op.type === 'ok' && op.timeMs < txn.okMs) {
      txn.okMs = op.timeMs;
      txn.producer = op.process;
    }
  }

  for (const txn of txns) {
    if (txn.attempts.some((a) => a.type === 'ok')) txn.status = 'ok';
    else if (txn.attempts.some((a) => a.type === 'info')) txn.status = 'info';
    else txn.status = 'fail';
  }
  return { txns, byId, reads };
}
