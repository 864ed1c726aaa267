/**
 * Elections, as one member takes part in them. A member that hears from no active for
 * `mirrorTimeoutMs` first polls the others (pre-vote, in its current term): only when a majority
 * has lost the active too does it open a round for the next term, so a member that was paused or
 * cut off alone never moves the group to a higher term and deposes a live active. For `electionTimeMs`, or until it heard from
 * every member it can reach, the round collects candidacies; then the member votes once for the
 * best in-sync candidate at least as up to date as itself and holding the commit point it heard
 * from an active. A candidate with a majority becomes the active (one restarted without a disk
 * only once it heard every in-sync server). The vote is on disk before it is sent.
 */
import type { Random } from '../time.js';
import { chooseCandidate, forgetfulMayTakeOffice, lacksCommitted, majority, nextOwnTerm, silenceAllowedMs, type Candidate, type CommitPoint, type LogTip } from './election.js';
import type { MemberState } from './member-state.js';
import type { PeerSender } from './outbox.js';
import type { CandidacyMessage } from './peer-protocol.js';

interface Round {
  term: number;
  /** When this member joined the round (monotonic ms): its candidacy went out then, so every vote it wins answers it. */
  askedAtMs: number;
  deadlineMs: number;
  candidates: Map<string, Candidate>;
  /** The log of every member heard in the round, standing or not. */
  tips: Map<string, LogTip>;
  heard: Set<string>;
  closed: boolean;
  votesForMe: Set<string>;
  /** Set once this member won the round's votes and declined the office (see `mayTakeOffice`). */
  declined: boolean;
}

/** A pre-vote poll: in `term`, who would join an election for the next one, and who would not. */
interface Poll {
  term: number;
  deadlineMs: number;
  granted: Set<string>;
  refused: Set<string>;
}

export interface ElectionContext {
  member: MemberState;
  outbox: PeerSender;
  random: Random;
  log: (line: string) => void;
  /** Whether the outgoing connection to a member is up: a round need not wait for one that is down. */
  isConnected: (name: string) => boolean;
  /** Whether the last dial to a member was refused: nothing accepts at its address. */
  isRefused: (name: string) => boolean;
  /** Whether a member is connected and understands pre-vote messages (an older one does not). */
  speaksPreVote: (name: string) => boolean;
  /**
   * Takes office in `term`, won by a majority (or alone, under availability); `askedAtMs` is when
   * this member asked for the votes, from which its lease counts them.
   */
  becomeActive: (term: number, askedAtMs: number) => Promise<void>;
  /** A round was opened or joined: one more election held, for metrics. */
  roundOpened: () => void;
}

export class Election {
  private round: Round | undefined;
  private poll: Poll | undefined;
  /** When a lapsed poll was last reported (monotonic ms), so that a long outage logs once a window. */
  private lapseReportedMs = -Infinity;
  /** Set while this member takes office: it must not start to twice. */
  private promoting = false;

  constructor(private readonly context: ElectionContext) {}

  /** An active of the current term spoke: a round for this term or an earlier one is over. */
  onActiveHeard(): void {
    if (this.round && this.round.term <= this.context.member.term) this.round = undefined;
    this.poll = undefined;
  }

  /** This member took office: its round is over. */
  onTookOffice(): void {
    this.round = undefined;
    this.poll = undefined;
  }

  /** Not the active: ends a round whose time is up, and opens one when the active was silent too long. */
  tick(now: number): void {
    const { member } = this.context;
    const { mirrorTimeoutMs, electionTimeMs } = member.options;
    this.checkRound();
    this.promoteAlone();
    const silentMs = now - member.lastFromActiveMs;
    const timeoutMs = silenceAllowedMs(mirrorTimeoutMs, member.leader !== undefined && this.context.isRefused(member.leader));
    // Jitter keeps members that lost the active together from always colliding.
    const patienceMs = timeoutMs + (this.round ? electionTimeMs : 0) + this.context.random.next() * 50;
    if (member.eligible && silentMs > patienceMs && (!this.round || this.round.closed)) this.pollOrWait(now);
  }

  /** Opens a pre-vote poll, unless one of this term is still waiting for answers. */
  private pollOrWait(now: number): void {
    const { member, outbox } = this.context;
    if (this.poll && this.poll.term === member.term && now < this.poll.deadlineMs) return this.checkPoll();
    if (this.poll) this.reportLapsedPoll(this.poll, now);
    const self = member.self.name;
    this.poll = { term: member.term, deadlineMs: now + member.options.leaseMs, granted: new Set([self]), refused: new Set() };
    for (const m of member.view.members) {
      if (m.name !== self && this.context.speaksPreVote(m.name)) outbox.send(m.name, { kind: 'pre-candidacy', term: member.term, from: self });
    }
    this.checkPoll();
  }

  /**
   * Says, at most once an election window, why a poll lapsed: how many voting members are
   * reachable out of how many an election needs, as a round that cannot complete does.
   */
  private reportLapsedPoll(poll: Poll, now: number): void {
    const { member } = this.context;
    if (now - this.lapseReportedMs < member.options.electionTimeMs) return;
    this.lapseReportedMs = now;
    const members = member.view.members;
    const reachable = members.filter((m) => m.name === member.self.name || poll.granted.has(m.name) || poll.refused.has(m.name) || this.context.isConnected(m.name)).length;
    const needed = majority(members.length);
    const refusing = poll.refused.size > 0 ? `; ${poll.refused.size} still hear an active` : '';
    // Connected members that never answer (paused processes, whose kernels keep the connections) are not enough.
    const answered = poll.granted.size + poll.refused.size;
    const heard = reachable < needed ? `${reachable} of ${members.length} voting members reachable` : `${answered} of ${members.length} voting members answered within ${member.options.leaseMs} ms (${reachable} connected)`;
    this.context.log(`${member.self.name}: election for term ${member.term + 1} cannot complete: ${heard}, ${needed} needed${refusing}`);
  }

  /**
   * A member asks whether this one would join an election. Not while it is the active, nor while
   * it hears an active of its term: that one is alive, and a new term would only depose it.
   */
  onPreCandidacy(from: string, term: number): void {
    const { member } = this.context;
    const { leaseMs, mirrorTimeoutMs } = member.options;
    const silentMs = member.clock.monotonicMs() - member.lastFromActiveMs;
    const activeHeard = member.leader !== undefined && silentMs <= Math.min(leaseMs, mirrorTimeoutMs) && !this.context.isRefused(member.leader);
    const granted = term >= member.term && !member.isActive && !member.removed && !activeHeard;
    this.context.outbox.send(from, { kind: 'pre-vote', term: member.term, from: member.self.name, granted });
  }

  onPreVote(from: string, term: number, granted: boolean): void {
    const poll = this.poll;
    if (!poll || poll.term !== term || term !== this.context.member.term) return;
    (granted ? poll.granted : poll.refused).add(from);
    this.checkPoll();
  }

  /**
   * Opens the election once a majority would join it. A connected member of an older version,
   * which cannot answer a poll, counts as joining (it would). Under availability, where a lone
   * member may take over, no refusal once every reachable member answered (or the poll's time
   * ran out) will do.
   */
  private checkPoll(): void {
    const { member } = this.context;
    const poll = this.poll;
    if (!poll || poll.term !== member.term || !member.eligible || member.isActive) return;
    const members = member.view.members;
    const joins = (name: string): boolean => poll.granted.has(name) || (this.context.isConnected(name) && !this.context.speaksPreVote(name));
    const granted = members.filter((m) => joins(m.name)).length;
    const now = member.clock.monotonicMs();
    const allAnswered = members.every((m) => joins(m.name) || poll.refused.has(m.name) || !this.context.isConnected(m.name));
    const alone = member.availability && poll.refused.size === 0 && (allAnswered || now >= poll.deadlineMs);
    if (granted < majority(members.length) && !alone) return;
    this.poll = undefined;
    member.lastFromActiveMs = now;
    this.startElection();
  }

  private startElection(): void {
    const { member } = this.context;
    const term = this.nextTerm();
    member.adoptTerm(term);
    this.context.log(`${member.self.name}: no active heard; election for term ${term}`);
    this.joinRound(term);
  }

  /** Opens (once) the round of `term`, announcing this member as a candidate or a voter. */
  private joinRound(term: number): Round {
    if (this.round?.term === term) return this.round;
    const { member } = this.context;
    const { self } = member;
    const round: Round = {
      term,
      askedAtMs: member.clock.monotonicMs(),
      deadlineMs: member.clock.monotonicMs() + member.options.electionTimeMs,
      candidates: new Map(),
      tips: new Map([[self.name, member.tip]]),
      heard: new Set([self.name]),
      closed: false,
      votesForMe: new Set(),
      declined: false,
    };
    this.round = round;
    this.context.roundOpened();
    // A round in progress counts as news of an active: the patience before the next election
    // starts again, so the round's winner has time to take office before anyone opens another.
    member.lastFromActiveMs = member.clock.monotonicMs();
    const standing = member.eligible && member.leader === undefined;
    if (standing) round.candidates.set(self.name, { name: self.name, weight: self.weight, ...member.tip });
    this.context.outbox.broadcast({ kind: 'candidacy', term, from: self.name, standing, weight: self.weight, ...member.tip, view: member.view });
    return round;
  }

  onCandidacy(message: CandidacyMessage): void {
    const { member } = this.context;
    if (message.term < member.term || member.isActive || member.removed) return;
    void member.learnView(message.view);
    const round = this.joinRound(message.term);
    round.heard.add(message.from);
    round.tips.set(message.from, { lastTerm: message.lastTerm, lastLsn: message.lastLsn });
    if (message.standing) round.candidates.set(message.from, { name: message.from, lastTerm: message.lastTerm, lastLsn: message.lastLsn, weight: message.weight });
    this.checkRound();
  }

  /** Ends the round once its window passed or every reachable member was heard, and votes. */
  checkRound(): void {
    const { member } = this.context;
    const round = this.round;
    if (!round || round.closed || round.term !== member.term) return;
    const now = member.clock.monotonicMs();
    const everyoneHeard = member.view.members.every((m) => round.heard.has(m.name) || !this.context.isConnected(m.name));
    if (now < round.deadlineMs && !everyoneHeard) return;
    round.closed = true;
    const heard = member.view.members.filter((m) => round.heard.has(m.name)).length;
    const needed = majority(member.view.members.length);
    if (heard < needed && !member.availability) {
      this.context.log(`${member.self.name}: election for term ${round.term} cannot complete: ${heard} of ${member.view.members.length} voting members reachable, ${needed} needed`);
    }
    const voted = member.durable.vote;
    if (voted && voted.term >= round.term) return;
    if (now < member.quietUntilMs) return;
    const inSync = new Set(member.view.inSync);
    const choice = chooseCandidate(round.candidates.values(), inSync, inSync.has(member.self.name) ? member.tip : undefined, this.commitToHold(round));
    if (!choice) return;
    member.lastFromActiveMs = now;
    void member.durable.save({ vote: { term: round.term, name: choice.name } }).then(() => {
      this.context.outbox.broadcast({ kind: 'vote', term: round.term, from: member.self.name, votedFor: choice.name, view: member.view });
      this.onVote(round.term, member.self.name, choice.name);
    });
  }

  /**
   * False for a member that forgot its log (restarted without a disk, not caught up since) until
   * it heard every in-sync server in the round, none ahead of it. A group that never recorded a
   * view has had no active, so nothing committed: a cold start elects with a server down.
   */
  private mayTakeOffice(round: Round): boolean {
    const { member } = this.context;
    if (!member.forgotLog || member.availability || member.view.version === 0) return true;
    if (forgetfulMayTakeOffice(member.tip, member.self.name, member.view.inSync, round.tips)) return true;
    if (!round.declined) this.context.log(`${member.self.name}: won term ${round.term} but restarted without a disk and has not heard every in-sync server, none ahead of it: stands down`);
    round.declined = true;
    return false;
  }

  /**
   * The commit point a candidate's log must hold for this member's vote (see `chooseCandidate`),
   * under consistency only: under availability the sides of a cut commit apart, and the higher term
   * wins. Forgotten once every in-sync server was heard in the round and none holds it: those
   * records are lost (memory mode keeps them only while a synced copy lives), and holding out for
   * them would keep the group from electing anyone for good.
   */
  private commitToHold(round: Round): CommitPoint | undefined {
    const { member } = this.context;
    const point = member.knownCommit;
    if (member.availability || point.lsn === 0) return undefined;
    const copies = member.view.inSync.map((name) => round.tips.get(name));
    if (copies.every((tip) => tip !== undefined && lacksCommitted(tip, point))) {
      this.context.log(`${member.self.name}: no in-sync server holds the records committed through LSN ${point.lsn}: they are lost; votes without them`);
      member.knownCommit = { term: 0, lsn: 0 };
      return undefined;
    }
    return point;
  }

  /**
   * The term this member opens next. Under availability a member may promote itself without a
   * majority, so two members must never open the same term: each opens only terms of its own
   * slot (its place in the view).
   */
  private nextTerm(): number {
    const { member } = this.context;
    if (!member.availability) return member.term + 1;
    return nextOwnTerm(member.term, member.view.members.findIndex((m) => m.name === member.self.name));
  }

  /**
   * Availability mode: a member that stood, voted for itself and heard from no other server by
   * the end of the window takes over alone, in a term of its own slot that it never announced
   * (so no majority election can have used it).
   */
  private promoteAlone(): void {
    const { member } = this.context;
    const round = this.round;
    if (!member.availability || !round || !round.closed || round.term !== member.term || this.promoting || member.isActive) return;
    const voted = member.durable.vote;
    if (member.clock.monotonicMs() < round.deadlineMs || voted?.term !== round.term || voted.name !== member.self.name) return;
    if (member.view.members.some((m) => m.kind === 'server' && m.name !== member.self.name && round.heard.has(m.name))) return;
    const term = this.nextTerm();
    this.context.log(`${member.self.name}: heard no other server in the window; takes over alone in term ${term} (availability)`);
    member.adoptTerm(term);
    this.promoting = true;
    void member.durable
      .save({ vote: { term, name: member.self.name } })
      .then(() => this.context.becomeActive(term, round.askedAtMs))
      .finally(() => (this.promoting = false));
  }

  onVote(term: number, from: string, votedFor: string): void {
    const { member } = this.context;
    const round = this.round;
    if (!round || round.term !== term || term !== member.term) return;
    round.heard.add(from);
    if (votedFor === member.self.name) {
      round.votesForMe.add(from);
      const votes = member.view.members.filter((m) => round.votesForMe.has(m.name)).length;
      if (votes >= majority(member.view.members.length) && !member.isActive && !this.promoting && this.mayTakeOffice(round)) {
        this.promoting = true;
        void this.context.becomeActive(term, round.askedAtMs).finally(() => (this.promoting = false));
      }
    }
    this.checkRound();
  }
}
