/**
 * How `kiln` ends on an error: one line on stderr and an exit code a script can branch on. An
 * error the user can fix (a flag, the config file, a port or data directory in use, a server that
 * does not answer) is described, never traced; only a bug prints its stack.
 */
import { ConfigError, ConnectionRefusedError, InvalidArgumentError, KilnError, TimeoutError, TlsError } from '@kiln/core';
import { causesOf } from './causes.js';
import { describeUsageFailure, EXIT, UnreachableError } from './exit-codes.js';
import { diskFullAtStart } from './store-failure.js';

/** The one line and the exit code an error ends `kiln` with; `help` is where the usage of the command given is. */
export function describeFailure(error: unknown, help = 'kiln help'): { line: string; code: number } {
  const usage = describeUsageFailure(error, help);
  if (usage !== undefined) return usage;
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

/** The reason when a listener could not bind or the store's lock is held; undefined otherwise. */
function inUseReason(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  const causeCodes = causesOf(error).slice(1).map((cause) => (cause as { code?: unknown }).code);
  if (code === 'EADDRINUSE') return `address in use: ${(error as { address?: string }).address ?? ''}${(error as { port?: number }).port !== undefined ? `:${(error as { port: number }).port}` : ''} is taken by another process`;
  if (causeCodes.includes('LEVEL_LOCKED')) return (error as Error).message;
  // The WebSocket listener (uWebSockets.js) gives no errno: its error says the address is not available.
  if (error instanceof InvalidArgumentError && error.message.includes('cannot listen on')) return error.message;
  return undefined;
}
