/**
 * Progress lines while a mirror catches up, logged by the active every few seconds: records to
 * go, the rate they were acknowledged at since the last line, and the time left at that rate; or,
 * for a mirror whose acknowledgements stopped advancing, how long they have not.
 */
import { systemClock, type Clock, type MirrorStatus } from '@kiln/core';
import type { MemberLog } from './member-log.js';

/** How often the active reports a mirror catching up. */
export const CATCH_UP_LOG_EVERY_MS = 5000;
/** How often it looks: a catch-up shorter than a report's interval is still reported once. */
const CATCH_UP_SAMPLE_MS = 1000;
/**
 * A mirror whose acknowledged LSN stood still this long is reported as making no progress: its
 * acks do not arrive (one direction of its link dropped, say), and a time left from a stale or
 * trickling rate would mean nothing.
 */
export const NO_PROGRESS_AFTER_MS = 3000;

/** One progress line, as text and as the fields of a JSON log line. */
export interface CatchUpLine {
  line: string;
  fields: Record<string, unknown>;
}

/** What the report knows of one mirror behind the active; times on the monotonic clock. */
interface MirrorProgress {
  ackedLsn: number;
  /** When its acknowledged LSN was last seen to change (or first seen). */
  movedMs: number;
  /** When it was last reported, and its acknowledged LSN then. */
  loggedMs?: number;
  loggedLsn: number;
}

/**
 * The catch-up report of one active: fed the mirrors' status once a look, it says which lines are
 * due. Times come from a monotonic clock, so a step of the wall clock neither silences nor floods it.
 */
export class CatchUpReport {
  private readonly mirrors = new Map<string, MirrorProgress>();

  constructor(
    private readonly clock: Pick<Clock, 'monotonicMs'> = systemClock,
    private readonly everyMs = CATCH_UP_LOG_EVERY_MS,
  ) {}

  /**
   * The lines due now: a mirror is reported when first seen catching up, then every `everyMs`
   * while it still is and answers; one in sync, with nothing to go, or gone is forgotten.
   */
  look(mirrors: readonly MirrorStatus[]): CatchUpLine[] {
    const now = this.clock.monotonicMs();
    const behind = new Set<string>();
    const lines: CatchUpLine[] = [];
    for (const m of mirrors) {
      if (m.inSync || m.lag <= 0) continue;
      behind.add(m.name);
      let progress = this.mirrors.get(m.name);
      if (!progress) this.mirrors.set(m.name, (progress = { ackedLsn: m.ackedLsn, movedMs: now, loggedLsn: m.ackedLsn }));
      else if (m.ackedLsn !== progress.ackedLsn) Object.assign(progress, { ackedLsn: m.ackedLsn, movedMs: now });
      if (!m.reachable || (progress.loggedMs !== undefined && now - progress.loggedMs < this.everyMs)) continue;
      // The server's rate spans its last second only; since the last line, it is the rate the time left holds at.
      const rate = progress.loggedMs === undefined ? m.rate : Math.max(0, Math.round(((m.ackedLsn - progress.loggedLsn) * 1000) / (now - progress.loggedMs)));
      lines.push(catchUpLine(m, rate, now - progress.movedMs));
      Object.assign(progress, { loggedMs: now, loggedLsn: m.ackedLsn });
    }
    for (const name of this.mirrors.keys()) if (!behind.has(name)) this.mirrors.delete(name);
    return lines;
  }
}

/** The line for a mirror `lag` records behind, acknowledging `rate` records/s, its acknowledged LSN unchanged for `stillMs`. */
export function catchUpLine(m: MirrorStatus, rate: number, stillMs: number): CatchUpLine {
  const head = `kiln: mirror ${m.name} catching up: ${m.lag} records to go`;
  if (stillMs >= NO_PROGRESS_AFTER_MS) {
    const seconds = Math.floor(stillMs / 1000);
    return { line: `${head}, no progress for ${seconds} s`, fields: { mirror: m.name, recordsToGo: m.lag, rate: 0, secondsLeft: null, secondsWithoutProgress: seconds } };
  }
  const secondsLeft = rate > 0 ? Math.ceil(m.lag / rate) : null;
  const left = secondsLeft === null ? 'time left unknown until it acknowledges' : `about ${secondsLeft} s left`;
  return { line: `${head} at ${rate} records/s, ${left}`, fields: { mirror: m.name, recordsToGo: m.lag, rate, secondsLeft } };
}

/**
 * Logs {@link CatchUpReport}'s lines while this server is the active; returns a function that stops it.
 * `mirrors` gives the group's mirrors as the server's status has them, or undefined for a server in
 * no group, which never has one: it is not looked at again. A server whose group holds no mirror
 * (a stripe of one server, or a mirror itself) looks every `everyMs` only, so that it wakes no
 * oftener for nothing; one added is then seen within that, and looked at every second on.
 */
export function logCatchUp(mirrors: () => readonly MirrorStatus[] | undefined, log: MemberLog, everyMs = CATCH_UP_LOG_EVERY_MS): () => void {
  if (mirrors() === undefined) return () => undefined;
  const report = new CatchUpReport(systemClock, everyMs);
  let timer: ReturnType<typeof setTimeout>;
  const lookIn = (ms: number): void => {
    timer = setTimeout(() => {
      const seen = mirrors() ?? [];
      for (const progress of report.look(seen)) log(progress.line, progress.fields);
      lookIn(seen.length > 0 ? Math.min(everyMs, CATCH_UP_SAMPLE_MS) : everyMs);
    }, ms);
    timer.unref();
  };
  lookIn(Math.min(everyMs, CATCH_UP_SAMPLE_MS));
  return () => clearTimeout(timer);
}
