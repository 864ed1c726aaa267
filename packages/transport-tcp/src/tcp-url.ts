/** Parsing and formatting `tcp://host:port` and `tls://host:port` addresses. */
import { InvalidArgumentError } from '@kiln/core';

/** A parsed `tcp://host:port` or `tls://host:port`. */
export interface TcpAddress {
  /** True for `tls://`. */
  secure: boolean;
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  /** Port; 0 when listening picks a free one. */
  port: number;
}

/**
 * Parses `tcp://host:port` or `tls://host:port`.
 * @throws InvalidArgumentError when the URL is not one
 */
export function parseTcpUrl(url: string): TcpAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('url', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'tcp:' && parsed.protocol !== 'tls:') throw new InvalidArgumentError('url', `must start with tcp:// or tls://, got ${url}`);
  if (parsed.hostname === '') throw new InvalidArgumentError('url', `needs a host: ${url}`);
  if (parsed.port === '') throw new InvalidArgumentError('url', `needs a port: ${url}`);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { secure: parsed.protocol === 'tls:', host, port: Number(parsed.port) };
}

/** Formats a host and port as `tcp://host:port` (`tls://` when `secure`), bracketing IPv6 addresses. */
export function formatUrl(host: string, port: number, secure = false): string {
  return `${secure ? 'tls' : 'tcp'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
