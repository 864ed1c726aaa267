// Accounts for the bank tests: money moved between accounts on different stripes, one event per
// movement, and a checker's pass over every account. Shared by the tests that cut the stripes'
// servers (SIGKILL, power loss) under transfers.
import type { KilnClient } from '@kiln/core/client';

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

/**
 * One checker pass: every account read in turn, in `order`. A transfer seen on an account must be
 * seen on its other account by a read that comes later (else the read is fractured); one seen only
 * on the account read later committed between the two reads and is left out of the total. Every
 * pass must then add up to the same total. Undefined when a read failed (a cut, a failover).
 */
export async function checkerPass(client: KilnClient, order: readonly string[]): Promise<{ total: number; fractured: string[] } | undefined> {
  const read = new Map<string, Set<string>>();
  const movementsRead: Array<[string, Movement]> = [];
  for (const account of order) {
    const movements = await movementsOf(client, account).catch(() => undefined);
    if (!movements) return undefined;
    read.set(account, new Set(movements.map((m) => m.transfer)));
    for (const m of movements) movementsRead.push([account, m]);
  }
  let total = 0;
  const fractured: string[] = [];
  for (const [account, m] of movementsRead) {
    if (m.other !== undefined && !read.get(m.other)!.has(m.transfer)) {
      if (order.indexOf(m.other) > order.indexOf(account)) fractured.push(`${m.transfer}: seen on ${account}, then not on ${m.other}`);
      continue;
    }
    total += m.delta;
  }
  return { total, fractured };
}

/** How many times each transfer is on the accounts (2 when whole: a debit and a credit), and the money in total. */
export function tally(final: ReadonlyMap<string, readonly Movement[]>): { parts: Map<string, number>; total: number } {
  const parts = new Map<string, number>();
  let total = 0;
  for (const movements of final.values()) {
    for (const m of movements) {
      total += m.delta;
      if (m.transfer !== 'opening') parts.set(m.transfer, (parts.get(m.transfer) ?? 0) + 1);
    }
  }
  return { parts, total };
}
