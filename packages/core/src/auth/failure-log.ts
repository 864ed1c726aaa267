/**
 * The log of failed authentications: a line per failure naming the address and the user name
 * given (never a password or token), at most `AUTH_FAILURE_LOG_LINES_MAX` lines a window. The
 * failures past that are counted and told in one line when the window ends, so a flood of
 * guesses from many addresses cannot fill the log.
 *
 * @packageDocumentation
 */
import type { Credentials } from '../protocol/handshake.js';
import { AUTH_FAILURE_LOG_LINES_MAX, AUTH_FAILURE_LOG_WINDOW_MS } from '../limits.js';
import type { Clock, Timers } from '../time.js';

/** Characters of a user name the log shows: it is the client's text, and may be anything the handshake allows. */
const USER_NAME_SHOWN_MAX = 64;

export class FailureLog {
  private windowStartMs = -Infinity;
  private written = 0;
  private unwritten = 0;

  /** `source` opens each line: who refused (a server, or its HTTP listener). */
  constructor(
    private readonly log: (line: string) => void,
    private readonly source: string,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** Logs the failure of `credentials` from `remoteAddress`, unless the window's lines are spent. */
  failed(remoteAddress: string, credentials: Credentials | undefined): void {
    const now = this.clock.monotonicMs();
    if (now - this.windowStartMs >= AUTH_FAILURE_LOG_WINDOW_MS) {
      this.windowStartMs = now;
      this.written = 0;
    }
    if (this.written < AUTH_FAILURE_LOG_LINES_MAX) {
      this.written++;
      this.log(`${this.source}: authentication failed from ${remoteAddress} (${presented(credentials)})`);
      return;
    }
    if (this.unwritten++ === 0) this.timers.setTimeout(() => this.tellUnwritten(), this.windowStartMs + AUTH_FAILURE_LOG_WINDOW_MS - now);
  }

  private tellUnwritten(): void {
    this.log(`${this.source}: authentication failed ${this.unwritten} more time(s) in the last ${AUTH_FAILURE_LOG_WINDOW_MS / 1000} s, not logged one by one`);
    this.unwritten = 0;
  }
}

/** What the client presented, without its secret: the user name (quoted, escaped, cut), a token, or nothing. */
function presented(credentials: Credentials | undefined): string {
  if (credentials === undefined) return 'no credentials';
  if ('token' in credentials) return 'a token';
  const name = credentials.username;
  return `user ${JSON.stringify(name.length > USER_NAME_SHOWN_MAX ? `${name.slice(0, USER_NAME_SHOWN_MAX)}…` : name)}`;
}
