/** Parsing and formatting `tcp://host:port` addresses. */
import { InvalidArgumentError } from '@kiln/core';

/** A parsed `tcp://host:port`. */
export interface TcpAddress {
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  /** Port; 0 when listening picks a free one. */
  port: number;
}

/**
 * Parses `tcp://host:port`.
 * @throws InvalidArgumentError when the URL is not one
 */
export function parseTcpUrl(url: string): TcpAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('url', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'tcp:') throw new InvalidArgumentError('url', `must start with tcp://, got ${url}`);
  if (parsed.hostname === '') throw new InvalidArgumentError('url', `needs a host: ${url}`);
  if (parsed.port === '') throw new InvalidArgumentError('url', `needs a port: ${url}`);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { host, port: Number(parsed.port) };
}

/** Formats a host and port as `tcp://host:port`, bracketing IPv6 addresses. */
export function formatUrl(host: string, port: number): string {
  return `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
