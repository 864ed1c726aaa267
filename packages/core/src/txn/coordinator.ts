/**
 * The coordinator's side of a transaction over several stripes (two-phase commit over replicated
 * logs, presumed abort). The coordinator is the lowest participating stripe. It reserves its own
 * part, asks every other participant to prepare its part, and writes one decide record: commit,
 * carrying its own part, when every participant voted yes within `txnTimeoutMs`; abort otherwise.
 * The client is answered once the decide is committed; the participants are then told, and a
 * participant that was not asks (`txnStatus`). A transaction this stripe has no decision for is
 * aborted: a decision lost with a deposed active was never committed, so nobody acted on it.
 */
import type { Committer } from '../commit/committer.js';
import { sameRequest } from '../commit/transaction-rules.js';
import { FrameTooLargeError, InvalidArgumentError, SequenceReusedError, StripeUnavailableError, TransactionInDoubtError } from '../errors.js';
import { TXN_DECISION_DELAY_MAX_MS, TXN_DECISION_SENDS } from '../limits.js';
import { Decision, RecordKind, type StreamEntry, type TxnInfo } from '../log/record.js';
import type { TransactionAppend, TransactionRequest, TransactionResult } from '../protocol/messages.js';
import type { DecideRequest } from '../protocol/txn-messages.js';
import type { Clock, TimerHandle, Timers } from '../time.js';
import type { StripeCaller } from './stripe-caller.js';
import { txnIdOf } from './txn-id.js';
import type { TxnLog } from './txn-log.js';

export interface CoordinatorContext {
  /** This server's stripe, and its name. */
  stripe: number;
  stripeName: string;
  committer: () => Committer;
  /** The term of this server's office: transaction ids name it, so a new active never reuses one. */
  term: () => number;
  caller: StripeCaller;
  txnLog: TxnLog;
  clock: Clock;
  timers: Timers;
  log: (line: string) => void;
}

/** A transaction this stripe coordinates and has not decided yet. */
export interface DecidingTransaction {
  participants: readonly number[];
  /** When it began (monotonic ms). */
  sinceMs: number;
}


export class Coordinator {
  /** Transactions being decided, by `clientId#seq` (a resend joins) and by id (`txnStatus` says: not yet). */
  private readonly byRequest = new Map<string, { request: TransactionRequest; result: Promise<TransactionResult> }>();
  private readonly deciding = new Map<string, DecidingTransaction>();
  /** Decisions not yet told, by participant: they go in the same write as the next prepare to it (see {@link tellLater}). */
  private readonly untold = new Map<number, DecideRequest[]>();
  private untoldTimer: TimerHandle | undefined;
  private tellingAtTurnEnd = false;
  /**
   * Whether a lone decision waits for the next prepare (see {@link tellLater}): yes while prepares
   * follow decisions within `TXN_DECISION_DELAY_MAX_MS`; no once the timer had to send one.
   */
  private holdLone = true;
  /** When a lone decision last went at a turn's end (monotonic ms): a prepare soon after holds them again. */
  private loneToldMs = -Infinity;
  private counter = 0;

  constructor(private readonly context: CoordinatorContext) {}

  /**
   * Commits a transaction whose streams lie on `parts`' stripes (this one the lowest), all or nothing.
   * A resend of one that committed, or is being decided, gets its original result.
   * @throws WrongExpectedVersionError, StreamBusyError: a participant (or this stripe) voted no; nothing was written anywhere
   * @throws TimeoutError when a participant did not vote within `txnTimeoutMs`; nothing was written anywhere
   * @throws SequenceReusedError when `(clientId, seq)` is taken by another transaction (another client with the same id); nothing is written
   */
  transact(request: TransactionRequest, parts: Map<number, TransactionAppend[]>): Promise<TransactionResult> {
    const key = `${request.clientId}#${request.seq}`;
    const recorded = this.context.committer().recordedResult(request, parts.get(this.context.stripe)!);
    if (recorded) return recorded;
    const running = this.byRequest.get(key);
    if (running) return sameRequest(request, running.request) ? running.result : Promise.reject(new SequenceReusedError(request.clientId, request.seq));
    const result = this.run(request, parts).finally(() => this.byRequest.delete(key));
    this.byRequest.set(key, { request, result });
    return result;
  }

  /**
   * This stripe's decision on a transaction it coordinates: none yet while it is being decided;
   * abort when it has none (presumed abort).
   * @throws TransactionInDoubtError for one whose decision may have been forgotten past
   *   `TXN_REMEMBERED_MAX`: it may have committed, so "abort" could undo half of it. Its part stays
   *   in doubt, for an operator (`kiln txn resolve`).
   */
  status(txnId: string): Decision {
    const { txnLog, stripeName } = this.context;
    const decided = txnLog.decisions.get(txnId);
    if (decided !== undefined) return decided;
    if (this.deciding.has(txnId)) return Decision.None;
    if (txnLog.mayHaveForgotten(txnId)) throw new TransactionInDoubtError(txnId, stripeName);
    return Decision.Abort;
  }

  /**
   * This server is no longer its stripe's active: the decisions not yet told are left to the
   * participants to ask about (they are in the log), and no timer of this office sends them.
   */
  steppedDown(): void {
    this.untold.clear();
    this.untoldTimer?.cancel();
    this.untoldTimer = undefined;
  }

  /** The transactions being decided, by id. */
  open(): ReadonlyMap<string, DecidingTransaction> {
    return this.deciding;
  }

  private async run(request: TransactionRequest, parts: Map<number, TransactionAppend[]>): Promise<TransactionResult> {
    const { stripe } = this.context;
    const committer = this.context.committer();
    // A client numbers its requests per stripe, so two coordinators may both see its `#1`: the id names the coordinator's stripe too.
    const txnId = txnIdOf(request.clientId, request.seq, stripe, this.context.term(), ++this.counter);
    const participants = [...parts.keys()].sort((a, b) => a - b);
    const others = participants.filter((p) => p !== stripe);
    this.deciding.set(txnId, { participants, sinceMs: this.context.clock.monotonicMs() });
    try {
      const own = (await committer.reserve(txnId, { ...request, appends: parts.get(stripe)! })).filter((a) => a.eventCount > 0);
      let decision: Decision = Decision.Commit;
      let refusal: unknown;
      const entries = new Map<string, StreamEntry>(own.map(({ stream, firstVersion, eventCount }) => [stream, { stream, firstVersion, eventCount }]));
      try {
        for (const entry of await this.votes(txnId, request, parts, participants, others)) entries.set(entry.stream, entry);
      } catch (error) {
        decision = Decision.Abort;
        refusal = error;
      }
      // The result names every part's ranges, in the order of the request.
      const streams = decision === Decision.Commit ? request.appends.flatMap((a) => entries.get(a.stream) ?? []) : [];
      const txn: TxnInfo = { id: txnId, coordinator: stripe, participants, decision, prepareLsn: 0, streams };
      let result: TransactionResult;
      try {
        result = await committer.writeStep(RecordKind.Decide, txn, request.clientId, request.seq, decision === Decision.Commit ? own : []);
      } finally {
        committer.release(txnId);
      }
      this.tellLater(others, { txnId, decision });
      if (decision === Decision.Abort) throw notCommitted(refusal);
      return result;
    } finally {
      this.deciding.delete(txnId);
    }
  }

  /**
   * Tells the participants a decision. Nobody waits for it: the client is answered, and a
   * participant asks by itself when it must (a read, a write). While other transactions are
   * being decided, or while prepares have followed decisions within `TXN_DECISION_DELAY_MAX_MS`
   * (a client's next transaction, at low load), it goes with the next prepare sent to each
   * participant, or within that time: one write, one wake-up of the participant and one group
   * commit there then carry both. Otherwise it goes at this turn's end, after the client's answer:
   * a timer's wake-up to send it would cost more than that write.
   */
  private tellLater(participants: readonly number[], decide: DecideRequest): void {
    for (const p of participants) {
      const list = this.untold.get(p);
      if (list) list.push(decide);
      else this.untold.set(p, [decide]);
    }
    if (this.tellingAtTurnEnd) return;
    if (this.deciding.size > 1 || this.holdLone) {
      // One timer at a time, left to run out rather than cancelled by the prepare that took the decisions.
      this.untoldTimer ??= this.context.timers.setTimeout(() => {
        this.untoldTimer = undefined;
        // No prepare took them in time: lone decisions go at the turn's end from now on.
        if (this.untold.size > 0 && this.deciding.size === 0) this.holdLone = false;
        this.tellAll();
      }, TXN_DECISION_DELAY_MAX_MS);
      return;
    }
    this.tellingAtTurnEnd = true;
    this.loneToldMs = this.context.clock.monotonicMs();
    this.context.timers.defer(() => this.tellAll());
  }

  private tellAll(): void {
    this.tellingAtTurnEnd = false;
    for (const p of [...this.untold.keys()]) this.tellNow(p);
  }

  /** Sends the decisions not yet told to `participant`: before a prepare, they go in its write. */
  private tellNow(participant: number): void {
    const list = this.untold.get(participant);
    if (!list) return;
    this.untold.delete(participant);
    for (const decide of list) this.tell(participant, decide);
  }

  /**
   * Asks every other participant to prepare its part: resolves with their ranges once all voted
   * yes; rejects at the first no, or when one has not voted within `txnTimeoutMs` (the stripe
   * links time their calls out, on one timer each for all). One promise for all the votes.
   */
  private votes(txnId: string, request: TransactionRequest, parts: Map<number, TransactionAppend[]>, participants: number[], others: readonly number[]): Promise<StreamEntry[]> {
    const { stripe, caller, clock } = this.context;
    return new Promise((resolve, reject) => {
      const entries: StreamEntry[] = [];
      let waiting = others.length;
      const voted = (vote: StreamEntry[]): void => {
        for (const entry of vote) entries.push(entry);
        if (--waiting === 0) resolve(entries);
      };
      for (const p of others) {
        if (!this.holdLone && clock.monotonicMs() - this.loneToldMs < TXN_DECISION_DELAY_MAX_MS) this.holdLone = true;
        this.tellNow(p);
        caller.prepare(p, { txnId, coordinator: stripe, participants, part: { ...request, appends: parts.get(p)! } }, voted, (error) => reject(error instanceof FrameTooLargeError ? partTooLarge(p, error) : error));
      }
    });
  }

  /** Tells a participant a decision, `TXN_DECISION_SENDS` times at most; one not told asks by itself. */
  private tell(participant: number, decide: DecideRequest, attempt = 1): void {
    this.context.caller.decide(participant, decide, NOTHING, (error) => {
      if (attempt < TXN_DECISION_SENDS) this.tell(participant, decide, attempt + 1);
      else this.context.log(`transaction ${decide.txnId}: stripe ${participant} not told its decision (${(error as Error).message}); it will ask`);
    });
  }
}

const NOTHING = (): void => {};

/**
 * A participant's part that fitted the client's frame but not a prepare's, which carries the
 * transaction's id (the client id again): the client is told which part, not of a frame it never sent.
 */
function partTooLarge(participant: number, error: FrameTooLargeError): InvalidArgumentError {
  return new InvalidArgumentError('appends', `the part for stripe ${participant} takes a prepare of ${error.bytes} bytes, over frameBytesMax (${error.limit}) with the transaction's id: split the transaction`);
}

/**
 * A participant's stripe out of reach, once the abort is committed: its error says the transaction
 * was not committed, where one from the client's own link gave up not knowing.
 */
function notCommitted(refusal: unknown): unknown {
  if (!(refusal instanceof StripeUnavailableError)) return refusal;
  return new StripeUnavailableError(refusal.stripe, refusal.reason, { cause: refusal.cause, transactionFate: 'not-committed' });
}
