/**
 * Every error Kiln raises or sends over the wire. One class per condition; `name` equals the
 * class name, is declared as a literal (`static name`) so a minified bundle keeps it, and never
 * changes. Data travels as fields, never inside the message text, so a
 * client rebuilds the same class with the same fields from an error frame.
 *
 * Programmer mistakes and broken invariants are not here: those are `TypeError` or a failed
 * {@link assert}, and stop the process.
 *
 * The classes live in `errors/`, grouped by what failed; this file is the one place to import them from.
 *
 * @packageDocumentation
 */

export { KilnError, type ErrorFields } from './errors/base.js';
export { WrongExpectedVersionError, InvalidArgumentError, ConfigError, SequenceExpiredError, SequenceReusedError } from './errors/request.js';
export {
  FrameTooLargeError,
  ProtocolError,
  UnsupportedProtocolVersionError,
  TooManyInFlightError,
  TooManyConnectionsError,
  ConnectionClosedError,
  ConnectionRefusedError,
  SendQueueFullError,
  TlsError,
  UnsupportedSchemeError,
} from './errors/connection.js';
export { TimeoutError, AbortError, ClientClosedError } from './errors/operation.js';
export {
  StoreClosedError,
  StoreFailedError,
  CorruptRecordError,
  UnsupportedRecordKindError,
  UnsupportedFormatVersionError,
  LogOrderError,
} from './errors/store.js';
export { NotActiveError, ServerShuttingDownError, ServerFailedError, MirrorNotInSyncError, MirrorBehindError } from './errors/server.js';
export { WrongStripeError, CrossStripeTransactionError, StripeUnavailableError, StripeEpochChangedError, PositionAheadError, type TransactionFate } from './errors/stripe.js';
export { StreamBusyError, TransactionInDoubtError } from './errors/transaction.js';
export { AuthenticationError, PermissionDeniedError, type Permission } from './errors/auth.js';
export { RemoteError, errorToWire, errorFromWire, type WireError } from './errors/wire.js';
