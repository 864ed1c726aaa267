// The bank the cross-stripe tests run: accounts on several stripes, each a stream of movements,
// transfers between them as transactions over two stripes, and a checker that reads every account
// in turn and adds up the money. Shared by the SIGKILL bank (bank.test.ts) and the partition and
// pause bank (stripes-partition.test.ts).
import type { KilnClient } from '@kiln/core/client';

/** One event of an account: the opening deposit, or one side of a transfer. */
export interface Movement {
  transfer: string;
  delta: number;
  /** The other account of a transfer. */
  other?: string;
}

/** An account's movements, in version order. */
export async function movementsOf(client: KilnClient, account: string): Promise<Movement[]> {
  const out: Movement[] = [];
  for (;;) {
    const page = await client.read(account, { fromVersion: out.length, maxCount: 1000 });
    if (page.length === 0) return out;
    out.push(...page.map((e) => e.data as Movement));
  }
}

/** What one checker pass saw: the money in total, and any transfer a later read missed. */
export interface CheckerPass {
  total: number;
  fractured: string[];
}

/**
 * Reads every account in turn, once. A transfer seen on an account must be seen on its other
 * account by a read that comes later (else the read is fractured); one seen only on the account
 * read later committed between the two reads, and is left out of the total. Rejects with the
 * first read's error.
 */
export async function checkerPass(client: KilnClient, accounts: readonly string[]): Promise<CheckerPass> {
  const read = new Map<string, Set<string>>();
  const movementsRead: Array<[string, Movement]> = [];
  for (const account of accounts) {
    const movements = await movementsOf(client, account);
    read.set(account, new Set(movements.map((m) => m.transfer)));
    for (const m of movements) movementsRead.push([account, m]);
  }
  const fractured: string[] = [];
  let total = 0;
  for (const [account, m] of movementsRead) {
    if (m.other !== undefined && !read.get(m.other)!.has(m.transfer)) {
      if (accounts.indexOf(m.other) > accounts.indexOf(account)) fractured.push(`${m.transfer}: seen on ${account}, then not on ${m.other}`);
      continue;
    }
    total += m.delta;
  }
  return { total, fractured };
}

/** How many accounts hold each transfer (the opening deposits left out): 2 when whole, once each. */
export function transferParts(final: ReadonlyMap<string, readonly Movement[]>): Map<string, number> {
  const parts = new Map<string, number>();
  for (const movements of final.values()) for (const m of movements) parts.set(m.transfer, (parts.get(m.transfer) ?? 0) + 1);
  parts.delete('opening');
  return parts;
}
