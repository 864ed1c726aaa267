/**
 * A request was refused for what it asked: a broken rule, a wrong expected version, a reused or
 * expired transaction sequence. Nothing was changed.
 *
 * @packageDocumentation
 */
import { KilnError, num, str, type ErrorFields } from './base.js';

/** An append's expected version did not match the stream's actual version. */
export class WrongExpectedVersionError extends KilnError {
  static override readonly name: string = 'WrongExpectedVersionError';

  constructor(
    readonly stream: string,
    readonly expected: string | number,
    readonly actual: number,
  ) {
    super(`stream '${stream}': expected version ${String(expected)}, actual ${describeVersion(actual)}`);
  }

  override fields(): ErrorFields {
    return { stream: this.stream, expected: this.expected, actual: this.actual };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): WrongExpectedVersionError {
    return new WrongExpectedVersionError(str(fields.stream), typeof fields.expected === 'number' ? fields.expected : str(fields.expected), num(fields.actual));
  }
}

function describeVersion(version: number): string {
  return version < 0 ? 'no stream' : String(version);
}

/** An argument or request field broke a rule. Nothing was changed. */
export class InvalidArgumentError extends KilnError {
  static override readonly name: string = 'InvalidArgumentError';

  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }

  override fields(): ErrorFields {
    return { field: this.field, rule: this.rule };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): InvalidArgumentError {
    return new InvalidArgumentError(str(fields.field), str(fields.rule));
  }
}

/** A configuration value broke a rule; `field` is its path, for example `listen[0]`. */
export class ConfigError extends InvalidArgumentError {
  static override readonly name: string = 'ConfigError';

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): ConfigError {
    return new ConfigError(str(fields.field), str(fields.rule));
  }
}

/**
 * A resent transaction's `(clientId, seq)` is older than the de-duplication window, so the
 * server can no longer tell whether it committed. Read the stream to find out.
 */
export class SequenceExpiredError extends KilnError {
  static override readonly name: string = 'SequenceExpiredError';

  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} is older than the de-duplication window`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): SequenceExpiredError {
    return new SequenceExpiredError(str(fields.clientId), num(fields.seq));
  }
}

/**
 * A transaction reused a `(clientId, seq)` that the server holds, committed or in flight, for a
 * transaction that writes something else. Nothing was written. A client made by `connect()`
 * never does this; a hand-rolled client that restarts its sequence, or two that share one id, do.
 */
export class SequenceReusedError extends KilnError {
  static override readonly name: string = 'SequenceReusedError';

  constructor(
    readonly clientId: string,
    readonly seq: number,
  ) {
    super(`transaction ${clientId}#${seq} was already taken by a transaction that writes something else`);
  }

  override fields(): ErrorFields {
    return { clientId: this.clientId, seq: this.seq };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): SequenceReusedError {
    return new SequenceReusedError(str(fields.clientId), num(fields.seq));
  }
}
