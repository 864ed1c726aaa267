/**
 * Messages between the members of a mirror group. Each is a MessagePack array opening with its
 * kind, then the sender's term and name: a member that sees a higher term than its own adopts it
 * at once (and an active steps down). Messages are one-way; each member sends over its own
 * outgoing connection to each other member.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError } from '../errors.js';
import { untrustedDecoderLimits } from '../log/events.js';
import { msgpackShapeProblem } from '../log/msgpack-shape.js';
import { viewFromWire, viewToWire, type GroupView } from './group-view.js';

/** The active ships records (none: a heartbeat) that follow `(prevLsn, prevTerm)`. */
export interface AppendMessage {
  kind: 'append';
  term: number;
  from: string;
  prevLsn: number;
  prevTerm: number;
  commitIndex: number;
  /** Whole encoded records, in LSN order. */
  records: Uint8Array[];
}

/** A member answers an append: the last LSN it holds, and whether the records followed its log. */
export interface AckMessage {
  kind: 'ack';
  term: number;
  from: string;
  lastLsn: number;
  matched: boolean;
}

/** The active asks every voting member (old and new) to record a new view of the group. */
export interface ViewMessage {
  kind: 'view';
  term: number;
  from: string;
  view: GroupView;
}

/** A voting member recorded view `version`. */
export interface ViewAckMessage {
  kind: 'view-ack';
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
  term: number;
  from: string;
  standing: boolean;
  lastTerm: number;
  lastLsn: number;
  weight: number;
  /** The sender's recorded view: members adopt a newer one, so views converge in the election. */
  view: GroupView;
}

/** A voting member gives its one vote of `term`. */
export interface VoteMessage {
  kind: 'vote';
  term: number;
  from: string;
  votedFor: string;
  /**
   * The voter's recorded view. A view recorded by a majority is held by at least one member of any
   * majority that elects an active, so the winner learns it from its votes.
   */
  view: GroupView;
}

export type PeerMessage = AppendMessage | AckMessage | ViewMessage | ViewAckMessage | CandidacyMessage | VoteMessage;

const encoder = new Encoder();
const decoder = new Decoder(untrustedDecoderLimits);

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  switch (m.kind) {
    case 'append':
      return encoder.encode([m.kind, m.term, m.from, m.prevLsn, m.prevTerm, m.commitIndex, m.records]);
    case 'ack':
      return encoder.encode([m.kind, m.term, m.from, m.lastLsn, m.matched]);
    case 'view':
      return encoder.encode([m.kind, m.term, m.from, viewToWire(m.view)]);
    case 'view-ack':
      return encoder.encode([m.kind, m.term, m.from, m.version]);
    case 'candidacy':
      return encoder.encode([m.kind, m.term, m.from, m.standing, m.lastTerm, m.lastLsn, m.weight, viewToWire(m.view)]);
    case 'vote':
      return encoder.encode([m.kind, m.term, m.from, m.votedFor, viewToWire(m.view)]);
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;

/** Decodes and shape-checks a peer message. @throws ProtocolError */
export function decodePeerMessage(frame: Uint8Array): PeerMessage {
  const problem = msgpackShapeProblem(frame);
  if (problem) throw new ProtocolError(`peer frame is not acceptable MessagePack: ${problem}`);
  let v: unknown;
  try {
    v = decoder.decode(frame);
  } catch (cause) {
    throw new ProtocolError(`peer frame does not decode: ${(cause as Error).message}`);
  }
  if (!Array.isArray(v) || !isCount(v[1]) || !isName(v[2])) throw new ProtocolError('peer frame must be [kind, term, from, ...]');
  const [kind, term, from] = v as [unknown, number, string];
  switch (kind) {
    case 'append': {
      const [, , , prevLsn, prevTerm, commitIndex, records] = v as unknown[];
      if (!isCount(prevLsn) || !isCount(prevTerm) || !isCount(commitIndex) || !Array.isArray(records) || !records.every((r) => r instanceof Uint8Array)) {
        throw new ProtocolError('malformed append');
      }
      return { kind, term, from, prevLsn, prevTerm, commitIndex, records: records as Uint8Array[] };
    }
    case 'ack':
      if (!isCount(v[3]) || typeof v[4] !== 'boolean') throw new ProtocolError('malformed ack');
      return { kind, term, from, lastLsn: v[3], matched: v[4] };
    case 'view': {
      const view = viewFromWire(v[3]);
      if (!view) throw new ProtocolError('malformed view');
      return { kind, term, from, view };
    }
    case 'view-ack':
      if (!isCount(v[3])) throw new ProtocolError('malformed view-ack');
      return { kind, term, from, version: v[3] };
    case 'candidacy': {
      const view = viewFromWire(v[7]);
      if (typeof v[3] !== 'boolean' || !isCount(v[4]) || !isCount(v[5]) || !isCount(v[6]) || !view) throw new ProtocolError('malformed candidacy');
      return { kind, term, from, standing: v[3], lastTerm: v[4], lastLsn: v[5], weight: v[6], view };
    }
    case 'vote': {
      const view = viewFromWire(v[4]);
      if (!isName(v[3]) || !view) throw new ProtocolError('malformed vote');
      return { kind, term, from, votedFor: v[3], view };
    }
    default:
      throw new ProtocolError('unknown peer message kind');
  }
}
