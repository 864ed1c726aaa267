/** The link's outward shapes: the statuses it tells, how it fails a request, its settings, and the subscriptions it keeps. */
import type { KilnError } from '../errors.js';
import type { ConnectionLimits } from '../limits.js';
import type { Hello } from '../protocol/handshake.js';
import type { EventSlice, SubscribeRequest } from '../protocol/messages.js';
import type { Clock, Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';

/**
 * What the client is doing with its connection; in a cluster of several stripes, `stripe` names
 * whose connection. While no server answers as the active, each attempt to find one is one
 * `reconnecting`, numbered from 1 through the outage and spaced out with backoff and jitter;
 * `reconnected` follows once the active answers.
 */
export type ClientStatus = (
  | { type: 'connecting'; url: string }
  | { type: 'connected'; url: string; server: string }
  | { type: 'disconnected'; url: string; reason: string }
  | { type: 'reconnecting'; attempt: number }
  | { type: 'reconnected'; url: string; server: string }
  | { type: 'failed'; error: KilnError }
  | { type: 'closed' }
) & { stripe?: string };

/** Fails a request; `sent` says whether it was ever written to a connection (a server may have done it). */
export type RejectRequest = (error: unknown, sent: boolean) => void;

/** Settings of a link. */
export interface LinkOptions {
  urls: readonly string[];
  transports: readonly Transport[];
  limits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax' | 'inFlightMax' | 'idleTimeoutMs'>;
  hello: Pick<Hello, 'name' | 'credentials'>;
  requestTimeoutMs: number;
  reconnectWindowMs: number;
  /** With requests outstanding and nothing heard for this long, the server is taken for dead (a paused process keeps its sockets open). */
  serverSilenceMs: number;
  clock: Clock;
  timers: Timers;
  /** Jitters the pauses between reconnect attempts. @default systemRandom */
  random?: Random;
}

/** A subscription the link keeps alive across reconnects. */
export interface LinkSubscription {
  /** Request arguments that resume it from where it stands now. */
  resumeArgs(id: number): SubscribeRequest;
  /** `passedTo`, for a filtered subscription: the LSN the server passed to, matching or not. */
  deliver(slices: EventSlice[], passedTo?: number): void;
  fail(error: KilnError): void;
}
