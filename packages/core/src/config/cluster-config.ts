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
import {
  checkLimits,
  defaultClientTiming,
  defaultConnectionLimits,
  defaultGroupTiming,
  defaultLogLimits,
  groupTimingBounds,
  reconnectWindowBounds,
  type ConnectionLimits,
  type GroupTiming,
  type LogLimits,
} from '../limits.js';

/** Where the log rests: on disk and restartable, or in memory only. */
export type Persistence = 'restartable' | 'memory';

/**
 * What a mirror group gives up when it cannot be sure: `consistency` never risks two actives (a
 * two-server group needs a voter to fail over); `availability` lets a lone mirror promote itself,
 * and writes what diverged to a report when the sides meet.
 */
export type FailoverPriority = 'consistency' | 'availability';

/** Every limit and timeout of a connection and of the log; see docs/LIMITS.md. */
export type ConfigLimits = ConnectionLimits & LogLimits;

/** One server as written in the file. */
export interface ServerConfigInput {
  /** The server's name, unique in the cluster; `kiln start --server NAME` picks it. Letters, digits, `.`, `_`, `-`; at most 64. */
  name: string;
  /** Client addresses to listen on: `tcp://`, `ws://` or `wss://` URLs with a port. At least one. */
  listen: string[];
  /**
   * Address other servers and voters reach this one at (`tcp://host:port`, or `ws://`/`wss://`).
   * Required unless the cluster is one server alone with no voters.
   */
  peer?: string;
  /** Directory of the server's store. Required when `persistence` is `restartable`; ignored in memory mode. */
  dataDir?: string;
  /** Preference in elections between equally up-to-date candidates: higher wins. Positive integer. @default 1 */
  weight?: number;
}

/** One server, validated: `weight` filled in. */
export interface ServerConfig {
  /** The server's name, unique in the cluster. */
  name: string;
  /** Client addresses to listen on. */
  listen: string[];
  /** Peer address; absent only for a lone server with no voters. */
  peer?: string;
  /** Directory of the server's store; always present in restartable mode. */
  dataDir?: string;
  /** Election preference between equally up-to-date candidates. @default 1 */
  weight: number;
}

/** A voter: a tiny process that holds no log, only `(term, votedFor, inSync)`, and votes in every stripe's elections. */
export interface VoterConfig {
  /** The voter's name, unique in the cluster. */
  name: string;
  /** Address servers reach the voter at (`tcp://host:port`, or `ws://`/`wss://`). */
  peer: string;
  /**
   * Directory where the voter keeps its term, vote and in-sync sets. Optional; without it they
   * live in memory and a restarted voter may vote again in a term it already voted in.
   */
  dataDir?: string;
}

/** One stripe (mirror group) as written in the file. */
export interface StripeConfigInput {
  /** The stripe's name, unique in the cluster (among stripes, servers and voters). */
  name: string;
  /** This stripe's election window, in milliseconds, 100..600000. @default the cluster's `electionTimeMs` */
  electionTimeMs?: number;
  /** The stripe's servers: one active, the rest mirrors. At least one. */
  servers: ServerConfigInput[];
}

/** One stripe, validated: `electionTimeMs` resolved. */
export interface StripeConfig {
  /** The stripe's name; for a one-stripe cluster written with `servers`, the cluster's name. */
  name: string;
  /** The stripe's election window, in milliseconds. */
  electionTimeMs: number;
  /** The stripe's servers. */
  servers: ServerConfig[];
}

/** Settings shared by both forms of the file. */
export interface ClusterSettingsInput {
  /** The cluster's name, recorded with its cluster id. Letters, digits, `.`, `_`, `-`; at most 64. */
  cluster: string;
  /** `restartable`: each server's store is on disk in its `dataDir`; `memory`: nothing survives a restart. @default 'restartable' */
  persistence?: Persistence;
  /** @default 'consistency' */
  failoverPriority?: FailoverPriority;
  /** Election window of every stripe that does not set its own, in milliseconds, 100..600000. @default 5000 */
  electionTimeMs?: number;
  /** A mirror that does not acknowledge for this long leaves the in-sync set, in milliseconds, 10..600000; less than every `electionTimeMs`; a mirror that hears nothing from the active for this long starts an election (a quarter of it once its redial of the active is refused). @default 1000 */
  mirrorTimeoutMs?: number;
  /** An active that cannot reach a majority for this long stops acknowledging commits and serving reads, in milliseconds, 10..600000; less than `mirrorTimeoutMs`, so it stops before a successor can acknowledge anything. @default 800 */
  leaseMs?: number;
  /** How long a client keeps trying to reach an active before it surfaces an error, in milliseconds, 100..3600000; at least every `electionTimeMs`. @default 10000 */
  reconnectWindowMs?: number;
  /** Voters, shared by every stripe. @default [] */
  voters?: VoterConfig[];
  /** Any limit from docs/LIMITS.md; the rest keep their defaults. @default {} */
  limits?: Partial<ConfigLimits>;
  /** Reserved for authentication; must be absent. */
  auth?: undefined;
}

/** The file's shape, as written: either `servers` (one stripe) or `stripes`, never both. */
export type ClusterConfigInput = ClusterSettingsInput &
  ({ servers: ServerConfigInput[]; stripes?: undefined } | { stripes: StripeConfigInput[]; servers?: undefined });

/** Settings shared by both forms, validated, every default filled in. */
export interface ClusterSettings {
  /** The cluster's name. */
  cluster: string;
  /** @default 'restartable' */
  persistence: Persistence;
  /** @default 'consistency' */
  failoverPriority: FailoverPriority;
  /** Election window of a stripe that sets none, in milliseconds. @default 5000 */
  electionTimeMs: number;
  /** Mirror acknowledgement timeout, in milliseconds. @default 1000 */
  mirrorTimeoutMs: number;
  /** Active's lease, in milliseconds. @default 800 */
  leaseMs: number;
  /** Client reconnect window, in milliseconds. @default 10000 */
  reconnectWindowMs: number;
  /** Voters, shared by every stripe. @default [] */
  voters: VoterConfig[];
  /** Every limit, defaults merged with the file's. */
  limits: ConfigLimits;
}

/**
 * A validated cluster configuration. It keeps the form it was written in (`servers` or
 * `stripes`); use {@link stripesOf} for a uniform list of stripes. Validating it again returns an
 * equal value.
 */
export type ClusterConfig = ClusterSettings &
  ({ servers: ServerConfig[]; stripes?: undefined } | { stripes: StripeConfig[]; servers?: undefined });

/** Defaults of the cluster-wide settings. */
export const clusterConfigDefaults = Object.freeze({
  persistence: 'restartable' as Persistence,
  failoverPriority: 'consistency' as FailoverPriority,
  ...defaultGroupTiming,
  reconnectWindowMs: defaultClientTiming.reconnectWindowMs,
  weight: 1,
});

/** Bounds of each time setting, in milliseconds, inclusive. */
export const clusterConfigBounds = Object.freeze({ ...groupTimingBounds, reconnectWindowMs: reconnectWindowBounds });

/** The settings of one mirror group that must fit together, however they were given. */
export interface GroupSettings extends GroupTiming {
  failoverPriority?: FailoverPriority;
  /** The group's voting members; only their kinds matter here. */
  members: readonly { kind: 'server' | 'voter' }[];
}

/**
 * The rules a mirror group's settings keep, as the config file enforces them, for settings given
 * in code (`createServer({ group })`) too: each time within its bounds, `mirrorTimeoutMs` and
 * `leaseMs` less than `electionTimeMs`, `leaseMs` less than `mirrorTimeoutMs`, and in
 * consistency mode a voter beside a pair of servers.
 *
 * @throws ConfigError naming `${prefix}.<setting>` and the rule it broke
 */
export function checkGroupSettings(group: GroupSettings, prefix = 'group'): void {
  for (const setting of ['electionTimeMs', 'mirrorTimeoutMs', 'leaseMs'] as const) {
    if (group[setting] === undefined) throw new ConfigError(`${prefix}.${setting}`, 'is required');
    time(group[setting], `${prefix}.${setting}`, Number.NaN);
  }
  const { electionTimeMs, mirrorTimeoutMs, leaseMs } = group;
  if (mirrorTimeoutMs >= electionTimeMs) {
    throw new ConfigError(`${prefix}.mirrorTimeoutMs`, `must be less than electionTimeMs (${electionTimeMs} ms), got ${mirrorTimeoutMs} ms: a slow mirror must leave the in-sync set before an election would start`);
  }
  if (leaseMs >= electionTimeMs) {
    throw new ConfigError(`${prefix}.leaseMs`, `must be less than electionTimeMs (${electionTimeMs} ms), got ${leaseMs} ms: an active must stop acknowledging commits before another can be elected`);
  }
  if (leaseMs >= mirrorTimeoutMs) {
    throw new ConfigError(`${prefix}.leaseMs`, `must be less than mirrorTimeoutMs (${mirrorTimeoutMs} ms), got ${leaseMs} ms: an active must stop serving before a successor can acknowledge anything`);
  }
  const servers = group.members.filter((m) => m.kind === 'server').length;
  if ((group.failoverPriority ?? clusterConfigDefaults.failoverPriority) === 'consistency' && servers === 2 && servers === group.members.length) {
    throw new ConfigError(`${prefix}.members`, "must list at least one voter: two servers in 'consistency' mode could never fail over; add a voter or set failoverPriority to 'availability'");
  }
}

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
] as const;
const STRIPE_KEYS = ['name', 'electionTimeMs', 'servers'] as const;
const SERVER_KEYS = ['name', 'listen', 'peer', 'dataDir', 'weight'] as const;
const VOTER_KEYS = ['name', 'peer', 'dataDir'] as const;
const LIMIT_KEYS = [...Object.keys(defaultConnectionLimits), ...Object.keys(defaultLogLimits)];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  if (root.auth !== undefined) throw new ConfigError('auth', 'is reserved for authentication, which this version does not support; remove it');

  // Shapes first, in the order of the file; rules between fields after.
  const hasServers = root.servers !== undefined;
  const hasStripes = root.stripes !== undefined;
  if (hasServers && hasStripes) throw new ConfigError('stripes', "must not be given together with 'servers': list servers (one stripe) or stripes, never both");
  if (!hasServers && !hasStripes) throw new ConfigError('servers', "is required: list 'servers' (one stripe) or 'stripes'");

  type Parsed = { stripe: StripeConfig; path: string; electionTimeSet: boolean; servers: { server: ServerConfig; path: string }[] };
  const parsed: Parsed[] = [];
  if (hasServers) {
    const servers = parseServers(root.servers, 'servers');
    parsed.push({
      stripe: { name: cluster, electionTimeMs, servers: servers.map((s) => s.server) },
      path: '',
      electionTimeSet: false,
      servers,
    });
  } else {
    const stripes = array(root.stripes, 'stripes');
    stripes.forEach((item, i) => {
      const path = `stripes[${i}]`;
      const s = object(item, path);
      knownKeys(s, path, STRIPE_KEYS);
      const stripeName = name(s.name, `${path}.name`);
      const ownElectionTime = s.electionTimeMs !== undefined;
      const stripeElectionTimeMs = time(s.electionTimeMs, `${path}.electionTimeMs`, electionTimeMs);
      if (s.servers === undefined) throw new ConfigError(`${path}.servers`, 'is required: a stripe needs at least one server');
      const servers = parseServers(s.servers, `${path}.servers`);
      parsed.push({
        stripe: { name: stripeName, electionTimeMs: stripeElectionTimeMs, servers: servers.map((x) => x.server) },
        path,
        electionTimeSet: ownElectionTime,
        servers,
      });
    });
  }

  const voters: { voter: VoterConfig; path: string }[] = [];
  if (root.voters !== undefined) {
    array(root.voters, 'voters', true).forEach((item, i) => {
      const path = `voters[${i}]`;
      const v = object(item, path);
      knownKeys(v, path, VOTER_KEYS);
      const voter: VoterConfig = { name: name(v.name, `${path}.name`), peer: '' };
      if (v.peer === undefined) throw new ConfigError(`${path}.peer`, 'is required: servers reach a voter at its peer address');
      voter.peer = address(v.peer, `${path}.peer`, false).url;
      if (v.dataDir !== undefined) voter.dataDir = directory(v.dataDir, `${path}.dataDir`);
      voters.push({ voter, path });
    });
  }

  const limits = parseLimits(root.limits);

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

  // Addresses: unique across every server and voter, client and peer alike.
  const addresses = new Map<string, string>();
  const claimAddress = (url: string, field: string): void => {
    const { key, port } = address(url, field, true);
    if (port === 0) return;
    const previous = addresses.get(key);
    if (previous !== undefined) throw new ConfigError(field, `'${url}' is already used by ${previous}; every client and peer address must be unique`);
    addresses.set(key, field);
  };
  for (const { server, path } of allServers) {
    server.listen.forEach((url, i) => claimAddress(url, `${path}.listen[${i}]`));
    if (server.peer !== undefined) claimAddress(server.peer, `${path}.peer`);
  }
  for (const { voter, path } of voters) claimAddress(voter.peer, `${path}.peer`);

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
  const fit = (setting: 'mirrorTimeoutMs' | 'leaseMs' | 'reconnectWindowMs', valueMs: number, p: Parsed): void => {
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
  const tail = { voters: voters.map((v) => v.voter), limits };
  const first = parsed[0];
  if (hasServers && first !== undefined) return { ...head, servers: first.stripe.servers, ...tail };
  return { ...head, stripes: parsed.map((p) => p.stripe), ...tail };
}

function parseServers(value: unknown, path: string): { server: ServerConfig; path: string }[] {
  return array(value, path).map((item, i) => {
    const at = `${path}[${i}]`;
    const s = object(item, at);
    knownKeys(s, at, SERVER_KEYS);
    const serverName = name(s.name, `${at}.name`);
    if (s.listen === undefined) throw new ConfigError(`${at}.listen`, 'is required: a server needs at least one client address');
    const listen = array(s.listen, `${at}.listen`).map((url, j) => address(url, `${at}.listen[${j}]`, true).url);
    const peer = s.peer === undefined ? undefined : address(s.peer, `${at}.peer`, false).url;
    const dataDir = s.dataDir === undefined ? undefined : directory(s.dataDir, `${at}.dataDir`);
    let weight: number = clusterConfigDefaults.weight;
    if (s.weight !== undefined) {
      if (typeof s.weight !== 'number' || !Number.isSafeInteger(s.weight) || s.weight < 1) {
        throw new ConfigError(`${at}.weight`, `must be a positive integer, got ${show(s.weight)}`);
      }
      weight = s.weight;
    }
    const server: ServerConfig = { name: serverName, listen, ...(peer !== undefined && { peer }), ...(dataDir !== undefined && { dataDir }), weight };
    return { server, path: at };
  });
}

function parseLimits(value: unknown): ConfigLimits {
  const limits: ConfigLimits = { ...defaultConnectionLimits, ...defaultLogLimits };
  if (value === undefined) return limits;
  const given = object(value, 'limits');
  knownKeys(given, 'limits', LIMIT_KEYS, 'is not a known limit (see docs/LIMITS.md)');
  for (const key of LIMIT_KEYS) {
    const v = given[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`limits.${key}`, `must be a positive integer, got ${show(v)}`);
    (limits as unknown as Record<string, number>)[key] = v;
  }
  const { connection, log } = splitLimits(limits);
  try {
    checkLimits(connection, log);
  } catch (error) {
    throw new ConfigError('limits', error instanceof Error ? error.message : String(error));
  }
  return limits;
}

function splitLimits(limits: ConfigLimits): { connection: ConnectionLimits; log: LogLimits } {
  const connection = {} as Record<string, number>;
  const log = {} as Record<string, number>;
  const all = limits as unknown as Record<string, number>;
  for (const key of Object.keys(defaultConnectionLimits)) connection[key] = all[key] as number;
  for (const key of Object.keys(defaultLogLimits)) log[key] = all[key] as number;
  return { connection: connection as unknown as ConnectionLimits, log: log as unknown as LogLimits };
}

// ---- field checks ----

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(field, `must be an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

function array(value: unknown, field: string, mayBeEmpty = false): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(field, `must be an array, got ${show(value)}`);
  if (!mayBeEmpty && value.length === 0) throw new ConfigError(field, 'must not be empty');
  return value;
}

function knownKeys(o: Record<string, unknown>, path: string, known: readonly string[], rule = 'is not a known setting'): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    let near: string | undefined;
    let best = Math.max(2, Math.floor(key.length / 4)) + 1;
    for (const k of known) {
      const d = editDistance(k.toLowerCase(), key.toLowerCase());
      if (d < best) [near, best] = [k, d];
    }
    throw new ConfigError(child(path, key), near === undefined ? rule : `${rule}; did you mean '${near}'?`);
  }
}

/** The path of `key` under `path`: `a.b`, or `a["odd key"]` when the key is not an identifier. */
function child(path: string, key: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

function name(value: unknown, field: string): string {
  if (value === undefined) throw new ConfigError(field, 'is required');
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigError(field, `must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${show(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, `must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${show(value)}`);
  }
  return value as T;
}

function time(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const setting = (field.split('.').pop() ?? field) as keyof typeof clusterConfigBounds;
  const { min, max } = clusterConfigBounds[setting];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `must be an integer number of milliseconds from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function directory(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\u0000')) throw new ConfigError(field, `must be a non-empty path, got ${show(value)}`);
  return value;
}

/** A parsed address: its text, the host and port that identify it, and its port number. */
interface Address {
  url: string;
  host: string;
  port: number;
  key: string;
}

const SCHEMES = ['tcp:', 'ws:', 'wss:'];
const EXPLICIT_PORT = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)(?:[/?#]|$)/i;

function address(value: unknown, field: string, allowPortZero: boolean): Address {
  if (typeof value !== 'string') throw new ConfigError(field, `must be a URL string, got ${show(value)}`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(field, `'${value}' is not a URL`);
  }
  if (!SCHEMES.includes(parsed.protocol)) throw new ConfigError(field, `scheme of '${value}' must be tcp, ws or wss`);
  if (parsed.hostname === '') throw new ConfigError(field, `'${value}' must name a host`);
  if (parsed.username !== '' || parsed.password !== '') throw new ConfigError(field, `'${value}' must not carry credentials`);
  // `new URL` drops a ws or wss URL's default port (80, 443); an explicit one still counts.
  const explicit = EXPLICIT_PORT.exec(value)?.[1];
  if (explicit === undefined) throw new ConfigError(field, `'${value}' must name a port`);
  const port = Number(parsed.port === '' ? explicit : parsed.port);
  if (port === 0 && !allowPortZero) throw new ConfigError(field, `'${value}' must name a port other than 0: others must find it`);
  const host = hostKey(parsed.hostname);
  return { url: value, host, port, key: `${host}:${port}` };
}

/** Lower-cased host, with every loopback spelling folded into one. */
function hostKey(hostname: string): string {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h)) return 'loopback';
  return h;
}

/** Folds `.`, `..` (where it can), repeated and trailing slashes, so `./d/` and `d` compare equal. */
function normalisePath(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return (absolute ? '/' : '') + out.join('/');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** A value as it appears in a message: JSON where it can be, short. */
function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
