/** The commands that read a cluster file and dial no server: `kiln stripe-of` and `kiln certs`. */
import { parseArgs } from 'node:util';
import { writeDevCertificates } from '../certs.js';
import { readClusterConfig } from '../config.js';
import { UsageError } from '../exit-codes.js';
import { print } from '../output.js';
import { formatPlacement, placeStream, streamNameProblem } from '../stripe-of.js';

export async function stripeOf(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1 || !values.config) throw new UsageError('kiln stripe-of needs one STREAM and --config FILE');
  const stream = positionals[0]!;
  const config = await readClusterConfig(values.config);
  const problem = streamNameProblem(config, stream);
  if (problem !== undefined) throw new UsageError(`STREAM: ${problem}`);
  print(formatPlacement(placeStream(config, stream), values.json ?? false));
}

export async function certs(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, out: { type: 'string' } } });
  if (!values.config || !values.out) throw new UsageError('kiln certs needs --config CLUSTER-FILE and --out DIR');
  return writeDevCertificates(values.config, values.out, print);
}
