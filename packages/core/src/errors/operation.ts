/**
 * An operation ended without an answer: it timed out, was aborted, or its client was closed.
 *
 * @packageDocumentation
 */
import { KilnError, num, str, type ErrorFields } from './base.js';

/** An operation did not finish within its time limit. Whether it took effect is unknown. */
export class TimeoutError extends KilnError {
  static override readonly name: string = 'TimeoutError';

  override readonly retryable = true;

  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation} did not finish within ${timeoutMs} ms`);
  }

  override fields(): ErrorFields {
    return { operation: this.operation, timeoutMs: this.timeoutMs };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): TimeoutError {
    return new TimeoutError(str(fields.operation), num(fields.timeoutMs));
  }
}

/** The operation was aborted through its `AbortSignal`. */
export class AbortError extends KilnError {
  static override readonly name: string = 'AbortError';

  constructor(message = 'the operation was aborted') {
    super(message);
  }
}

/** The client was closed by the application. */
export class ClientClosedError extends KilnError {
  static override readonly name: string = 'ClientClosedError';

  constructor() {
    super('the client is closed');
  }
}
