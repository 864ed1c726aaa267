/**
 * Who may connect, and what they may do: credentials that were missing or not accepted, and an
 * operation outside the grants of the user or token that connected.
 *
 * @packageDocumentation
 */
import { KilnError, str, type ErrorFields } from './base.js';

/**
 * The server did not accept the connection's credentials: none were given where the server asks
 * for some, or the user is unknown, the password wrong or the token unknown. The message is the
 * same for every cause, so an answer never tells which users exist. The connection closes.
 */
export class AuthenticationError extends KilnError {
  static override readonly name: string = 'AuthenticationError';

  constructor() {
    super('authentication failed: credentials missing or not accepted');
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): AuthenticationError {
    return new AuthenticationError();
  }
}

/** What a grant allows on the streams its prefix covers. */
export type Permission = 'read' | 'write' | 'admin';

/**
 * The user or token that connected holds no grant of `permission` on `stream` (`'*'` for an
 * operation over every stream: `readAll`, `subscribeAll`, and the operators' commands). The
 * request was refused whole; nothing changed. The connection stays open.
 */
export class PermissionDeniedError extends KilnError {
  static override readonly name: string = 'PermissionDeniedError';

  constructor(
    readonly stream: string,
    readonly permission: Permission,
  ) {
    super(stream === '*' ? `permission '${permission}' on every stream ('*') is not granted` : `permission '${permission}' on stream '${stream}' is not granted`);
  }

  override fields(): ErrorFields {
    return { stream: this.stream, permission: this.permission };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): PermissionDeniedError {
    const permission = str(fields.permission);
    return new PermissionDeniedError(str(fields.stream), permission === 'write' || permission === 'admin' ? permission : 'read');
  }
}
