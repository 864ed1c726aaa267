/**
 * Events as applications write and read them, and their wire encoding: a transaction carries
 * each stream's events as one MessagePack blob, which the server validates once and stores as it
 * came, never re-encoding application data.
 */
import { Decoder, ExtensionCodec } from '@msgpack/msgpack';
import { InvalidArgumentError } from '../errors.js';
import { eventRowsProblem } from './msgpack-shape.js';
import { SlabEncoder } from './slab-encoder.js';
import { findUnencodable } from './unencodable.js';

/** The expected version of a stream for an append or a check. */
export type ExpectedVersion = 'any' | 'no-stream' | 'exists' | number;

/** An event to append; `Data` types its `data` (see `KilnClient.append`). */
export interface EventData<Data = unknown> {
  /** A unique id chosen by the writer; a random UUID when left out. */
  id?: string;
  /** The event's type name. */
  type: string;
  /** Any MessagePack value. */
  data: Data;
  /** Any MessagePack value. */
  metadata?: unknown;
}

/**
 * An event as it sits in a stream. `Data` types its `data`: the client trusts the caller's type
 * parameter and checks nothing (see `KilnClient.read`).
 */
export interface RecordedEvent<Data = unknown> {
  stream: string;
  /** Index of the event in its stream, from 0. */
  version: number;
  /** LSN of the transaction that wrote it. */
  lsn: number;
  id: string;
  type: string;
  data: Data;
  metadata: unknown;
  /** Wall-clock time at which the active server committed it, in ms since the epoch. */
  timestampMs: number;
  /**
   * Set on an event of a transaction over several stripes: the transaction's id, and how many
   * stripes have a part of it. A consumer of the merged `$all` sees each part at its own point
   * of the merge; these let it apply the transaction as one unit once it has every part.
   */
  transaction?: { id: string; stripes: number };
}

/** Limits of the decoder that reads untrusted MessagePack. */
export const untrustedDecoderLimits = {
  maxStrLength: 4 * 1024 * 1024,
  maxBinLength: 16 * 1024 * 1024,
  maxArrayLength: 65_536,
  maxMapLength: 65_536,
  maxExtLength: 1024,
} as const;

/**
 * Makes the encoder fail on a Map or a Set, which it would otherwise write as an empty map, so
 * that `encodeEvents` names the value instead of storing the caller's data as `{}`.
 */
const refuseMapsAndSets = new ExtensionCodec();
refuseMapsAndSets.register({
  type: 0,
  encode: (value) => {
    if (value instanceof Map || value instanceof Set) throw new TypeError('a Map or a Set would be stored as an empty map');
    return null;
  },
  decode: (data) => data,
});

// A client encodes a blob per append: carved from a slab, it costs no buffer of its own.
const encoder = new SlabEncoder({ ignoreUndefined: true, extensionCodec: refuseMapsAndSets });
const decoder = new Decoder(untrustedDecoderLimits);

/**
 * Encodes events into the blob one append carries; `newId` fills in missing ids.
 * @throws InvalidArgumentError naming the value MessagePack cannot carry (a BigInt, a function, a
 * symbol, a cycle, or a Map or a Set, which it would store as an empty map) by its path under the argument `field` names, for example `events[0].data.amount`
 */
export function encodeEvents(events: readonly EventData[], newId: () => string, field: () => string = () => 'events'): Uint8Array {
  const rows = events.map((e) => (e.metadata === undefined ? [e.id ?? newId(), e.type, e.data] : [e.id ?? newId(), e.type, e.data, e.metadata]));
  try {
    return encoder.encode(rows);
  } catch (error) {
    for (let i = 0; i < events.length; i++) {
      const found = findUnencodable(events[i], `${field()}[${i}]`);
      if (found) throw new InvalidArgumentError(found.path, found.rule);
    }
    throw error;
  }
}

/** One decoded event row: `[id, type, data, metadata?]`. */
export type EventRow = [string, string, unknown, unknown?];

/** Decodes an events blob. */
export function decodeEvents(blob: Uint8Array): EventRow[] {
  return decoder.decode(blob) as EventRow[];
}

/**
 * Checks that the events blob of a transaction's `appends[appendIndex]` holds well-formed events
 * and returns their count. It walks the bytes without decoding: the server never materialises
 * application data.
 * @throws InvalidArgumentError naming `appends[appendIndex].events` when it does not (the name is
 * built only then: every append passes here)
 */
export function validateEvents(blob: Uint8Array, appendIndex: number): number {
  const result = eventRowsProblem(blob);
  if (typeof result === 'string') throw new InvalidArgumentError(`appends[${appendIndex}].events`, result);
  return result;
}
