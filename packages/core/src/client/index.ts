/**
 * `@kiln/core/client`: connect to Kiln, append, read and subscribe. Imports nothing from `node:`;
 * pass the transports to dial with, for example `tcpTransport()` from `@kiln/transport-tcp`.
 *
 * @example
 * ```ts
 * import { connect } from '@kiln/core/client';
 * import { tcpTransport } from '@kiln/transport-tcp';
 *
 * const client = await connect('tcp://127.0.0.1:7410', { transports: [tcpTransport()] });
 * await client.append('orders-1', [{ type: 'OrderPlaced', data: { total: 42 } }], { expectedVersion: 'no-stream' });
 * client.subscribe('orders-1').subscribe((event) => console.log(event.version, event.type));
 * ```
 *
 * @packageDocumentation
 */
export { connect, KilnClient, type DivergedTransaction } from './client.js';
export type {
  ClientOptions,
  AppendOptions,
  AppendResult,
  TransactAppend,
  ReadOptions,
  ReadAllOptions,
  SubscribeOptions,
  SubscribeAllOptions,
  ReadStreamOptions,
  ReadAllStreamOptions,
  StreamPage,
  AllPage,
} from './options.js';
export type { PositionedEvent } from './position.js';
export type { ClientStatus } from './link.js';
export type { Credentials } from '../protocol/handshake.js';
export type { TransactionResult, AppendedRange, MirrorSpec, LogDigest, EventFilter } from '../protocol/messages.js';
export type { ServerStatus, ServerState, GroupStatus, MirrorStatus } from '../protocol/status.js';
export type { OpenTransaction, ResolveOutcome } from '../protocol/txn-messages.js';
export type { BackupPage, BackupPageRequest } from '../protocol/backup-messages.js';
export type { RangeDigest, RangeDigestRequest } from '../protocol/range-digest.js';
export type { ForcedDecision } from '../replication/diverged-report.js';
export type { GroupView, GroupMemberConfig } from '../replication/group-view.js';
export type { EventData, ExpectedVersion, RecordedEvent } from '../log/events.js';
export type { Transport, Connection, DialOptions } from '../transport/transport.js';
export {
  KilnError,
  WrongExpectedVersionError,
  InvalidArgumentError,
  ConfigError,
  FrameTooLargeError,
  ProtocolError,
  UnsupportedProtocolVersionError,
  TooManyInFlightError,
  TooManyConnectionsError,
  ConnectionClosedError,
  ConnectionRefusedError,
  SendQueueFullError,
  TimeoutError,
  AbortError,
  UnsupportedSchemeError,
  StoreClosedError,
  StoreFailedError,
  CorruptRecordError,
  UnsupportedRecordKindError,
  UnsupportedFormatVersionError,
  LogOrderError,
  SequenceExpiredError,
  SequenceReusedError,
  NotActiveError,
  ServerShuttingDownError,
  ServerFailedError,
  MirrorNotInSyncError,
  MirrorBehindError,
  WrongStripeError,
  CrossStripeTransactionError,
  StripeUnavailableError,
  StripeEpochChangedError,
  PositionAheadError,
  StreamBusyError,
  TransactionInDoubtError,
  AuthenticationError,
  PermissionDeniedError,
  ClientClosedError,
  RemoteError,
  type ErrorFields,
  type Permission,
  type TransactionFate,
} from '../errors.js';
