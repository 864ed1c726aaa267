/**
 * The cluster configuration (`kiln.config.json`): one stripe of servers, or several stripes, plus
 * voters, timeouts and limits. {@link validateClusterConfig} checks a parsed value and returns a
 * normalised copy with every default filled in; a broken rule throws a {@link ConfigError} whose
 * `field` is the path of the offending value (`stripes[1].servers[0].peer`) and whose `rule` says
 * what it broke.
 *
 * Reading the file is the CLI's job: this module imports nothing from `node:`, so the same shape
 * is accepted programmatically, in Node or a browser.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { parseAuth } from './auth.js';
import { clusterConfigDefaults } from './defaults.js';
import { address, addressesClash, httpAddress, knownKeys, machineOf, name, normalisePath, object, oneOf, time, type Address } from './fields.js';
import { parseClusterTls, parseLimits, parseSingleStripe, parseStripes, parseVoters, type ParsedStripe } from './sections.js';
import { checkTlsRules } from './tls-rules.js';
import type { ClusterConfig } from './types.js';

const CLUSTER_KEYS = [
  'cluster',
  'persistence',
  'failoverPriority',
  'electionTimeMs',
  'mirrorTimeoutMs',
  'leaseMs',
  'reconnectWindowMs',
  'servers',
  'stripes',
  'voters',
  'limits',
  'auth',
  'tls',
] as const;

/**
 * Checks a cluster configuration (parsed JSON, or an object built in code) and returns a
 * normalised copy with every default filled in. The input is not modified.
 *
 * @throws ConfigError naming the field's path and the rule it broke; nothing else
 */
export function validateClusterConfig(value: unknown): ClusterConfig {
  const root = object(value, 'config');
  knownKeys(root, '', CLUSTER_KEYS);

  const cluster = name(root.cluster, 'cluster');
  const persistence = oneOf(root.persistence, 'persistence', ['restartable', 'memory'] as const, clusterConfigDefaults.persistence);
  const failoverPriority = oneOf(
    root.failoverPriority,
    'failoverPriority',
    ['consistency', 'availability'] as const,
    clusterConfigDefaults.failoverPriority,
  );
  const electionTimeMs = time(root.electionTimeMs, 'electionTimeMs', clusterConfigDefaults.electionTimeMs);
  const mirrorTimeoutMs = time(root.mirrorTimeoutMs, 'mirrorTimeoutMs', clusterConfigDefaults.mirrorTimeoutMs);
  const leaseMs = time(root.leaseMs, 'leaseMs', clusterConfigDefaults.leaseMs);
  const reconnectWindowMs = time(root.reconnectWindowMs, 'reconnectWindowMs', clusterConfigDefaults.reconnectWindowMs);

  // Shapes first, in the order of the file; rules between fields after.
  const hasServers = root.servers !== undefined;
  const hasStripes = root.stripes !== undefined;
  if (hasServers && hasStripes) throw new ConfigError('stripes', "must not be given together with 'servers': list servers (one stripe) or stripes, never both");
  if (!hasServers && !hasStripes) throw new ConfigError('servers', "is required: list 'servers' (one stripe) or 'stripes'");

  const parsed = hasServers ? [parseSingleStripe(root.servers, cluster, electionTimeMs)] : parseStripes(root.stripes, electionTimeMs);
  const voters = parseVoters(root.voters);

  const limits = parseLimits(root.limits);
  const tls = parseClusterTls(root.tls);
  const auth = root.auth === undefined ? undefined : parseAuth(root.auth);

  // Names: one namespace for stripes, servers and voters.
  const names = new Map<string, string>();
  const claimName = (n: string, field: string): void => {
    const previous = names.get(n);
    if (previous !== undefined) throw new ConfigError(field, `'${n}' is already the name of ${previous}; names must be unique across stripes, servers and voters`);
    names.set(n, field.replace(/\.name$/, ''));
  };
  for (const p of parsed) {
    if (hasStripes) claimName(p.stripe.name, `${p.path}.name`);
    for (const s of p.servers) claimName(s.server.name, `${s.path}.name`);
  }
  for (const v of voters) claimName(v.voter.name, `${v.path}.name`);

  // Peer addresses: needed by everyone unless one server stands alone.
  const allServers = parsed.flatMap((p) => p.servers);
  const alone = allServers.length === 1 && voters.length === 0;
  for (const { server, path } of allServers) {
    if (server.peer === undefined && !alone) throw new ConfigError(`${path}.peer`, 'is required: other servers and voters reach this server at its peer address');
    if (!alone) {
      server.listen.forEach((url, i) => {
        if (address(url, `${path}.listen[${i}]`, true).port === 0) {
          throw new ConfigError(`${path}.listen[${i}]`, `port 0 (any free port) is only allowed for a server alone: clients must find '${url}'`);
        }
      });
    }
  }

  // Addresses: unique across every server and voter, client, peer and HTTP alike; loopback
  // spellings are one host, and a wildcard host (0.0.0.0, [::]) takes its port on its machine.
  const claimed: Array<{ at: Address; field: string; machine: string }> = [];
  const claimAddress = (url: string, field: string, machine: string, parse = address): void => {
    const at = parse(url, field, true);
    const previous = claimed.find((c) => addressesClash(c.at, at, c.machine === machine));
    if (previous !== undefined) throw new ConfigError(field, `'${url}' is already used by ${previous.field} ('${previous.at.url}'); every client, peer and HTTP address must be unique, and one on 0.0.0.0 or [::] takes its port on every address of its host`);
    claimed.push({ at, field, machine });
  };
  const machine = (peer: string | undefined, field: string): string => machineOf(peer === undefined ? undefined : address(peer, field, true));
  for (const { server, path } of allServers) {
    const host = machine(server.peer, `${path}.peer`);
    server.listen.forEach((url, i) => claimAddress(url, `${path}.listen[${i}]`, host));
    if (server.peer !== undefined) claimAddress(server.peer, `${path}.peer`, host);
    if (server.http !== undefined) claimAddress(server.http, `${path}.http`, host, httpAddress);
  }
  for (const { voter, path } of voters) {
    const host = machine(voter.peer, `${path}.peer`);
    claimAddress(voter.peer, `${path}.peer`, host);
    if (voter.http !== undefined) claimAddress(voter.http, `${path}.http`, host, httpAddress);
  }
  checkTlsRules(tls, allServers, voters);

  // Data directories: required in restartable mode, and unique on each host.
  if (persistence === 'restartable') {
    for (const { server, path } of allServers) {
      if (server.dataDir === undefined) throw new ConfigError(`${path}.dataDir`, "is required when persistence is 'restartable'");
    }
    const dirs = new Map<string, string>();
    const claimDir = (dir: string | undefined, peer: string | undefined, field: string): void => {
      if (dir === undefined) return;
      const key = `${peer === undefined ? '' : address(peer, field, true).host}\u0000${normalisePath(dir)}`;
      const previous = dirs.get(key);
      if (previous !== undefined) throw new ConfigError(field, `'${dir}' is already the data directory of ${previous}; two processes on one host must not share a data directory`);
      dirs.set(key, field.replace(/\.dataDir$/, ''));
    };
    for (const { server, path } of allServers) claimDir(server.dataDir, server.peer, `${path}.dataDir`);
    for (const { voter, path } of voters) claimDir(voter.dataDir, voter.peer, `${path}.dataDir`);
  }

  // Timeouts must fit each stripe's election window.
  const fit = (setting: 'mirrorTimeoutMs' | 'leaseMs' | 'reconnectWindowMs', valueMs: number, p: ParsedStripe): void => {
    const election = p.stripe.electionTimeMs;
    const ok = setting === 'reconnectWindowMs' ? valueMs >= election : valueMs < election;
    if (ok) return;
    const where = hasStripes ? ` of stripe '${p.stripe.name}'` : '';
    const relation = setting === 'reconnectWindowMs' ? 'at least' : 'less than';
    const why =
      setting === 'mirrorTimeoutMs'
        ? 'a slow mirror must leave the in-sync set before an election would start'
        : setting === 'leaseMs'
          ? 'an active must stop acknowledging commits before another can be elected'
          : 'a client must outlast a failover';
    if (root[setting] !== undefined || !(p.electionTimeSet || root.electionTimeMs !== undefined)) {
      throw new ConfigError(setting, `must be ${relation} electionTimeMs${where} (${election} ms), got ${valueMs} ms: ${why}`);
    }
    const field = p.electionTimeSet ? `${p.path}.electionTimeMs` : 'electionTimeMs';
    const bound = setting === 'reconnectWindowMs' ? 'at most' : 'more than';
    throw new ConfigError(field, `must be ${bound} ${setting} (${valueMs} ms, its default), got ${election} ms: ${why}; set ${setting} too`);
  };
  for (const p of parsed) {
    fit('mirrorTimeoutMs', mirrorTimeoutMs, p);
    fit('leaseMs', leaseMs, p);
    fit('reconnectWindowMs', reconnectWindowMs, p);
  }
  if (leaseMs >= mirrorTimeoutMs) {
    const field = root.leaseMs !== undefined ? 'leaseMs' : 'mirrorTimeoutMs';
    throw new ConfigError(field, `leaseMs (${leaseMs} ms) must be less than mirrorTimeoutMs (${mirrorTimeoutMs} ms): an active must stop serving before a successor can acknowledge anything`);
  }

  // Two servers cannot tell a dead peer from a partition: in consistency mode a voter breaks the tie.
  if (failoverPriority === 'consistency' && voters.length === 0) {
    const pair = parsed.find((p) => p.stripe.servers.length === 2);
    if (pair !== undefined) {
      const which = hasStripes ? `stripe '${pair.stripe.name}' has` : 'the cluster has';
      throw new ConfigError(
        'voters',
        `must list at least one voter: ${which} two servers and failoverPriority is 'consistency', so without a voter it could never fail over; add a voter or set failoverPriority to 'availability'`,
      );
    }
  }

  // Keys in the order the docs list them, so a printed config reads like the file.
  const head = { cluster, persistence, failoverPriority, electionTimeMs, mirrorTimeoutMs, leaseMs, reconnectWindowMs };
  const tail = { voters: voters.map((v) => v.voter), limits, ...(tls !== undefined && { tls }), ...(auth ? { auth } : {}) };
  const first = parsed[0];
  if (hasServers && first !== undefined) return { ...head, servers: first.stripe.servers, ...tail };
  return { ...head, stripes: parsed.map((p) => p.stripe), ...tail };
}
