/**
 * Transactions waiting, in arrival order, for their stream heads to load from the store before
 * their turn. One that waits holds back those behind it (the committer sends every transaction
 * here while any waits), so a client pipelining appends to one stream with expected versions sees
 * them applied in the order it sent them.
 */
import type { TransactionRequest } from '../protocol/messages.js';
import type { CommitAnswer } from './group-writer.js';
import type { StreamHeads } from './stream-heads.js';

/** Takes a transaction whose heads are all cached; throws to refuse it. */
export type Admit = (request: TransactionRequest, eventCounts: number[], answer: CommitAnswer) => void;

interface WaitingTransaction {
  request: TransactionRequest;
  eventCounts: number[];
  streams: string[];
  loaded: Promise<void>;
  answer: CommitAnswer;
}

export class WaitingLine {
  private readonly waiting: WaitingTransaction[] = [];

  constructor(
    private readonly heads: StreamHeads,
    private readonly admit: Admit,
  ) {}

  /** Transactions waiting. */
  get length(): number {
    return this.waiting.length;
  }

  /** Starts loading the transaction's heads; it is admitted once they are, after those before it. */
  push(request: TransactionRequest, eventCounts: number[], answer: CommitAnswer): void {
    const streams = request.appends.map((a) => a.stream);
    this.waiting.push({ request, eventCounts, streams, loaded: this.heads.load(streams), answer });
    if (this.waiting.length === 1) void this.admitInOrder();
  }

  /** Fails every waiting transaction with `error`. */
  rejectAll(error: unknown): void {
    for (const waiting of this.waiting.splice(0)) waiting.answer.reject(error);
  }

  private async admitInOrder(): Promise<void> {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      let failure: { error: unknown } | undefined;
      try {
        await next.loaded;
        // A head loaded for this transaction may have been evicted while it waited its turn.
        while (!next.streams.every((s) => this.heads.get(s) !== undefined)) await this.heads.load(next.streams);
      } catch (error) {
        failure = { error };
      }
      // Failed meanwhile by rejectAll, and answered: an answer is given once.
      if (this.waiting[0] !== next) continue;
      this.waiting.shift();
      if (failure) {
        next.answer.reject(failure.error);
        continue;
      }
      try {
        this.admit(next.request, next.eventCounts, next.answer);
      } catch (error) {
        next.answer.reject(error);
      }
    }
  }
}
