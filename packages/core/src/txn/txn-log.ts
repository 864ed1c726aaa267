/**
 * What the log says of transactions over several stripes, as the active of one stripe knows it:
 * the decisions it took as a coordinator, the parts it prepared as a participant and has not ended
 * yet, and those it ended. Rebuilt at each taking of office from the records recovery scans (the
 * de-duplication window's worth), then kept current as records commit.
 */
import { TXN_REMEMBERED_MAX } from '../limits.js';
import { OldestKeys } from '../oldest-keys.js';
import { Decision, RecordKind, type LogRecord } from '../log/record.js';
import { atOrBefore, orderOf, type TxnOrder } from './txn-id.js';

/** A part this stripe prepared and has not ended. */
export interface OpenPrepare {
  record: LogRecord;
  /** When this active learnt of it (monotonic ms): the resolver asks about old ones first. */
  sinceMs: number;
}


export class TxnLog {
  /** Coordinator: each transaction's committed decision. */
  readonly decisions = new Map<string, Decision>();
  /** Participant: prepared, not yet ended. */
  readonly prepared = new Map<string, OpenPrepare>();
  /** Participant: ended, with the decision it ended with. */
  readonly ended = new Map<string, Decision>();
  /**
   * The open prepare holding each stream, by transaction id: every read and write of a stream
   * asks while anything is prepared. A stream has one at most: the next prepare of a stream
   * follows the outcome of the last in the log.
   */
  private readonly holding = new Map<string, string>();
  /** The oldest of `decisions` and of `ended`, to forget once a map is full. */
  private readonly oldestDecision = new OldestKeys(this.decisions);
  private readonly oldestEnded = new OldestKeys(this.ended);
  /**
   * The newest transaction whose decision was forgotten past `TXN_REMEMBERED_MAX`. Presumed abort
   * answers "abort" for a transaction without a decision, which is right only for one whose
   * decision would still be here: a commit forgotten while a participant was cut off would be
   * aborted there, half of a committed transaction undone.
   */
  private forgottenThrough: TxnOrder | undefined;

  /** Takes a committed (or recovered) record into account. */
  see(record: LogRecord, nowMs: number): void {
    const { txn } = record;
    if (txn === undefined) return;
    switch (record.kind) {
      case RecordKind.Decide: {
        const forgotten = remember(this.decisions, this.oldestDecision, txn.id, txn.decision);
        const order = forgotten === undefined ? undefined : orderOf(forgotten);
        if (order && !(this.forgottenThrough && atOrBefore(order, this.forgottenThrough))) this.forgottenThrough = order;
        return;
      }
      case RecordKind.Prepare:
        if (this.ended.has(txn.id)) return;
        this.prepared.set(txn.id, { record, sinceMs: nowMs });
        for (const { stream } of record.appends) this.holding.set(stream, txn.id);
        return;
      case RecordKind.Outcome: {
        const open = this.prepared.get(txn.id);
        if (open) for (const { stream } of open.record.appends) if (this.holding.get(stream) === txn.id) this.holding.delete(stream);
        this.prepared.delete(txn.id);
        remember(this.ended, this.oldestEnded, txn.id, txn.decision);
        return;
      }
    }
  }

  clear(): void {
    this.decisions.clear();
    this.prepared.clear();
    this.ended.clear();
    this.holding.clear();
    this.oldestDecision.reset();
    this.oldestEnded.reset();
    this.forgottenThrough = undefined;
  }

  /**
   * Whether `txnId`, coordinated here and with no decision remembered, may have had one that was
   * forgotten: it is no newer than a forgotten one (or its id is not of the form this stripe writes).
   */
  mayHaveForgotten(txnId: string): boolean {
    if (this.forgottenThrough === undefined) return false;
    const order = orderOf(txnId);
    return order === undefined || atOrBefore(order, this.forgottenThrough);
  }

  /** The open prepare holding `stream`, if any. */
  preparedHolding(stream: string): OpenPrepare | undefined {
    const txnId = this.holding.get(stream);
    return txnId === undefined ? undefined : this.prepared.get(txnId);
  }
}

/**
 * Remembers `id` as the newest entry of `map`, forgetting the oldest past `TXN_REMEMBERED_MAX`.
 * Returns the id forgotten, if any.
 */
function remember(map: Map<string, Decision>, oldest: OldestKeys<string>, id: string, decision: Decision): string | undefined {
  map.delete(id);
  map.set(id, decision);
  return map.size > TXN_REMEMBERED_MAX ? oldest.deleteOldest() : undefined;
}

export { Decision };
