/**
 * What the servers of a cluster ask each other about a transaction over several stripes, over
 * the client protocol (a coordinator is a client of the participants' actives, and a participant
 * of the coordinator's): `prepare` a part, `decide` a prepared part's outcome, and `txnStatus`,
 * the coordinator's decision as far as it has one. An operator asks too: `txnList`, the
 * transactions open on a stripe's active, and `txnResolve`, a decision forced on a part in doubt.
 */
import { Decision, type StreamEntry } from '../log/record.js';
import { transactionFromWire, transactionToWire, type TransactionRequest } from './messages.js';
import { ReplyReader } from './replies.js';
import { InvalidArgumentError } from '../errors.js';
import { TXN_ID_LENGTH_MAX } from '../limits.js';
import { checkWellFormed } from '../log/stream-name.js';

/** A participant's part of a transaction, as its coordinator asks it to prepare it. */
export interface PrepareRequest {
  txnId: string;
  coordinator: number;
  participants: number[];
  /** The client's request, cut to this participant's streams: its `(clientId, seq)` are the client's to the coordinator. */
  part: TransactionRequest;
}

/** The coordinator's decision for a prepared part. */
export interface DecideRequest {
  txnId: string;
  decision: typeof Decision.Commit | typeof Decision.Abort;
}

/** A transaction open on one stripe's active, as `txnList` tells it. */
export interface OpenTransaction {
  txnId: string;
  /** The coordinator's stripe, by name. */
  coordinator: string;
  /** Every participating stripe, by name, the coordinator first. */
  participants: string[];
  /** `deciding`: this stripe coordinates it and has not decided; `prepared`: this stripe prepared its part and has not ended it. */
  state: 'deciding' | 'prepared';
  /** How long this active has known it open. */
  ageMs: number;
  /** A prepared part whose coordinator has not been reached for longer than `txnTimeoutMs`. */
  inDoubt: boolean;
}

/**
 * What `txnResolve` did on one stripe: `none`, it holds no prepared part of the transaction;
 * `forced`, it ended its part with the operator's decision (kept in its `diverged` report);
 * `commit` or `abort`, the coordinator answered after all, and the part ended with its decision;
 * `deciding`, the coordinator answered that it is still deciding, so the part stays.
 */
export type ResolveOutcome = 'none' | 'forced' | 'commit' | 'abort' | 'deciding';

const RESOLVE_OUTCOMES: ReadonlySet<unknown> = new Set<ResolveOutcome>(['none', 'forced', 'commit', 'abort', 'deciding']);


function txnId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > TXN_ID_LENGTH_MAX) throw new InvalidArgumentError('txnId', `must be a string of 1 to ${TXN_ID_LENGTH_MAX} characters`);
  // A prepare keeps the id in the log as UTF-8: a lone surrogate would come back as another id.
  checkWellFormed(value, 'txnId');
  return value;
}

function stripeIndexes(value: unknown): number[] {
  if (!Array.isArray(value) || value.length < 2 || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
    throw new InvalidArgumentError('participants', 'must list at least two stripe indexes');
  }
  return value as number[];
}

export const prepareToWire = (p: PrepareRequest): unknown[] => [p.txnId, p.coordinator, p.participants, transactionToWire(p.part)];

export function prepareFromWire(value: unknown, streamsMax: number): PrepareRequest {
  if (!Array.isArray(value) || value.length !== 4) throw new InvalidArgumentError('prepare', 'must be [txnId, coordinator, participants, part]');
  const [id, coordinator, participants, part] = value as unknown[];
  const list = stripeIndexes(participants);
  if (typeof coordinator !== 'number' || coordinator !== list[0]) throw new InvalidArgumentError('coordinator', 'must be the first (lowest) participant');
  return { txnId: txnId(id), coordinator, participants: list, part: transactionFromWire(part, streamsMax) };
}

export const decideToWire = (d: DecideRequest): unknown[] => [d.txnId, d.decision];

export function decideFromWire(value: unknown): DecideRequest {
  if (!Array.isArray(value) || value.length !== 2) throw new InvalidArgumentError('decide', 'must be [txnId, decision]');
  const [id, decision] = value as unknown[];
  if (decision !== Decision.Commit && decision !== Decision.Abort) throw new InvalidArgumentError('decision', 'must be 1 (commit) or 2 (abort)');
  return { txnId: txnId(id), decision };
}

export const txnIdFromWire = (value: unknown): string => txnId(value);

export const streamEntriesToWire = (entries: readonly StreamEntry[]): unknown[] => entries.map((e) => [e.stream, e.firstVersion, e.eventCount]);

export function streamEntriesFromWire(value: unknown): StreamEntry[] {
  const check = new ReplyReader('prepare');
  return check.array(value, 'streams').map((row, i) => {
    const [stream, firstVersion, eventCount] = check.tuple(row, `streams[${i}]`, 3);
    return { stream: check.string(stream, `streams[${i}].stream`), firstVersion: check.count(firstVersion, `streams[${i}].firstVersion`), eventCount: check.count(eventCount, `streams[${i}].eventCount`) };
  });
}

export function decisionFromWire(value: unknown): Decision {
  if (value !== Decision.None && value !== Decision.Commit && value !== Decision.Abort) new ReplyReader('txnStatus').fail('decision', 'must be 0, 1 or 2');
  return value as Decision;
}

export const openTransactionsToWire = (list: readonly OpenTransaction[]): unknown[] => list.map((t) => [t.txnId, t.coordinator, t.participants, t.state, t.ageMs, t.inDoubt]);

export function openTransactionsFromWire(value: unknown): OpenTransaction[] {
  const check: ReplyReader = new ReplyReader('txnList'); // typed, so that its `fail` narrows
  return check.array(value, 'transactions').map((row, i) => {
    const [id, coordinator, participants, state, ageMs, inDoubt] = check.tuple(row, `transactions[${i}]`, 6);
    if (state !== 'deciding' && state !== 'prepared') check.fail(`transactions[${i}].state`, "must be 'deciding' or 'prepared'");
    if (typeof inDoubt !== 'boolean') check.fail(`transactions[${i}].inDoubt`, 'must be a boolean');
    return {
      txnId: check.string(id, `transactions[${i}].txnId`),
      coordinator: check.string(coordinator, `transactions[${i}].coordinator`),
      participants: check.array(participants, `transactions[${i}].participants`).map((p, j) => check.string(p, `transactions[${i}].participants[${j}]`)),
      state,
      ageMs: check.count(ageMs, `transactions[${i}].ageMs`),
      inDoubt,
    };
  });
}

export function resolveOutcomeFromWire(value: unknown): ResolveOutcome {
  if (!RESOLVE_OUTCOMES.has(value)) new ReplyReader('txnResolve').fail('outcome', `must be one of ${[...RESOLVE_OUTCOMES].join(', ')}`);
  return value as ResolveOutcome;
}
