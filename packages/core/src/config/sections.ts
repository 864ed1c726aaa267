/**
 * The sections of the cluster file, each read on its own: the servers of a stripe, the stripes,
 * the voters and the limits. Rules that span sections (unique names and addresses, timeouts that
 * fit every stripe) are {@link validateClusterConfig}'s.
 *
 * @packageDocumentation
 */
import { SLOT_COUNT } from '../cluster/slots.js';
import { ConfigError } from '../errors.js';
import { checkLimits, defaultConnectionLimits, defaultLogLimits, type ConnectionLimits, type LogLimits } from '../limits.js';
import { clusterConfigDefaults } from './defaults.js';
import { address, array, directory, filePath, httpAddress, knownKeys, name, object, show, time, webOrigin } from './fields.js';
import type { ClusterTlsConfig, ConfigLimits, MemberTlsConfig, ServerConfig, StripeConfig, VoterConfig } from './types.js';

const STRIPE_KEYS = ['name', 'electionTimeMs', 'servers'] as const;
const SERVER_KEYS = ['name', 'listen', 'peer', 'dataDir', 'weight', 'tls', 'http', 'wsOrigins'] as const;
const VOTER_KEYS = ['name', 'peer', 'dataDir', 'tls', 'http'] as const;
const LIMIT_KEYS = [...Object.keys(defaultConnectionLimits), ...Object.keys(defaultLogLimits)];

/** A server as read, with the path its errors name. */
export interface ParsedServer {
  server: ServerConfig;
  path: string;
}

/** A stripe as read, with the path its errors name and whether it set its own election window. */
export interface ParsedStripe {
  stripe: StripeConfig;
  path: string;
  electionTimeSet: boolean;
  servers: ParsedServer[];
}

/** A voter as read, with the path its errors name. */
export interface ParsedVoter {
  voter: VoterConfig;
  path: string;
}

/** The `servers` form: one stripe named after the cluster, with the cluster's election window. */
export function parseSingleStripe(value: unknown, cluster: string, electionTimeMs: number): ParsedStripe {
  const servers = parseServers(value, 'servers');
  return {
    stripe: { name: cluster, electionTimeMs, servers: servers.map((s) => s.server) },
    path: '',
    electionTimeSet: false,
    servers,
  };
}

/** The `stripes` form; a stripe without its own `electionTimeMs` takes the cluster's. */
export function parseStripes(value: unknown, electionTimeMs: number): ParsedStripe[] {
  // forEach skips the holes of a sparse array, where map would keep them as entries.
  const stripes: ParsedStripe[] = [];
  const items = array(value, 'stripes');
  // Every stripe holds at least one slot of the table the cluster is created with.
  if (items.length > SLOT_COUNT) throw new ConfigError('stripes', `must list at most ${SLOT_COUNT} stripes (each holds at least one slot), got ${items.length}`);
  items.forEach((item, i) => {
    const path = `stripes[${i}]`;
    const s = object(item, path);
    knownKeys(s, path, STRIPE_KEYS);
    const stripeName = name(s.name, `${path}.name`);
    const ownElectionTime = s.electionTimeMs !== undefined;
    const stripeElectionTimeMs = time(s.electionTimeMs, `${path}.electionTimeMs`, electionTimeMs);
    if (s.servers === undefined) throw new ConfigError(`${path}.servers`, 'is required: a stripe needs at least one server');
    const servers = parseServers(s.servers, `${path}.servers`);
    stripes.push({
      stripe: { name: stripeName, electionTimeMs: stripeElectionTimeMs, servers: servers.map((x) => x.server) },
      path,
      electionTimeSet: ownElectionTime,
      servers,
    });
  });
  return stripes;
}

/** The `voters` section; none when it is absent. */
export function parseVoters(value: unknown): ParsedVoter[] {
  if (value === undefined) return [];
  const voters: ParsedVoter[] = [];
  array(value, 'voters', true).forEach((item, i) => {
    const path = `voters[${i}]`;
    const v = object(item, path);
    knownKeys(v, path, VOTER_KEYS);
    const voter: VoterConfig = { name: name(v.name, `${path}.name`), peer: '' };
    if (v.peer === undefined) throw new ConfigError(`${path}.peer`, 'is required: servers reach a voter at its peer address');
    voter.peer = address(v.peer, `${path}.peer`, false).url;
    if (v.dataDir !== undefined) voter.dataDir = directory(v.dataDir, `${path}.dataDir`);
    if (v.tls !== undefined) voter.tls = parseMemberTls(v.tls, `${path}.tls`);
    if (v.http !== undefined) voter.http = httpAddress(v.http, `${path}.http`).url;
    voters.push({ voter, path });
  });
  return voters;
}

function parseServers(value: unknown, path: string): ParsedServer[] {
  return array(value, path).map((item, i) => {
    const at = `${path}[${i}]`;
    const s = object(item, at);
    knownKeys(s, at, SERVER_KEYS);
    const serverName = name(s.name, `${at}.name`);
    if (s.listen === undefined) throw new ConfigError(`${at}.listen`, 'is required: a server needs at least one client address');
    const listen = array(s.listen, `${at}.listen`).map((url, j) => address(url, `${at}.listen[${j}]`, true).url);
    const peer = s.peer === undefined ? undefined : address(s.peer, `${at}.peer`, false).url;
    const dataDir = s.dataDir === undefined ? undefined : directory(s.dataDir, `${at}.dataDir`);
    const http = s.http === undefined ? undefined : httpAddress(s.http, `${at}.http`).url;
    let weight: number = clusterConfigDefaults.weight;
    if (s.weight !== undefined) {
      if (typeof s.weight !== 'number' || !Number.isSafeInteger(s.weight) || s.weight < 1) {
        throw new ConfigError(`${at}.weight`, `must be a positive integer, got ${show(s.weight)}`);
      }
      weight = s.weight;
    }
    const tls = s.tls === undefined ? undefined : parseMemberTls(s.tls, `${at}.tls`);
    const wsOrigins = s.wsOrigins === undefined ? undefined : parseWsOrigins(s.wsOrigins, `${at}.wsOrigins`, listen);
    const server: ServerConfig = {
      name: serverName,
      listen,
      ...(peer !== undefined && { peer }),
      ...(dataDir !== undefined && { dataDir }),
      weight,
      ...(tls !== undefined && { tls }),
      ...(http !== undefined && { http }),
      ...(wsOrigins !== undefined && { wsOrigins }),
    };
    return { server, path: at };
  });
}

/** A server's `wsOrigins`: web origins its WebSocket listeners let in; it must have one. */
function parseWsOrigins(value: unknown, path: string, listen: readonly string[]): string[] {
  const origins = array(value, path, true).map((origin, i) => webOrigin(origin, `${path}[${i}]`));
  if (!listen.some((url) => /^wss?:/i.test(url))) throw new ConfigError(path, 'lists web pages for a server that listens on no ws:// or wss:// address; browsers reach a server only there');
  return origins;
}

/** A member's `tls`: its certificate and key files. Errors name the field, never a file's content. */
export function parseMemberTls(value: unknown, path: string): MemberTlsConfig {
  const t = object(value, path);
  knownKeys(t, path, ['certFile', 'keyFile']);
  return { certFile: filePath(t.certFile, `${path}.certFile`), keyFile: filePath(t.keyFile, `${path}.keyFile`) };
}

/** The cluster's top-level `tls`: its CA file. */
export function parseClusterTls(value: unknown): ClusterTlsConfig | undefined {
  if (value === undefined) return undefined;
  const t = object(value, 'tls');
  knownKeys(t, 'tls', ['caFile']);
  return { caFile: filePath(t.caFile, 'tls.caFile') };
}

/** The `limits` section, merged over the defaults and checked to fit together. */
export function parseLimits(value: unknown): ConfigLimits {
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
