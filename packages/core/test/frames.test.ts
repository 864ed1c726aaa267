// Frame decoding: every malformed frame is a ProtocolError, never a crash or a hang.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { InvalidArgumentError, ProtocolError } from '../src/errors.js';
import { decodeClientFrame, decodeServerFrame, encodeHello, encodeRequest, FrameKind } from '../src/protocol/frames.js';
import { transactionFromWire, type EventSlice } from '../src/protocol/messages.js';
import { slicesFromWire, sliceToWire } from '../src/protocol/replies.js';

describe('client frames', () => {
  it('decodes a hello and a request', () => {
    expect(decodeClientFrame(encodeHello({ version: 2, role: 'client' }))).toEqual({ kind: FrameKind.Hello, hello: { version: 2, role: 'client' } });
    expect(decodeClientFrame(encodeRequest(5, 'ping', null))).toEqual({ kind: FrameKind.Request, id: 5, op: 'ping', args: null });
  });

  it('rejects malformed frames with ProtocolError', () => {
    const bad = [
      new Uint8Array([0xc1]),
      new Uint8Array([]),
      encode(42),
      encode([FrameKind.Request, -1, 'ping', null]),
      encode([FrameKind.Request, 1, 'drop-table', null]),
      encode([FrameKind.Result, 1, null]),
      new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // an array claiming 2^32-1 items
      new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff]), // a string claiming 4 GiB
    ];
    for (const frame of bad) expect(() => decodeClientFrame(frame)).toThrow(ProtocolError);
  });

  it('never throws anything but ProtocolError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeClientFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
        try {
          decodeServerFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('transaction arguments', () => {
  it('name the field that breaks a rule', () => {
    expect(() => transactionFromWire(['c', 1, []], 10)).toThrow(InvalidArgumentError);
    expect(() => transactionFromWire(['c', 1, [['s', 'sometimes', new Uint8Array([0x90])]]], 10)).toThrow(/appends\[0\]\.expectedVersion/);
    expect(() => transactionFromWire(['c', -1, [['s', 'any', new Uint8Array([0x90])]]], 10)).toThrow(/seq/);
    expect(() => transactionFromWire(['c', 1, [['s', 'any', 'not bytes']]], 10)).toThrow(/events/);
  });
});

describe('slices', () => {
  const events = new Uint8Array([0x91, 0x93, 0xa1, 0x69, 0xa1, 0x78, 0x01]); // [['i', 'x', 1]]
  it('carry where a filter cut them in their record, with a transaction or without', () => {
    const plain: EventSlice = { lsn: 3, stream: 's', firstVersion: 2, eventCount: 1, timestampMs: 5, events };
    for (const slice of [plain, { ...plain, recordOffset: 4 }, { ...plain, recordOffset: 0, transaction: { id: 't', stripes: 2 } }, { ...plain, transaction: { id: 't', stripes: 2 } }]) {
      expect(slicesFromWire([sliceToWire(slice)], 'readAll')).toEqual([slice]);
    }
  });

  it('refuse a recordOffset that is not a count with ProtocolError', () => {
    for (const offset of [-1, 1.5, 'a', null]) {
      expect(() => slicesFromWire([[3, 's', 2, 1, 5, events, null, offset]], 'readAll')).toThrow(ProtocolError);
    }
    expect(() => slicesFromWire([[3, 's', 2, 1, 5, events, null]], 'readAll')).toThrow(ProtocolError);
  });
});
