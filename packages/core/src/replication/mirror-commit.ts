/**
 * How far a mirror knows its own log is committed, for the reads a mirror serves (a backup from a
 * mirror): no further than the records it matched with the current active, and no further than
 * the commit index that active told it in the same append. The active's `commitIndex` alone is
 * not enough: it may arrive before the records it covers are applied here, or while this log
 * still holds a predecessor's uncommitted tail at those LSNs. Only a mirror of the in-sync set,
 * in step with the active, serves such reads at all.
 */
import { MirrorBehindError, MirrorNotInSyncError } from '../errors.js';
import type { TimerHandle, Timers } from '../time.js';
import type { MemberState } from './member-state.js';

export class MirrorCommit {
  private lsn = 0;
  private readonly waiters = new Set<() => void>();

  /** The last LSN this mirror holds and knows is committed (0 until it applied an append of the active). */
  get committedLsn(): number {
    return this.lsn;
  }

  /**
   * An append of the current term's active was applied: this log matches the active's through
   * `matchedLsn`, and the active had committed through `commitIndex` when it sent it.
   */
  applied(matchedLsn: number, commitIndex: number): void {
    this.lsn = Math.min(matchedLsn, commitIndex);
    for (const wake of this.waiters) wake();
  }

  /** The active's log differs from this one after `lsn` (an append did not match): nothing past it is known. */
  differsAfter(lsn: number): void {
    this.lsn = Math.min(this.lsn, lsn);
  }

  /**
   * `throughLsn`, once this mirror knows its log committed through it, waiting up to `waitMs`.
   * @throws MirrorNotInSyncError unless `member` is a mirror of the in-sync set, in step with the active
   * @throws MirrorBehindError when it did not learn within `waitMs` that the range is committed
   */
  async readIndex(member: MemberState, throughLsn: number, waitMs: number, timers: Timers): Promise<number> {
    requireInSyncMirror(member);
    if (!(await this.reached(throughLsn, waitMs, timers))) throw new MirrorBehindError(member.self.name, this.lsn, throughLsn);
    // It may have left the in-sync set, or taken office, while it waited.
    requireInSyncMirror(member);
    return throughLsn;
  }

  /** Resolves true once {@link committedLsn} reaches `lsn`, or false after `waitMs`. */
  reached(lsn: number, waitMs: number, timers: Timers): Promise<boolean> {
    if (this.lsn >= lsn) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const settle = (reached: boolean): void => {
        this.waiters.delete(check);
        timer?.cancel();
        resolve(reached);
      };
      const check = (): void => {
        if (this.lsn >= lsn) settle(true);
      };
      this.waiters.add(check);
      timer = timers.setTimeout(() => settle(false), waitMs);
    });
  }
}

function requireInSyncMirror(member: MemberState): void {
  const inSync = member.self.kind === 'server' && !member.removed && member.view.inSync.includes(member.self.name);
  if (!inSync || member.state !== 'PASSIVE-STANDBY') throw new MirrorNotInSyncError(member.self.name, member.removed ? 'removed' : member.state);
}
