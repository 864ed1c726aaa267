/**
 * What `kiln start` and `kiln voter` write to stderr: the member's log lines as they are
 * (`--log-format text`, the default) or one JSON object per line (`--log-format json`):
 * `{ time, level, member, msg, ...fields }`, for a log shipper.
 */
import { UsageError } from './exit-codes.js';

export type LogFormat = 'text' | 'json';

/** A log line, with structured fields where the caller has them (they show only in JSON). */
export type MemberLog = (line: string, fields?: Record<string, unknown>) => void;

/** @throws UsageError for a format other than text or json */
export function logFormatOf(value: string | undefined): LogFormat {
  if (value === undefined || value === 'text' || value === 'json') return value ?? 'text';
  throw new UsageError(`--log-format must be text or json, not '${value}'`);
}

/** A member's log, written with `write` (stderr by default). */
export function memberLog(format: LogFormat, member: string, write: (text: string) => void = (text) => void process.stderr.write(text)): MemberLog {
  if (format === 'text') return (line) => write(`${line}\n`);
  return (line, fields = {}) => {
    const msg = line.replace(/^kiln: /, '');
    write(`${JSON.stringify({ time: new Date().toISOString(), level: levelOf(msg), member, msg, ...fields })}\n`);
  };
}

/** The level a line reads as: a failure is an error, a refusal or a loss of quorum a warning. */
function levelOf(msg: string): 'info' | 'warn' | 'error' {
  if (/\bFAILED\b|failed/.test(msg)) return 'error';
  if (/cannot|refused|dropped|diverged|steps down|unreachable|removed/.test(msg)) return 'warn';
  return 'info';
}
