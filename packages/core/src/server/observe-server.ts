/**
 * A server's observation, put together from its parts when asked: the sums over its sessions and
 * their connections, and the gauges of its member, hub and transactions.
 */
import type { ServerCounters } from '../observe/counters.js';
import type { ServerObservation } from '../observe/observation.js';
import type { ServerStatus } from '../protocol/status.js';
import type { SubscriptionHub } from '../read/subscriptions.js';
import type { GroupMember } from '../replication/member.js';
import type { Connection } from '../transport/transport.js';
import type { Transactions } from '../txn/transactions.js';
import type { Session } from './session.js';

export type { ServerObservation } from '../observe/observation.js';

export interface ServerParts {
  status: ServerStatus;
  stripe: string;
  counters: ServerCounters;
  sessions: ReadonlyMap<Connection, Session>;
  hub: SubscriptionHub;
  member: GroupMember;
  /** The server's transactions over several stripes while it is the active; otherwise none. */
  transactions: Transactions | undefined;
}

export function observeServer(parts: ServerParts): ServerObservation {
  let requestsInFlight = 0;
  let sendQueueBytes = 0;
  for (const [connection, session] of parts.sessions) {
    requestsInFlight += session.requestsInFlight;
    sendQueueBytes += connection.queuedBytes;
  }
  const observation: ServerObservation = {
    status: parts.status,
    stripe: parts.stripe,
    counters: parts.counters,
    requestsInFlight,
    sendQueueBytes,
    subscriptionsCatchingUp: parts.hub.catchingUp,
    mirrorLagSeconds: parts.member.mirrorLagSeconds(),
  };
  if (parts.transactions) {
    const open = parts.transactions.list();
    observation.transactions = { open: open.length, oldestAgeMs: Math.max(0, ...open.map((t) => t.ageMs)), inDoubt: open.filter((t) => t.inDoubt).length };
  }
  return observation;
}
