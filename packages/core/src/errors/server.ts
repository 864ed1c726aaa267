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

/**
 * A read asked of a mirror (a backup from a mirror, `kiln backup --from-mirror`) reached a server
 * that is not a mirror of its stripe's in-sync set: the active, a mirror still catching up or
 * removed, or one restarted and not yet in step with the active. Its log may lack records the
 * stripe committed, or hold ones it did not.
 */
export class MirrorNotInSyncError extends KilnError {
  static override readonly name: string = 'MirrorNotInSyncError';

  constructor(
    /** The server that refused. */
    readonly server: string,
    /** What it is instead: its state (`ACTIVE-COORDINATOR`, `PASSIVE-SYNCING`, ...), or `removed`. */
    readonly state: string,
  ) {
    super(`${server} is not an in-sync mirror of its stripe (it is ${state}): it serves no reads of a mirror`);
  }

  override fields(): ErrorFields {
    return { server: this.server, state: this.state };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): MirrorNotInSyncError {
    return new MirrorNotInSyncError(String(fields.server), String(fields.state));
  }
}

/**
 * A mirror was asked for records through `throughLsn` but knows its log committed only through
 * `committedLsn`, and did not learn more within `mirrorTimeoutMs`: it serves nothing it does not
 * know is committed. The active tells its mirrors how far it committed with every append and
 * heartbeat, so an in-sync mirror catches up within that time.
 */
export class MirrorBehindError extends KilnError {
  static override readonly name: string = 'MirrorBehindError';

  override readonly retryable = true;

  constructor(
    readonly server: string,
    /** The last LSN the mirror knows is committed and holds. */
    readonly committedLsn: number,
    /** The end of the range asked for. */
    readonly throughLsn: number,
  ) {
    super(`${server} knows its log committed through LSN ${committedLsn} only, short of LSN ${throughLsn}: it serves no record it does not know is committed`);
  }

  override fields(): ErrorFields {
    return { server: this.server, committedLsn: this.committedLsn, throughLsn: this.throughLsn };
  }

  /** Rebuilds the error from its wire form. */
  static fromWire(_message: string, fields: ErrorFields): MirrorBehindError {
    return new MirrorBehindError(String(fields.server), Number(fields.committedLsn), Number(fields.throughLsn));
  }
}
