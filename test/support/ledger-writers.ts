// Writers for tests that end a server's writes abruptly (a power cut, a full disk), recording each
// transaction in a Ledger so that a read of the log afterwards can be checked against it.
import type { KilnClient } from '@kiln/core/client';
import type { seededRandom } from './cluster.js';
import type { Ledger, LedgerTxn } from './processes/load.js';

/** How many writers, and how large their events. */
export interface LedgerWritersOptions {
  /** Bytes of padding in each event, to fill a disk sooner. @default 0 */
  padBytes?: number;
  /** Clients, each on a connection of its own. @default 3 */
  connections?: number;
  /** Appends pipelined on each connection. @default 4 */
  inFlight?: number;
}

/**
 * Writers: `connections` clients (made by `open`, which also closes them in the test's cleanup),
 * each with `inFlight` appends pipelined on one connection, each of those on a stream of its own
 * (1-3 events of `padBytes` and their id, expectedVersion 'any'). A writer stops at its first
 * error: after a cut, what became of its last append is unknown.
 */
export function startLedgerWriters(
  open: (urls: string[]) => Promise<KilnClient>,
  urls: string[],
  ledger: Ledger,
  tag: string,
  random: ReturnType<typeof seededRandom>,
  options: LedgerWritersOptions = {},
): { stop(): Promise<void> } {
  const pad = 'x'.repeat(options.padBytes ?? 0);
  let stopping = false;
  const writers: KilnClient[] = [];
  const loops = Array.from({ length: options.connections ?? 3 }, async (_, c) => {
    const client = await open(urls);
    writers.push(client);
    await Promise.all(
      Array.from({ length: options.inFlight ?? 4 }, async (_, l) => {
        const stream = `w${c}-${l}`;
        for (let n = 0; !stopping; n++) {
          const key = `${tag}-${stream}-t${n}`;
          const ids = Array.from({ length: random.int(1, 3) }, (_, k) => `${key}-e${k}`);
          const txn: LedgerTxn = { key, appends: [{ stream, ids }], state: 'pending' };
          ledger.add(txn);
          try {
            ledger.ack(txn, await client.transact([{ stream, expectedVersion: 'any', events: ids.map((id) => ({ id, type: 'Power', data: { id, pad } })) }]));
          } catch (error) {
            ledger.failed(txn, error);
            return;
          }
        }
      }),
    );
  });
  return {
    async stop() {
      stopping = true;
      await Promise.all(writers.map((client) => client.close()));
      await Promise.all(loops);
    },
  };
}
