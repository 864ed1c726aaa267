// One round of the cross-stripe bank under faults: workers transfer money between accounts on two
// stripes, each transfer one transaction over both; a checker reads every account again and
// again. Once the faults have healed, `finish` stops them, resends every transfer that failed in a
// way that may have committed (with its original `(clientId, seq)`), reads the final balances and
// lists every anomaly: a pass whose total was off, a fractured read, a transfer on one account
// only or applied twice, an acknowledged one lost or not where its result said, a definite no
// that wrote something, a resend inconsistent with the final state.
import { KilnError, type KilnClient, type TransactionResult } from '@kiln/core/client';
import { checkerPass, movementsOf, transferParts, type Movement } from './bank.js';
import { seededRandom } from './cluster.js';

/** Errors that say a transfer wrote nothing anywhere: a participant (or the coordinator) voted no. */
const DEFINITE_NO = new Set(['WrongExpectedVersionError', 'StreamBusyError']);

/** A transaction as the client sent it last: enough to send it again under the same tag. */
interface SentTransact {
  stripe: number;
  args: unknown;
}

interface Router {
  request(stripe: number, op: string, args: unknown): Promise<unknown>;
}

/**
 * Watches `client`'s requests for the last transaction it sent (a busy retry sends it again under a
 * new seq; the last is the one whose answer the caller got), so that a test can resend it as the
 * client itself would after a reconnect.
 */
function tapTransacts(client: KilnClient): { last: () => SentTransact | undefined; resend: (sent: SentTransact) => Promise<TransactionResult> } {
  const router = (client as unknown as { router: Router }).router;
  const request = router.request.bind(router);
  let last: SentTransact | undefined;
  router.request = (stripe, op, args) => {
    if (op === 'transact') last = { stripe, args };
    return request(stripe, op, args);
  };
  return { last: () => last, resend: (sent) => request(sent.stripe, 'transact', sent.args) as Promise<TransactionResult> };
}

/** What a round measured, for its one-line summary. */
export interface RoundSummary {
  acked: number;
  failed: Record<string, number>;
  reads: number;
  readFailures: number;
  resent: number;
  anomalies: string[];
}

export class BankRound {
  private running = true;
  private readonly acked = new Map<string, TransactionResult>();
  /** Transfers that failed: the error's class, and how to resend them. */
  private readonly failed = new Map<string, { error: string; sent: SentTransact | undefined; resend: (sent: SentTransact) => Promise<TransactionResult> }>();
  private readonly failures = new Map<string, number>();
  private passes = 0;
  private readFailures = 0;
  private readonly offTotals: number[] = [];
  private readonly fractured: string[] = [];
  private readonly done: Promise<void[]>;

  constructor(
    private readonly name: string,
    /** One client per worker; the first also reads for the checker. */
    clients: readonly KilnClient[],
    /** The accounts of each stripe. */
    private readonly accounts: readonly (readonly string[])[],
    private readonly total: number,
    seed: number,
  ) {
    const random = seededRandom(seed);
    this.done = Promise.all([...clients.map((c, w) => this.transfer(c, w, random)), this.check(clients[0]!)]);
  }

  /** Acknowledged transfers so far: a round waits on it to see the bank recover from a fault. */
  get ackedCount(): number {
    return this.acked.size;
  }

  /** Stops the workers and the checker; resolves once none is left running. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async transfer(client: KilnClient, w: number, random: ReturnType<typeof seededRandom>): Promise<void> {
    const tap = tapTransacts(client);
    const [mine, theirs] = [this.accounts[w % 2]!, this.accounts[(w + 1) % 2]!];
    for (let i = 0; this.running; i++) {
      const [from, to] = [mine[random.int(0, mine.length - 1)]!, theirs[random.int(0, theirs.length - 1)]!];
      const transfer = `${this.name}-w${w}-${i}`;
      const amount = random.int(1, 20);
      let versions: [number, number];
      try {
        const [a, b] = await Promise.all([movementsOf(client, from), movementsOf(client, to)]);
        versions = [a.length - 1, b.length - 1];
      } catch (error) {
        await this.failedRead(error);
        continue;
      }
      try {
        const result = await client.transact([
          { stream: from, events: [{ type: 'Debited', data: { transfer, delta: -amount, other: to } }], expectedVersion: versions[0] },
          { stream: to, events: [{ type: 'Credited', data: { transfer, delta: amount, other: from } }], expectedVersion: versions[1] },
        ]);
        this.acked.set(transfer, result);
      } catch (error) {
        if (!(error instanceof KilnError)) throw error;
        this.failures.set(error.name, (this.failures.get(error.name) ?? 0) + 1);
        this.failed.set(transfer, { error: error.name, sent: tap.last(), resend: tap.resend });
      }
    }
  }

  private async check(client: KilnClient): Promise<void> {
    const all = this.accounts.flat();
    while (this.running) {
      try {
        const pass = await checkerPass(client, all);
        this.passes++;
        this.fractured.push(...pass.fractured);
        if (pass.total !== this.total) this.offTotals.push(pass.total);
      } catch (error) {
        await this.failedRead(error);
      }
    }
  }

  /** A read refused under a fault (in doubt, no active yet): counted, then tried again a little later. */
  private async failedRead(error: unknown): Promise<void> {
    if (!(error instanceof KilnError)) throw error;
    this.readFailures++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /**
   * Stops the workers and the checker, resends every transfer whose error leaves its fate open
   * once the cluster `healed`, reads the final balances through `reader` once it `settled`, and
   * returns the round's summary with every anomaly.
   */
  async finish(reader: KilnClient, healed: () => Promise<unknown>, settled: () => Promise<void>): Promise<RoundSummary> {
    await this.stop();
    await healed();
    const resent = new Map<string, TransactionResult | string>();
    for (const [transfer, { error, sent, resend }] of this.failed) {
      if (DEFINITE_NO.has(error) || !sent) continue;
      resent.set(transfer, await resend(sent).catch((e: unknown) => (e instanceof KilnError ? e.name : Promise.reject(e))));
    }
    await settled();
    const final = new Map<string, Movement[]>();
    for (const account of this.accounts.flat()) final.set(account, await movementsOf(reader, account));
    return {
      acked: this.acked.size,
      failed: Object.fromEntries(this.failures),
      reads: this.passes,
      readFailures: this.readFailures,
      resent: resent.size,
      anomalies: [...this.checkerAnomalies(), ...this.finalAnomalies(final, resent)],
    };
  }

  private checkerAnomalies(): string[] {
    return [...this.offTotals.map((t) => `a checker pass totalled ${t}, not ${this.total}`), ...this.fractured.map((f) => `fractured read: ${f}`)];
  }

  private finalAnomalies(final: ReadonlyMap<string, readonly Movement[]>, resent: ReadonlyMap<string, TransactionResult | string>): string[] {
    const anomalies: string[] = [];
    const total = [...final.values()].flat().reduce((sum, m) => sum + m.delta, 0);
    if (total !== this.total) anomalies.push(`the final balances total ${total}, not ${this.total}`);
    const parts = transferParts(final);
    for (const [transfer, count] of parts) if (count !== 2) anomalies.push(`${transfer} is on ${count} account(s), not 2`);
    // Where each transfer sits: account and version.
    const at = new Map<string, Array<{ stream: string; version: number }>>();
    for (const [stream, movements] of final) movements.forEach((m, version) => at.set(m.transfer, [...(at.get(m.transfer) ?? []), { stream, version }]));
    const where = (result: TransactionResult): string => result.streams.map((s) => `${s.stream}@${s.firstVersion}`).sort().join(' ');
    const found = (transfer: string): string => (at.get(transfer) ?? []).map((p) => `${p.stream}@${p.version}`).sort().join(' ');
    for (const [transfer, result] of this.acked) {
      if (!parts.has(transfer)) anomalies.push(`acknowledged ${transfer} is lost`);
      else if (where(result) !== found(transfer)) anomalies.push(`acknowledged ${transfer} answered ${where(result)} but is at ${found(transfer)}`);
    }
    for (const [transfer, { error }] of this.failed) {
      const answer = resent.get(transfer);
      if (DEFINITE_NO.has(error)) {
        if (parts.has(transfer)) anomalies.push(`${transfer} failed with ${error} yet is at ${found(transfer)}`);
      } else if (typeof answer === 'string' || answer === undefined) {
        if (parts.has(transfer)) anomalies.push(`${transfer} (${error}) is at ${found(transfer)}, but its resend failed with ${answer}`);
      } else if (where(answer) !== found(transfer)) {
        anomalies.push(`${transfer} (${error}): its resend answered [${where(answer)}] but it is at [${found(transfer)}]`);
      }
    }
    return anomalies;
  }
}
