/** `kiln status` and `kiln diverged`: what a server, or every member of a cluster file, says of itself. */
import { parseArgs } from 'node:util';
import { checkUrl, DEFAULT_CONFIG } from '../config.js';
import { printDiverged } from '../diverged.js';
import { UsageError } from '../exit-codes.js';
import { printGroupStatus } from '../group-status.js';
import { print } from '../output.js';
import { printStatus } from '../status.js';
import { OPERATOR_FLAGS, operatorLink } from './operator-link.js';

export async function statusOrDiverged(command: 'status' | 'diverged', args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, config: { type: 'string' }, ...OPERATOR_FLAGS } });
  if (positionals.length > 1) throw new UsageError(`kiln ${command} takes one URL`);
  const { config, dial } = await operatorLink(values.config, values);
  // kiln status --config F, without a URL: the whole cluster.
  if (command === 'status' && config !== undefined && positionals.length === 0) return printGroupStatus(config, dial, values.json ?? false, print);
  const url = checkUrl(positionals[0] ?? DEFAULT_CONFIG.listen[0], 'URL');
  return (command === 'status' ? printStatus : printDiverged)(url, dial, values.json ?? false, print);
}
