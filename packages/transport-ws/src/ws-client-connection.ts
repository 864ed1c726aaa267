/**
 * The dialing side of a WebSocket connection, shared by the Node dialer (on `ws`) and the browser
 * dialer (on the native `WebSocket`). Each dialer wraps its socket in a {@link ClientSocket} and
 * forwards its events here. Imports nothing from `node:`.
 */
import type { ConnectionCloseInfo } from '@kiln/core';
import { closeCodeFor, closeReason, remoteCloseOf } from './ws-close.js';
import { WsFramedConnection, type WsFramedConnectionOptions } from './ws-framed-connection.js';

/** The little a client connection needs from a WebSocket. */
export interface ClientSocket {
  /** Bytes queued in the socket and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /**
   * Sends one binary message. A socket that can tell when a message was written calls
   * `onWritten` then; one that cannot (a browser) ignores it and is polled instead.
   */
  send(frame: Uint8Array, onWritten?: () => void): void;
  /** Sends one text message. */
  sendText(text: string): void;
  /** True when {@link send} calls `onWritten`. */
  readonly reportsWrites: boolean;
  /** Starts the closing handshake with this code and reason. */
  close(code: number, reason: string): void;
  /** Drops the socket at once. */
  terminate(): void;
  /** Stops and restarts reading; absent where the socket cannot (a browser). */
  pause?(): void;
  resume?(): void;
}

/** Options of one {@link WsClientConnection}. */
export interface WsClientConnectionOptions extends WsFramedConnectionOptions {
  /** Bytes the socket may buffer before the writer is told to wait. */
  writeBufferBytesMax: number;
  /** Time a locally closed socket gets to finish the closing handshake, in ms. */
  closeTimeoutMs: number;
  /** How often to check `bufferedAmount` while waiting to write, when the socket reports no writes, in ms. */
  drainPollMs: number;
  /** Close codes this socket may send; a browser only sends 1000 and 3000-4999. */
  closeCode?: (code: number) => number;
}

export class WsClientConnection extends WsFramedConnection {
  private readonly writeBufferBytesMax: number;
  private readonly closeTimeoutMs: number;
  private readonly drainPollMs: number;
  private readonly mapCloseCode: (code: number) => number;
  private socketOpen = true;
  private needDrain = false;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: ClientSocket,
    options: WsClientConnectionOptions,
  ) {
    super(options);
    this.writeBufferBytesMax = options.writeBufferBytesMax;
    this.closeTimeoutMs = options.closeTimeoutMs;
    this.drainPollMs = options.drainPollMs;
    this.mapCloseCode = options.closeCode ?? ((code) => code);
  }

  // ---- called by the dialer as the socket reports events -------------------------------------

  /** A message arrived. `owned` says `data` is a fresh buffer nobody else holds. */
  onMessage(data: ArrayBuffer | ArrayBufferView | string, isBinary: boolean, owned: boolean): void {
    this.receivedMessage(data, isBinary, owned);
  }

  /** The socket closed, with the close frame's code and reason (1006 when there was none). */
  onClose(code: number, reason: string): void {
    this.socketOpen = false;
    this.stopTimers();
    if (this.isClosed) return;
    const remote = remoteCloseOf(code, reason);
    this.remoteClosed(remote.reason, remote.error);
  }

  // ---- FramedConnection ---------------------------------------------------------------------

  protected writeControl(text: string): void {
    if (this.socketOpen) this.socket.sendText(text);
  }

  protected writeMessage(frame: Uint8Array): boolean {
    if (!this.socketOpen) return true;
    this.socket.send(frame, this.socket.reportsWrites ? this.onWritten : undefined);
    if (this.socket.bufferedAmount < this.writeBufferBytesMax) return true;
    this.needDrain = true;
    if (!this.socket.reportsWrites) this.pollDrain();
    return false;
  }

  private readonly onWritten = (): void => {
    if (this.needDrain && this.socketOpen && this.socket.bufferedAmount < this.writeBufferBytesMax) {
      this.needDrain = false;
      this.drained();
    }
  };

  /** A browser says nothing when its buffer empties; look again every `drainPollMs`. */
  private pollDrain(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (!this.needDrain || !this.socketOpen) return;
      if (this.socket.bufferedAmount < this.writeBufferBytesMax) {
        this.needDrain = false;
        this.drained();
      } else {
        this.pollDrain();
      }
    }, this.drainPollMs);
  }

  protected socketBufferedBytes(): number {
    return this.socketOpen ? this.socket.bufferedAmount : 0;
  }

  protected canPause(): boolean {
    return this.socket.pause !== undefined;
  }

  protected pauseSocket(): void {
    this.socket.pause?.();
  }

  protected resumeSocket(): void {
    this.socket.resume?.();
  }

  protected closeSocket(info: ConnectionCloseInfo): void {
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    if (!this.socketOpen) return;
    // Reading on lets the peer's answering close frame arrive.
    this.socket.resume?.();
    if (!info.local) return; // the socket answers the peer's close frame itself
    this.socket.close(this.mapCloseCode(closeCodeFor(info)), closeReason(info.reason));
    // A peer that never reads never answers the close; drop the socket after closeTimeoutMs.
    this.closeTimer = setTimeout(() => {
      if (this.socketOpen) this.socket.terminate();
    }, this.closeTimeoutMs);
    (this.closeTimer as { unref?: () => void }).unref?.();
  }

  private stopTimers(): void {
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.pollTimer = undefined;
    this.closeTimer = undefined;
  }
}
