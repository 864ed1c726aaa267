/**
 * Where the HTTP listener may bind: the one place that decides. Health, metrics and the status
 * page carry no TLS and ask for no credentials yet, so they stay on this machine's loopback
 * interface; an address others could reach is refused until TLS and auth guard it. When they
 * land, this check is where they join: a non-loopback address with both configured passes.
 */
import { ConfigError } from '@kiln/core';

/** The loopback spellings `new URL` leaves in `hostname`. */
const LOOPBACK = /^(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/i;

/**
 * @returns the host and port to bind
 * @throws ConfigError naming `field` when `url` is not `http://` on a loopback address
 */
export function checkHttpBind(url: string, field: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(field, `'${url}' is not a URL`);
  }
  if (parsed.protocol !== 'http:') throw new ConfigError(field, `scheme of '${url}' must be http`);
  if (!LOOPBACK.test(parsed.hostname)) {
    throw new ConfigError(
      field,
      `'${url}' is not a loopback address: the HTTP listener (health, metrics, status page) has no TLS and no auth yet, so it binds only to 127.0.0.1, [::1] or localhost; reach it from elsewhere through a proxy that adds both`,
    );
  }
  if (parsed.port === '' && !/:\d+\/?$/.test(url)) throw new ConfigError(field, `'${url}' must name a port`);
  // `new URL` keeps IPv6 brackets in `hostname`; `listen` wants the bare address.
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
}
