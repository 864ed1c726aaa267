/** Where a transaction read by hand is answered: one object per transaction, not two callbacks. */
import type { CommitAnswer } from '../commit/committer.js';
import type { TransactionResult } from '../protocol/messages.js';

/** The session's side: it writes the answer to the request `id`. */
export interface TransactAnswers {
  transactCommitted(id: number, result: TransactionResult): void;
  transactFailed(id: number, error: unknown): void;
}

export class TransactAnswer implements CommitAnswer {
  constructor(
    private readonly session: TransactAnswers,
    private readonly id: number,
  ) {}

  resolve(result: TransactionResult): void {
    this.session.transactCommitted(this.id, result);
  }

  reject(error: unknown): void {
    this.session.transactFailed(this.id, error);
  }
}
