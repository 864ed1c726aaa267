/**
 * Where the HTTP listener may bind: the one place that decides. On this machine's loopback
 * interface it may serve plain `http://`; an address others could reach must be `https://` (the
 * member's own certificate) in a cluster with `auth` (credentials on every path but the health
 * probes), or it is refused, naming the field.
 */
import { checkHttpAddress, ConfigError, isLoopbackHost } from '@kiln/core';

/** What guards the listener: the member's certificate (for https) and the cluster's `auth` section. */
export interface HttpGuards {
  /** The member has a `tls` section (certificate and key). */
  certificate: boolean;
  /** The cluster has an `auth` section. */
  auth: boolean;
}

/** Where to bind, and whether to serve https. */
export interface HttpBind {
  host: string;
  port: number;
  https: boolean;
  /** Bound on this machine's loopback interface only. */
  loopback: boolean;
}

/** @throws ConfigError naming `field` when `url` is not an address the listener may bind with `guards` */
export function checkHttpBind(url: string, field: string, guards: HttpGuards): HttpBind {
  // The file's rule for the address itself, so --http and the file say the same of one URL.
  const { port } = checkHttpAddress(url, field);
  const parsed = new URL(url);
  const https = parsed.protocol === 'https:';
  if (https && !guards.certificate) throw new ConfigError(field, `'${url}' is https: the member needs its own certificate, a "tls" section with certFile and keyFile (--tls-cert and --tls-key for a lone server)`);
  const loopback = isLoopbackHost(parsed.hostname);
  if (!loopback && !(https && guards.auth)) {
    const missing = [...(https ? [] : ['https (the member\'s "tls" certificate)']), ...(guards.auth ? [] : ['the cluster\'s "auth" section'])].join(' and ');
    throw new ConfigError(
      field,
      `'${url}' is not a loopback address: the HTTP listener (health, metrics, status page) binds beyond 127.0.0.1, [::1] or localhost only with https and auth, and here ${missing} ${missing.includes(' and ') ? 'are' : 'is'} missing`,
    );
  }
  // `new URL` keeps IPv6 brackets in `hostname`; `listen` wants the bare address.
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port, https, loopback };
}
