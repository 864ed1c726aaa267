/**
 * How a Kiln close travels in a WebSocket close frame: a status code and a reason of at most
 * 123 UTF-8 bytes (RFC 6455 §5.5: a control frame carries at most 125 bytes, two of them the
 * code). Shared by the listener and both dialers; imports nothing from `node:`.
 */
import { ConnectionClosedError, FrameTooLargeError, KilnError, type ConnectionCloseInfo } from '@kiln/core';

/** Close codes Kiln sends (RFC 6455 §7.4.1). */
export const CloseCode = Object.freeze({
  /** Closed on purpose, with no error. */
  normal: 1000,
  /** The endpoint went away: a listener shutting down. */
  goingAway: 1001,
  /** Nothing said why: the close frame had no code. */
  noStatus: 1005,
  /** The connection dropped without a close frame (never sent, only reported). */
  abnormal: 1006,
  /** A text frame, undecodable input, or a peer that broke a limit other than the frame cap. */
  policyViolation: 1008,
  /** A message over the frame cap. */
  messageTooBig: 1009,
  /** An error that is not a Kiln error. */
  internalError: 1011,
  /** The listener already holds `connectionsMax` connections; try again later. */
  tryAgainLater: 1013,
});

/** Longest close reason, in UTF-8 bytes. */
export const CLOSE_REASON_BYTES_MAX = 123;

const encoder = new TextEncoder();

/** The code to send for a local close. */
export function closeCodeFor(info: ConnectionCloseInfo): number {
  if (info.error === undefined) return CloseCode.normal;
  if (info.error instanceof FrameTooLargeError) return CloseCode.messageTooBig;
  if (info.error instanceof KilnError) return CloseCode.policyViolation;
  return CloseCode.internalError;
}

/** `reason` cut to at most {@link CLOSE_REASON_BYTES_MAX} UTF-8 bytes, on a character boundary. */
export function closeReason(reason: string): string {
  if (encoder.encode(reason).byteLength <= CLOSE_REASON_BYTES_MAX) return reason;
  let bytes = 0;
  let end = 0;
  for (const char of reason) {
    const charBytes = encoder.encode(char).byteLength;
    // Leave room for the ellipsis (3 bytes) that marks the cut.
    if (bytes + charBytes > CLOSE_REASON_BYTES_MAX - 3) break;
    bytes += charBytes;
    end += char.length;
  }
  return `${reason.slice(0, end)}…`;
}

/** What the other side's close frame means for this side's `closed`. */
export function remoteCloseOf(code: number, reason: string): { reason: string; error?: Error } {
  if (code === CloseCode.abnormal) return { reason: 'connection lost', error: new ConnectionClosedError('connection lost') };
  if (reason !== '') return { reason };
  if (code === CloseCode.normal || code === CloseCode.noStatus) return { reason: 'the peer closed the connection' };
  return { reason: `the peer closed the connection with code ${code}` };
}
