/**
 * The transports a member of a cluster runs with: TCP (`tcp://`, `tls://`) and WebSocket (`ws://`,
 * `wss://`), with the member's certificate and key (to listen on TLS, and to present on peer
 * links) and the cluster's CA (whom to trust when dialing), read from the files the cluster file
 * names. Errors name the field and the file, never what the file holds.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, type ClusterConfig, type MemberTlsConfig, type Transport } from '@kiln/core';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

async function pem(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(field, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** Transports for member `own` (its `tls`, when it has one) of `config`. @throws ConfigError */
export async function memberTransports(config: ClusterConfig, own: { tls?: MemberTlsConfig }, field: string): Promise<Transport[]> {
  const ca = config.tls === undefined ? undefined : await pem(config.tls.caFile, 'tls.caFile');
  const certFile = own.tls?.certFile;
  const keyFile = own.tls?.keyFile;
  const cert = certFile === undefined ? undefined : await pem(certFile, `${field}.tls.certFile`);
  const key = keyFile === undefined ? undefined : await pem(keyFile, `${field}.tls.keyFile`);
  const tcp = tcpTransport({ tls: { ...(ca !== undefined && { ca }), ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) } });
  const ws = wsTransport({ tls: { ...(ca !== undefined && { ca }), ...(certFile !== undefined && { certFile }), ...(keyFile !== undefined && { keyFile }) } });
  return [tcp, ws];
}
