/**
 * A mirror's (or a voter's) side of replication: it applies what the active ships after the
 * common prefix, truncating a divergent tail (kept in the `diverged` report under availability),
 * and acknowledges how far its log matches. A voter holds no log and only acknowledges.
 */
import type { LogLimits } from '../limits.js';
import { ByteSlab } from '../log/byte-slab.js';
import { indexRecord, type EncodedRecord } from '../log/record.js';
import { StoreClosedError } from '../errors.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { DivergedReport } from './diverged-report.js';
import type { MemberState } from './member-state.js';
import type { MirrorCommit } from './mirror-commit.js';
import type { PeerSender } from './outbox.js';
import type { AckMessage, AppendMessage } from './peer-protocol.js';

export interface FollowerContext {
  member: MemberState;
  outbox: PeerSender;
  store: CheckedStore;
  logLimits: LogLimits;
  diverged: DivergedReport;
  /** How far this log is known committed: what a mirror may serve of it. */
  commit: MirrorCommit;
  log: (line: string) => void;
  /** True once the member stopped: nothing more is applied. */
  stopped: () => boolean;
  /** Called when the store failed under an apply (a full disk, say): the server stops, as an active's would. */
  onFailed: (error: unknown) => void;
  /** Runs `callback` at the end of this event-loop turn: acknowledgements are gathered until then. */
  defer: (callback: () => void) => void;
}

export class Follower {
  /** Appends received and not yet applied, in order. */
  private readonly inbox: AppendMessage[] = [];
  private applying: Promise<void> = Promise.resolve();
  /** The latest acknowledgement not yet sent: it says all the earlier ones did. */
  private pendingAck: Omit<AckMessage, 'stripe'> | undefined;
  private pendingAckTo = '';
  /** A send of the pending acknowledgement waits for this turn's end. */
  private ackDeferred = false;
  /** Where the records' copies are carved from. */
  private readonly copies = new ByteSlab();

  constructor(private readonly context: FollowerContext) {}

  /** Takes an append of the current term's active: a voter acknowledges it, a server queues it. */
  receive(message: AppendMessage): void {
    const { member } = this.context;
    if (member.self.kind === 'voter') {
      this.context.outbox.send(message.from, { kind: 'ack', term: member.term, from: member.self.name, lastLsn: 0, matched: true, askedAtMs: message.askedAtMs });
      return;
    }
    this.inbox.push(message);
    if (this.inbox.length === 1) {
      this.applying = this.applying.then(() => this.applyInbox());
    }
  }

  /** Resolves once nothing is being applied. */
  idle(): Promise<void> {
    return this.applying;
  }

  /**
   * Applies queued appends in order. Appends that queued up behind a store write and follow one
   * another go to the store together: one write (one sync) and one acknowledgement for all.
   */
  private async applyInbox(): Promise<void> {
    while (this.inbox.length > 0) {
      const first = this.inbox[0]!;
      let merged = first;
      let taken = 1;
      // One store write holds at most one group commit's worth, as the store requires.
      const { groupCommitRecordsMax, groupCommitBytesMax } = this.context.logLimits;
      let bytes = byteLength(first.records);
      while (taken < this.inbox.length && merged.records.length > 0) {
        const next = this.inbox[taken]!;
        if (next.term !== merged.term || next.from !== merged.from || next.records.length === 0) break;
        if (next.prevLsn !== merged.prevLsn + merged.records.length) break;
        const nextBytes = byteLength(next.records);
        if (merged.records.length + next.records.length > groupCommitRecordsMax || bytes + nextBytes > groupCommitBytesMax) break;
        merged = { ...merged, records: [...merged.records, ...next.records], commitIndex: next.commitIndex, askedAtMs: next.askedAtMs };
        bytes += nextBytes;
        taken++;
      }
      try {
        await this.apply(merged);
      } catch (error) {
        // A store closed under an apply: the server is stopping. Any other failure leaves the disk
        // in doubt, and a mirror that stayed up refusing every apply (acknowledging heartbeats)
        // held the active's commits: it stops, its redial is refused, and the active drops it.
        if (!(error instanceof StoreClosedError)) this.context.onFailed(error);
      } finally {
        this.inbox.splice(0, taken);
      }
      // More queued: the next apply's acknowledgement supersedes this one; should that apply wait
      // on a slow store write, this one goes at the turn's end.
      if (this.inbox.length > 0) this.deferAck();
    }
    // Nothing more to apply: the acknowledgement goes now, not at the turn's end (the active's
    // commit, and its client, wait on it). The appends of one read of the socket all arrive before
    // the first is applied, so this is still one acknowledgement per read.
    this.sendAck();
  }

  /** Checks the records follow this log, truncates a divergent tail, appends, and acknowledges. */
  private async apply(message: AppendMessage): Promise<void> {
    const { store, member } = this.context;
    if (this.context.stopped() || message.term !== member.term) return;
    // The ack echoes when the active asked: its lease counts this answer from then.
    const reply = (lastLsn: number, matched: boolean): void => this.acknowledge(message.from, { kind: 'ack', term: member.term, from: member.self.name, lastLsn, matched, askedAtMs: message.askedAtMs });
    const last = store.lastPosition;
    if (last.lsn < message.prevLsn) return reply(last.lsn, false);
    if ((this.tailTerm(message.prevLsn) ?? (await this.termAt(message.prevLsn))) !== message.prevTerm) {
      this.context.commit.differsAfter(message.prevLsn - 1);
      return reply(Math.max(message.prevLsn - 1, 0), false);
    }
    // Copy out of the network buffer (a store may keep the bytes, which would pin a whole read of
    // the socket), into one run of bytes for the whole append: not one per record.
    const copy = this.copies.take(byteLength(message.records));
    const records: EncodedRecord[] = [];
    let lsn = message.prevLsn;
    let offset = 0;
    for (const bytes of message.records) {
      copy.set(bytes, offset);
      records.push(indexRecord(copy.subarray(offset, offset + bytes.length), ++lsn));
      offset += bytes.length;
    }
    // Keep what already matches; replace everything after the first difference.
    let skip = 0;
    while (skip < records.length && records[skip]!.lsn <= store.lastPosition.lsn && (await this.termAt(records[skip]!.lsn)) === records[skip]!.term) skip++;
    const fresh = records.slice(skip);
    if (fresh.length > 0) {
      if (store.lastPosition.lsn >= fresh[0]!.lsn) {
        // Under availability both sides of a partition may have acknowledged: keep what goes.
        if (member.availability) {
          const kept = await this.context.diverged.keepAfter(fresh[0]!.lsn - 1, message.term, member.clock.wallMs());
          this.context.log(`${member.self.name}: ${kept} record(s) after LSN ${fresh[0]!.lsn - 1} diverged from the active of term ${message.term}; kept in the diverged report`);
        }
        await store.truncateAfter(fresh[0]!.lsn - 1);
      }
      await store.append(fresh);
    }
    // Past the active's start (and this append), records of an older term are none of the active's:
    // all it wrote since is of its own term. Drop them, or an active that writes nothing would
    // leave a predecessor's uncommitted tail here for good (and make this log look the newer).
    const end = Math.max(message.prevLsn + records.length, message.termStartLsn);
    if (store.lastPosition.lsn > end && store.lastPosition.term < message.term) {
      if (member.availability) {
        const kept = await this.context.diverged.keepAfter(end, message.term, member.clock.wallMs());
        this.context.log(`${member.self.name}: ${kept} record(s) after LSN ${end} diverged from the active of term ${message.term}; kept in the diverged report`);
      }
      await store.truncateAfter(end);
    }
    member.state = member.view.inSync.includes(member.self.name) ? 'PASSIVE-STANDBY' : 'PASSIVE-SYNCING';
    this.context.commit.applied(message.prevLsn + records.length, message.commitIndex);
    if (message.prevLsn + records.length >= message.commitIndex) member.forgotLog = false;
    reply(message.prevLsn + records.length, true);
  }

  /**
   * Holds `ack` in place of any held before, until the inbox is empty (or the turn's end, see
   * {@link deferAck}): the active then commits once per batch of this mirror, not once per append
   * it applied. A later ack says where this log stands now, so it supersedes the earlier (a
   * mismatch after a match only makes the active ship again what it had).
   */
  private acknowledge(to: string, ack: Omit<AckMessage, 'stripe'>): void {
    this.pendingAck = ack;
    this.pendingAckTo = to;
  }

  /** Sends the held acknowledgement at this turn's end, unless it went before. */
  private deferAck(): void {
    if (this.pendingAck === undefined || this.ackDeferred) return;
    this.ackDeferred = true;
    this.context.defer(() => {
      this.ackDeferred = false;
      this.sendAck();
    });
  }

  /** Sends the held acknowledgement, if any, and writes it at once. */
  private sendAck(): void {
    const pending = this.pendingAck;
    this.pendingAck = undefined;
    if (pending === undefined || this.context.stopped()) return;
    this.context.outbox.send(this.pendingAckTo, pending);
    // The transport would otherwise hold it until the end of this turn (or the next, from a turn's end).
    this.context.outbox.writeNow();
  }

  /** The term at `lsn` when known without a read (the log's start or its tail), else undefined. */
  private tailTerm(lsn: number): number | undefined {
    if (lsn === 0) return 0;
    const last = this.context.store.lastPosition;
    return lsn === last.lsn ? last.term : undefined;
  }

  private async termAt(lsn: number): Promise<number> {
    const known = this.tailTerm(lsn);
    if (known !== undefined) return known;
    const [record] = await this.context.store.readRecords(lsn, { direction: 'forward', maxCount: 1, maxBytes: 1 });
    return record?.term ?? -1;
  }
}

function byteLength(records: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.length;
  return bytes;
}
