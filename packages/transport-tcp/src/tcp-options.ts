/** The options of the TCP transport, apart from the code that reads them (its listener and dialer both do). */

/** Options of {@link tcpTransport}. */
export interface TcpTransportOptions {
  /**
   * Time a closing connection gets to flush its last frames and its close reason before its
   * socket is destroyed, in milliseconds. Only a peer that stops reading ever waits this long.
   * @default 2000
   */
  closeTimeoutMs?: number;
  /** Unread incoming frames held per connection before its socket pauses. @default 1024 */
  receiveQueueFramesMax?: number;
  /** Unread incoming bytes held per connection before its socket pauses. @default 1 MiB */
  receiveQueueBytesMax?: number;
  /** Pending connections the operating system queues for a listener. @default 511 */
  backlog?: number;
}

/** {@link TcpTransportOptions} with every default filled in. */
export interface ResolvedTcpOptions {
  closeTimeoutMs: number;
  receiveQueueFramesMax: number;
  receiveQueueBytesMax: number;
  backlog: number;
}
