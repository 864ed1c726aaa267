/**
 * Messages between the members of a mirror group. Each is a MessagePack array opening with its
 * kind, then the stripe it belongs to, then the sender's term and name: a member that sees a
 * higher term than its own adopts it at once (and an active steps down). Messages are one-way;
 * each member sends over its own outgoing connection to each other member.
 *
 * The stripe says which group a message is about: a server serves its own stripe, a voter every
 * stripe. One kind crosses stripes: an active announces itself to the servers of the other
 * stripes, so any server can tell a client where each stripe's active is.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError } from '../errors.js';
import { untrustedDecoderLimits } from '../log/events.js';
import { msgpackShapeProblem } from '../log/msgpack-shape.js';
import { encodeAppendFrame, readAppendFrame, type AppendMessage } from './append-frame.js';
import { viewFromWire, viewToWire, type GroupView } from './group-view.js';

export type { AppendMessage };

/** The stripe of a cluster of one stripe. */
export const SINGLE_STRIPE = 0;

/** A member answers an append: the last LSN it holds, and whether the records followed its log. */
export interface AckMessage {
  kind: 'ack';
  stripe: number;
  term: number;
  from: string;
  lastLsn: number;
  matched: boolean;
  /** The `askedAtMs` of the append this answers, echoed; absent when the append carried none. */
  askedAtMs?: number | undefined;
}

/** The active asks every voting member (old and new) to record a new view of the group. */
export interface ViewMessage {
  kind: 'view';
  stripe: number;
  term: number;
  from: string;
  view: GroupView;
}

/** A voting member recorded view `version`. */
export interface ViewAckMessage {
  kind: 'view-ack';
  stripe: number;
  term: number;
  from: string;
  version: number;
}

/**
 * A voting member joins the election of `term`: as a candidate when `standing`, otherwise only
 * to say it is there, so the others can end their window early once they have heard from all.
 */
export interface CandidacyMessage {
  kind: 'candidacy';
  stripe: number;
  term: number;
  from: string;
  standing: boolean;
  lastTerm: number;
  lastLsn: number;
  weight: number;
  /** The sender's recorded view: members adopt a newer one, so views converge in the election. */
  view: GroupView;
}

/**
 * Pre-vote: a member that lost the active asks, in its current `term`, whether the others would
 * join an election for the next one. Nobody changes term on it, so a member that only lost the
 * active on its own side (a pause, a partition) cannot depose one the others still hear.
 */
export interface PreCandidacyMessage {
  kind: 'pre-candidacy';
  stripe: number;
  term: number;
  from: string;
}

/** The answer to a pre-candidacy: `granted` when the sender has lost the active too. */
export interface PreVoteMessage {
  kind: 'pre-vote';
  stripe: number;
  term: number;
  from: string;
  granted: boolean;
}

/** A voting member gives its one vote of `term`. */
export interface VoteMessage {
  kind: 'vote';
  stripe: number;
  term: number;
  from: string;
  votedFor: string;
  /**
   * The voter's recorded view. A view recorded by a majority is held by at least one member of any
   * majority that elects an active, so the winner learns it from its votes.
   */
  view: GroupView;
}

/**
 * The active of `stripe` in `term` is `from`, and its log is in `epoch` (see `cluster/stripe-epoch.ts`):
 * sent to the servers of the other stripes when it takes office, when its epoch becomes known,
 * and to each server again when its link comes up.
 */
export interface AnnounceMessage {
  kind: 'announce';
  stripe: number;
  term: number;
  from: string;
  epoch: number;
}

/** A message between the members of one group. */
export type GroupMessage = AppendMessage | AckMessage | ViewMessage | ViewAckMessage | CandidacyMessage | PreCandidacyMessage | PreVoteMessage | VoteMessage;

export type PeerMessage = GroupMessage | AnnounceMessage;

/** A message as a member writes it: the network it goes out on adds the stripe it serves. */
export type OutgoingPeerMessage = WithoutStripe<PeerMessage>;

type WithoutStripe<M> = M extends unknown ? Omit<M, 'stripe'> : never;

const encoder = new Encoder();
const decoder = new Decoder(untrustedDecoderLimits);

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  switch (m.kind) {
    case 'append':
      return encodeAppendFrame(m);
    case 'ack':
      // No echo, no field: an older active refuses an ack with seven fields.
      return encoder.encode(m.askedAtMs === undefined ? [m.kind, m.stripe, m.term, m.from, m.lastLsn, m.matched] : [m.kind, m.stripe, m.term, m.from, m.lastLsn, m.matched, m.askedAtMs]);
    case 'view':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, viewToWire(m.view)]);
    case 'view-ack':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, m.version]);
    case 'candidacy':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, m.standing, m.lastTerm, m.lastLsn, m.weight, viewToWire(m.view)]);
    case 'pre-candidacy':
      return encoder.encode([m.kind, m.stripe, m.term, m.from]);
    case 'pre-vote':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, m.granted]);
    case 'vote':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, m.votedFor, viewToWire(m.view)]);
    case 'announce':
      return encoder.encode([m.kind, m.stripe, m.term, m.from, m.epoch]);
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;

/** Decodes and shape-checks a peer message. @throws ProtocolError */
export function decodePeerMessage(frame: Uint8Array): PeerMessage {
  const append = readAppendFrame(frame);
  if (append) return append;
  const problem = msgpackShapeProblem(frame);
  if (problem) throw new ProtocolError(`peer frame is not acceptable MessagePack: ${problem}`);
  let v: unknown;
  try {
    v = decoder.decode(frame);
  } catch (cause) {
    throw new ProtocolError(`peer frame does not decode: ${(cause as Error).message}`);
  }
  if (!Array.isArray(v) || !isCount(v[1]) || !isCount(v[2]) || !isName(v[3])) throw new ProtocolError('peer frame must be [kind, stripe, term, from, ...]');
  const [kind, stripe, term, from, ...rest] = v as [unknown, number, number, string, ...unknown[]];
  const fields = (count: number): boolean => rest.length === count;
  switch (kind) {
    case 'append': {
      const [prevLsn, prevTerm, commitIndex, termStartLsn, records, askedAtMs] = rest;
      if (!(fields(5) || (fields(6) && isCount(askedAtMs))) || !isCount(prevLsn) || !isCount(prevTerm) || !isCount(commitIndex) || !isCount(termStartLsn) || !Array.isArray(records) || !records.every((r) => r instanceof Uint8Array)) {
        throw new ProtocolError('malformed append');
      }
      return { kind, stripe, term, from, prevLsn, prevTerm, commitIndex, termStartLsn, records: records as Uint8Array[], askedAtMs: isCount(askedAtMs) ? askedAtMs : undefined };
    }
    case 'ack': {
      const [lastLsn, matched, askedAtMs] = rest;
      if (!(fields(2) || (fields(3) && isCount(askedAtMs))) || !isCount(lastLsn) || typeof matched !== 'boolean') throw new ProtocolError('malformed ack');
      return { kind, stripe, term, from, lastLsn, matched, askedAtMs: isCount(askedAtMs) ? askedAtMs : undefined };
    }
    case 'view': {
      const view = viewFromWire(rest[0]);
      if (!fields(1) || !view) throw new ProtocolError('malformed view');
      return { kind, stripe, term, from, view };
    }
    case 'view-ack': {
      const [version] = rest;
      if (!fields(1) || !isCount(version)) throw new ProtocolError('malformed view-ack');
      return { kind, stripe, term, from, version };
    }
    case 'candidacy': {
      const [standing, lastTerm, lastLsn, weight, wireView] = rest;
      const view = viewFromWire(wireView);
      if (!fields(5) || typeof standing !== 'boolean' || !isCount(lastTerm) || !isCount(lastLsn) || !isCount(weight) || !view) throw new ProtocolError('malformed candidacy');
      return { kind, stripe, term, from, standing, lastTerm, lastLsn, weight, view };
    }
    case 'pre-candidacy':
      if (!fields(0)) throw new ProtocolError('malformed pre-candidacy');
      return { kind, stripe, term, from };
    case 'pre-vote': {
      const [granted] = rest;
      if (!fields(1) || typeof granted !== 'boolean') throw new ProtocolError('malformed pre-vote');
      return { kind, stripe, term, from, granted };
    }
    case 'vote': {
      const [votedFor, wireView] = rest;
      const view = viewFromWire(wireView);
      if (!fields(2) || !isName(votedFor) || !view) throw new ProtocolError('malformed vote');
      return { kind, stripe, term, from, votedFor, view };
    }
    case 'announce': {
      const [epoch] = rest;
      if (!fields(1) || !isCount(epoch)) throw new ProtocolError('malformed announce');
      return { kind, stripe, term, from, epoch };
    }
    default:
      throw new ProtocolError('unknown peer message kind');
  }
}
