/**
 * `kiln start` and `kiln voter`: one member of a cluster, as its configuration describes it; a
 * lone server is a cluster of one.
 */
import { resolve } from 'node:path';
import {
  ConfigError,
  createServer,
  findServer,
  findVoter,
  clusterLayoutOf,
  groupOptionsOf,
  stripesOf,
  isLoneServer,
  serversOf,
  type ClusterConfig,
  type KilnServer,
  type Store,
} from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

/** How a process takes part in its group. */
export type MemberRole = 'server' | 'joining server' | 'voter';

/**
 * Starts the member `name` of the cluster `config`, in the role given. `name` may be left out
 * when the cluster has a single server.
 */
export async function startMember(config: ClusterConfig, name: string | undefined, role: MemberRole, log: (line: string) => void): Promise<KilnServer> {
  const voter = role === 'voter';
  const servers = serversOf(config);
  if (name === undefined) {
    if (servers.length !== 1) throw new ConfigError('--server', `the file names ${servers.length} servers: ${servers.map((s) => s.name).join(', ')}; pick one`);
    name = servers[0]!.name;
  }
  const dataDir = voter ? findVoter(config, name, '--name').dataDir : findServer(config, name).server.dataDir;
  const listen = voter ? [] : findServer(config, name).server.listen;
  const inMemory = config.persistence === 'memory' || dataDir === undefined;
  const store: Store = inMemory ? memoryStore() : levelStore({ path: resolve(dataDir) });
  // One server and no voters is a lone active: no group to form.
  const lone = isLoneServer(config) && role !== 'joining server';
  const group = lone ? undefined : groupOptionsOf(config, name, role === 'joining server');
  const layout = clusterLayoutOf(config);
  const stripe = voter ? 0 : stripesOf(config).findIndex((s) => s.servers.some((server) => server.name === name));
  const cluster = { layout, stripe };
  const server = await createServer({ name, store, transports: [tcpTransport(), wsTransport()], listen, limits: config.limits, log, cluster, ...(group ? { group } : {}) });
  const where = inMemory ? 'memory mode, nothing on disk' : `restartable mode, data in ${resolve(dataDir)}`;
  log(`kiln: ${name}${lone ? '' : ` (${role}) of cluster ${config.cluster}`} listening on ${server.urls.join(', ')} (${where})`);
  return server;
}
