/**
 * The configuration `kiln start` runs: a cluster file (see `validateClusterConfig` in
 * `@kiln/core`). A lone server is a cluster of one. The single-server file of earlier versions
 * (`name`, `persistence`, `dataDir`, `listen`, `limits`) and the `start` flags still work: they
 * become a one-server cluster, validated by the same rules. Validation names the field and the
 * rule it breaks.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  checkAddress,
  ConfigError,
  defaultConnectionLimits,
  defaultLogLimits,
  validateClusterConfig,
  type ClusterConfig,
  type ConnectionLimits,
  type LogLimits,
  type MemberTlsConfig,
  type Persistence,
} from '@kiln/core';

export { hashPassword, hashToken, newToken } from './secrets.js';
export { scryptSecrets } from './scrypt-secrets.js';

/** A single-server file as earlier versions wrote it; it loads as a one-server cluster. */
export interface SingleServerFile {
  /** The server's name in status and logs. @default 'kiln' */
  name: string;
  /** @default 'restartable' */
  persistence: Persistence;
  /** LevelDB directory in restartable mode. @default './kiln-data' */
  dataDir: string;
  /** Addresses to listen on. @default ['tcp://127.0.0.1:7410', 'ws://127.0.0.1:7411'] */
  listen: string[];
  /** Limits and timeouts; see docs/LIMITS.md. */
  limits: Partial<ConnectionLimits & LogLimits>;
  /** `--tls-cert`, `--tls-key`, `--tls-ca`: the server's certificate and key, and the CA it trusts. Flags only. */
  tls?: MemberTlsConfig & { caFile?: string };
}

/** What `kiln start` runs with no file and no flags. */
export const DEFAULT_CONFIG: Readonly<SingleServerFile> = Object.freeze({
  name: 'kiln',
  persistence: 'restartable',
  dataDir: './kiln-data',
  listen: ['tcp://127.0.0.1:7410', 'ws://127.0.0.1:7411'],
  limits: {},
});

const KNOWN_FIELDS = new Set(['name', 'persistence', 'dataDir', 'listen', 'limits']);
const KNOWN_LIMITS = new Set([...Object.keys(defaultConnectionLimits), ...Object.keys(defaultLogLimits)]);

/** True when a parsed config file describes a cluster rather than one server in the earlier format. */
export function isClusterFile(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'cluster' in value;
}

/**
 * Reads a config file of either format as a cluster configuration; a single-server file, with
 * `overrides` (the `start` flags) on top, becomes a one-server cluster.
 *
 * @throws ConfigError naming the field
 */
export async function readClusterConfig(path: string | undefined, overrides: Partial<SingleServerFile> = {}): Promise<ClusterConfig> {
  const value = path === undefined ? {} : await readJsonFile(path);
  if (isClusterFile(value)) return withPathsFrom(dirname(resolve(path!)), validateClusterConfig(value));
  const file = validateConfig(value);
  // The file's dataDir is relative to the file; --data and the default to the working directory.
  const fromFile = path !== undefined && file.dataDir !== undefined ? { dataDir: resolve(dirname(resolve(path)), file.dataDir) } : {};
  return oneServerCluster({ ...DEFAULT_CONFIG, ...file, ...fromFile, ...overrides });
}

/** Reads a cluster file (not the single-server format), its paths relative to it. @throws ConfigError naming the field */
export async function readClusterFile(path: string): Promise<ClusterConfig> {
  return withPathsFrom(dirname(resolve(path)), validateClusterConfig(await readJsonFile(path)));
}

/** The one-server cluster a single-server configuration stands for. @throws ConfigError naming the field */
export function oneServerCluster(config: SingleServerFile): ClusterConfig {
  return validateClusterConfig({
    cluster: config.name,
    persistence: config.persistence,
    servers: [
      {
        name: config.name,
        listen: config.listen,
        ...(config.persistence === 'restartable' ? { dataDir: config.dataDir } : {}),
        ...(config.tls !== undefined && { tls: { certFile: config.tls.certFile, keyFile: config.tls.keyFile } }),
      },
    ],
    limits: config.limits,
    ...(config.tls?.caFile !== undefined && { tls: { caFile: config.tls.caFile } }),
  });
}

/**
 * The cluster file's paths (each member's dataDir and TLS files, the CA), relative to its folder,
 * made absolute: every path in it means the same from any working directory.
 */
function withPathsFrom(folder: string, config: ClusterConfig): ClusterConfig {
  const at = (path: string): string => resolve(folder, path);
  const member = <T extends { tls?: MemberTlsConfig; dataDir?: string }>(m: T): T => ({
    ...m,
    ...(m.dataDir !== undefined && { dataDir: at(m.dataDir) }),
    ...(m.tls !== undefined && { tls: { certFile: at(m.tls.certFile), keyFile: at(m.tls.keyFile) } }),
  });
  const head = { ...config, voters: config.voters.map(member), ...(config.tls !== undefined && { tls: { caFile: at(config.tls.caFile) } }) };
  if (config.servers !== undefined) return { ...head, servers: config.servers.map(member) } as ClusterConfig;
  return { ...head, stripes: config.stripes.map((stripe) => ({ ...stripe, servers: stripe.servers.map(member) })) } as ClusterConfig;
}

/** Reads a JSON file. @throws ConfigError when it cannot be read or parsed */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('--config', `cannot read ${path}: ${(cause as Error).message}`);
  }
  // A byte order mark, which some editors on Windows write, is no part of the JSON: JSON.parse
  // refused it with a message whose culprit does not print.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    // JSON.parse quotes the text around the culprit, line breaks and all: the error stays one line.
    throw new ConfigError(path, `is not valid JSON: ${(cause as Error).message.replace(/[\r\n\t]/g, (c) => JSON.stringify(c).slice(1, -1))}`);
  }
}

/** Checks a single-server file's shape. @throws ConfigError naming the field */
export function validateConfig(value: unknown): Partial<SingleServerFile> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError('config', 'must be a JSON object');
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) if (!KNOWN_FIELDS.has(key)) throw new ConfigError(key, 'is not a known setting');
  if (config.name !== undefined && (typeof config.name !== 'string' || config.name.length === 0)) throw new ConfigError('name', 'must be a non-empty string');
  if (config.persistence !== undefined && config.persistence !== 'restartable' && config.persistence !== 'memory') {
    throw new ConfigError('persistence', "must be 'restartable' or 'memory'");
  }
  if (config.dataDir !== undefined && (typeof config.dataDir !== 'string' || config.dataDir.length === 0)) throw new ConfigError('dataDir', 'must be a non-empty path');
  if (config.listen !== undefined) {
    if (!Array.isArray(config.listen) || config.listen.length === 0) throw new ConfigError('listen', 'must be a non-empty array of URLs');
    config.listen.forEach((url, i) => checkUrl(url, `listen[${i}]`));
    if (new Set(config.listen).size !== config.listen.length) throw new ConfigError('listen', 'must not name an address twice');
  }
  if (config.limits !== undefined) {
    if (typeof config.limits !== 'object' || config.limits === null || Array.isArray(config.limits)) throw new ConfigError('limits', 'must be an object');
    for (const [key, limit] of Object.entries(config.limits)) {
      if (!KNOWN_LIMITS.has(key)) throw new ConfigError(`limits.${key}`, 'is not a known limit');
      if (!Number.isSafeInteger(limit) || (limit as number) <= 0) throw new ConfigError(`limits.${key}`, 'must be a positive integer');
    }
  }
  return config as Partial<SingleServerFile>;
}

/** @throws ConfigError when `url` is not a `tcp://`, `tls://`, `ws://` or `wss://` URL with a port */
export function checkUrl(url: unknown, field: string): string {
  // The cluster file's own rule, so a flag and the file say the same of one URL.
  return checkAddress(url, field, true).url;
}
