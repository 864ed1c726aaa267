/**
 * What the commands that dial servers (status, diverged, admin, txn, backup, verify) share: the
 * flags of a certificate to present and of credentials, how they become a way to dial, and the
 * refusal of a flag given twice.
 */
import type { parseArgs } from 'node:util';
import type { ClusterConfig, MemberTlsConfig } from '@kiln/core';
import { readClusterFile } from '../config.js';
import { UsageError } from '../exit-codes.js';
import { CREDENTIAL_FLAGS, operatorCredentials, type CredentialFlags } from '../operator-credentials.js';
import { operatorTransports, type Dial } from '../transports.js';

/**
 * The flags every operator command takes: a certificate to present (see {@link operatorTransports})
 * and credentials (see {@link operatorCredentials}).
 */
export const OPERATOR_FLAGS = { 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, ...CREDENTIAL_FLAGS } as const;

export interface OperatorFlags extends CredentialFlags {
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
}

/** The cluster file `--config` names (when it names one), and how to dial its members: transports and credentials. */
export async function operatorLink(file: string, values: OperatorFlags): Promise<{ config: ClusterConfig; dial: Dial }>;
export async function operatorLink(file: string | undefined, values: OperatorFlags): Promise<{ config: ClusterConfig | undefined; dial: Dial }>;
export async function operatorLink(file: string | undefined, values: OperatorFlags): Promise<{ config: ClusterConfig | undefined; dial: Dial }> {
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const certificate: MemberTlsConfig | undefined = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  const config = file === undefined ? undefined : await readClusterFile(file);
  const credentials = await operatorCredentials(values);
  return { config, dial: { transports: await operatorTransports(config, certificate), ...(credentials && { credentials }) } };
}

/**
 * @throws UsageError when a flag that takes one value is given twice: parseArgs keeps the last, so
 * `--max-rate 5 ... --max-rate 500` ran unpaced, and `verify --stripe a --stripe b` checked b only
 */
export function refuseRepeated(tokens: ReturnType<typeof parseArgs>['tokens'], options: Record<string, { type: string; multiple?: boolean }>): void {
  const given = (tokens ?? []).flatMap((t) => (t.kind === 'option' && options[t.name]?.multiple !== true ? [t.name] : []));
  const twice = given.find((name, i) => given.indexOf(name) !== i);
  if (twice !== undefined) throw new UsageError(`--${twice} is given twice`);
}

