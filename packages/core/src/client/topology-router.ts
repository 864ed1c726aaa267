/**
 * The client's routing over a cluster's stripes: one {@link Link} per stripe, dialled on first
 * use with that stripe's servers (the known active first), and each stream's operations sent to
 * its stripe by the slot table. A stripe whose link finds no active within `reconnectWindowMs`
 * fails its operations with `StripeUnavailableError` and gets a fresh link on the next one, so
 * the other stripes never wait for it and it serves again once a server is back.
 *
 * A cluster of one stripe keeps the link the client connected with, as it is: no hashing, no
 * error mapping, nothing more per operation.
 */
import { BehaviorSubject, skip, type Observable } from 'rxjs';
import { SlotTable } from '../cluster/slots.js';
import {
  ClientClosedError,
  StripeUnavailableError,
  WrongStripeError,
  type KilnError,
  type TransactionFate,
} from '../errors.js';
import type { ArgumentsOf, OperationName, ResultOf } from '../protocol/operations.js';
import type { Topology } from '../protocol/topology.js';
import type { ClientStatus, Link, LinkSubscription } from './link.js';
import type { StripeFacts } from './position.js';

/** Makes a link over the given URLs, not yet connected. */
export type LinkFactory = (urls: readonly string[]) => Link;

export class TopologyRouter implements StripeFacts {
  /** True for a cluster of several stripes, as the server the client connected to described it. */
  readonly striped: boolean;
  /** The stripe of the server the client connected to first: status and admin requests go there. */
  readonly home: number;
  /** The server the client connected to first when it is in no stripe (a voter): requests about it go to it. */
  private readonly stripeless: Link | undefined;
  private topology: Topology | undefined;
  private table: SlotTable | undefined;
  private readonly links: Array<Link | undefined> = [];
  /** Each stripe's transaction sequence: the stripe's dedup table sees it grow by one per transaction. */
  private readonly seqs: number[] = [];
  /** A stripe's active URL as a `WrongStripeError` named it, tried first when its link is made. */
  private readonly hints = new Map<number, string>();
  private readonly statuses: BehaviorSubject<ClientStatus> | undefined;
  /** Each stripe's epoch as its own server gave it, kept while its link stays connected (a stripe starts over only after losing every server). */
  private readonly epochs: Array<number | undefined> = [];
  private closed = false;

  /** `topology` is undefined when the server gave none the client could use: it is then taken for one stripe. */
  constructor(
    private readonly seed: Link,
    topology: Topology | undefined,
    private readonly newLink: LinkFactory,
  ) {
    this.striped = topology !== undefined && topology.stripes.length > 1;
    if (topology) this.apply(topology);
    if (!this.striped) {
      this.home = 0;
      this.links[0] = seed;
      seed.status$.subscribe((status) => this.forgetEpochUnlessUp(0, status));
      return;
    }
    const found = stripeOfServer(topology!, seed.status$.value);
    this.home = Math.max(found, 0);
    this.statuses = new BehaviorSubject<ClientStatus>({ ...seed.status$.value, stripe: this.stripeName(this.home) });
    if (found >= 0) {
      // The connection made already serves its own stripe; reconnects go round that stripe's servers only.
      seed.useUrls(this.urlsOf(found));
      this.adopt(found, seed, true);
    } else {
      // A voter serves every stripe and holds no log: kept for what is asked of it (its status), never for streams.
      this.stripeless = seed;
    }
  }

  /** Sends a request about the server the client connected to first: to it, or to its stripe's active. */
  requestHome<K extends OperationName>(op: K, args: ArgumentsOf<K>): Promise<ResultOf<K>> {
    return this.stripeless ? this.stripeless.request(op, args) : this.request(this.home, op, args);
  }

  /** The connection's state; in a cluster of several stripes, every stripe link's, each naming its stripe. */
  get status$(): Observable<ClientStatus> {
    return (this.statuses ?? this.seed.status$).asObservable();
  }

  get stripeCount(): number {
    return this.topology?.stripes.length ?? 1;
  }

  stripeName(stripe: number): string {
    return this.topology?.stripes[stripe]?.name ?? '';
  }

  epochOf(stripe: number): number {
    return this.epochs[stripe] ?? this.topology?.stripes[stripe]?.epoch ?? 0;
  }

  /** A stripe's epoch, asked of one of its own servers (which knows it exactly) unless known already. */
  async ownEpoch(stripe: number): Promise<number> {
    const known = this.epochs[stripe];
    if (known !== undefined && known !== 0) return known;
    const topology = await this.request(stripe, 'topology', null);
    const epoch = topology.stripes[stripe]?.epoch ?? 0;
    this.epochs[stripe] = epoch;
    return epoch;
  }

  private forgetEpochUnlessUp(stripe: number, status: ClientStatus): void {
    if (status.type !== 'connected' && status.type !== 'reconnected') this.epochs[stripe] = undefined;
  }

  /** The index of the stripe of that name, or undefined. */
  stripeNamed(name: string): number | undefined {
    if (!this.topology) return undefined;
    const index = this.topology.stripes.findIndex((s) => s.name === name);
    return index >= 0 ? index : undefined;
  }

  /** The stripe that takes an operation on `streams`: theirs, or, when they lie on several, the lowest, which coordinates a transaction over them. */
  stripeOfStreams(streams: readonly string[]): number {
    if (!this.striped) return 0;
    let lowest = Number.MAX_SAFE_INTEGER;
    for (const stream of streams) lowest = Math.min(lowest, this.table!.stripeOf(stream));
    return lowest;
  }

  /** The next transaction sequence number on a stripe. */
  nextSeq(stripe: number): number {
    const seq = (this.seqs[stripe] ?? 0) + 1;
    this.seqs[stripe] = seq;
    return seq;
  }

  /**
   * Runs an operation on the stripe of `streams`. After a `WrongStripeError` (the slot table
   * moved on), it refreshes the topology from the server that answered and runs it once more, on
   * the stripe the new table (or the error) names.
   */
  routed<T>(streams: readonly string[], run: (stripe: number) => Promise<T>): Promise<T> {
    // One stripe: the operation's own promise, with nothing stacked on it (every append passes here).
    return this.striped ? this.routedOverStripes(streams, run) : run(0);
  }

  private routedOverStripes<T>(streams: readonly string[], run: (stripe: number) => Promise<T>): Promise<T> {
    const stripe = this.stripeOfStreams(streams);
    // A chain, not an async function: every append passes here, and an async frame costs promises.
    return run(stripe).catch((error: unknown) => this.rerouted(error, streams, stripe, run));
  }

  /** After an operation on `stripe` failed: again on the right stripe if it was a `WrongStripeError`, else the error. */
  private async rerouted<T>(error: unknown, streams: readonly string[], stripe: number, run: (stripe: number) => Promise<T>): Promise<T> {
    if (!(error instanceof WrongStripeError)) throw error;
    await this.refresh(stripe);
    let next = this.stripeOfStreams(streams);
    if (next === stripe) next = this.stripeNamed(error.stripe) ?? stripe;
    if (next === stripe) throw error;
    if (error.active !== null && this.links[next] === undefined) this.hints.set(next, error.active);
    return run(next);
  }

  /** Sends a request to a stripe's active; in a cluster of several, a stripe out of reach fails it with `StripeUnavailableError`. */
  request<K extends OperationName>(stripe: number, op: K, args: ArgumentsOf<K>): Promise<ResultOf<K>> {
    let link: Link;
    try {
      link = this.link(stripe);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.striped) return link.request(op, args);
    // A transaction the link gave up on may have reached the active before it went, unless it was never sent.
    return link.request(op, args, undefined, (error, sent) => this.unavailable(stripe, error, op === 'transact' ? (sent ? 'unknown' : 'not-committed') : null));
  }

  /** Starts a subscription on a stripe's link; returns what ends it. */
  subscribe(stripe: number, subscription: LinkSubscription): () => void {
    const link = this.link(stripe);
    const fail = (error: KilnError): void => subscription.fail(this.unavailable(stripe, error) as KilnError);
    const id = link.subscribe({ resumeArgs: (i) => subscription.resumeArgs(i), deliver: (slices, passedTo) => subscription.deliver(slices, passedTo), fail });
    return () => link.unsubscribe(id);
  }

  /** Fetches the topology again, from a server the client is connected to if any, then from the given stripe's. */
  async refresh(preferred = this.home): Promise<void> {
    if (!this.topology) return;
    const links = [this.links[preferred], ...this.links.filter((_, i) => i !== preferred)];
    const connected = links.filter((l): l is Link => l !== undefined && ['connected', 'reconnected'].includes(l.status$.value.type));
    for (const link of connected) {
      try {
        this.apply(await link.request('topology', null));
        return;
      } catch {
        // try another server
      }
    }
    this.apply(await this.request(preferred, 'topology', null));
  }

  /** Closes every link; requests in flight fail with `ClientClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const links = [...new Set([this.seed, ...this.links])].filter((l): l is Link => l !== undefined);
    await Promise.all(links.map((l) => l.close()));
    this.statuses?.next({ type: 'closed' });
    this.statuses?.complete();
  }

  private apply(topology: Topology): void {
    this.topology = topology;
    this.table = SlotTable.fromRanges(topology.slotTableVersion, topology.stripes.length, topology.slots);
  }

  /** A stripe's link, made and started on first use, or again after the last one gave up. */
  private link(stripe: number): Link {
    if (this.closed) throw new ClientClosedError();
    const existing = this.links[stripe];
    if (existing) return existing;
    const link = this.newLink(this.urlsOf(stripe));
    this.hints.delete(stripe);
    this.adopt(stripe, link);
    link.start();
    return link;
  }

  /** The stripe's client URLs: a hinted active's first, then the known active's, then the others'. */
  private urlsOf(stripe: number): string[] {
    const { members, active } = this.topology!.stripes[stripe]!;
    const ordered = [...members].sort((a, b) => Number(b.name === active) - Number(a.name === active));
    const hint = this.hints.get(stripe);
    return [...new Set([...(hint ? [hint] : []), ...ordered.flatMap((m) => m.urls)])];
  }

  /** Makes `link` the stripe's, and follows its status; `seen` when its current status is out already. */
  private adopt(stripe: number, link: Link, seen = false): void {
    this.links[stripe] = link;
    const name = this.stripeName(stripe);
    link.status$.pipe(skip(seen ? 1 : 0)).subscribe((status) => {
      this.forgetEpochUnlessUp(stripe, status);
      if (status.type === 'closed') return; // a link given up is closed; the client is not
      if (status.type === 'failed' && this.links[stripe] === link) {
        this.links[stripe] = undefined;
        void Promise.resolve().then(() => link.close());
      }
      this.statuses?.next({ ...status, stripe: name });
    });
  }

  /** A link that gave up on its stripe fails with `ConnectionClosedError`: the caller sees which stripe, and what became of a transaction. */
  private unavailable(stripe: number, error: unknown, transactionFate: TransactionFate = null): unknown {
    return this.striped ? StripeUnavailableError.ofClosedLink(this.stripeName(stripe), error, transactionFate) : error;
  }
}

/** The stripe of the server a link is connected to, by its URL or else its name; -1 when neither is listed. */
function stripeOfServer(topology: Topology, status: ClientStatus): number {
  if (status.type !== 'connected' && status.type !== 'reconnected') return -1;
  const byUrl = topology.stripes.findIndex((s) => s.members.some((m) => m.urls.includes(status.url)));
  return byUrl >= 0 ? byUrl : topology.stripes.findIndex((s) => s.members.some((m) => m.name === status.server));
}
