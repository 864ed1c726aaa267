/**
 * The part of a {@link Connection} every transport shares: the incoming frame queue behind the
 * async iterator (with pause and resume, so a reader that stops reading slows the socket down
 * instead of filling memory), the outgoing queue and its cap, the frame cap, and close
 * bookkeeping. A transport extends it and writes only the socket part.
 *
 * Imports nothing from `node:`: core bundles for browsers.
 */
import { ConnectionClosedError, FrameTooLargeError, SendQueueFullError } from '../errors.js';
import type { Connection, ConnectionCloseInfo, SendResult } from './transport.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Options every {@link FramedConnection} takes. */
export interface FramedConnectionOptions {
  /** The remote address, for logs. */
  remoteAddress: string;
  /** The verified name on the other side's certificate (mutual TLS). */
  certificateName?: string;
  /** Largest frame sent or accepted, in bytes. A larger incoming frame closes the connection with `FrameTooLargeError`. */
  frameBytesMax: number;
  /**
   * Bytes queued for sending (waiting in this connection plus those the transport reports
   * buffered) before the connection closes with `SendQueueFullError`.
   */
  sendQueueBytesMax: number;
  /**
   * Unread incoming frames held before the transport is asked to stop reading. Reading resumes
   * once the reader has taken half of them.
   * @default 1024
   */
  receiveQueueFramesMax?: number;
  /**
   * Unread incoming bytes held before the transport is asked to stop reading. One frame always
   * fits, so memory per connection stays under this plus `frameBytesMax`.
   * @default 1 MiB
   */
  receiveQueueBytesMax?: number;
}

/** Defaults of the optional {@link FramedConnectionOptions}. */
export const defaultReceiveQueueFramesMax = 1024;
/** Defaults of the optional {@link FramedConnectionOptions}, in bytes. */
export const defaultReceiveQueueBytesMax = 1 * MiB;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * Base class of every transport's connection.
 *
 * A subclass implements {@link writeFrame}, {@link pauseReading}, {@link resumeReading} and
 * {@link destroyTransport}, and calls {@link receivedFrame}, {@link drained},
 * {@link remoteClosed} and {@link fail} as its socket reports events. Everything else (queues,
 * caps, the iterator, `closed`) happens here, once for all transports.
 *
 * Frames handed to {@link send} must not be changed afterwards: a transport may keep a
 * reference until it writes them.
 */
export abstract class FramedConnection implements Connection, AsyncIterator<Uint8Array> {
  readonly remoteAddress: string;
  readonly certificateName: string | undefined;
  /** Largest frame sent or accepted, in bytes. */
  protected readonly frameBytesMax: number;
  /** Bytes queued before the connection closes with `SendQueueFullError`. */
  protected readonly sendQueueBytesMax: number;
  private readonly receiveQueueFramesMax: number;
  private readonly receiveQueueBytesMax: number;

  // Incoming: frames not yet taken by the reader, with a moving head instead of `shift()`.
  private inbox: Array<Uint8Array | undefined> = [];
  private inboxHead = 0;
  private inboxBytes = 0;
  private readers: Array<(result: IteratorResult<Uint8Array>) => void> = [];
  private readingPaused = false;
  private iteratorDone = false;

  // Outgoing: frames waiting because the transport said no more fit.
  private outbox: Array<Uint8Array | undefined> = [];
  private outboxHead = 0;
  private outboxBytes = 0;
  private blocked = false;
  private writableWaiter: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;

  private closeInfo: ConnectionCloseInfo | undefined;
  private resolveClosed!: (info: ConnectionCloseInfo) => void;
  readonly closed: Promise<ConnectionCloseInfo>;

  constructor(options: FramedConnectionOptions) {
    this.remoteAddress = options.remoteAddress;
    this.certificateName = options.certificateName;
    this.frameBytesMax = options.frameBytesMax;
    this.sendQueueBytesMax = options.sendQueueBytesMax;
    this.receiveQueueFramesMax = options.receiveQueueFramesMax ?? defaultReceiveQueueFramesMax;
    this.receiveQueueBytesMax = options.receiveQueueBytesMax ?? defaultReceiveQueueBytesMax;
    for (const [name, value] of [
      ['frameBytesMax', this.frameBytesMax],
      ['sendQueueBytesMax', this.sendQueueBytesMax],
      ['receiveQueueFramesMax', this.receiveQueueFramesMax],
      ['receiveQueueBytesMax', this.receiveQueueBytesMax],
    ] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  // ---- what a transport implements -------------------------------------------------------

  /**
   * Writes one frame (the transport adds its own framing). Returns true if more fit; false
   * means "stop": the transport then calls {@link drained} once more fit again. Never called
   * after the connection closed, except to flush queued frames inside a graceful `close`.
   */
  protected abstract writeFrame(frame: Uint8Array): boolean;
  /** Stop reading from the socket until {@link resumeReading}: the reader is behind. */
  protected abstract pauseReading(): void;
  /** Start reading from the socket again. */
  protected abstract resumeReading(): void;
  /**
   * Called once, when the connection closes for any reason. When `info.local` is true the
   * transport should tell the other side `info.reason` (and `info.error`) if it can, after the
   * frames already written; either way it then releases the socket.
   */
  protected abstract destroyTransport(info: ConnectionCloseInfo): void;
  /** Bytes the transport holds that are not yet handed to the operating system. @default 0 */
  protected bufferedBytes(): number {
    return 0;
  }

  // ---- hooks a transport calls ------------------------------------------------------------

  /** Hands over one whole incoming frame. A frame over `frameBytesMax` closes the connection. */
  protected receivedFrame(frame: Uint8Array): void {
    if (this.closeInfo !== undefined || this.iteratorDone) return;
    if (frame.byteLength > this.frameBytesMax) {
      this.fail(new FrameTooLargeError(frame.byteLength, this.frameBytesMax));
      return;
    }
    const reader = this.readers.shift();
    if (reader) {
      reader({ value: frame, done: false });
      return;
    }
    this.inbox.push(frame);
    this.inboxBytes += frame.byteLength;
    if (!this.readingPaused && (this.inbox.length - this.inboxHead >= this.receiveQueueFramesMax || this.inboxBytes >= this.receiveQueueBytesMax)) {
      this.readingPaused = true;
      this.pauseReading();
    }
  }

  /** More fits again after {@link writeFrame} returned false: queued frames go out now. */
  protected drained(): void {
    if (this.closeInfo !== undefined) return;
    this.blocked = false;
    while (this.outboxHead < this.outbox.length) {
      const frame = this.outbox[this.outboxHead]!;
      this.outbox[this.outboxHead++] = undefined;
      this.outboxBytes -= frame.byteLength;
      if (!this.writeFrame(frame)) {
        this.blocked = true;
        break;
      }
    }
    if (this.outboxHead === this.outbox.length) {
      this.outbox = [];
      this.outboxHead = 0;
    }
    if (!this.blocked && this.writableWaiter) {
      const waiter = this.writableWaiter;
      this.writableWaiter = undefined;
      waiter.resolve();
    }
  }

  /** The other side closed, with its reason when the transport carries one. */
  protected remoteClosed(reason: string, error?: Error): void {
    this.finish(error === undefined ? { reason, local: false } : { reason, local: false, error });
  }

  /** Closes the connection because of an error on this side (a bad frame, a socket error). */
  protected fail(error: Error): void {
    this.finish({ reason: error.message, local: true, error });
  }

  // ---- Connection -------------------------------------------------------------------------

  get writable(): boolean {
    return this.closeInfo === undefined && !this.blocked;
  }

  get queuedBytes(): number {
    return this.outboxBytes + this.bufferedBytes();
  }

  /** True once the connection closed, from either side. */
  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  send(frame: Uint8Array): SendResult {
    if (this.closeInfo !== undefined) throw new ConnectionClosedError(this.closeInfo.reason);
    const bytes = frame.byteLength;
    if (bytes > this.frameBytesMax) throw new FrameTooLargeError(bytes, this.frameBytesMax);
    if (!this.blocked) {
      if (this.writeFrame(frame)) return 'written';
      this.blocked = true;
      return 'queued';
    }
    this.outbox.push(frame);
    this.outboxBytes += bytes;
    const queued = this.queuedBytes;
    if (queued > this.sendQueueBytesMax) {
      const error = new SendQueueFullError(queued, this.sendQueueBytesMax);
      this.fail(error);
      throw new ConnectionClosedError(error.message);
    }
    return 'queued';
  }

  whenWritable(): Promise<void> {
    if (this.closeInfo !== undefined) return Promise.reject(new ConnectionClosedError(this.closeInfo.reason));
    if (!this.blocked) return Promise.resolve();
    if (!this.writableWaiter) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.writableWaiter = { promise, resolve, reject };
    }
    return this.writableWaiter.promise;
  }

  close(reason = 'closed'): void {
    if (this.closeInfo !== undefined) return;
    // A graceful close still sends what was queued: the last frame is often an error frame
    // explaining the close. The queue is already capped, so this is bounded.
    while (this.outboxHead < this.outbox.length) {
      const frame = this.outbox[this.outboxHead]!;
      this.outbox[this.outboxHead++] = undefined;
      this.writeFrame(frame);
    }
    this.finish({ reason, local: true });
  }

  // ---- async iteration ----------------------------------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.inboxHead < this.inbox.length) return Promise.resolve({ value: this.take(), done: false });
    if (this.iteratorDone || this.closeInfo !== undefined) return Promise.resolve(DONE);
    return new Promise((resolve) => this.readers.push(resolve));
  }

  takeReceived(): Uint8Array | undefined {
    return this.inboxHead < this.inbox.length ? this.take() : undefined;
  }

  /**
   * Stops the iteration (a `break` out of `for await`): unread and later frames are dropped.
   * The connection stays open; close it separately.
   */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.iteratorDone = true;
    this.inbox = [];
    this.inboxHead = 0;
    this.inboxBytes = 0;
    this.endReaders();
    // Nobody reads any more, so let the socket run and drop what arrives.
    if (this.readingPaused && this.closeInfo === undefined) {
      this.readingPaused = false;
      this.resumeReading();
    }
    return Promise.resolve(DONE);
  }

  // ---- internals ------------------------------------------------------------------------------

  private take(): Uint8Array {
    const frame = this.inbox[this.inboxHead]!;
    this.inbox[this.inboxHead++] = undefined;
    this.inboxBytes -= frame.byteLength;
    const waiting = this.inbox.length - this.inboxHead;
    if (waiting === 0) {
      this.inbox = [];
      this.inboxHead = 0;
    } else if (this.inboxHead >= 4096 && this.inboxHead * 2 >= this.inbox.length) {
      this.inbox = this.inbox.slice(this.inboxHead);
      this.inboxHead = 0;
    }
    // Resume at half the limits, so a reader just at the edge does not flap the socket.
    if (
      this.readingPaused &&
      this.closeInfo === undefined &&
      waiting <= this.receiveQueueFramesMax >>> 1 &&
      this.inboxBytes <= this.receiveQueueBytesMax >>> 1
    ) {
      this.readingPaused = false;
      this.resumeReading();
    }
    return frame;
  }

  private endReaders(): void {
    const readers = this.readers;
    this.readers = [];
    for (const reader of readers) reader(DONE);
  }

  private finish(info: ConnectionCloseInfo): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = info;
    this.outbox = [];
    this.outboxHead = 0;
    this.outboxBytes = 0;
    // Readers waiting now see the end; frames already queued stay readable.
    this.endReaders();
    const waiter = this.writableWaiter;
    this.writableWaiter = undefined;
    waiter?.reject(new ConnectionClosedError(info.reason));
    this.destroyTransport(info);
    this.resolveClosed(info);
  }
}
