/** A backup file that `kiln backup` could not complete, or that `kiln restore` refuses. */
import { KilnError } from '@kiln/core';

export class BackupFileError extends KilnError {
  static override readonly name: string = 'BackupFileError';

  constructor(
    readonly file: string,
    /** The LSN where the problem is, when it is at a record. */
    readonly lsn: number | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${lsn === undefined ? '' : ` at LSN ${lsn}`}: ${detail}`, options);
  }
}
