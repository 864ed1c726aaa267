/**
 * A transaction's id over several stripes: `clientId#seq/stripe.term.counter`. The coordinator's
 * stripe, the term of its office and a counter of that office make it unique; term and counter
 * also order the transactions one stripe coordinated, oldest first.
 */

/** The id of the `counter`th transaction an office of `stripe` in `term` coordinates. */
export function txnIdOf(clientId: string, seq: number, stripe: number, term: number, counter: number): string {
  return `${clientId}#${seq}/${stripe}.${term}.${counter}`;
}

/** Where a transaction stands among those its stripe coordinated: by term, then counter. */
export interface TxnOrder {
  term: number;
  counter: number;
}

const ORDER = /\/\d+\.(\d+)\.(\d+)$/;

/** The order an id names, or undefined for an id not in the form {@link txnIdOf} writes. */
export function orderOf(txnId: string): TxnOrder | undefined {
  const match = ORDER.exec(txnId);
  return match ? { term: Number(match[1]), counter: Number(match[2]) } : undefined;
}

/** Whether `a` came at or before `b`. */
export function atOrBefore(a: TxnOrder, b: TxnOrder): boolean {
  return a.term < b.term || (a.term === b.term && a.counter <= b.counter);
}
