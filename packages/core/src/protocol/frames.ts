/**
 * The wire protocol: MessagePack frames, each an array whose first element is its kind.
 *
 * ```
 * client → server   [HELLO, { version, role, clusterId?, name? }]   (see handshake.ts)
 *                   [REQUEST, id, op, args]
 * server → client   [WELCOME, { version, server, clusterId }]
 *                   [RESULT, id, result]
 *                   [ERROR, id | null, { name, message, fields }]   (null: about the connection)
 *                   [EVENTS, subscriptionId, slices, passedTo?]   (passedTo: filtered subscriptions only)
 *                   [SUBSCRIPTION_END, subscriptionId, { name, message, fields }]
 * ```
 *
 * Arrays rather than maps keep the hot path small. Every decoded frame is checked for shape before
 * use; anything malformed is a `ProtocolError`, and the connection closes. What a hello, a welcome,
 * a request and a result hold is checked by `handshake.ts` and `operations.ts`.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError, type WireError } from '../errors.js';
import { untrustedDecoderLimits } from '../log/events.js';
import { SlabEncoder } from '../log/slab-encoder.js';
import { msgpackShapeProblem } from '../log/msgpack-shape.js';
import type { EventSlice } from './messages.js';
import { isOperationName, type OperationName } from './operations.js';
import { sliceToWire, slicesFromWire } from './replies.js';

/**
 * The protocol version this build speaks; the handshake refuses any other. Version 2: a `read`
 * answers `[slices, truncated]`, and peer messages carry a stripe (`[kind, stripe, term, from, ...]`).
 * Version 3: a cluster of several stripes (the `topology` operation, the peer `announce`
 * message), transactions over several stripes (`prepare`, `decide`, `txnStatus`), and a slice
 * of such a transaction names it (a seventh field).
 */
export const PROTOCOL_VERSION = 3;

/** The kind tag that opens every frame. */
export const FrameKind = { Hello: 0, Request: 1, Welcome: 2, Result: 3, Error: 4, Events: 5, SubscriptionEnd: 6 } as const;

/** One of {@link FrameKind}'s values. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** A decoded frame from a client. */
export type ClientFrame =
  | { kind: typeof FrameKind.Hello; hello: unknown }
  | { kind: typeof FrameKind.Request; id: number; op: OperationName; args: unknown };

/** A decoded frame from a server. */
export type ServerFrame =
  | { kind: typeof FrameKind.Welcome; welcome: unknown }
  | { kind: typeof FrameKind.Result; id: number; result: unknown }
  | { kind: typeof FrameKind.Error; id: number | null; error: WireError }
  | { kind: typeof FrameKind.Events; subscriptionId: number; slices: EventSlice[]; passedTo?: number }
  | { kind: typeof FrameKind.SubscriptionEnd; subscriptionId: number; error: WireError };

const encoder = new Encoder({ ignoreUndefined: true });
// A client encodes a request per append: carved from a slab, it costs no buffer of its own.
const requestEncoder = new SlabEncoder({ ignoreUndefined: true });
const decoder = new Decoder(untrustedDecoderLimits);

export const encodeHello = (hello: unknown): Uint8Array => encoder.encode([FrameKind.Hello, hello]);
export const encodeRequest = (id: number, op: OperationName, args: unknown): Uint8Array => requestEncoder.encode([FrameKind.Request, id, op, args]);
export const encodeWelcome = (welcome: unknown): Uint8Array => encoder.encode([FrameKind.Welcome, welcome]);
export const encodeResult = (id: number, result: unknown): Uint8Array => encoder.encode([FrameKind.Result, id, result]);
export const encodeError = (id: number | null, error: WireError): Uint8Array => encoder.encode([FrameKind.Error, id, error]);
/** `passedTo` goes only to a filtered subscription, which only a client that reads it asks for. */
export const encodeEvents = (subscriptionId: number, slices: readonly EventSlice[], passedTo?: number): Uint8Array =>
  encoder.encode(passedTo === undefined ? [FrameKind.Events, subscriptionId, slices.map(sliceToWire)] : [FrameKind.Events, subscriptionId, slices.map(sliceToWire), passedTo]);
export const encodeSubscriptionEnd = (subscriptionId: number, error: WireError): Uint8Array =>
  encoder.encode([FrameKind.SubscriptionEnd, subscriptionId, error]);

function decodeArray(frame: Uint8Array): unknown[] {
  const problem = msgpackShapeProblem(frame);
  if (problem) throw new ProtocolError(`frame is not acceptable MessagePack: ${problem}`);
  let value: unknown;
  try {
    value = decoder.decode(frame);
  } catch (cause) {
    throw new ProtocolError(`frame is not valid MessagePack: ${(cause as Error).message}`);
  }
  if (!Array.isArray(value) || value.length < 2) throw new ProtocolError('frame must be an array with a kind');
  return value;
}

const isRequestId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Decodes and shape-checks a frame a client sent. @throws ProtocolError */
export function decodeClientFrame(frame: Uint8Array): ClientFrame {
  const value = decodeArray(frame);
  const kind = value[0];
  // A hello's layout may change with the version it carries: the handshake reads the version first.
  if (kind === FrameKind.Hello) return { kind, hello: value[1] };
  if (kind === FrameKind.Request) {
    if (value.length !== 4 || !isRequestId(value[1])) throw new ProtocolError('request must be [kind, id, op, args]');
    const op = value[2];
    if (!isOperationName(op)) throw new ProtocolError(`unknown operation ${describe(op)}`);
    return { kind, id: value[1], op, args: value[3] };
  }
  throw new ProtocolError(`unexpected frame kind ${describe(kind)} from a client`);
}

/** Decodes and shape-checks a frame a server sent. @throws ProtocolError */
export function decodeServerFrame(frame: Uint8Array): ServerFrame {
  const value = decodeArray(frame);
  switch (value[0]) {
    case FrameKind.Welcome:
      return { kind: FrameKind.Welcome, welcome: value[1] };
    case FrameKind.Result:
      if (!isRequestId(value[1])) throw new ProtocolError('result must carry a request id');
      return { kind: FrameKind.Result, id: value[1], result: value[2] };
    case FrameKind.Error: {
      const id = value[1];
      if (id !== null && !isRequestId(id)) throw new ProtocolError('malformed error frame');
      return { kind: FrameKind.Error, id, error: wireError(value[2]) };
    }
    case FrameKind.SubscriptionEnd:
      if (!isRequestId(value[1])) throw new ProtocolError('subscription end must carry a subscription id');
      return { kind: FrameKind.SubscriptionEnd, subscriptionId: value[1], error: wireError(value[2]) };
    case FrameKind.Events:
      if (!isRequestId(value[1])) throw new ProtocolError('events must carry a subscription id');
      if (value[3] !== undefined && !isRequestId(value[3])) throw new ProtocolError('events passedTo must be an LSN');
      return value[3] === undefined
        ? { kind: FrameKind.Events, subscriptionId: value[1], slices: slicesFromWire(value[2], 'events') }
        : { kind: FrameKind.Events, subscriptionId: value[1], slices: slicesFromWire(value[2], 'events'), passedTo: value[3] };
    default:
      throw new ProtocolError(`unexpected frame kind ${describe(value[0])} from a server`);
  }
}

function wireError(error: unknown): WireError {
  if (!isPlainObject(error) || typeof error.name !== 'string') throw new ProtocolError('malformed error');
  return { name: error.name, message: String(error.message ?? ''), fields: isPlainObject(error.fields) ? (error.fields as WireError['fields']) : {} };
}

/** Names an untrusted value for an error message without walking into it. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return `of type ${Array.isArray(value) ? 'array' : typeof value}`;
}
