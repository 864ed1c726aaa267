/**
 * The exit codes `kiln` ends with, and the errors of its own command line. Imports nothing, so
 * `kiln help` and a usage error load nothing else; the other failures are described in
 * `failure.ts`.
 */

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

/**
 * The line for a command line that does not make sense, a {@link UsageError} or one from
 * node:util parseArgs (an unknown option, or a value missing or given to a flag); undefined for any
 * other error. `help` is where the usage of the command given is.
 */
export function describeUsageFailure(error: unknown, help: string): { line: string; code: number } | undefined {
  if (error instanceof UsageError) return { line: `kiln: ${error.message} (see ${help})`, code: EXIT.usage };
  if (isParseArgsError(error)) return { line: `kiln: ${error.message.split('. ')[0]!.replace(/\.$/, '')} (see ${help})`, code: EXIT.usage };
  return undefined;
}

function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
