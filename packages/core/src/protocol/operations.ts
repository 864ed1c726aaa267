/**
 * The protocol in one table: one row per operation a client may request, with the codec of its
 * arguments (checked by the server: `InvalidArgumentError` for that request alone), the codec of
 * its result (checked by the client: `ProtocolError`), and the client methods that send it. The
 * server's session serves every row through a handler of the matching type, the client sends
 * through {@link encodeArguments} and reads through {@link decodeResult}: a new operation is one
 * row here plus one handler there.
 */
import type { LogLimits } from '../limits.js';
import type { DivergedEntry } from '../replication/diverged-report.js';
import type { GroupMemberConfig, GroupView } from '../replication/group-view.js';
import {
  divergedIndexFromWire,
  logDigestThroughFromWire,
  mirrorFromWire,
  mirrorNameFromWire,
  mirrorToWire,
  noArguments,
  readAllFromWire,
  readAllToWire,
  readFromWire,
  readToWire,
  subscribeFromWire,
  subscribeToWire,
  subscriptionIdFromWire,
  transactionFromWire,
  transactionToWire,
  type LogDigest,
  type MirrorSpec,
  type ReadAllRequest,
  type ReadRequest,
  type SubscribeRequest,
  type TransactionRequest,
  type TransactionResult,
} from './messages.js';
import {
  divergedEntryFromWire,
  divergedEntryToWire,
  groupViewFromWire,
  groupViewToWire,
  logDigestFromWire,
  logDigestToWire,
  nilFromWire,
  readAllChunkFromWire,
  readAllChunkToWire,
  readPageFromWire,
  readPageToWire,
  transactionResultFromWire,
  transactionResultToWire,
  type ReadAllChunk,
  type ReadPage,
} from './replies.js';
import { rangeDigestFromWire, rangeDigestRequestFromWire, rangeDigestRequestToWire, rangeDigestToWire, type RangeDigest, type RangeDigestRequest } from './range-digest.js';
import { serverStatusFromWire, serverStatusToWire, type ServerStatus } from './status.js';
import { topologyFromWire, topologyToWire, type Topology } from './topology.js';
import { backupPageFromWire, backupPageRequestFromWire, backupPageRequestToWire, backupPageToWire, type BackupPage, type BackupPageRequest } from './backup-messages.js';
import type { Decision, StreamEntry } from '../log/record.js';
import {
  decideFromWire,
  decideToWire,
  decisionFromWire,
  openTransactionsFromWire,
  openTransactionsToWire,
  prepareFromWire,
  prepareToWire,
  resolveOutcomeFromWire,
  streamEntriesFromWire,
  streamEntriesToWire,
  txnIdFromWire,
  type DecideRequest,
  type OpenTransaction,
  type PrepareRequest,
  type ResolveOutcome,
} from './txn-messages.js';

/** The limits argument checks hold requests to. */
export type ArgumentLimits = Pick<LogLimits, 'streamsPerTransactionMax' | 'readCountMax'>;

/**
 * An operation's arguments both ways: the client encodes `Args`; the server decodes them as
 * `Decoded` (which may add what the server infers), refusing what the encoder could not produce.
 */
export interface ArgumentCodec<Args, Decoded> {
  toWire(args: Args): unknown;
  /** @throws InvalidArgumentError naming the field that breaks a rule */
  fromWire(wire: unknown, limits: ArgumentLimits): Decoded;
}

/** An operation's result both ways: the server encodes it, the client decodes it. */
export interface ResultCodec<Result> {
  toWire(result: Result): unknown;
  /** @throws ProtocolError when the reply is not one the encoder could produce */
  fromWire(wire: unknown): Result;
}

/** One operation: its codecs, and the `KilnClient` methods that send it (none: the client link's own). */
export interface OperationRow<Args, Decoded, Result> {
  args: ArgumentCodec<Args, Decoded>;
  result: ResultCodec<Result>;
  clientMethods: readonly string[];
}

const nothing: ArgumentCodec<null, null> = { toWire: () => null, fromWire: noArguments };
const done: ResultCodec<null> = { toWire: () => null, fromWire: nilFromWire };

const TABLE = {
  transact: row<TransactionRequest, TransactionRequest, TransactionResult>({
    args: { toWire: transactionToWire, fromWire: (wire, limits) => transactionFromWire(wire, limits.streamsPerTransactionMax) },
    result: { toWire: transactionResultToWire, fromWire: transactionResultFromWire },
    clientMethods: ['append', 'transact'],
  }),
  read: row<ReadRequest, ReadRequest, ReadPage>({
    args: { toWire: readToWire, fromWire: (wire, limits) => readFromWire(wire, limits.readCountMax) },
    result: { toWire: readPageToWire, fromWire: readPageFromWire },
    clientMethods: ['read'],
  }),
  readAll: row<ReadAllRequest, ReadAllRequest, ReadAllChunk>({
    args: { toWire: readAllToWire, fromWire: (wire, limits) => readAllFromWire(wire, limits.readCountMax) },
    result: { toWire: readAllChunkToWire, fromWire: readAllChunkFromWire },
    clientMethods: ['readAll'],
  }),
  subscribe: row<SubscribeRequest, SubscribeRequest, null>({
    args: { toWire: subscribeToWire, fromWire: subscribeFromWire },
    result: done,
    clientMethods: ['subscribe', 'subscribeAll'],
  }),
  unsubscribe: row<number, number, null>({
    args: { toWire: (id) => id, fromWire: subscriptionIdFromWire },
    result: done,
    clientMethods: [],
  }),
  status: row<null, null, ServerStatus>({
    args: nothing,
    result: { toWire: serverStatusToWire, fromWire: serverStatusFromWire },
    clientMethods: ['serverStatus'],
  }),
  ping: row<null, null, null>({ args: nothing, result: done, clientMethods: [] }),
  prepare: row<PrepareRequest, PrepareRequest, StreamEntry[]>({
    args: { toWire: prepareToWire, fromWire: (wire, limits) => prepareFromWire(wire, limits.streamsPerTransactionMax) },
    result: { toWire: streamEntriesToWire, fromWire: streamEntriesFromWire },
    clientMethods: [],
  }),
  decide: row<DecideRequest, DecideRequest, null>({
    args: { toWire: decideToWire, fromWire: decideFromWire },
    result: done,
    clientMethods: [],
  }),
  txnStatus: row<string, string, Decision>({
    args: { toWire: (id) => id, fromWire: txnIdFromWire },
    result: { toWire: (d) => d, fromWire: decisionFromWire },
    clientMethods: [],
  }),
  txnList: row<null, null, OpenTransaction[]>({
    args: nothing,
    result: { toWire: openTransactionsToWire, fromWire: openTransactionsFromWire },
    clientMethods: ['openTransactions'],
  }),
  // An operator's decision for a part in doubt: the same shape as a coordinator's.
  txnResolve: row<DecideRequest, DecideRequest, ResolveOutcome>({
    args: { toWire: decideToWire, fromWire: decideFromWire },
    result: { toWire: (outcome) => outcome, fromWire: resolveOutcomeFromWire },
    clientMethods: ['resolveTransaction'],
  }),
  topology: row<null, null, Topology>({
    args: nothing,
    result: { toWire: topologyToWire, fromWire: topologyFromWire },
    clientMethods: ['topology'],
  }),
  addMirror: row<MirrorSpec, GroupMemberConfig, GroupView>({
    args: { toWire: mirrorToWire, fromWire: mirrorFromWire },
    result: { toWire: groupViewToWire, fromWire: groupViewFromWire },
    clientMethods: ['addMirror'],
  }),
  removeMirror: row<string, string, GroupView>({
    args: { toWire: (name) => name, fromWire: mirrorNameFromWire },
    result: { toWire: groupViewToWire, fromWire: groupViewFromWire },
    clientMethods: ['removeMirror'],
  }),
  logDigest: row<number, number, LogDigest>({
    args: { toWire: (throughLsn) => throughLsn, fromWire: logDigestThroughFromWire },
    result: { toWire: logDigestToWire, fromWire: logDigestFromWire },
    clientMethods: ['logDigest'],
  }),
  rangeDigest: row<RangeDigestRequest, RangeDigestRequest, RangeDigest>({
    args: { toWire: rangeDigestRequestToWire, fromWire: rangeDigestRequestFromWire },
    result: { toWire: rangeDigestToWire, fromWire: rangeDigestFromWire },
    clientMethods: ['rangeDigest'],
  }),
  diverged: row<number, number, DivergedEntry | undefined>({
    args: { toWire: (index) => index, fromWire: divergedIndexFromWire },
    result: { toWire: divergedEntryToWire, fromWire: divergedEntryFromWire },
    clientMethods: ['diverged'],
  }),
  backupPage: row<BackupPageRequest, BackupPageRequest, BackupPage>({
    args: { toWire: backupPageRequestToWire, fromWire: backupPageRequestFromWire },
    result: { toWire: backupPageToWire, fromWire: backupPageFromWire },
    clientMethods: ['backupPage'],
  }),
};

function row<Args, Decoded, Result>(r: OperationRow<Args, Decoded, Result>): OperationRow<Args, Decoded, Result> {
  return r;
}

type Table = typeof TABLE;

/** The name of an operation. */
export type OperationName = keyof Table;

/** What a client passes to operation `K`. */
export type ArgumentsOf<K extends OperationName> = Table[K] extends OperationRow<infer A, infer _D, infer _R> ? A : never;
/** What the server's handler of operation `K` is given. */
export type DecodedArgumentsOf<K extends OperationName> = Table[K] extends OperationRow<infer _A, infer D, infer _R> ? D : never;
/** What operation `K` answers. */
export type ResultOf<K extends OperationName> = Table[K] extends OperationRow<infer _A, infer _D, infer R> ? R : never;

/** The table, typed so that a row and its handler are looked up together. */
export const OPERATIONS: { readonly [K in OperationName]: OperationRow<ArgumentsOf<K>, DecodedArgumentsOf<K>, ResultOf<K>> } = TABLE;

/** A server's handler for every operation. */
export type OperationHandlers = { readonly [K in OperationName]: (args: DecodedArgumentsOf<K>) => Promise<ResultOf<K>> };

/** Every operation of the protocol, by name: the rows of the table. */
export const OPERATION_NAMES: readonly string[] = Object.freeze(Object.keys(TABLE));

const KNOWN_NAMES: ReadonlySet<string> = new Set(OPERATION_NAMES);

export const isOperationName = (value: unknown): value is OperationName => typeof value === 'string' && KNOWN_NAMES.has(value);

/**
 * Serves one request: decodes its arguments, runs the handler, encodes its result. Never throws:
 * it rejects with the decoder's `InvalidArgumentError` or the handler's error, thrown or rejected.
 * (A plain promise chain, not an async function: every request passes here, and the chain costs
 * one promise less.)
 */
export function serveOperation<K extends OperationName>(op: K, wire: unknown, handlers: OperationHandlers, limits: ArgumentLimits): Promise<unknown> {
  const operation = OPERATIONS[op];
  const handler: OperationHandlers[K] = handlers[op];
  let answer: Promise<ResultOf<K>>;
  try {
    answer = handler(operation.args.fromWire(wire, limits));
  } catch (error) {
    return Promise.reject(error);
  }
  // The codec's own function, not a closure per request: no toWire uses `this`.
  return answer.then(operation.result.toWire);
}

/** The wire form of a request's arguments. */
export function encodeArguments<K extends OperationName>(op: K, args: ArgumentsOf<K>): unknown {
  return OPERATIONS[op].args.toWire(args);
}

/** A result from the wire, checked. @throws ProtocolError when it is malformed */
export function decodeResult<K extends OperationName>(op: K, wire: unknown): ResultOf<K> {
  return OPERATIONS[op].result.fromWire(wire);
}
