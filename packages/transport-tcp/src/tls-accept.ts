/**
 * TLS for the TCP transport: its one secure context, the names a certificate carries, and the
 * server side of a `tls://` connection: a first look at its opening byte (a client speaking plain
 * Kiln is told, in a close frame it can read, that the address speaks TLS), the handshake, and
 * under mutual TLS the checks of the client's certificate. Frames then go over the TLS socket
 * exactly as over a plain one.
 */
import type { Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type PeerCertificate, type SecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { ConfigError, TlsError, type CertificateRequirement } from '@kiln/core';
import { encodeCloseFrame } from './length-prefix.js';
import type { TcpTlsOptions } from './tcp-options.js';
import { formatUrl } from './tcp-url.js';

/** The first byte of every TLS connection: a handshake record. */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * One context for both sides: the certificate and key a listener (or a mutual-TLS dialer)
 * presents, and the CAs it trusts.
 * @throws ConfigError when they cannot be used; the message never holds their content
 */
export function secureContextOf(tls: TcpTlsOptions | undefined): SecureContext | undefined {
  if (tls === undefined) return undefined;
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new ConfigError('tls', 'cert and key go together: give both or neither');
  try {
    return createSecureContext({
      ...(tls.ca !== undefined && { ca: caList(tls.ca) }),
      ...(tls.cert !== undefined && { cert: tls.cert }),
      ...(tls.key !== undefined && { key: tls.key }),
    });
  } catch (error) {
    // OpenSSL's message says what it could not decode or match, never the bytes.
    throw new ConfigError('tls', `the certificates or key cannot be used: ${(error as Error).message}`);
  }
}

function caList(ca: NonNullable<TcpTlsOptions['ca']>): string | Buffer | Array<string | Buffer> {
  return typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca];
}

/** The names a certificate carries: its common name, then its DNS subject alternative names. */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn.filter((n): n is string => typeof n === 'string'));
  for (const entry of (cert.subjectaltname ?? '').split(', ')) if (entry.startsWith('DNS:')) names.push(entry.slice(4));
  return [...new Set(names)];
}

/** What an OpenSSL verification code means for a member's certificate. */
function refusedBecause(code: string): string {
  if (code === 'CERT_HAS_EXPIRED') return 'it has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'it is not valid yet';
  return "it is not signed by the cluster's CA";
}

/** Under mutual TLS: the member name the client's certificate carries, or why it is refused. */
function checkCertificate(socket: TLSSocket, required: CertificateRequirement): { name: string } | { problem: string } {
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return { problem: 'it presented no certificate' };
  if (!socket.authorized) {
    const code = String(socket.authorizationError);
    return { problem: `its certificate was refused (${code}): ${refusedBecause(code)}` };
  }
  const carried = certificateNames(cert);
  const name = carried.find((n) => required.names.includes(n));
  if (name === undefined) return { problem: `its certificate names ${carried.join(', ') || 'nobody'}, no member of the cluster` };
  return { name };
}

/** What a {@link TlsGate} needs from its listener. */
export interface TlsGateOptions {
  /** What the listener presents and whom it trusts. */
  tls: TcpTlsOptions;
  requireCertificate: CertificateRequirement | undefined;
  handshakeTimeoutMs: number;
  closeTimeoutMs: number;
}

/**
 * The way into a `tls://` listener: it brings up TLS on each accepted socket and hands the TLS
 * socket to `onSecure` with, under mutual TLS, the member name its certificate carries. Anything
 * else closes the socket before any frame is read; under mutual TLS the listener's `onRefused`
 * hears why.
 */
export class TlsGate {
  private readonly server: TlsServer;

  constructor(
    private readonly options: TlsGateOptions,
    onSecure: (socket: TLSSocket, certificateName: string | undefined) => void,
  ) {
    const required = options.requireCertificate;
    // Certificates are checked after the handshake (rejectUnauthorized off), so that a refusal can say why.
    const { ca, cert, key } = options.tls;
    this.server = createTlsServer({ ...(ca !== undefined && { ca: caList(ca) }), cert, key, requestCert: required !== undefined, rejectUnauthorized: false, handshakeTimeout: options.handshakeTimeoutMs });
    this.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.report(socket, `its TLS handshake failed: ${error.code ?? error.message}`);
      socket.destroy();
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      const verdict = required === undefined ? undefined : checkCertificate(socket, required);
      if (verdict !== undefined && 'problem' in verdict) {
        this.report(socket, verdict.problem);
        socket.on('error', () => {});
        hangUp(socket, verdict.problem, options.closeTimeoutMs);
        return;
      }
      onSecure(socket, verdict?.name);
    });
  }

  /** Takes an accepted socket: TLS if its first byte opens a TLS handshake, a close frame saying so if not. */
  accept(raw: Socket): void {
    raw.on('error', () => {}); // a reset before the handshake: the socket just closes
    const timer = setTimeout(() => raw.destroy(), this.options.handshakeTimeoutMs);
    timer.unref();
    raw.once('data', (first: Buffer) => {
      clearTimeout(timer);
      raw.pause();
      if (first[0] !== TLS_HANDSHAKE_RECORD) {
        this.report(raw, 'it does not speak TLS');
        hangUp(raw, 'this address speaks TLS: dial it with tls://', this.options.closeTimeoutMs);
        return;
      }
      raw.unshift(first);
      this.server.emit('connection', raw);
    });
  }

  private report(socket: Socket, reason: string): void {
    this.options.requireCertificate?.onRefused(formatUrl(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0, true), reason);
  }
}

/** Says why in a close frame the client can read, then hangs up. */
function hangUp(socket: Socket, reason: string, closeTimeoutMs: number): void {
  socket.end(encodeCloseFrame(reason, new TlsError(reason)));
  socket.resume(); // discard whatever it sends, and see its FIN
  setTimeout(() => socket.destroy(), closeTimeoutMs).unref();
}
