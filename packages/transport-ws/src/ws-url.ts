/** Parsing and formatting `ws://host:port/path` and `wss://` addresses. Imports nothing from `node:`. */
import { InvalidArgumentError } from '@kiln/core';

/** A parsed `ws://` or `wss://` URL. */
export interface WsAddress {
  /** True for `wss://`. */
  secure: boolean;
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  /** Port; 0 when listening picks a free one. */
  port: number;
  /** Path, `/` when the URL has none. */
  path: string;
}

/**
 * Parses a `ws://` or `wss://` URL. The port defaults to 80 and 443 as usual.
 * @throws InvalidArgumentError when the URL is not one
 */
export function parseWsUrl(url: string): WsAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('url', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new InvalidArgumentError('url', `must start with ws:// or wss://, got ${url}`);
  if (parsed.hostname === '') throw new InvalidArgumentError('url', `needs a host: ${url}`);
  const secure = parsed.protocol === 'wss:';
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port);
  return { secure, host, port, path: parsed.pathname === '' ? '/' : parsed.pathname };
}

/** Formats an address as a URL, bracketing IPv6 hosts and leaving out a root path. */
export function formatWsUrl(address: WsAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.secure ? 'wss' : 'ws'}://${host}:${address.port}${address.path === '/' ? '' : address.path}`;
}
