/**
 * What every WebSocket connection of this package shares on top of core's
 * {@link FramedConnection}: binary messages for frames, a copy of each message as it arrives,
 * and flow control for sockets that cannot stop reading.
 *
 * A WebSocket is message-oriented, so each Kiln frame is one binary message and the transport
 * adds no framing. uWebSockets.js and the browser's WebSocket cannot pause reading their
 * socket, so when the reader falls behind, such a side asks its peer to stop sending with a text
 * message, `kiln:pause`, and to go on with `kiln:resume`. A side told to pause keeps its frames
 * (counted as queued, so a peer that never reads still ends in `SendQueueFullError` on the
 * writer's side). A peer that ignores the request is cut off once it has sent
 * `receiveOverflowBytesMax` bytes or `receiveOverflowFramesMax` frames more while unread frames
 * wait. Any other text message is a protocol error. Imports nothing from `node:`.
 */
import { FramedConnection, ProtocolError, type ConnectionCloseInfo, type FramedConnectionOptions } from '@kiln/core';

/** Options of one {@link WsFramedConnection}. */
export interface WsFramedConnectionOptions extends FramedConnectionOptions {
  /** Bytes accepted after asking the peer to pause, when the socket cannot pause, before closing. */
  receiveOverflowBytesMax: number;
  /** Frames accepted after asking the peer to pause, when the socket cannot pause, before closing. */
  receiveOverflowFramesMax: number;
}

/** The text message that asks the peer to stop sending. */
export const PAUSE_MESSAGE = 'kiln:pause';
/** The text message that lets the peer send again. */
export const RESUME_MESSAGE = 'kiln:resume';
/** Longest text message looked at; anything longer is a protocol error without decoding it. */
const CONTROL_BYTES_MAX = 16;

const decoder = new TextDecoder('utf-8', { fatal: false });

export abstract class WsFramedConnection extends FramedConnection {
  private readonly overflowBytesMax: number;
  private readonly overflowFramesMax: number;
  private askedPeerToPause = false;
  private overflowBytes = 0;
  private overflowFrames = 0;
  // The peer asked us to pause: frames wait here until it resumes.
  private peerPaused = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(options: WsFramedConnectionOptions) {
    super(options);
    // One whole frame must always fit, or a single large frame would close the connection.
    this.overflowBytesMax = Math.max(options.receiveOverflowBytesMax, options.frameBytesMax);
    this.overflowFramesMax = options.receiveOverflowFramesMax;
  }

  // ---- what a WebSocket connection implements ------------------------------------------------

  /** Sends one binary message; true if more fit, false to wait for {@link drained}. */
  protected abstract writeMessage(frame: Uint8Array): boolean;
  /** Sends one text message (a flow-control word), ahead of nothing and behind what was sent. */
  protected abstract writeControl(text: string): void;
  /** Bytes the socket holds unsent. */
  protected abstract socketBufferedBytes(): number;
  /** True when the socket really stops reading on {@link pauseSocket}. */
  protected abstract canPause(): boolean;
  /** Stops reading the socket; called only when {@link canPause} is true. */
  protected abstract pauseSocket(): void;
  /** Reads the socket again; called only when {@link canPause} is true. */
  protected abstract resumeSocket(): void;
  /** Closes the socket, telling the peer `info.reason` when `info.local`. */
  protected abstract closeSocket(info: ConnectionCloseInfo): void;

  // ---- incoming -----------------------------------------------------------------------------

  /**
   * Hands over one incoming message. `data` is copied here, synchronously: uWebSockets.js
   * neuters its buffer once the message callback returns. `owned` says the buffer is already a
   * fresh one nobody else holds, so it is used without a copy.
   */
  protected receivedMessage(data: ArrayBuffer | ArrayBufferView | string, isBinary: boolean, owned = false): void {
    if (this.isClosed) return;
    if (!isBinary || typeof data === 'string') {
      this.receivedText(data);
      return;
    }
    const bytes = data.byteLength;
    if (this.askedPeerToPause && !this.canPause()) {
      this.overflowBytes += bytes;
      this.overflowFrames += 1;
      if (this.overflowBytes > this.overflowBytesMax || this.overflowFrames > this.overflowFramesMax) {
        this.fail(new ProtocolError(`the peer sent ${this.overflowFrames} frames (${this.overflowBytes} bytes) after it was asked to pause`));
        return;
      }
    }
    if (owned && data instanceof ArrayBuffer) {
      this.receivedFrame(new Uint8Array(data));
      return;
    }
    // A fresh copy: the caller's buffer may be reused or neutered as soon as this returns.
    const frame =
      data instanceof ArrayBuffer ? new Uint8Array(data.slice(0)) : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.receivedFrame(frame);
  }

  private receivedText(data: ArrayBuffer | ArrayBufferView | string): void {
    let text: string | undefined;
    if (typeof data === 'string') text = data;
    else if (data.byteLength <= CONTROL_BYTES_MAX) text = decoder.decode(data instanceof ArrayBuffer ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (text === PAUSE_MESSAGE) {
      this.peerPaused = true;
    } else if (text === RESUME_MESSAGE) {
      this.peerResumed();
    } else {
      this.fail(new ProtocolError('a text message arrived; Kiln frames travel as binary WebSocket messages'));
    }
  }

  private peerResumed(): void {
    if (!this.peerPaused) return;
    this.peerPaused = false;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    let more = true;
    for (const frame of held) more = this.writeMessage(frame);
    // If the socket filled up, its own drain says when to go on; otherwise go on now.
    if (more && held.length > 0) this.drained();
  }

  // ---- FramedConnection ---------------------------------------------------------------------

  protected writeFrame(frame: Uint8Array): boolean {
    if (!this.peerPaused) return this.writeMessage(frame);
    this.held.push(frame);
    this.heldBytes += frame.byteLength;
    return false;
  }

  protected override bufferedBytes(): number {
    return this.socketBufferedBytes() + this.heldBytes;
  }

  protected pauseReading(): void {
    this.askedPeerToPause = true;
    this.overflowBytes = 0;
    this.overflowFrames = 0;
    if (this.canPause()) this.pauseSocket();
    else this.writeControl(PAUSE_MESSAGE);
  }

  protected resumeReading(): void {
    this.askedPeerToPause = false;
    if (this.canPause()) this.resumeSocket();
    else if (!this.isClosed) this.writeControl(RESUME_MESSAGE);
  }

  protected destroyTransport(info: ConnectionCloseInfo): void {
    // A graceful close still sends what was held (often an error frame saying why); the
    // queue cap already bounds it.
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (info.local) for (const frame of held) this.writeMessage(frame);
    this.closeSocket(info);
  }
}
