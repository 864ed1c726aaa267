// The transact request read by hand and its result written by hand: the reader agrees with the
// general path on every frame it reads and leaves every other frame to it; the writer writes the
// general encoder's bytes.
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultLogLimits } from '../src/limits.js';
import { decodeClientFrame, encodeRequest, encodeResult, FrameKind } from '../src/protocol/frames.js';
import { transactionFromWire, transactionToWire, type TransactionRequest, type TransactionResult } from '../src/protocol/messages.js';
import { transactionResultToWire } from '../src/protocol/replies.js';
import { readTransactFrame, writeTransactResult } from '../src/protocol/transact-frames.js';

const STREAMS_MAX = defaultLogLimits.streamsPerTransactionMax;

/** What the general path makes of a frame: the request, or the error it refuses it with. */
function generalPath(frame: Uint8Array): { id: number; request: TransactionRequest } | { refused: unknown } {
  try {
    const decoded = decodeClientFrame(frame);
    if (decoded.kind !== FrameKind.Request || decoded.op !== 'transact') return { refused: 'not a transact request' };
    return { id: decoded.id, request: transactionFromWire(decoded.args, STREAMS_MAX) };
  } catch (error) {
    return { refused: error };
  }
}

const asciiName = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength });
const anyName = fc.oneof(asciiName(40), fc.string({ unit: 'binary', minLength: 0, maxLength: 10 }), asciiName(300));
const count = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
const expected = fc.oneof(fc.constantFrom('any', 'no-stream', 'exists', 'none', 'ANY'), count, fc.constant(-1), fc.constant(1.5), fc.constant(null));
const events = fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined });

const transaction = (name: fc.Arbitrary<string>, version: fc.Arbitrary<unknown>, appendsMax: number): fc.Arbitrary<TransactionRequest> =>
  fc.record({
    clientId: fc.oneof(name, asciiName(129)),
    seq: count,
    appends: fc.array(fc.record({ stream: name, expectedVersion: version, events }, { requiredKeys: ['stream', 'expectedVersion'] }), { maxLength: appendsMax }),
  }) as fc.Arbitrary<TransactionRequest>;

/** A frame mangled: a byte changed, cut short, or grown. */
const mangled = fc.tuple(transaction(asciiName(20), fc.constantFrom('any', 3), 3), fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'grow')).map(([t, at, byte, how]) => {
  const frame = encodeRequest(7, 'transact', transactionToWire(t)).slice();
  const i = at % frame.length;
  if (how === 'cut') return frame.subarray(0, i);
  if (how === 'grow') return Uint8Array.from([...frame, byte]);
  frame[i] = byte;
  return frame;
});

describe('readTransactFrame', () => {
  it('reads a common transaction as the general path does', () => {
    fc.assert(
      fc.property(fc.nat(), transaction(asciiName(40), fc.oneof(fc.constantFrom('any', 'no-stream', 'exists'), count), 5), (id, t) => {
        fc.pre(t.appends.length > 0 && t.clientId.length <= 128);
        const frame = encodeRequest(id, 'transact', transactionToWire(t));
        expect(readTransactFrame(frame, STREAMS_MAX)).toEqual(generalPath(frame));
      }),
    );
  });

  it('reads only what the general path accepts, to the same values, and leaves it everything else', () => {
    const frames = fc.oneof(
      fc.tuple(fc.nat(), transaction(anyName, expected, 4)).map(([id, t]) => encodeRequest(id, 'transact', transactionToWire(t))),
      fc.tuple(fc.anything(), fc.anything()).map(([id, args]) => encode([FrameKind.Request, id, 'transact', args])),
      fc.anything().map((args) => encode([FrameKind.Request, 1, 'transact', args])),
      mangled,
    );
    fc.assert(
      fc.property(frames, (frame) => {
        const read = readTransactFrame(frame, STREAMS_MAX);
        if (read !== undefined) expect(read).toEqual(generalPath(frame));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves to the general path what it refuses or reads otherwise', () => {
    const events = encode([['id', 'E', 1]]);
    const request = (args: unknown[]): Uint8Array => encodeRequest(1, 'transact', args);
    const left = [
      request(['c', 1, [['a\uD800', 'any', events]]]), // not well-formed: refused there
      request(['c', 1, [['é', 'any', events]]]), // not ASCII: read there
      request(['c'.repeat(129), 1, [['s', 'any', events]]]),
      request(['c', 1, []]),
      request(['c', 1, Array.from({ length: STREAMS_MAX + 1 }, (_, i) => [`s${i}`, 'any', events])]),
      request(['c', -1, [['s', 'any', events]]]),
      request(['c', 1.5, [['s', 'any', events]]]),
      request(['c', 1, [['s', 'some', events]]]),
      request(['c', 1, [['s', 'any', null]]]),
      encodeRequest(1, 'ping', null),
      Uint8Array.from([...request(['c', 1, [['s', 'any', events]]]), 0xc0]),
    ];
    for (const frame of left) expect(readTransactFrame(frame, STREAMS_MAX)).toBeUndefined();
  });
});

describe('writeTransactResult', () => {
  const result: fc.Arbitrary<TransactionResult> = fc.record({
    lsn: fc.maxSafeNat(),
    streams: fc.array(fc.record({ stream: fc.oneof(asciiName(40), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), asciiName(300)), firstVersion: count, eventCount: count }), { maxLength: 20 }),
  });

  it("writes the general encoder's bytes", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), result, (id, r) => {
        expect(writeTransactResult(id, r)).toEqual(encodeResult(id, transactionResultToWire(r)));
      }),
    );
  });

  it('gives every result bytes of its own', () => {
    const first = writeTransactResult(1, { lsn: 1, streams: [{ stream: 's', firstVersion: 0, eventCount: 1 }] });
    const copy = first.slice();
    for (let i = 0; i < 10_000; i++) writeTransactResult(i, { lsn: i, streams: [{ stream: `stream-${i}`, firstVersion: i, eventCount: 1 }] });
    expect(first).toEqual(copy);
  });
});
