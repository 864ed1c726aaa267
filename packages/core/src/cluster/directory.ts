/**
 * What a server knows of its cluster: the layout, and each stripe's active as far as it has heard.
 * Its own stripe's active comes from its group; the other stripes' come from their actives'
 * announcements over the peer links (the highest term heard wins). It answers the topology
 * request and routes streams: an operation on a stream of another stripe is refused with
 * `WrongStripeError`.
 */
import { WrongStripeError } from '../errors.js';
import type { StripeTopology, Topology } from '../protocol/topology.js';
import type { ClusterLayout } from './layout.js';

/** What the server's own group says of itself, read at each request. */
export interface OwnStripeFacts {
  active: string | null;
  term: number;
  /** The stripe's epoch (see `stripe-epoch.ts`). */
  epoch: number;
  /** The group's servers as its recorded view has them (membership changes at runtime). */
  members: Array<{ name: string; urls: string[] }>;
}


interface KnownActive {
  name: string;
  term: number;
  epoch: number;
}

export class ClusterDirectory {
  private readonly actives = new Map<number, KnownActive>();
  /** False for a cluster of one stripe: no stream is ever elsewhere, and routing costs nothing. */
  readonly striped: boolean;

  constructor(
    readonly clusterId: string,
    readonly layout: ClusterLayout,
    /** The index of this server's stripe. */
    readonly ownStripe: number,
    private readonly ownFacts: () => OwnStripeFacts,
  ) {
    this.striped = layout.stripes.length > 1;
  }

  /** The name of this server's stripe. */
  get ownStripeName(): string {
    return this.layout.stripes[this.ownStripe]!.name;
  }

  /**
   * An active announced itself for its stripe; true when that is news. Older announcements than
   * what is known are ignored: of an earlier life of the stripe's log (a lower epoch, both known),
   * or of an older term in the same life. A later life wins whatever its term: a memory stripe that
   * lost every server counts its terms from 1 again.
   */
  learnActive(stripe: number, name: string, term: number, epoch: number): boolean {
    if (stripe === this.ownStripe || stripe >= this.layout.stripes.length) return false;
    if (!this.layout.stripes[stripe]!.servers.some((s) => s.name === name)) return false;
    const known = this.actives.get(stripe);
    if (known !== undefined && !isNewerOffice({ term, epoch }, known)) return false;
    this.actives.set(stripe, { name, term, epoch });
    return known?.term !== term || known.epoch !== epoch;
  }

  topology(): Topology {
    const table = this.layout.slotTable;
    return {
      clusterId: this.clusterId,
      cluster: this.layout.name,
      slotTableVersion: table.version,
      slots: table.ranges(),
      stripes: this.layout.stripes.map((stripe, index): StripeTopology => {
        if (index === this.ownStripe) {
          const own = this.ownFacts();
          return { name: stripe.name, epoch: own.epoch, members: own.members, active: own.active, term: own.term };
        }
        const known = this.actives.get(index);
        return {
          name: stripe.name,
          epoch: known?.epoch ?? 0,
          members: stripe.servers.map((s) => ({ name: s.name, urls: [...s.urls] })),
          active: known?.name ?? null,
          term: known?.term ?? 0,
        };
      }),
    };
  }

  /** The stripe holding `stream`: hashed again at each request, which costs no more than looking a remembered name up. */
  stripeOf(stream: string): number {
    return this.layout.slotTable.stripeOf(stream);
  }

  /** True when `streams` lie on several stripes: a transaction over them is coordinated by the lowest. */
  spansStripes(streams: readonly string[]): boolean {
    if (!this.striped || streams.length < 2) return false;
    const first = this.stripeOf(streams[0]!);
    return streams.some((s) => this.stripeOf(s) !== first);
  }

  /** True when this server's stripe holds the stream of every append. */
  holdsEveryStreamOf(appends: readonly { stream: string }[]): boolean {
    for (const append of appends) if (this.stripeOf(append.stream) !== this.ownStripe) return false;
    return true;
  }

  /**
   * Refuses an operation on streams of one other stripe (a transaction over several is the
   * lowest stripe's to coordinate: see {@link spansStripes}).
   * @throws WrongStripeError naming the stripe that holds them
   */
  checkStreams(streams: readonly string[]): void {
    if (!this.striped) return;
    for (const stream of streams) {
      if (this.stripeOf(stream) !== this.ownStripe) throw this.wrongStripe(stream);
    }
  }

  /** The refusal of an operation on `stream` here: names its stripe and that stripe's active as far as this server knows. */
  wrongStripe(stream: string): WrongStripeError {
    const stripe = this.stripeOf(stream);
    return new WrongStripeError(stream, this.layout.stripes[stripe]!.name, this.activeUrl(stripe));
  }

  /** A client URL of a stripe's active as far as this server knows, or null. */
  activeUrl(stripe: number): string | null {
    const known = this.actives.get(stripe);
    const server = known && this.layout.stripes[stripe]!.servers.find((s) => s.name === known.name);
    return server?.urls[0] ?? null;
  }
}

/** Whether an announced office is newer than the known one: by epoch when both lives are known (0: no record committed yet), else by term; a same term of another life is news. */
function isNewerOffice(announced: { term: number; epoch: number }, known: { term: number; epoch: number }): boolean {
  if (announced.epoch !== 0 && known.epoch !== 0 && announced.epoch !== known.epoch) return announced.epoch > known.epoch;
  return announced.term > known.term || (announced.term === known.term && announced.epoch !== known.epoch);
}
