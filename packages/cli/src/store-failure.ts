/**
 * How kiln words a store that failed, at start or while serving: a full disk (ENOSPC) said as
 * such, with the data directory and what to do, in one line, never as a stack trace.
 */
import { causesOf } from './causes.js';

/** LevelDB reports ENOSPC in its message only (`IO error: FILE: No space left on device`). */
const NO_SPACE = /no space left on device/i;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when `error`, or an error it was caused by, is a full disk. */
export function isDiskFull(error: unknown): boolean {
  return causesOf(error).some((e) => (e as { code?: unknown }).code === 'ENOSPC' || NO_SPACE.test(messageOf(e)));
}

/** What the store said, from the innermost cause: the file and the system's words. */
function innermostMessage(error: unknown): string {
  return messageOf(causesOf(error).at(-1));
}

/**
 * The line a server or voter logs before it exits with status 1 because a store write failed
 * while it served: which directory, whether the disk is full, and what to do.
 */
export function storeFailureLine(error: unknown, dataDir: string | undefined): string {
  const where = dataDir === undefined ? 'the store' : `the store in ${dataDir}`;
  if (isDiskFull(error)) {
    return `kiln: store failure, exiting: the disk is full (ENOSPC): ${where} cannot write (${innermostMessage(error)}); free space on that disk, then start this server again: it recovers what it had acknowledged`;
  }
  return `kiln: store failure, exiting: ${where} failed a write (${innermostMessage(error)})`;
}

/** The line for a store that cannot open because its disk is full, or undefined for any other error. */
export function diskFullAtStart(error: unknown): string | undefined {
  if (!isDiskFull(error)) return undefined;
  return `kiln: the disk is full (ENOSPC): ${messageOf(error)}; free space on that disk, then start again`;
}
