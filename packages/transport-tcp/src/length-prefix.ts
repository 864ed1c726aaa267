/**
 * Framing on the TCP byte stream: each frame is a 4-byte big-endian header then its body.
 *
 * The header's low 31 bits are the body length. Its top bit marks a control frame, which this
 * package defines and handles itself (the only one is "close, with this reason"); control frames
 * never reach the reader. A length over the cap is rejected from the header alone, before any
 * of the body is buffered.
 */
import { errorFromWire, errorToWire, FrameTooLargeError, KilnError, ProtocolError, type WireError } from '@kiln/core';

/** Bytes in a frame header. */
export const HEADER_BYTES = 4;
/** Header bit that marks a control frame. */
const CONTROL_BIT = 0x8000_0000;
/** Largest length the header can say. */
export const LENGTH_MAX = 0x7fff_ffff;
/** Largest control frame body; a close reason is short. */
export const CONTROL_BYTES_MAX = 16 * 1024;

/** Writes a header for a body of `length` bytes into `target` at `offset`. */
export function writeHeader(target: Uint8Array, offset: number, length: number, control = false): void {
  const header = control ? (CONTROL_BIT | length) >>> 0 : length;
  target[offset] = header >>> 24;
  target[offset + 1] = (header >>> 16) & 0xff;
  target[offset + 2] = (header >>> 8) & 0xff;
  target[offset + 3] = header & 0xff;
}

/** Why the other side closed, as a close control frame carries it. */
export interface CloseMessage {
  reason: string;
  error?: Error;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A whole close control frame, header included. Only Kiln errors travel; others go as the reason alone. */
export function encodeCloseFrame(reason: string, error?: Error): Uint8Array {
  const message: { reason: string; error?: WireError } = { reason: reason.slice(0, 1024) };
  if (error instanceof KilnError) message.error = errorToWire(error);
  const body = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(HEADER_BYTES + body.byteLength);
  writeHeader(frame, 0, body.byteLength, true);
  frame.set(body, HEADER_BYTES);
  return frame;
}

/**
 * Reads a close control frame's body.
 * @throws ProtocolError when it is not one
 */
export function decodeCloseFrame(body: Uint8Array): CloseMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch {
    throw new ProtocolError('a control frame is not a close message');
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { reason?: unknown }).reason !== 'string') {
    throw new ProtocolError('a control frame is not a close message');
  }
  const { reason, error } = parsed as { reason: string; error?: unknown };
  if (!isWireError(error)) return { reason };
  return { reason, error: errorFromWire(error) };
}

function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, fields } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof message === 'string' && typeof fields === 'object' && fields !== null;
}

/**
 * Cuts a byte stream into frames. Feed it chunks in order; it calls `onFrame` for each data
 * frame and `onControl` for each control frame's body. A frame inside one chunk is handed over as
 * a view of that chunk (no copy); a frame split across chunks is copied once into a buffer
 * sized from its header.
 */
export class LengthPrefixDecoder {
  private header = 0;
  private headerBytes = 0;
  private body: Uint8Array | undefined;
  private bodyFilled = 0;
  private bodyIsControl = false;
  private stopped = false;

  constructor(
    private readonly frameBytesMax: number,
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly onControl: (body: Uint8Array) => void,
  ) {}

  /** Stops the decoder: the rest of the current chunk and later chunks are ignored. */
  stop(): void {
    this.stopped = true;
  }

  /** True when a frame has started but not ended: the stream stopped mid-frame if it ends now. */
  get midFrame(): boolean {
    return this.headerBytes > 0 || this.body !== undefined;
  }

  /**
   * Decodes one chunk.
   * @throws FrameTooLargeError when a header says more than `frameBytesMax`
   * @throws ProtocolError when a control header says more than {@link CONTROL_BYTES_MAX}
   */
  push(chunk: Uint8Array): void {
    const end = chunk.byteLength;
    let offset = 0;
    while (offset < end && !this.stopped) {
      if (this.body !== undefined) {
        const take = Math.min(end - offset, this.body.byteLength - this.bodyFilled);
        this.body.set(chunk.subarray(offset, offset + take), this.bodyFilled);
        this.bodyFilled += take;
        offset += take;
        if (this.bodyFilled === this.body.byteLength) {
          const body = this.body;
          this.body = undefined;
          this.emit(body, this.bodyIsControl);
        }
        continue;
      }
      if (this.headerBytes === 0 && end - offset >= HEADER_BYTES) {
        // The common case: the whole header is in this chunk.
        this.header = ((chunk[offset]! << 24) | (chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!) >>> 0;
        offset += HEADER_BYTES;
      } else {
        this.header = ((this.header << 8) | chunk[offset++]!) >>> 0;
        if (++this.headerBytes < HEADER_BYTES) continue;
        this.headerBytes = 0;
      }
      const control = this.header >= CONTROL_BIT;
      const length = this.header & LENGTH_MAX;
      this.header = 0;
      if (control && length > CONTROL_BYTES_MAX) throw this.fail(new ProtocolError(`a control frame of ${length} bytes is too large`));
      if (!control && length > this.frameBytesMax) throw this.fail(new FrameTooLargeError(length, this.frameBytesMax));
      if (end - offset >= length) {
        const frame = new Uint8Array(chunk.buffer, chunk.byteOffset + offset, length);
        offset += length;
        this.emit(frame, control);
      } else {
        this.body = new Uint8Array(length);
        this.bodyFilled = 0;
        this.bodyIsControl = control;
      }
    }
  }

  private emit(frame: Uint8Array, control: boolean): void {
    if (control) this.onControl(frame);
    else this.onFrame(frame);
  }

  private fail(error: Error): Error {
    this.stopped = true;
    return error;
  }
}
