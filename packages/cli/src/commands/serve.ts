/**
 * `kiln start` and `kiln voter`: a member in the foreground. Its configuration is read and checked
 * before the server, its store and its transports are loaded, so a bad file fails at once.
 */
import { parseArgs } from 'node:util';
import { serversOf } from '@kiln/core';
import { checkUrl, isClusterFile, readClusterConfig, readJsonFile } from '../config.js';
import { UsageError } from '../exit-codes.js';
import { logFormatOf, memberLog } from '../member-log.js';
import { runUntilSignalled } from '../start.js';
import { originList } from '../transports.js';

export async function voter(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, name: { type: 'string' }, http: { type: 'string' }, 'log-format': { type: 'string' } } });
  if (!values.config || !values.name) throw new UsageError('kiln voter needs --config FILE and --name NAME');
  const voterLog = memberLog(logFormatOf(values['log-format']), values.name);
  const config = await readClusterConfig(values.config);
  const { startVoterMember } = await import('../cluster.js');
  await runUntilSignalled(startVoterMember(config, values.name, voterLog, values.http), voterLog);
}

export async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      memory: { type: 'boolean' },
      data: { type: 'string' },
      listen: { type: 'string', multiple: true },
      name: { type: 'string' },
      config: { type: 'string' },
      server: { type: 'string' },
      join: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      http: { type: 'string' },
      'ws-origins': { type: 'string' },
      'log-format': { type: 'string' },
    },
  });
  const logFormat = logFormatOf(values['log-format']);
  const wsOrigins = values['ws-origins'] === undefined ? undefined : originList(values['ws-origins'], '--ws-origins');
  if (values.memory && values.data) throw new UsageError('--memory and --data do not go together');
  if (values.server !== undefined || (values.config && isClusterFile(await readJsonFile(values.config)))) {
    if (!values.config) throw new UsageError('--server needs --config FILE');
    const overrides = (['memory', 'data', 'listen', 'name', 'tls-cert', 'tls-key', 'tls-ca'] as const).filter((flag) => values[flag] !== undefined);
    if (overrides.length > 0) throw new UsageError(`--${overrides.join(', --')} cannot be used with a cluster file; set them in the file`);
    const config = await readClusterConfig(values.config);
    const serverLog = memberLog(logFormat, values.server ?? serversOf(config)[0]!.name);
    const { startServerMember } = await import('../cluster.js');
    await runUntilSignalled(startServerMember(config, values.server, values.join ? 'joining server' : 'server', serverLog, values.http, wsOrigins), serverLog);
    return;
  }
  if (values.join) throw new UsageError('--join needs --config CLUSTER-FILE --server NAME');
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && certFile === undefined) throw new UsageError('--tls-ca goes with --tls-cert and --tls-key');
  // A single-server file or flags only: a one-server cluster, the flags over the file.
  const config = await readClusterConfig(values.config, {
    ...(values.name ? { name: values.name } : {}),
    ...(values.memory ? { persistence: 'memory' as const } : {}),
    ...(values.data ? { dataDir: values.data, persistence: 'restartable' as const } : {}),
    ...(values.listen ? { listen: values.listen.map((url, i) => checkUrl(url, `--listen[${i}]`)) } : {}),
    ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile, ...(values['tls-ca'] !== undefined && { caFile: values['tls-ca'] }) } } : {}),
  });
  const serverLog = memberLog(logFormat, serversOf(config)[0]!.name);
  const { startServerMember } = await import('../cluster.js');
  await runUntilSignalled(startServerMember(config, undefined, 'server', serverLog, values.http, wsOrigins), serverLog);
}
