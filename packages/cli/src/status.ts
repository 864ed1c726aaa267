/** `kiln status URL`: prints a server's state, term, LSN, commit index and connections. */
import { connect } from '@kiln/core/client';
import { tcpTransport } from '@kiln/transport-tcp';
import { wsTransport } from '@kiln/transport-ws';

export async function printStatus(url: string, json: boolean, print: (line: string) => void): Promise<void> {
  const client = await connect(url, { transports: [tcpTransport(), wsTransport()], reconnectWindowMs: 0, requestTimeoutMs: 5000 });
  try {
    const status = await client.serverStatus();
    if (json) {
      print(JSON.stringify(status, null, 2));
      return;
    }
    const rows: Array<[string, unknown]> = [
      ['server', status.name],
      ['state', status.state],
      ['term', status.term],
      ['last LSN', status.lastLsn],
      ['commit index', status.commitIndex],
      ['connections', status.connections],
      ['subscriptions', status.subscriptions],
      ['pending', status.pendingTransactions],
      ['persistent', status.persistent],
      ['listening on', (status.listen as string[]).join(', ')],
      ['cluster id', status.clusterId],
      ['uptime', `${Math.round(Number(status.uptimeMs) / 1000)} s`],
    ];
    for (const [label, value] of rows) print(`${label.padEnd(14)} ${String(value)}`);
  } finally {
    await client.close();
  }
}
