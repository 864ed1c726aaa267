/**
 * The transports the `kiln` command dials and listens with: TCP (`tcp://`, `tls://`) and
 * WebSocket (`ws://`, `wss://`), trusting the cluster's CA when the cluster file has one. A member
 * runs with its own certificate and key (to listen on TLS, and to present on peer links); an
 * operator command presents one only when given `--tls-cert`/`--tls-key`, for the ports that
 * require it. Errors name the field and the file, never what the file holds.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, webOrigin, type ClusterConfig, type Credentials, type MemberTlsConfig, type Transport } from '@kiln/core';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

/** How the `kiln` command reaches members: its transports, and the credentials it presents to a cluster with `auth`. */
export interface Dial {
  transports: Transport[];
  credentials?: Credentials;
}

async function pem(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(field, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** The cluster's CA, and the certificate to present (with the fields that name its files in errors). */
interface TlsFiles {
  caFile: string | undefined;
  certificate: (MemberTlsConfig & { certField: string; keyField: string }) | undefined;
}

/** Web pages a member's WebSocket listener lets in besides those of its own host, comma-separated. */
const WS_ORIGINS_VARIABLE = 'KILN_WS_ORIGINS';

/**
 * A comma-separated list of origins, as `--ws-origins` and {@link WS_ORIGINS_VARIABLE} give it.
 * @throws ConfigError naming `field` and the entry when one is not an origin (a trailing `/` would never match)
 */
export function originList(list: string, field: string): string[] {
  const origins = list.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
  return origins.map((origin, i) => webOrigin(origin, `${field}[${i}]`));
}

/**
 * The web pages a member's WebSocket listeners let in: `--ws-origins` when given, else
 * {@link WS_ORIGINS_VARIABLE} when set, else the file's `wsOrigins`. The nearer the command line, the stronger.
 */
function wsOrigins(flag: readonly string[] | undefined, file: readonly string[] | undefined): readonly string[] {
  const variable = process.env[WS_ORIGINS_VARIABLE];
  return flag ?? (variable ? originList(variable, WS_ORIGINS_VARIABLE) : (file ?? []));
}

async function transportsOf({ caFile, certificate }: TlsFiles, origins: readonly string[] = []): Promise<Transport[]> {
  const ca = caFile === undefined ? undefined : await pem(caFile, 'tls.caFile');
  const cert = certificate === undefined ? undefined : await pem(certificate.certFile, certificate.certField);
  const key = certificate === undefined ? undefined : await pem(certificate.keyFile, certificate.keyField);
  const tcp = tcpTransport({ tls: { ...(ca !== undefined && { ca }), ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) } });
  const files = certificate === undefined ? {} : { certFile: certificate.certFile, keyFile: certificate.keyFile };
  const ws = wsTransport({ tls: { ...(ca !== undefined && { ca }), ...files }, origins });
  // Checked once the transport found the certificate usable at all.
  if (cert !== undefined) checkDates(cert, certificate!.certField);
  return [tcp, ws];
}

/**
 * Every client and member refuses a certificate out of its dates: say so at start, in one line,
 * instead of serving ports no one can use.
 * @throws ConfigError naming `field` when the certificate (the first of its chain) has expired or is not valid yet
 */
function checkDates(cert: string, field: string): void {
  const { validFrom, validTo } = new X509Certificate(cert);
  const now = Date.now();
  if (Date.parse(validTo) < now) throw new ConfigError(field, `the certificate expired on ${validTo}; every client and member would refuse it`);
  if (Date.parse(validFrom) > now) throw new ConfigError(field, `the certificate is not valid until ${validFrom} (is this host's clock right?); every client and member would refuse it`);
}

/** The member's certificate and key, read for its https listener. @throws ConfigError naming the field */
export async function memberCertificate(own: MemberTlsConfig, field: string): Promise<{ cert: string; key: string }> {
  return { cert: await pem(own.certFile, `${field}.tls.certFile`), key: await pem(own.keyFile, `${field}.tls.keyFile`) };
}

/**
 * Transports for member `own` (its `tls`, when it has one) of `config`, its WebSocket listeners
 * letting in the pages `originsFlag` (`--ws-origins`), the environment or its `wsOrigins` name.
 * @throws ConfigError
 */
export async function memberTransports(config: ClusterConfig, own: { tls?: MemberTlsConfig; wsOrigins?: string[] }, field: string, originsFlag?: readonly string[]): Promise<Transport[]> {
  const certificate = own.tls === undefined ? undefined : { ...own.tls, certField: `${field}.tls.certFile`, keyField: `${field}.tls.keyFile` };
  return transportsOf({ caFile: config.tls?.caFile, certificate }, wsOrigins(originsFlag, own.wsOrigins));
}

/**
 * What an operator command (`kiln status`, `diverged`, `admin`, `txn`) dials members with:
 * transports that trust the CA of cluster file `config`, when it has one, presenting
 * `certificate` (`--tls-cert`, `--tls-key`) when given: a peer address under mutual TLS, where
 * `kiln status --config` asks each voter, takes only a certificate naming a member.
 * @throws ConfigError naming the field or flag
 */
export async function operatorTransports(config: ClusterConfig | undefined, certificate: MemberTlsConfig | undefined): Promise<Transport[]> {
  const presented = certificate === undefined ? undefined : { ...certificate, certField: '--tls-cert', keyField: '--tls-key' };
  return transportsOf({ caFile: config?.tls?.caFile, certificate: presented });
}
