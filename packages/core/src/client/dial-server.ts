/** A link's connection to one server: the dial and the hello, within a bound for both. */
import { TimeoutError, UnsupportedSchemeError } from '../errors.js';
import { openHandshake, type Welcome } from '../protocol/handshake.js';
import type { Connection } from '../transport/transport.js';
import type { LinkOptions } from './link-types.js';

export interface DialledServer {
  connection: Connection;
  frames: AsyncIterator<Uint8Array>;
  welcome: Welcome;
}

/**
 * Dials `url` and says hello. A paused server still completes TCP handshakes (the kernel does),
 * then never answers: the dial and the hello together get `serverSilenceMs`.
 * @throws UnsupportedSchemeError when no transport speaks the URL's scheme; TimeoutError when the
 *   server says nothing in time; the handshake's refusal
 */
export async function dialServer(url: string, options: Pick<LinkOptions, 'transports' | 'limits' | 'hello' | 'timers' | 'serverSilenceMs'>): Promise<DialledServer> {
  const scheme = url.slice(0, Math.max(url.indexOf(':'), 0));
  const transport = options.transports.find((t) => t.schemes.includes(scheme));
  if (!transport) throw new UnsupportedSchemeError(url);
  const { timers, serverSilenceMs } = options;
  const abort = new AbortController();
  const timer = timers.setTimeout(() => abort.abort(), serverSilenceMs, { keepAlive: true });
  let connection: Connection | undefined;
  try {
    connection = await transport.dial(url, { ...options.limits, signal: abort.signal });
    const opened = connection;
    const frames = opened[Symbol.asyncIterator]();
    abort.signal.addEventListener('abort', () => opened.close('no answer to the hello'));
    const welcome = await openHandshake(opened, frames, { role: 'client', ...options.hello, frameBytesMax: options.limits.frameBytesMax });
    return { connection: opened, frames, welcome };
  } catch (error) {
    connection?.close('handshake failed');
    throw abort.signal.aborted ? new TimeoutError(connection ? `the hello to ${url} (its port took the connection, but nothing answered as Kiln; is it a port of another scheme?)` : `connecting to ${url}`, serverSilenceMs) : error;
  } finally {
    timer.cancel();
  }
}
