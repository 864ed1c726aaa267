/**
 * `kiln certs --config F --out DIR`: a development CA and, for every server and voter of the
 * cluster file, a certificate carrying the member's name (and the hosts of its addresses), so a
 * TLS cluster can be tried in one command. Keys are written readable by their owner only; an
 * existing file is never overwritten, and a run that meets one leaves none of its own files behind. Real deployments bring their own certificates
 * (docs/security.md).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
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

/**
 * Writes every pair, or none: on a file that exists (or cannot be written), the files this run
 * wrote are removed again, so that no new CA is left beside certificates of an older one.
 */
async function writePairs(out: string, pairs: ReadonlyArray<readonly [string, CertificatePair]>, print: (line: string) => void): Promise<void> {
  const written: string[] = [];
  try {
    for (const [name, pair] of pairs) {
      for (const [path, content, mode] of [[join(out, `${name}.pem`), pair.cert, 0o644], [join(out, `${name}-key.pem`), pair.key, 0o600]] as const) {
        await writeNew(path, content, mode);
        written.push(path);
      }
    }
  } catch (error) {
    await Promise.all(written.map((path) => rm(path, { force: true })));
    throw error;
  }
  for (const [name] of pairs) print(`wrote ${join(out, `${name}.pem`)} and ${join(out, `${name}-key.pem`)}`);
}

/** Writes the CA and every member's certificate and key into `out`. @throws ConfigError */
export async function writeDevCertificates(configFile: string, out: string, print: (line: string) => void): Promise<void> {
  const config = validateClusterConfig(await readJsonFile(configFile));
  await mkdir(out, { recursive: true });
  const ca = createCertificateAuthority({ commonName: `${config.cluster} development CA` });
  const pairs: Array<[string, CertificatePair]> = [['ca', ca]];
  for (const server of serversOf(config)) {
    pairs.push([server.name, issueCertificate(ca, { commonName: server.name, altNames: hostsOf([...server.listen, server.peer, server.http]) })]);
  }
  for (const voter of config.voters) pairs.push([voter.name, issueCertificate(ca, { commonName: voter.name, altNames: hostsOf([voter.peer, voter.http]) })]);
  await writePairs(out, pairs, print);
}
