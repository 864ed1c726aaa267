/**
 * What a member reports about itself and its group: the types status is made of, shared by the
 * server (which answers `status`) and the member (which fills them in), and how they are filled.
 */
import type { GroupStatus, MirrorStatus } from '../protocol/status.js';
import type { GroupView } from './group-view.js';

// The types are the wire's (protocol/status.ts); this module fills them in.
export type { GroupStatus, MirrorStatus, ServerState } from '../protocol/status.js';

/** What status shows of a member, whatever its role. */
export interface MemberFacts {
  leader: string | undefined;
  view: GroupView;
  removed: boolean;
}

/** A member's view of its group, for status: the leader, the recorded view, and each mirror's progress (on the active). */
export function groupStatus(member: MemberFacts, diverged: GroupStatus['diverged'], mirrors: MirrorStatus[]): GroupStatus {
  return {
    leader: member.leader ?? null,
    members: member.view.members.map((m) => ({ name: m.name, kind: m.kind })),
    inSync: [...member.view.inSync],
    viewVersion: member.view.version,
    removed: member.removed,
    diverged,
    mirrors,
  };
}

/** Each mirror's catch-up rate: its acknowledged LSN sampled at most once a second. */
export class MirrorRates {
  private readonly samples = new Map<string, { ms: number; lsn: number; rate: number }>();

  sample(mirrors: Iterable<{ readonly mirror: string; readonly ackedLsn: number }>, now: number): void {
    for (const { mirror, ackedLsn } of mirrors) {
      const sample = this.samples.get(mirror);
      if (!sample) this.samples.set(mirror, { ms: now, lsn: ackedLsn, rate: 0 });
      else if (now - sample.ms >= 1000) {
        this.samples.set(mirror, { ms: now, lsn: ackedLsn, rate: Math.max(0, Math.round(((ackedLsn - sample.lsn) * 1000) / (now - sample.ms))) });
      }
    }
  }

  /** Records acknowledged per second over the last few seconds. */
  rate(mirror: string): number {
    return this.samples.get(mirror)?.rate ?? 0;
  }

  forget(mirror: string): void {
    this.samples.delete(mirror);
  }
}

/** Spacing of {@link WrittenHistory}'s samples, and how many it keeps: five minutes of them. */
const WRITTEN_SAMPLE_MS = 100;
const WRITTEN_SAMPLES_MAX = 3000;

/**
 * When the active's log reached which LSN, sampled at its ticks: how long ago a record was
 * written, to a tick's precision, without a clock read per record. Past its horizon it answers
 * the age of its oldest sample, a lower bound.
 */
export class WrittenHistory {
  private readonly samples: Array<{ lsn: number; ms: number }> = [];

  sample(lsn: number, now: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && (last.lsn === lsn || now - last.ms < WRITTEN_SAMPLE_MS)) return;
    this.samples.push({ lsn, ms: now });
    if (this.samples.length > WRITTEN_SAMPLES_MAX) this.samples.shift();
  }

  /** Milliseconds since record `lsn` was written: since the first sample that had reached it; 0 if none has yet. */
  msSinceWritten(lsn: number, now: number): number {
    const reached = this.samples.find((s) => s.lsn >= lsn);
    return reached ? now - reached.ms : 0;
  }
}
