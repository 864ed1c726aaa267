/**
 * The store or the log it holds refused: closed, failed, corrupt, of a kind or format version
 * this code does not read, or out of order.
 *
 * @packageDocumentation
 */
import { KilnError, num, str, type ErrorFields } from './base.js';

/** The store was used while closed or closing. */
export class StoreClosedError extends KilnError {
  static override readonly name: string = 'StoreClosedError';

  constructor() {
    super('the store is not open');
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): StoreClosedError {
    return new StoreClosedError();
  }
}

/**
 * A store write failed; the store refuses further work, since what reached the disk is unknown.
 * The message carries the store's own words when there is a cause (the file, "No space left on device").
 */
export class StoreFailedError extends KilnError {
  static override readonly name: string = 'StoreFailedError';

  constructor(options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? ` (${options.cause.message})` : '';
    super(`a store write failed${why}; the store accepts no more work until it is reopened`, options);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, _fields: ErrorFields): StoreFailedError {
    return new StoreFailedError();
  }
}

/** A record failed its length or CRC check at a place where a torn tail is impossible. */
export class CorruptRecordError extends KilnError {
  static override readonly name: string = 'CorruptRecordError';

  constructor(
    readonly lsn: number,
    readonly detail: string,
  ) {
    super(`record at LSN ${lsn} is corrupt: ${detail}`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, detail: this.detail };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): CorruptRecordError {
    return new CorruptRecordError(num(fields.lsn), str(fields.detail));
  }
}

/**
 * A record is of a kind this code does not implement (one reserved for a later version, say):
 * a newer Kiln wrote it. It is not corruption, and recovery never drops it.
 */
export class UnsupportedRecordKindError extends KilnError {
  static override readonly name: string = 'UnsupportedRecordKindError';

  constructor(
    readonly lsn: number,
    readonly kind: number,
  ) {
    super(`record at LSN ${lsn} is of kind ${kind}, which this version of Kiln does not read`);
  }

  override fields(): ErrorFields {
    return { lsn: this.lsn, kind: this.kind };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): UnsupportedRecordKindError {
    return new UnsupportedRecordKindError(num(fields.lsn), num(fields.kind));
  }
}

/**
 * A store records an on-disk format version this code does not read: a newer Kiln wrote it.
 * The store was not changed; open it with that version or a later one.
 */
export class UnsupportedFormatVersionError extends KilnError {
  static override readonly name: string = 'UnsupportedFormatVersionError';

  constructor(
    /** The version the store records; 0 when what it records is not a version at all. */
    readonly version: number,
    /** The newest version this code reads (and the one it writes). */
    readonly supported: number,
  ) {
    super(`the store is in format version ${version}; this version of Kiln reads format versions 1 to ${supported}`);
  }

  override fields(): ErrorFields {
    return { version: this.version, supported: this.supported };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): UnsupportedFormatVersionError {
    return new UnsupportedFormatVersionError(num(fields.version), num(fields.supported));
  }
}

/** A segment did not follow the log: an LSN gap, or a term lower than the last record's. */
export class LogOrderError extends KilnError {
  static override readonly name: string = 'LogOrderError';

  constructor(detail: string) {
    super(detail);
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(message: string, _fields: ErrorFields): LogOrderError {
    return new LogOrderError(message);
  }
}
