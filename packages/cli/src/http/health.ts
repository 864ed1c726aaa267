/**
 * `/health/live` and `/health/ready`, as a load balancer or a Kubernetes probe reads them: 200
 * when true, 503 when not, with a JSON body saying why. Live: the process runs and answers.
 * Ready: this server is the active of its stripe, or an in-sync mirror that could be elected; a
 * voter, when its member of every stripe runs.
 */
import type { ServerObservation } from '@kiln/core';
import { json, type HttpAnswer } from './http-listener.js';

/** What the listener serves: a server (one stripe) or a voter (every stripe). */
export type MemberKind = 'server' | 'voter';

export function liveness(name: string): HttpAnswer {
  return json(200, { live: true, member: name });
}

export function readiness(kind: MemberKind, observations: readonly ServerObservation[]): HttpAnswer {
  const reasons = observations.map((o) => (kind === 'voter' ? voterReason(o) : serverReason(o)));
  const ready = reasons.every((r) => r.ready);
  return json(ready ? 200 : 503, {
    ready,
    member: observations[0]?.status.name,
    stripes: observations.map((o, i) => ({ stripe: o.stripe, state: o.status.state, term: o.status.term, ready: reasons[i]!.ready, reason: reasons[i]!.reason })),
  });
}

function serverReason({ status, stripe }: ServerObservation): { ready: boolean; reason: string } {
  if (status.state === 'ACTIVE-COORDINATOR') return { ready: true, reason: `active of stripe ${stripe} in term ${status.term}` };
  const group = status.group;
  if (status.state === 'STOPPED') return { ready: false, reason: 'stopped' };
  if (!group) return { ready: false, reason: `${status.state}: not yet the active` };
  if (group.removed) return { ready: false, reason: 'removed from its stripe; it takes no part' };
  if (status.state === 'PASSIVE-STANDBY' && group.inSync.includes(status.name)) {
    return { ready: true, reason: `in-sync mirror of stripe ${stripe} (active ${group.leader ?? 'not known'}), could be elected` };
  }
  if (!group.inSync.includes(status.name)) return { ready: false, reason: `${status.state}: not in the in-sync set of stripe ${stripe}; catching up` };
  return { ready: false, reason: `${status.state}: not yet in sync` };
}

function voterReason({ status, stripe }: ServerObservation): { ready: boolean; reason: string } {
  if (status.state === 'STOPPED' || status.state === 'START') return { ready: false, reason: `${status.state}: not voting in stripe ${stripe}` };
  if (status.group?.removed) return { ready: false, reason: `removed from stripe ${stripe}` };
  return { ready: true, reason: `votes in stripe ${stripe}, term ${status.term}` };
}
