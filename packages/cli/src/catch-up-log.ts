/**
 * Progress lines while a mirror catches up, logged by the active every few seconds: records to
 * go, the rate they are acknowledged at, and the time left at that rate.
 */
import type { MirrorStatus, ServerObservation } from '@kiln/core';
import type { MemberLog } from './member-log.js';

/** How often the active reports a mirror catching up. */
export const CATCH_UP_LOG_EVERY_MS = 5000;
/** How often it looks: a catch-up shorter than a report's interval is still reported once. */
const CATCH_UP_SAMPLE_MS = 1000;

/** The line for one mirror behind the active, or undefined for one in sync, unreachable, or with nothing to go. */
export function catchUpLine(m: MirrorStatus): { line: string; fields: Record<string, unknown> } | undefined {
  if (m.inSync || !m.reachable || m.lag <= 0) return undefined;
  const secondsLeft = m.rate > 0 ? Math.ceil(m.lag / m.rate) : null;
  const left = secondsLeft === null ? 'time left unknown until it acknowledges' : `about ${secondsLeft} s left`;
  return { line: `kiln: mirror ${m.name} catching up: ${m.lag} records to go at ${m.rate} records/s, ${left}`, fields: { mirror: m.name, recordsToGo: m.lag, rate: m.rate, secondsLeft } };
}

/**
 * Logs each mirror as soon as it is seen catching up, then every `everyMs` while it still is,
 * while this server is the active; returns a function that stops it.
 */
export function logCatchUp(observe: () => ServerObservation, log: MemberLog, everyMs = CATCH_UP_LOG_EVERY_MS): () => void {
  const lastLogged = new Map<string, number>();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const mirror of observe().status.group?.mirrors ?? []) {
      const progress = catchUpLine(mirror);
      if (!progress) {
        lastLogged.delete(mirror.name);
        continue;
      }
      const last = lastLogged.get(mirror.name);
      if (last !== undefined && now - last < everyMs) continue;
      lastLogged.set(mirror.name, now);
      log(progress.line, progress.fields);
    }
  }, Math.min(everyMs, CATCH_UP_SAMPLE_MS));
  timer.unref();
  return () => clearInterval(timer);
}
