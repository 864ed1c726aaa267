/**
 * `@kiln/core`: the log, the commit path, the server, and the Store and Transport interfaces
 * that store and transport packages implement.
 *
 * @example
 * ```ts
 * import { createServer } from '@kiln/core';
 * import { memoryStore } from '@kiln/store-memory';
 * import { tcpTransport } from '@kiln/transport-tcp';
 *
 * const server = await createServer({ store: memoryStore(), transports: [tcpTransport()], listen: ['tcp://127.0.0.1:7410'] });
 * ```
 *
 * @packageDocumentation
 */
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
  TlsError,
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
  errorFromWire,
  errorToWire,
  type ErrorFields,
  type Permission,
  type TransactionFate,
  type WireError,
} from './errors.js';
export { assert, AssertionFailure } from './assert.js';
export { crc32c } from './crc32c.js';
export {
  defaultConnectionLimits,
  defaultLogLimits,
  defaultGroupTiming,
  defaultClientTiming,
  checkLimits,
  AUTH_SECRET_LENGTH_MAX,
  HELLO_NAME_LENGTH_MAX,
  APPEND_FRAME_HEADROOM_BYTES,
  STORE_OPEN_FILES_MAX,
  STORE_TABLE_FILE_BYTES,
  STORE_BLOCK_CACHE_BYTES,
  STORE_WRITE_BUFFER_BYTES,
  RANGE_DIGEST_RECORDS_MAX,
  HTTP_CONNECTIONS_MAX,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  type ConnectionLimits,
  type LogLimits,
  type GroupTiming,
  type ClientTiming,
} from './limits.js';
export { systemClock, systemTimers, systemRandom, type Clock, type Timers, type TimerHandle, type Random } from './time.js';
export type { ExpectedVersion, EventData, RecordedEvent } from './log/events.js';
export { checkStreamName } from './log/stream-name.js';
export {
  encodeRecord,
  decodeRecord,
  indexRecord,
  recordTerm,
  RECORD_HEADER_BYTES,
  RecordKind,
  Decision,
  visibleAppends,
  STORE_FORMAT_VERSION,
  type TxnInfo,
  type LogRecord,
  type RecordAppend,
  type EncodedRecord,
  type StreamEntry,
} from './log/record.js';
export type { Store, StoredRecord, StreamIndexEntry, Direction, LogReadOptions, IndexReadOptions } from './store/store.js';
export { CheckedStore, checkedStore, type LogPosition, type RecoveryReport, type CheckedStoreLimits } from './store/checked-store.js';
export type {
  Transport,
  Listener,
  Connection,
  ListenOptions,
  CertificateRequirement,
  DialOptions,
  SendResult,
  ConnectionCloseInfo,
} from './transport/transport.js';
export {
  FramedConnection,
  defaultReceiveQueueBytesMax,
  defaultReceiveQueueFramesMax,
  type FramedConnectionOptions,
} from './transport/framed-connection.js';
export { inProcessTransport, type InProcessTransportOptions } from './transport/in-process.js';
export { createServer, type ServerOptions, type KilnServer, type ServerStatus, type ServerState } from './server/server.js';
export { createVoter, type VoterOptions, type KilnVoter } from './server/voter.js';
export { ServerCounters, CommitCounters, type CommittedRecord } from './observe/counters.js';
export { Histogram } from './observe/histogram.js';
export type { ServerObservation } from './observe/observation.js';
export type { GroupOptions, GroupMemberConfig, GroupStatus, MirrorStatus } from './replication/member.js';
export type { GroupView } from './replication/group-view.js';
export type { TransactionResult, AppendedRange, MirrorSpec } from './protocol/messages.js';
export { PROTOCOL_VERSION } from './protocol/frames.js';
export { OPERATION_NAMES } from './protocol/operations.js';
export { validateClusterConfig } from './config/cluster-config.js';
export { isLoopbackHost, webOrigin, address as checkAddress, httpAddress as checkHttpAddress, editDistance, type Address } from './config/fields.js';
export { parseAuth } from './config/auth.js';
export { parseScryptHash, TOKEN_HASH, type ScryptHash } from './auth/hash-format.js';
export { Authenticator, type ServerAuthOptions, type SecretHashes } from './auth/authenticator.js';
export { FailureLog } from './auth/failure-log.js';
export type { Access } from './auth/access.js';
export type { Credentials } from './protocol/handshake.js';
export { checkGroupSettings, type GroupSettings } from './config/group-settings.js';
export { clusterConfigDefaults, clusterConfigBounds } from './config/defaults.js';
export type {
  ClusterConfig,
  ClusterConfigInput,
  ClusterSettings,
  ClusterSettingsInput,
  ConfigLimits,
  FailoverPriority,
  Persistence,
  ServerConfig,
  ServerConfigInput,
  MemberTlsConfig,
  ClusterTlsConfig,
  StripeConfig,
  StripeConfigInput,
  VoterConfig,
  AuthConfig,
  AuthConfigInput,
  RoleConfig,
  GrantConfig,
  UserConfig,
  TokenConfig,
} from './config/types.js';
export { groupOptionsOf, clusterLayoutOf, isLoneServer } from './config/group-options.js';
export { SLOT_COUNT, INITIAL_SLOT_TABLE_VERSION, SlotTable, slotOf, hashKeyOf, crc16, type SlotRange } from './cluster/slots.js';
export { clusterIdOf, type ClusterLayout, type LayoutStripe, type LayoutServer } from './cluster/layout.js';
export type { Topology, StripeTopology, TopologyMember } from './protocol/topology.js';
export {
  findServer,
  findVoter,
  quorumSize,
  serversOf,
  stripeOf,
  stripesOf,
  votingMembers,
  type ServerPlacement,
  type VotingMember,
} from './config/members.js';
