/**
 * `kiln certs --config F --out DIR`: a development CA and, for every server and voter of the
 * cluster file, a certificate carrying the member's name (and the hosts of its addresses), so a
 * TLS cluster can be tried in one command. Keys are written readable by their owner only; an
 * existing file is never overwritten. Real deployments bring their own certificates
 * (docs/security.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, serversOf, validateClusterConfig } from '@kiln/core';
import { readJsonFile } from './config.js';
import { createCertificateAuthority, issueCertificate, type CertificatePair } from './x509.js';

/** The hosts a member's addresses name, for its certificate's alternative names. */
function hostsOf(urls: readonly (string | undefined)[]): string[] {
  const hosts = urls.flatMap((url) => (url === undefined ? [] : [new URL(url).hostname.replace(/^\[|\]$/g, '')]));
  return [...new Set(hosts)];
}

async function writeNew(path: string, content: string, mode: number): Promise<void> {
  try {
    await writeFile(path, content, { flag: 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ConfigError('--out', `${path} exists already; remove it or choose another folder`);
    throw new ConfigError('--out', `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function writePair(out: string, name: string, pair: CertificatePair, print: (line: string) => void): Promise<void> {
  await writeNew(join(out, `${name}.pem`), pair.cert, 0o644);
  await writeNew(join(out, `${name}-key.pem`), pair.key, 0o600);
  print(`wrote ${join(out, `${name}.pem`)} and ${join(out, `${name}-key.pem`)}`);
}

/** Writes the CA and every member's certificate and key into `out`. @throws ConfigError */
export async function writeDevCertificates(configFile: string, out: string, print: (line: string) => void): Promise<void> {
  const config = validateClusterConfig(await readJsonFile(configFile));
  await mkdir(out, { recursive: true });
  const ca = createCertificateAuthority({ commonName: `${config.cluster} development CA` });
  await writePair(out, 'ca', ca, print);
  for (const server of serversOf(config)) {
    await writePair(out, server.name, issueCertificate(ca, { commonName: server.name, altNames: hostsOf([...server.listen, server.peer, server.http]) }), print);
  }
  for (const voter of config.voters) {
    await writePair(out, voter.name, issueCertificate(ca, { commonName: voter.name, altNames: hostsOf([voter.peer, voter.http]) }), print);
  }
}
