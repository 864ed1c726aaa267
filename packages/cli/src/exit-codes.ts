/**
 * How `kiln` ends on an error: one line on stderr and an exit code a script can branch on. An
 * error the user can fix (a flag, the config file, a port or data directory in use, a server that
 * does not answer) is described, never traced; only a bug prints its stack.
 */
import { ConfigError, ConnectionRefusedError, InvalidArgumentError, KilnError, TimeoutError, TlsError } from '@kiln/core';
import { diskFullAtStart } from './store-failure.js';

/** The exit codes `kiln help` lists. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed (a wait ran out, a store write failed, a server refused). */
  failed: 1,
  usage: 2,
  config: 3,
  /** The address is in use, or the data directory is locked by another process. */
  inUse: 4,
  /** No server answered at the address; `kiln verify`: a server could not be checked. */
  unreachable: 5,
  /** `kiln verify`: a server's log is damaged, or differs from the majority's (or, with none, from another's). */
  mismatch: 6,
} as const;

/** What `kiln help` prints after the commands. */
export const EXIT_CODES_HELP = `exit codes:
  0  done
  1  the command failed (a server refused it, --wait ran out, a store write failed)
  2  usage: no command, an unknown command or option, or a missing argument; see kiln COMMAND --help
  3  configuration: the config file is missing, not JSON or breaks a rule (the line names the
     field), a certificate cannot be read, or no server or voter has the name given
  4  in use: the address is taken, or the data directory is locked by another kiln process
  5  unreachable: no server answered at the address; kiln verify: a server did not answer (or
     its stripe had no active to compare it with), and no other server was found wrong
  6  kiln verify: a server's log is damaged (a record fails its CRC) or differs from the
     majority's of its stripe (or, with no majority, from another server's)`;

/** A command line that does not make sense: exits with {@link EXIT.usage}. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A command that found nobody to answer it (every member of a cluster file down): exits with {@link EXIT.unreachable}. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** The one line and the exit code an error ends `kiln` with; `help` is where the usage of the command given is. */
export function describeFailure(error: unknown, help = 'kiln help'): { line: string; code: number } {
  if (error instanceof UsageError) return { line: `kiln: ${error.message} (see ${help})`, code: EXIT.usage };
  // node:util parseArgs: an unknown option, or a value missing or given to a flag.
  if (isParseArgsError(error)) return { line: `kiln: ${error.message.split('. ')[0]!.replace(/\.$/, '')} (see ${help})`, code: EXIT.usage };
  if (error instanceof ConfigError) return { line: `kiln: ConfigError: ${error.message}`, code: EXIT.config };
  if (error instanceof UnreachableError) return { line: `kiln: ${error.message}`, code: EXIT.unreachable };
  const full = diskFullAtStart(error);
  if (full !== undefined) return { line: full, code: EXIT.failed };
  const inUse = inUseReason(error);
  if (inUse !== undefined) return { line: `kiln: ${inUse}`, code: EXIT.inUse };
  if (error instanceof ConnectionRefusedError || error instanceof TimeoutError || error instanceof TlsError) return { line: `kiln: ${error.name}: ${error.message}`, code: EXIT.unreachable };
  if (error instanceof KilnError) return { line: `kiln: ${error.name}: ${error.message}`, code: EXIT.failed };
  // An error class of kiln's own (AdminWaitError, PasswordInputError) says what went wrong; a built-in one is a bug.
  if (error instanceof Error && !BUILT_IN_ERRORS.has(error.constructor)) return { line: `kiln: ${error.message}`, code: EXIT.failed };
  return { line: `kiln: ${String((error as Error)?.stack ?? error)}`, code: EXIT.failed };
}

const BUILT_IN_ERRORS = new Set<unknown>([Error, TypeError, RangeError, ReferenceError, SyntaxError]);

function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The reason when a listener could not bind or the store's lock is held; undefined otherwise. */
function inUseReason(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  const causeCodes: unknown[] = [];
  for (let cause = (error as { cause?: unknown })?.cause; cause !== undefined && cause !== null; cause = (cause as { cause?: unknown }).cause) causeCodes.push((cause as { code?: unknown }).code);
  if (code === 'EADDRINUSE') return `address in use: ${(error as { address?: string }).address ?? ''}${(error as { port?: number }).port !== undefined ? `:${(error as { port: number }).port}` : ''} is taken by another process`;
  if (causeCodes.includes('LEVEL_LOCKED')) return (error as Error).message;
  // The WebSocket listener (uWebSockets.js) gives no errno: its error says the address is not available.
  if (error instanceof InvalidArgumentError && error.message.includes('cannot listen on')) return error.message;
  return undefined;
}
