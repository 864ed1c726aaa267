/**
 * Errors on the wire: the table of classes an error frame may name, and the two conversions.
 *
 * @packageDocumentation
 */
import { AuthenticationError, PermissionDeniedError } from './auth.js';
import { KilnError, type ErrorFields } from './base.js';
import {
  ConnectionClosedError,
  FrameTooLargeError,
  ProtocolError,
  SendQueueFullError,
  TooManyConnectionsError,
  TlsError,
  TooManyInFlightError,
  UnsupportedProtocolVersionError,
} from './connection.js';
import { TimeoutError } from './operation.js';
import { ConfigError, InvalidArgumentError, SequenceExpiredError, SequenceReusedError, WrongExpectedVersionError } from './request.js';
import { MirrorBehindError, MirrorNotInSyncError, NotActiveError, ServerFailedError, ServerShuttingDownError } from './server.js';
import { StreamBusyError, TransactionInDoubtError } from './transaction.js';
import { CrossStripeTransactionError, PositionAheadError, StripeEpochChangedError, StripeUnavailableError, WrongStripeError } from './stripe.js';
import { CorruptRecordError, LogOrderError, StoreClosedError, StoreFailedError, UnsupportedFormatVersionError, UnsupportedRecordKindError } from './store.js';

/** An error frame named a class this side does not know (a newer server, say). */
export class RemoteError extends KilnError {
  static override readonly name: string = 'RemoteError';

  constructor(
    readonly remoteName: string,
    message: string,
    readonly remoteFields: ErrorFields,
  ) {
    super(`${remoteName}: ${message}`);
  }

  override fields(): ErrorFields {
    return this.remoteFields;
  }
}

/**
 * The classes an error frame may name, each found by its literal `name` (which minifying a
 * bundle does not change) and rebuilt by its own `fromWire`.
 */
const wireClasses = [
  WrongExpectedVersionError,
  InvalidArgumentError,
  ConfigError,
  FrameTooLargeError,
  ProtocolError,
  UnsupportedProtocolVersionError,
  TooManyInFlightError,
  TooManyConnectionsError,
  ConnectionClosedError,
  SendQueueFullError,
  TlsError,
  TimeoutError,
  StoreClosedError,
  StoreFailedError,
  CorruptRecordError,
  UnsupportedRecordKindError,
  UnsupportedFormatVersionError,
  LogOrderError,
  SequenceExpiredError,
  SequenceReusedError,
  ServerShuttingDownError,
  NotActiveError,
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
];
const fromWireByName = new Map<string, (message: string, fields: ErrorFields) => KilnError>(
  wireClasses.map((errorClass) => [errorClass.name, (message, fields) => errorClass.fromWire(message, fields)]),
);

/** The wire form of an error: its class name, message and fields. */
export interface WireError {
  name: string;
  message: string;
  fields: ErrorFields;
}

/** Turns an error into its wire form; anything not a KilnError is reported without detail. */
export function errorToWire(error: unknown): WireError {
  if (error instanceof KilnError) return { name: error.name, message: error.message, fields: error.fields() };
  return { name: 'InternalError', message: 'internal server error', fields: {} };
}

/** Rebuilds the error class the other side raised; an unknown name becomes a {@link RemoteError}. */
export function errorFromWire(wire: WireError): KilnError {
  const fromWire = fromWireByName.get(wire.name);
  return fromWire ? fromWire(wire.message, wire.fields) : new RemoteError(wire.name, wire.message, wire.fields);
}
