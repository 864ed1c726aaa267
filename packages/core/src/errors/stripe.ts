/**
 * Errors of a cluster of several stripes: a request that reached the wrong stripe, a transaction
 * over several, a stripe with no active, and a position from an earlier life of a stripe or past its end.
 *
 * @packageDocumentation
 */
import { KilnError, num, str, type ErrorFields } from './base.js';
import { ConnectionClosedError } from './connection.js';

/**
 * A stream's operation reached a server of another stripe (the client's slot table is stale). It
 * names the stripe that holds the stream and a client URL of its active, as far as this server
 * knows (like Redis Cluster's `MOVED`); the client refreshes its topology and tries there.
 */
export class WrongStripeError extends KilnError {
  static override readonly name: string = 'WrongStripeError';

  override readonly retryable = true;

  constructor(
    readonly stream: string,
    /** The stripe that holds the stream. */
    readonly stripe: string,
    /** A client URL of that stripe's active, or null when this server knows none. */
    readonly active: string | null,
  ) {
    super(`stream '${stream}' is on stripe '${stripe}'${active ? `; try ${active}` : ''}`);
  }

  override fields(): ErrorFields {
    return { stream: this.stream, stripe: this.stripe, active: this.active };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): WrongStripeError {
    return new WrongStripeError(str(fields.stream), str(fields.stripe), typeof fields.active === 'string' ? fields.active : null);
  }
}

/**
 * A transaction's streams lie on several stripes, and the server commits a transaction on one
 * stripe only. Earlier servers raised it; this version commits such a transaction over its
 * stripes (two-phase commit) and raises it no more, but a client still reads it from an older
 * server. Keep an aggregate's streams together with a hash tag (`account-{42}`,
 * `ledger-{42}`), or split the transaction.
 */
export class CrossStripeTransactionError extends KilnError {
  static override readonly name: string = 'CrossStripeTransactionError';

  constructor(
    /** The stripes the transaction's streams lie on, in stripe order. */
    readonly stripes: readonly string[],
  ) {
    super(`the transaction's streams lie on stripes ${stripes.map((s) => `'${s}'`).join(', ')}; a transaction commits on one stripe: keep its streams together with a hash tag ({...})`);
  }

  override fields(): ErrorFields {
    return { stripes: this.stripes.join(',') };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): CrossStripeTransactionError {
    return new CrossStripeTransactionError(str(fields.stripes).split(',').filter((s) => s !== ''));
  }
}

/**
 * What became of a transaction a {@link StripeUnavailableError} ended: `not-committed` (nothing
 * was written: the client never sent it, or its coordinator aborted it), `unknown` (the client's
 * link gave up after it was sent: it may have committed), or null when the error ended no
 * transaction (a read).
 */
export type TransactionFate = 'not-committed' | 'unknown' | null;

/**
 * No server of a stripe could be reached as its active within the client's `reconnectWindowMs`:
 * operations on that stripe's streams fail with this, while every other stripe keeps serving.
 * Retrying later succeeds once a server of the stripe is back. For a transaction, `transactionFate`
 * says whether it may have committed: when `unknown`, read its streams before sending it again.
 */
export class StripeUnavailableError extends KilnError {
  static override readonly name: string = 'StripeUnavailableError';

  override readonly retryable = true;

  /** What became of the transaction this error ended, if it ended one. */
  readonly transactionFate: TransactionFate;

  constructor(
    readonly stripe: string,
    /** What the last attempt met. */
    readonly reason: string,
    /** `cause`: the error the stripe's connection failed with. */
    options?: { cause?: unknown; transactionFate?: TransactionFate },
  ) {
    super(`stripe '${stripe}' has no reachable active: ${reason}${FATE_TEXT[options?.transactionFate ?? 'none']}`, options);
    this.transactionFate = options?.transactionFate ?? null;
  }

  override fields(): ErrorFields {
    return { stripe: this.stripe, reason: this.reason, transactionFate: this.transactionFate };
  }

  /**
   * `error` as the loss of `stripe` when it is a link's giving up (`ConnectionClosedError`), which
   * would otherwise read as the caller's own connection; any other error as it is.
   */
  static ofClosedLink(stripe: string, error: unknown, transactionFate: TransactionFate = null): unknown {
    if (!(error instanceof ConnectionClosedError)) return error;
    return new StripeUnavailableError(stripe, error.message, { cause: error, transactionFate });
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): StripeUnavailableError {
    const fate = fields.transactionFate === 'not-committed' || fields.transactionFate === 'unknown' ? fields.transactionFate : null;
    return new StripeUnavailableError(str(fields.stripe), str(fields.reason), { transactionFate: fate });
  }
}

const FATE_TEXT: Record<NonNullable<TransactionFate> | 'none', string> = {
  'not-committed': '; the transaction was not committed',
  unknown: '; the transaction may have committed: read its streams before sending it again',
  none: '',
};

/**
 * A position names an earlier life of a stripe: in memory mode a stripe that lost every server
 * comes back empty under a new epoch, so a consumer resuming from an older position would skip or
 * repeat. It must decide what to do (start the stripe over, say) rather than go on silently.
 */
export class StripeEpochChangedError extends KilnError {
  static override readonly name: string = 'StripeEpochChangedError';

  constructor(
    readonly stripe: string,
    /** The epoch the position was taken in. */
    readonly positionEpoch: number,
    /** The stripe's epoch now. */
    readonly currentEpoch: number,
  ) {
    super(`stripe '${stripe}' restarted empty (epoch ${currentEpoch}) after the position was taken (epoch ${positionEpoch}); its earlier events are gone`);
  }

  override fields(): ErrorFields {
    return { stripe: this.stripe, positionEpoch: this.positionEpoch, currentEpoch: this.currentEpoch };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): StripeEpochChangedError {
    return new StripeEpochChangedError(str(fields.stripe), num(fields.positionEpoch), num(fields.currentEpoch));
  }
}

/**
 * A read or subscription of a stripe's log starts past the end the stripe has committed: no
 * server of the stripe has reached that LSN, so the position (or `fromLsn`) was not taken from
 * this log (another cluster's, a mistyped one, or a log whose unsynced tail was lost). Waiting
 * would deliver other events than the ones it meant, or nothing at all.
 */
export class PositionAheadError extends KilnError {
  static override readonly name: string = 'PositionAheadError';

  constructor(
    readonly stripe: string,
    /** The first LSN the read asked for. */
    readonly fromLsn: number,
    /** The stripe's last committed LSN (0 for an empty log). */
    readonly committedLsn: number,
  ) {
    super(`stripe '${stripe}' has committed up to LSN ${committedLsn}; a read from LSN ${fromLsn} starts past it, where no server of the stripe has been`);
  }

  override fields(): ErrorFields {
    return { stripe: this.stripe, fromLsn: this.fromLsn, committedLsn: this.committedLsn };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): PositionAheadError {
    return new PositionAheadError(str(fields.stripe), num(fields.fromLsn), num(fields.committedLsn));
  }
}
