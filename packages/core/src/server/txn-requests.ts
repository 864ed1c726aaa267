/**
 * A `prepare` or a `decide` from another stripe's active, read by hand (`txn-frames.ts`): once per
 * transaction over several stripes on a participant's active, where the general decode and encode
 * cost more than the rest of the exchange. Its answer is written by hand too.
 */
import type { OperationHandlers } from '../protocol/operations.js';
import { readDecideFrame, readPrepareFrame, writeDecidedFrame, writeVoteFrame } from '../protocol/txn-frames.js';

/** A request read by hand: its id, and its answer's frame once `handlers` served it. */
export interface TxnRequest {
  id: number;
  answer(handlers: Pick<OperationHandlers, 'prepare' | 'decide'>): Promise<Uint8Array>;
}

/** The prepare or decide in `frame`, in its common form; undefined for any other frame (the general path serves it). */
export function readTxnRequest(frame: Uint8Array, streamsMax: number): TxnRequest | undefined {
  const prepare = readPrepareFrame(frame, streamsMax);
  if (prepare) return { id: prepare.id, answer: (handlers) => attempt(() => handlers.prepare(prepare.request)).then((entries) => writeVoteFrame(prepare.id, entries)) };
  const decide = readDecideFrame(frame);
  if (decide) return { id: decide.id, answer: (handlers) => attempt(() => handlers.decide(decide.request)).then(() => writeDecidedFrame(decide.id)) };
  return undefined;
}

/** The frame of an answer written by hand already, as a session's writer of answers. */
export const writtenAlready = (_id: number, frame: Uint8Array): Uint8Array => frame;

/** `start()`, a throw made a rejection, as `serveOperation` does: a handler may throw before it has a promise. */
function attempt<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}
