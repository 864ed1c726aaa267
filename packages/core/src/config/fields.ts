/**
 * Readers of single config fields: each checks one value, returns it typed, or throws a
 * {@link ConfigError} naming the field's path and the rule it broke.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { clusterConfigBounds } from './defaults.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A plain object (not null, not an array). */
export function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(field, `must be an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

/** An array; empty only when `mayBeEmpty`. */
export function array(value: unknown, field: string, mayBeEmpty = false): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(field, `must be an array, got ${show(value)}`);
  if (!mayBeEmpty && value.length === 0) throw new ConfigError(field, 'must not be empty');
  return value;
}

/** Refuses the first key of `o` not in `known`, suggesting the nearest known one. */
export function knownKeys(o: Record<string, unknown>, path: string, known: readonly string[], rule = 'is not a known setting'): void {
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

/** A name of the cluster, a stripe, a server or a voter: 1 to 64 of letters, digits, `.`, `_`, `-`. */
export function name(value: unknown, field: string): string {
  if (value === undefined) throw new ConfigError(field, 'is required');
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigError(field, `must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${show(value)}`);
  }
  return value;
}

/** One of `allowed`; `fallback` when absent. */
export function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, `must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${show(value)}`);
  }
  return value as T;
}

/** Milliseconds within the bounds of the setting the field's last segment names; `fallback` when absent. */
export function time(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const setting = (field.split('.').pop() ?? field) as keyof typeof clusterConfigBounds;
  const { min, max } = clusterConfigBounds[setting];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `must be an integer number of milliseconds from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** A non-empty path without NUL. */
export function directory(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\u0000')) throw new ConfigError(field, `must be a non-empty path, got ${show(value)}`);
  return value;
}

/** A non-empty path of a file that must be given. */
export function filePath(value: unknown, field: string): string {
  if (value === undefined) throw new ConfigError(field, 'is required');
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\u0000')) throw new ConfigError(field, 'must be a non-empty path');
  return value;
}

/** A parsed address: its text, the host and port that identify it, and its port number. */
export interface Address {
  url: string;
  host: string;
  port: number;
  key: string;
}

const SCHEMES = ['tcp:', 'tls:', 'ws:', 'wss:'];
const EXPLICIT_PORT = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)(?:[/?#]|$)/i;

/** A `tcp://`, `tls://`, `ws://` or `wss://` URL with a host and an explicit port (0 only when `allowPortZero`). */
export function address(value: unknown, field: string, allowPortZero: boolean): Address {
  const { url, host, port } = hostAndPort(value, field, SCHEMES, 'tcp, tls, ws or wss');
  if (port === 0 && !allowPortZero) throw new ConfigError(field, `'${url}' must name a port other than 0: others must find it`);
  return { url, host, port, key: `${host}:${port}` };
}

/**
 * The address of a server's or voter's HTTP listener (health, metrics, status page): an
 * `http://host:port` or `https://host:port` URL with nothing after the port; port 0 picks a free
 * one. Whether the host may be reached from beyond this machine, and whether https has the
 * certificate it needs, is the listener's to decide when it binds.
 */
export function httpAddress(value: unknown, field: string): Address {
  const { url, host, port } = hostAndPort(value, field, ['http:', 'https:'], 'http or https', (parsed) => {
    if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') throw new ConfigError(field, `'${value as string}' must end at the port: the listener serves its own paths`);
  });
  return { url, host, port, key: `${host}:${port}` };
}

/**
 * The checks every address shares: a URL string of one of `schemes`, naming a host, carrying no
 * credentials (then `more`'s checks), with an explicit port.
 */
function hostAndPort(value: unknown, field: string, schemes: readonly string[], schemeWords: string, more?: (parsed: URL) => void): { url: string; host: string; port: number } {
  if (typeof value !== 'string') throw new ConfigError(field, `must be a URL string, got ${show(value)}`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(field, `'${value}' is not a URL${notAUrlBecause(value, schemes[0]!)}`);
  }
  // `localhost:7410` parses, as the scheme `localhost:`.
  if (!schemes.includes(parsed.protocol)) throw new ConfigError(field, `scheme of '${value}' must be ${schemeWords}${schemeLeftOut(value, schemes[0]!)}`);
  if (parsed.hostname === '') throw new ConfigError(field, `'${value}' must name a host`);
  if (parsed.username !== '' || parsed.password !== '') throw new ConfigError(field, `'${value}' must not carry credentials`);
  more?.(parsed);
  // `new URL` drops a ws, wss, http or https URL's default port (80, 443); an explicit one still counts.
  const explicit = EXPLICIT_PORT.exec(value)?.[1];
  if (explicit === undefined) throw new ConfigError(field, `'${value}' must name a port`);
  return { url: value, host: hostKey(parsed.hostname), port: Number(parsed.port === '' ? explicit : parsed.port) };
}

/**
 * A web page's origin as a browser sends it in `Origin` (`https://app.example.com`, with a port
 * when not the scheme's own, nothing after it), or `*` for every page.
 */
export function webOrigin(value: unknown, field: string): string {
  if (value === '*') return value;
  const origin = typeof value === 'string' && URL.canParse(value) ? new URL(value).origin : 'null';
  if (origin === 'null' || origin !== value) throw new ConfigError(field, `must be a web page's origin as a browser sends it, scheme://host[:port] with nothing after (https://app.example.com), or '*', got ${show(value)}`);
  return value;
}

/** What a careless hand most likely did to a string that is not a URL: left out the scheme, or mistyped the port. */
function notAUrlBecause(value: string, scheme: string): string {
  const port = /:(\d+)(?:[/?#]|$)/.exec(value)?.[1];
  if (port !== undefined && Number(port) > 65535) return `: port ${port} is past 65535`;
  return schemeLeftOut(value, scheme);
}

/** A hint for `host:port` written without its scheme, else ''. */
function schemeLeftOut(value: string, scheme: string): string {
  return /^[^:/]+:\d+$/.test(value) ? `: it has no scheme; write '${scheme}//${value}'` : '';
}

/** Lower-cased host, with every loopback spelling folded into one, and every wildcard one. */
function hostKey(hostname: string): string {
  if (isLoopbackHost(hostname)) return 'loopback';
  return isWildcardHost(hostname) ? WILDCARD : hostname.toLowerCase();
}

/** The host key of `0.0.0.0` and `[::]`: a listener there takes its port on every address of its machine. */
const WILDCARD = 'any';

/** True for `0.0.0.0` and `[::]` (however `new URL` spells them): every address of the machine. */
function isWildcardHost(hostname: string): boolean {
  return hostname === '0.0.0.0' || hostname === '[::]';
}

/**
 * True when two addresses cannot both be bound: the same host (loopback spellings are one) and
 * port, or, on one machine, a wildcard host and any host on the same port. Wildcards of two
 * machines are two addresses: every host of a cluster may listen on 0.0.0.0 with one port.
 */
export function addressesClash(a: Address, b: Address, sameMachine: boolean): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  if (a.host === WILDCARD || b.host === WILDCARD) return sameMachine;
  return a.host === b.host;
}

/**
 * The key of the machine a member runs on, from its peer address (as data directories are told
 * apart): loopback and wildcard hosts are the machine the file is read on. A member without a
 * peer address stands alone, on that machine too.
 */
export function machineOf(peer: Address | undefined): string {
  return peer === undefined || peer.host === 'loopback' || peer.host === WILDCARD ? 'loopback' : peer.host;
}

/**
 * The parsed form of `url`, or undefined when it is not a valid address: for comparing addresses
 * that were checked elsewhere (a view's), where a refusal would be the caller's to word.
 */
export function addressOf(url: string): Address | undefined {
  try {
    return address(url, 'address', true);
  } catch {
    return undefined;
  }
}

/** The loopback spellings `new URL` leaves in `hostname`. */
const LOOPBACK = /^(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/i;

/**
 * True for `localhost`, `127.x.x.x` and `[::1]`, as `new URL` leaves them in `hostname`: this
 * machine's loopback, for the config's address rules, the HTTP listener and the WebSocket origin check.
 */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** Folds `.`, `..` (where it can), repeated and trailing slashes, so `./d/` and `d` compare equal. */
export function normalisePath(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return (absolute ? '/' : '') + out.join('/');
}

/** The edits (insertions, deletions, substitutions of one character) that turn `a` into `b`: what a 'did you mean' suggestion is nearest by. */
export function editDistance(a: string, b: string): number {
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
export function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    // A cycle, a BigInt, or nesting too deep for JSON.stringify, which String() would recurse into as deep.
    text = Array.isArray(value) ? 'an array' : typeof value === 'object' && value !== null ? 'an object' : String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
