/**
 * The options a server listens with at each of its addresses: its connection limits everywhere,
 * and on its peer address under mutual TLS, a certificate from every connection, carrying the
 * name of a member of the cluster (a server of any stripe, or a voter).
 */
import type { ClusterLayout } from '../cluster/layout.js';
import type { ConnectionLimits } from '../limits.js';
import type { GroupOptions } from '../replication/member-context.js';
import type { ListenOptions } from '../transport/transport.js';

export function listenOptionsFor(
  url: string,
  limits: ConnectionLimits,
  group: GroupOptions | undefined,
  layout: ClusterLayout,
  log: (line: string) => void,
): ListenOptions {
  const self = group?.members.find((m) => m.name === group.self);
  if (!group?.mutualTls || self === undefined || url !== self.peer) return limits;
  const names = new Set([...group.members.map((m) => m.name), ...layout.stripes.flatMap((s) => s.servers.map((server) => server.name))]);
  return {
    ...limits,
    requireCertificate: {
      names: [...names],
      onRefused: (remoteAddress, reason) => log(`${group.self}: refused a peer connection from ${remoteAddress}: ${reason}`),
    },
  };
}
