/**
 * The server cannot take the request in its present role or state: it is not the group's active,
 * it is shutting down, or it failed.
 *
 * @packageDocumentation
 */
import { KilnError, type ErrorFields } from './base.js';

/**
 * This server is not its group's active, or stopped being it before the request committed. A
 * transaction that got this may or may not commit under the new active: resend it with the same
 * client (the client does so itself), and the new active answers with the original result.
 */
export class NotActiveError extends KilnError {
  static override readonly name: string = 'NotActiveError';

  override readonly retryable = true;

  constructor(
    /** A client URL of the active this server knows of, or null when it knows none. */
    readonly active: string | null,
  ) {
    super(active ? `this server is not the active; try ${active}` : 'this server is not the active, and no active is known yet');
  }

  override fields(): ErrorFields {
    return { active: this.active };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): NotActiveError {
    return new NotActiveError(typeof fields.active === 'string' ? fields.active : null);
  }
}

/** The server is shutting down; the request was not carried out. */
export class ServerShuttingDownError extends KilnError {
  static override readonly name: string = 'ServerShuttingDownError';

  override readonly retryable = true;

  constructor() {
    super('the server is shutting down');
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): ServerShuttingDownError {
    return new ServerShuttingDownError();
  }
}

/** The server failed its store and stopped accepting work; nothing after the failure is acknowledged. */
export class ServerFailedError extends KilnError {
  static override readonly name: string = 'ServerFailedError';

  constructor(options?: { cause?: unknown }) {
    super('the server stopped after a store failure', options);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): ServerFailedError {
    return new ServerFailedError();
  }
}
