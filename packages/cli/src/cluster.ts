/**
 * `kiln start --config FILE --server NAME` and `kiln voter --config FILE --name NAME`: one member
 * of a mirror group, as the cluster file describes it.
 */
import { resolve } from 'node:path';
import {
  ConfigError,
  createServer,
  findServer,
  findVoter,
  stripesOf,
  validateClusterConfig,
  type ClusterConfig,
  type GroupOptions,
  type KilnServer,
  type Store,
} from '@kiln/core';
import { levelStore } from '@kiln/store-level';
import { memoryStore } from '@kiln/store-memory';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';
import { readJsonFile } from './config.js';

/** True when a parsed config file describes a cluster rather than one server. */
export function isClusterFile(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'cluster' in value;
}

/** How a process takes part in its group. */
export type MemberRole = 'server' | 'joining server' | 'voter';

/** The group options every member of the (single) stripe shares, seen from `self`. */
export function groupOptions(config: ClusterConfig, self: string, joining = false): GroupOptions {
  const stripes = stripesOf(config);
  if (stripes.length !== 1) throw new ConfigError('stripes', 'this version runs one stripe; several stripes are not supported yet');
  const stripe = stripes[0]!;
  return {
    self,
    members: [
      ...stripe.servers.map((s) => ({ name: s.name, kind: 'server' as const, peer: s.peer!, clientUrls: s.listen, weight: s.weight })),
      ...config.voters.map((v) => ({ name: v.name, kind: 'voter' as const, peer: v.peer, clientUrls: [], weight: 1 })),
    ],
    electionTimeMs: stripe.electionTimeMs,
    mirrorTimeoutMs: config.mirrorTimeoutMs,
    leaseMs: config.leaseMs,
    failoverPriority: config.failoverPriority,
    joining,
  };
}

/**
 * Starts the member `name` of the cluster in `file`, in the role given. `name` may be left out
 * when the file names a single server.
 */
export async function startMember(file: string, name: string | undefined, role: MemberRole, log: (line: string) => void): Promise<KilnServer> {
  const voter = role === 'voter';
  const config = validateClusterConfig(await readJsonFile(file));
  const servers = stripesOf(config).flatMap((s) => s.servers);
  if (name === undefined) {
    if (servers.length !== 1) throw new ConfigError('--server', `the file names ${servers.length} servers: ${servers.map((s) => s.name).join(', ')}; pick one`);
    name = servers[0]!.name;
  }
  const dataDir = voter ? findVoter(config, name, '--name').dataDir : findServer(config, name).server.dataDir;
  const listen = voter ? [] : findServer(config, name).server.listen;
  const store: Store = config.persistence === 'memory' || dataDir === undefined ? memoryStore() : levelStore({ path: resolve(dataDir) });
  // One server and no voters is a lone active: no group to form.
  const group = servers.length === 1 && config.voters.length === 0 && role !== 'joining server' ? undefined : groupOptions(config, name, role === 'joining server');
  const server = await createServer({ name, store, transports: [tcpTransport(), wsTransport()], listen, limits: config.limits, log, ...(group ? { group } : {}) });
  log(`kiln: ${name} (${role}) of cluster ${config.cluster} listening on ${server.urls.join(', ')}`);
  return server;
}
