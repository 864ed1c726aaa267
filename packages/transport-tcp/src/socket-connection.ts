/**
 * One TCP connection: a {@link FramedConnection} over a `node:net` socket. It writes
 * length-prefixed frames, batching the small ones of one tick into a single write, and reads
 * them back with a {@link LengthPrefixDecoder}.
 */
import type { Socket } from 'node:net';
import { ConnectionClosedError, FramedConnection, ProtocolError, type ConnectionCloseInfo, type FramedConnectionOptions } from '@kiln/core';
import { decodeCloseFrame, encodeCloseFrame, HEADER_BYTES, LengthPrefixDecoder, writeHeader } from './length-prefix.js';

/** Options of one {@link SocketConnection}. */
export interface SocketConnectionOptions extends FramedConnectionOptions {
  /** Time a closing socket gets to flush its last frames before it is destroyed, in ms. */
  closeTimeoutMs: number;
}

/** Frames at least this large are written on their own instead of copied into a batch. */
const DIRECT_WRITE_BYTES = 64 * 1024;
/** Bytes of small frames joined into one write before the writer is told to wait a tick. */
const BATCH_BYTES_MAX = 64 * 1024;

export class SocketConnection extends FramedConnection {
  private readonly decoder: LengthPrefixDecoder;
  private readonly closeTimeoutMs: number;
  // Small frames written in one tick, joined into one buffer by the microtask that flushes them.
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  // The flush of this turn's batch, once one is scheduled.
  private scheduledFlush: ReturnType<typeof setImmediate> | undefined;
  // writeFrame said "full" and the base waits for drained().
  private needDrain = false;
  private destroyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: Socket,
    options: SocketConnectionOptions,
  ) {
    super(options);
    this.closeTimeoutMs = options.closeTimeoutMs;
    this.decoder = new LengthPrefixDecoder(
      options.frameBytesMax,
      (frame) => this.receivedFrame(frame),
      (body) => this.receivedControl(body),
    );
    socket.setNoDelay(true);
    let first = true;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.fail(first && startsWithHttp(chunk) ? new ProtocolError(HTTP_PEER) : (error as Error));
      }
      first = false;
    });
    socket.on('drain', () => this.drainedNow());
    socket.on('end', () => this.remoteClosed(this.decoder.midFrame ? 'the peer ended the connection mid-frame' : 'the peer ended the connection'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const reason = `connection lost: ${error.code ?? error.message}`;
      if (!this.isClosed) this.remoteClosed(reason, new ConnectionClosedError(reason));
    });
    socket.on('close', () => {
      clearTimeout(this.destroyTimer);
      if (!this.isClosed) this.remoteClosed('connection lost', new ConnectionClosedError('connection lost'));
    });
  }

  protected writeFrame(frame: Uint8Array): boolean {
    const bytes = frame.byteLength;
    if (bytes >= DIRECT_WRITE_BYTES) {
      // Large frames are not worth copying: flush what came before, then write header and body.
      this.flush();
      const header = new Uint8Array(HEADER_BYTES);
      writeHeader(header, 0, bytes);
      this.socket.write(header);
      if (this.socket.write(frame)) return true;
      this.needDrain = true;
      return false;
    }
    this.batch.push(frame);
    this.batchBytes += HEADER_BYTES + bytes;
    if (this.scheduledFlush === undefined) {
      // Once per event-loop turn, not per microtask checkpoint: the frames every callback of this
      // turn writes (a group commit's replies, a client's pipelined requests) go in one write.
      this.scheduledFlush = setImmediate(this.flushTask);
    }
    if (this.socket.writableLength < this.socket.writableHighWaterMark && this.batchBytes < BATCH_BYTES_MAX) return true;
    this.needDrain = true;
    return false;
  }

  private readonly flushTask = (): void => {
    this.scheduledFlush = undefined;
    this.writeNow();
  };

  /** Writes this turn's frames now, and drops the flush scheduled for them: it would find nothing. */
  writeNow(): void {
    if (this.scheduledFlush !== undefined) {
      clearImmediate(this.scheduledFlush);
      this.scheduledFlush = undefined;
    }
    // `socket.write` returns true when the kernel took everything at once; then no 'drain'
    // follows, so the base hears it here.
    if (this.flush() && this.needDrain) this.drainedNow();
  }

  private drainedNow(): void {
    this.needDrain = false;
    this.drained();
  }

  /** Writes the batch in one buffer; returns what `socket.write` said (true when empty). */
  private flush(): boolean {
    const frames = this.batch;
    if (frames.length === 0) return true;
    const out = Buffer.allocUnsafe(this.batchBytes);
    let offset = 0;
    for (const frame of frames) {
      writeHeader(out, offset, frame.byteLength);
      out.set(frame, offset + HEADER_BYTES);
      offset += HEADER_BYTES + frame.byteLength;
    }
    this.batch = [];
    this.batchBytes = 0;
    return this.socket.destroyed ? true : this.socket.write(out);
  }

  protected override bufferedBytes(): number {
    return this.socket.writableLength + this.batchBytes;
  }

  protected pauseReading(): void {
    this.socket.pause();
  }

  protected resumeReading(): void {
    this.socket.resume();
  }

  protected destroyTransport(info: ConnectionCloseInfo): void {
    this.decoder.stop();
    if (this.socket.destroyed) return;
    if (info.local) {
      // The reason goes after every frame already written; then the socket half-closes.
      this.flush();
      this.socket.write(encodeCloseFrame(info.reason, info.error));
    } else {
      this.batch = [];
      this.batchBytes = 0;
    }
    this.socket.end();
    // Reading on lets the peer's FIN arrive, so the socket closes without waiting for the timer.
    this.socket.resume();
    // A peer that never reads would hold the socket open; give it closeTimeoutMs, then destroy.
    this.destroyTimer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
    this.destroyTimer.unref?.();
  }

  /** Destroys the socket at once (a listener shutting down). */
  destroyNow(): void {
    this.socket.destroy();
  }

  private receivedControl(body: Uint8Array): void {
    const message = decodeCloseFrame(body);
    this.decoder.stop();
    this.remoteClosed(message.reason, message.error);
  }
}

/**
 * What a peer that opens with `HTTP/` is: an HTTP listener (a member's health and metrics port, a
 * web server) dialled as `tcp://`. Its first bytes read as a frame of about 1.2 GB otherwise.
 */
const HTTP_PEER = "the peer answered in HTTP: this address is an HTTP or WebSocket one, not Kiln's tcp:// (a ws:// address is dialled as ws://)";

function startsWithHttp(chunk: Buffer): boolean {
  return chunk.subarray(0, 5).toString('latin1') === 'HTTP/';
}
