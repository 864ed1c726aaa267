/**
 * Errors of transactions over several stripes: a stream held by another transaction still
 * deciding, and a transaction whose coordinator cannot be reached to learn its outcome.
 *
 * @packageDocumentation
 */
import { KilnError, str, type ErrorFields } from './base.js';

/**
 * A stream of the transaction is held by another transaction over several stripes that has not
 * decided yet. Nobody waits for a held stream (so there is no distributed deadlock): retry; the
 * client does, a bounded number of times with jitter.
 */
export class StreamBusyError extends KilnError {
  static override readonly name: string = 'StreamBusyError';

  override readonly retryable = true;

  constructor(
    readonly stream: string,
    /** The transaction holding it. */
    readonly txnId: string,
  ) {
    super(`stream '${stream}' is held by transaction ${txnId}, which has not decided yet; retry`);
  }

  override fields(): ErrorFields {
    return { stream: this.stream, txnId: this.txnId };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): StreamBusyError {
    return new StreamBusyError(str(fields.stream), str(fields.txnId));
  }
}

/**
 * A stream is held by a transaction in doubt: prepared here, and its coordinator's stripe cannot
 * say whether it committed. Only the streams it touched wait; an operator can end it with
 * `kiln txn resolve`.
 */
export class TransactionInDoubtError extends KilnError {
  static override readonly name: string = 'TransactionInDoubtError';

  override readonly retryable = true;

  constructor(
    readonly txnId: string,
    /** The coordinator's stripe. */
    readonly stripe: string,
  ) {
    super(`transaction ${txnId} is in doubt: its coordinator, stripe '${stripe}', cannot be reached to learn its outcome`);
  }

  override fields(): ErrorFields {
    return { txnId: this.txnId, stripe: this.stripe };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TransactionInDoubtError {
    return new TransactionInDoubtError(str(fields.txnId), str(fields.stripe));
  }
}
