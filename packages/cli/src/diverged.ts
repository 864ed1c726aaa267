/**
 * `kiln diverged URL [--json]`: prints a server's diverged report, oldest first: the transactions
 * it gave up after a partition (availability mode), and the decisions operators forced on
 * transactions in doubt (`kiln txn resolve`).
 */
import { connect } from '@kiln/core/client';
import type { Dial } from './transports.js';

export async function printDiverged(url: string, dial: Dial, json: boolean, print: (line: string) => void): Promise<void> {
  const client = await connect(url, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: 30_000 });
  try {
    let count = 0;
    for await (const t of client.diverged()) {
      count++;
      if (json) {
        print(JSON.stringify(t));
        continue;
      }
      const streams = [...new Set(t.events.map((e) => e.stream))].join(', ');
      if (t.forcedByOperator) {
        const { txnId, decision } = t.forcedByOperator;
        print(`transaction ${txnId}: an operator forced ${decision} at ${new Date(t.atMs).toISOString()} (term ${t.replacedInTerm}) on its part prepared at LSN ${t.lsn}, ${t.events.length} event(s) on ${streams || '(checks only)'}`);
        continue;
      }
      print(`LSN ${t.lsn} (term ${t.term}), ${t.clientId}#${t.seq}, ${t.events.length} event(s) on ${streams || '(checks only)'}; replaced in term ${t.replacedInTerm} at ${new Date(t.atMs).toISOString()}`);
    }
    if (!json) print(count === 0 ? 'no diverged transactions' : `${count} diverged transaction(s)`);
  } finally {
    await client.close();
  }
}
