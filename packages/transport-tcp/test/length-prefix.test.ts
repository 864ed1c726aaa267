// The length-prefix decoder: every stream of frames decodes the same however it is split, and
// garbage, truncation and over-limit lengths give typed errors before any body is buffered.
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError, ProtocolError } from '@kiln/core';
import { decodeCloseFrame, encodeCloseFrame, HEADER_BYTES, LengthPrefixDecoder, writeHeader } from '../src/length-prefix.js';

function encodeFrames(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((sum, f) => sum + HEADER_BYTES + f.byteLength, 0));
  let offset = 0;
  for (const frame of frames) {
    writeHeader(out, offset, frame.byteLength);
    out.set(frame, offset + HEADER_BYTES);
    offset += HEADER_BYTES + frame.byteLength;
  }
  return out;
}

function collector(frameBytesMax = 1024): { decoder: LengthPrefixDecoder; frames: number[][]; controls: Uint8Array[] } {
  const frames: number[][] = [];
  const controls: Uint8Array[] = [];
  // Copy on arrival: a frame may be a view of a chunk the test reuses.
  const decoder = new LengthPrefixDecoder(frameBytesMax, (f) => frames.push(Array.from(f)), (c) => controls.push(c.slice()));
  return { decoder, frames, controls };
}

const sample = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).fill(7), new Uint8Array([255])];
const expected = sample.map((f) => Array.from(f));
const bytes = encodeFrames(sample);

describe('length-prefix decoder', () => {
  it('decodes frames given in one chunk', () => {
    const { decoder, frames } = collector();
    decoder.push(bytes);
    expect(frames).toEqual(expected);
    expect(decoder.midFrame).toBe(false);
  });

  it('decodes frames fed one byte at a time', () => {
    const { decoder, frames } = collector();
    for (let i = 0; i < bytes.byteLength; i++) decoder.push(bytes.subarray(i, i + 1));
    expect(frames).toEqual(expected);
  });

  it('decodes frames split in two at every offset', () => {
    for (let split = 0; split <= bytes.byteLength; split++) {
      const { decoder, frames } = collector();
      decoder.push(bytes.subarray(0, split));
      decoder.push(bytes.subarray(split));
      expect(frames, `split at ${split}`).toEqual(expected);
    }
  });

  it('decodes frames split in three at many offset pairs', () => {
    for (let a = 0; a <= bytes.byteLength; a += 3) {
      for (let b = a; b <= bytes.byteLength; b += 7) {
        const { decoder, frames } = collector();
        decoder.push(bytes.subarray(0, a));
        decoder.push(bytes.subarray(a, b));
        decoder.push(bytes.subarray(b));
        expect(frames, `split at ${a} and ${b}`).toEqual(expected);
      }
    }
  });

  it('reports a stream cut mid-frame', () => {
    for (let cut = 1; cut < bytes.byteLength; cut++) {
      const { decoder, frames } = collector();
      decoder.push(bytes.subarray(0, cut));
      // A cut exactly between frames is a clean end; anywhere else is mid-frame.
      const boundaries = [0, 7, 11, 315, 320];
      expect(decoder.midFrame, `cut at ${cut}`).toBe(!boundaries.includes(cut));
      expect(frames.length).toBeLessThan(expected.length);
    }
  });

  it('rejects a length over the limit from the header alone, fed byte by byte', () => {
    const { decoder, frames } = collector(1024);
    const header = new Uint8Array(HEADER_BYTES);
    writeHeader(header, 0, 1025);
    decoder.push(header.subarray(0, 3));
    expect(() => decoder.push(header.subarray(3))).toThrow(FrameTooLargeError);
    expect(frames).toEqual([]);
  });

  it('accepts a frame of exactly the limit', () => {
    const { decoder, frames } = collector(1024);
    decoder.push(encodeFrames([new Uint8Array(1024).fill(1)]));
    expect(frames[0]).toHaveLength(1024);
  });

  it('rejects garbage: all-ones headers, and a huge control length', () => {
    const { decoder } = collector();
    expect(() => decoder.push(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))).toThrow(FrameTooLargeError);
    const control = collector();
    expect(() => control.decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(ProtocolError);
    const stopped = collector();
    expect(() => stopped.decoder.push(new Uint8Array([0x00, 0x10, 0x00, 0x00, 1, 2, 3]))).toThrow(FrameTooLargeError);
  });

  it('never throws anything but a typed error on random bytes', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 500; round++) {
      const { decoder } = collector(4096);
      const chunk = Uint8Array.from({ length: 1 + (round % 64) }, random);
      try {
        decoder.push(chunk);
      } catch (error) {
        expect(error instanceof FrameTooLargeError || error instanceof ProtocolError).toBe(true);
      }
    }
  });

  it('hands a close frame to onControl, between data frames, however it is split', () => {
    const close = encodeCloseFrame('going away');
    const stream = new Uint8Array([...encodeFrames([new Uint8Array([1])]), ...close, ...encodeFrames([new Uint8Array([2])])]);
    for (let split = 0; split <= stream.byteLength; split++) {
      const { decoder, frames, controls } = collector();
      decoder.push(stream.subarray(0, split));
      decoder.push(stream.subarray(split));
      expect(frames).toEqual([[1], [2]]);
      expect(controls).toHaveLength(1);
      expect(decodeCloseFrame(controls[0]!)).toEqual({ reason: 'going away' });
    }
  });

  it('stops at stop(): the rest of the chunk is ignored', () => {
    const frames: number[][] = [];
    const decoder: LengthPrefixDecoder = new LengthPrefixDecoder(1024, (f) => {
      frames.push(Array.from(f));
      decoder.stop();
    }, () => {});
    decoder.push(bytes);
    expect(frames).toEqual([expected[0]]);
  });
});

describe('close frame', () => {
  it('carries a Kiln error with its fields', () => {
    const close = encodeCloseFrame('too many connections', new FrameTooLargeError(10, 5));
    const message = decodeCloseFrame(close.subarray(HEADER_BYTES));
    expect(message.reason).toBe('too many connections');
    expect(message.error).toBeInstanceOf(FrameTooLargeError);
    expect((message.error as FrameTooLargeError).bytes).toBe(10);
  });

  it('sends only the reason for an error that is not a Kiln error', () => {
    const close = encodeCloseFrame('oops', new Error('secret detail'));
    expect(decodeCloseFrame(close.subarray(HEADER_BYTES))).toEqual({ reason: 'oops' });
  });

  it('rejects a control body that is not a close message', () => {
    for (const body of ['', 'not json', '42', '{"why":"x"}', '\u00ff']) {
      expect(() => decodeCloseFrame(new TextEncoder().encode(body))).toThrow(ProtocolError);
    }
    expect(() => decodeCloseFrame(new Uint8Array([0xc3, 0x28]))).toThrow(ProtocolError);
  });
});
