/**
 * What a server tells whoever watches it, asked at once: its status, its counters, and the gauges
 * worth reading only when asked (nothing here is kept up to date between questions).
 */
import type { ServerStatus } from '../protocol/status.js';
import type { ServerCounters } from './counters.js';

/** A server's state and counters, as a metrics endpoint or a health check reads them. */
export interface ServerObservation {
  status: ServerStatus;
  /** The stripe's name (the cluster's, for a cluster of one stripe). */
  stripe: string;
  counters: ServerCounters;
  /** Client requests started and not yet answered, over every connection. */
  requestsInFlight: number;
  /** Bytes queued to send, over every connection. */
  sendQueueBytes: number;
  /** Subscriptions still reading from the store, not yet live. */
  subscriptionsCatchingUp: number;
  /**
   * On the active, per mirror: seconds since the active wrote the oldest record the mirror has not
   * acknowledged (0 when it has them all). Empty elsewhere.
   */
  mirrorLagSeconds: Array<{ mirror: string; seconds: number }>;
  /** On the active of a stripe of a cluster of several: its open transactions over several stripes. */
  transactions?: { open: number; oldestAgeMs: number; inDoubt: number };
}
