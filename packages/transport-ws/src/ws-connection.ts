/**
 * One accepted WebSocket on the listener: a {@link WsFramedConnection} over a uWebSockets.js
 * socket. Node only.
 *
 * Writing: frames sent in one tick go out in one corked batch (one syscall, one TLS record);
 * `getBufferedAmount()` past `writeBufferBytesMax` tells the writer to wait, and uWS's `drain`
 * handler says when it may go on. Reading: uWS cannot pause a WebSocket, so the base class bounds
 * what arrives while the reader is behind. Closing: the reason goes in the WebSocket close frame,
 * after the frames already written.
 */
import { FrameTooLargeError, ProtocolError, type ConnectionCloseInfo } from '@kiln/core';
import type { WebSocket as UwsSocket } from 'uWebSockets.js';
import { closeCodeFor, closeReason, remoteCloseOf } from './ws-close.js';
import { WsFramedConnection, type WsFramedConnectionOptions } from './ws-framed-connection.js';

/** What the listener keeps on each uWS socket. */
export interface UwsUserData {
  /** The Kiln connection, once the socket opened and was accepted. */
  connection?: UwsConnection;
}

/** Options of one {@link UwsConnection}. */
export interface UwsConnectionOptions extends WsFramedConnectionOptions {
  /** Bytes uWS may buffer before the writer is told to wait. */
  writeBufferBytesMax: number;
}

/** uWS's reasons for closing a socket on its own (its close handler gets code 1006 and one of them). */
const UWS_TOO_BIG = 'Received too big message';
const UWS_INVALID_TEXT = 'Received invalid UTF-8';
const UWS_INVALID_FRAME = 'Received invalid WebSocket frame';

const decoder = new TextDecoder();

export class UwsConnection extends WsFramedConnection {
  private readonly writeBufferBytesMax: number;
  private socketOpen = true;
  // Messages written in this tick, sent together in one corked batch by a microtask; a string
  // is a flow-control word, sent as a text message in its place.
  private batch: Array<Uint8Array | string> = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private needDrain = false;

  constructor(
    private readonly socket: UwsSocket<UwsUserData>,
    options: UwsConnectionOptions,
  ) {
    super(options);
    this.writeBufferBytesMax = options.writeBufferBytesMax;
  }

  // ---- called by the listener's uWS handlers ------------------------------------------------

  /** uWS `message`: runs inside uWS's callback, so the message is copied before returning. */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    this.receivedMessage(message, isBinary);
  }

  /** uWS `drain`: some buffered bytes went out. */
  onDrain(): void {
    if (this.socketOpen && this.needDrain && this.socket.getBufferedAmount() < this.writeBufferBytesMax) this.drainedNow();
  }

  /** uWS `close`: the socket is gone and must not be touched again. */
  onClose(code: number, message: ArrayBuffer): void {
    this.socketOpen = false;
    this.batch = [];
    this.batchBytes = 0;
    if (this.isClosed) return;
    const text = decoder.decode(message);
    if (code === 1006 && text === UWS_TOO_BIG) {
      // uWS refuses an oversize message from its header and drops the socket without saying how
      // large it was: the size is "more than the limit".
      this.fail(new FrameTooLargeError(this.frameBytesMax + 1, this.frameBytesMax));
    } else if (code === 1006 && (text === UWS_INVALID_TEXT || text === UWS_INVALID_FRAME)) {
      this.fail(new ProtocolError(`the peer broke the WebSocket protocol: ${text}`));
    } else {
      const remote = remoteCloseOf(code, text);
      this.remoteClosed(remote.reason, remote.error);
    }
  }

  // ---- FramedConnection ---------------------------------------------------------------------

  protected writeMessage(frame: Uint8Array): boolean {
    if (!this.socketOpen) return true;
    this.enqueue(frame, frame.byteLength);
    if (this.socketBufferedBytes() < this.writeBufferBytesMax) return true;
    this.needDrain = true;
    return false;
  }

  protected writeControl(text: string): void {
    if (this.socketOpen) this.enqueue(text, text.length);
  }

  private enqueue(message: Uint8Array | string, bytes: number): void {
    this.batch.push(message);
    this.batchBytes += bytes;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
    // Everything may have gone straight out; then uWS sends no drain, so say it here.
    if (this.socketOpen && this.needDrain && this.socket.getBufferedAmount() < this.writeBufferBytesMax) this.drainedNow();
  };

  private flush(): void {
    const frames = this.batch;
    if (frames.length === 0 || !this.socketOpen) return;
    this.batch = [];
    this.batchBytes = 0;
    let dropped = false;
    this.socket.cork(() => {
      // 0 means "sent, some of it buffered"; 2 means uWS dropped it past maxBackpressure, which
      // the listener sets above anything this connection lets through, so it is a bug if seen.
      for (const message of frames) {
        const binary = typeof message !== 'string';
        if (this.socket.send(message, binary, false) === 2) dropped = true;
      }
    });
    if (dropped) this.fail(new ProtocolError('uWebSockets.js dropped a frame past its backpressure limit'));
  }

  private drainedNow(): void {
    this.needDrain = false;
    this.drained();
  }

  protected socketBufferedBytes(): number {
    return (this.socketOpen ? this.socket.getBufferedAmount() : 0) + this.batchBytes;
  }

  protected canPause(): boolean {
    return false;
  }

  protected pauseSocket(): void {}

  protected resumeSocket(): void {}

  protected closeSocket(info: ConnectionCloseInfo): void {
    if (!this.socketOpen) return;
    if (!info.local) {
      // The peer's close frame is already answered by uWS; nothing of ours is left to send.
      this.batch = [];
      this.batchBytes = 0;
      return;
    }
    // The reason goes after every frame already written.
    this.flush();
    // uWS calls the close handler from inside end(), which finds this connection closed already;
    // it then sends the close frame and finishes the closing handshake (or times it out) itself.
    this.socket.end(closeCodeFor(info), closeReason(info.reason));
  }

  /** Drops the socket at once (a listener shutting down its stragglers). */
  destroyNow(): void {
    if (this.socketOpen) this.socket.close();
  }
}
