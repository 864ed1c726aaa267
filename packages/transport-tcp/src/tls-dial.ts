/** The dialing side of `tls://`: the TLS socket, who the server must be, and what a failure means. */
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { TlsError } from '@kiln/core';
import { certificateNames } from './tls-accept.js';
import type { ResolvedTcpOptions } from './tcp-options.js';
import type { TcpAddress } from './tcp-url.js';

/**
 * Opens a TLS connection to `address`. The server's certificate must be from a trusted CA and
 * carry `memberName` when given (a peer link), else the configured `servername` or the URL's host.
 */
export function connectTls(address: TcpAddress, resolved: ResolvedTcpOptions, memberName: string | undefined): TLSSocket {
  const expected = resolved.tls?.servername ?? address.host;
  return connect({
    host: address.host,
    port: address.port,
    ...(resolved.secureContext !== undefined && { secureContext: resolved.secureContext }),
    // SNI carries host names only, never an IP address.
    ...(isIP(expected) === 0 && { servername: expected }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      if (memberName === undefined) return checkServerIdentity(expected, cert);
      if (certificateNames(cert).includes(memberName)) return undefined;
      return new Error(`the server's certificate names ${certificateNames(cert).join(', ') || 'nobody'}, not the member '${memberName}'`);
    },
  });
}

/** What a failed TLS dial says: the server spoke no TLS, or its certificate was refused. */
export function tlsDialError(url: string, error: NodeJS.ErrnoException): TlsError {
  const code = error.code ?? '';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ECONNRESET' || code === 'EPIPE') {
    return new TlsError(`the server at ${url} did not answer in TLS (is it a plain tcp:// address?): ${code}`, { cause: error });
  }
  return new TlsError(`the server at ${url} was refused: ${error.message}`, { cause: error });
}
