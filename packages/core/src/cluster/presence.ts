/**
 * A server's place in its cluster: the identity it recorded, the directory that answers topology
 * and routes streams, its stripe's epoch, the announcements it makes while it is the active, and
 * the peer inbox of a server alone in its process. The server hands it the events that matter
 * (took office, stepped down, records committed) and asks it nothing else.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { ConnectionLimits } from '../limits.js';
import type { LogRecord } from '../log/record.js';
import type { Topology } from '../protocol/topology.js';
import { PeerInbox } from '../replication/peer-inbox.js';
import type { CheckedStore } from '../store/checked-store.js';
import type { Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { ActiveAnnouncer } from './announcer.js';
import { ClusterDirectory, type OwnStripeFacts } from './directory.js';
import { recordIdentity } from './identity-record.js';
import type { ClusterLayout } from './layout.js';
import { SlotTable } from './slots.js';
import { StripeEpoch } from './stripe-epoch.js';

/** Where a server started without a cluster keeps the random id it made up at its first start. */
const META_CLUSTER_ID = 'cluster-id';

export interface PresenceOptions {
  name: string;
  store: CheckedStore;
  /** The cluster and the server's stripe in it; without it, a cluster of one stripe of its own. */
  cluster: { layout: ClusterLayout; stripe: number } | undefined;
  /** A server outside any group announces nothing. */
  standalone: boolean;
  transports: readonly Transport[];
  timers: Timers;
  random: Random;
  connectionLimits: Pick<ConnectionLimits, 'frameBytesMax' | 'sendQueueBytesMax'>;
  log: (line: string) => void;
  /** Peer links are mutual TLS: see `GroupOptions.mutualTls`. */
  mutualTls: boolean;
  /** What the server's group says of itself: active, term, servers. */
  ownFacts: () => Omit<OwnStripeFacts, 'epoch'>;
  /** The highest committed LSN the server knows. */
  commitIndex: () => number;
}

export class ClusterPresence {
  private announcer: ActiveAnnouncer | undefined;
  private ownedInbox: PeerInbox | undefined;

  private constructor(
    private readonly options: PresenceOptions,
    readonly directory: ClusterDirectory,
    readonly epoch: StripeEpoch,
  ) {
    if (!options.standalone) this.announcer = announcerOf(options, directory, epoch);
  }

  /**
   * Records the server's cluster at its first start, checks it at every later one, and opens the directory.
   * @throws ConfigError when the store recorded another cluster, naming both
   */
  static async open(options: PresenceOptions): Promise<ClusterPresence> {
    const { store, cluster, name } = options;
    const epoch = new StripeEpoch(store, options.commitIndex);
    const facts = (): OwnStripeFacts => ({ ...options.ownFacts(), epoch: epoch.known });
    if (cluster === undefined) {
      const id = await ownClusterId(store, options.random);
      return new ClusterPresence(options, new ClusterDirectory(id, { name, stripes: [{ name, servers: [] }], slotTable: SlotTable.initial(1) }, 0, facts), epoch);
    }
    const identity = await recordIdentity(store, cluster.layout, cluster.stripe);
    return new ClusterPresence(options, new ClusterDirectory(identity.clusterId, cluster.layout, cluster.stripe, facts), epoch);
  }

  get clusterId(): string {
    return this.directory.clusterId;
  }

  get stripe(): number {
    return this.directory.ownStripe;
  }

  /** The inbox of a server alone in its process: its stripe's messages go to its member, the other stripes' announcements to the directory. */
  ownInbox(): PeerInbox {
    const { name, log, mutualTls } = this.options;
    this.ownedInbox = new PeerInbox({
      self: name,
      log,
      mutualTls,
      onError: (error) => log(`${name}: dropped a peer connection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      onAnnounce: (m) => {
        if (this.directory.learnActive(m.stripe, m.from, m.term, m.epoch)) log(`${name}: ${m.from} is the active of stripe ${this.directory.layout.stripes[m.stripe]?.name} in term ${m.term}`);
      },
    });
    return this.ownedInbox;
  }

  /** The topology, with this stripe's epoch read once its first record is committed. */
  async topology(): Promise<Topology> {
    await this.epoch.current();
    return this.directory.topology();
  }

  tookOffice(term: number): void {
    this.announcer?.tookOffice(term);
  }

  steppedDown(): void {
    this.announcer?.steppedDown();
  }

  /** Sees committed records: the log's first one fixes the epoch, which the other stripes then hear. */
  committed(records: readonly LogRecord[]): void {
    if (this.epoch.observe(records)) this.announcer?.epochKnown();
  }

  close(): void {
    this.announcer?.close();
    this.ownedInbox?.close();
  }
}

/** Announces the server's taking office to the other stripes' servers; none in a cluster of one stripe. */
function announcerOf(options: PresenceOptions, directory: ClusterDirectory, epoch: StripeEpoch): ActiveAnnouncer | undefined {
  const own = directory.ownStripe;
  const others = directory.layout.stripes.flatMap((stripe, index) => (index === own ? [] : stripe.servers.flatMap((s) => (s.peer === undefined ? [] : [{ name: s.name, url: s.peer }]))));
  if (others.length === 0) return undefined;
  const { name, transports, timers, connectionLimits, mutualTls } = options;
  return new ActiveAnnouncer({ self: name, stripe: own, others, transports, timers, limits: connectionLimits, mutualTls }, () => epoch.known);
}

/** The id a server outside any cluster made up at its first start. */
async function ownClusterId(store: CheckedStore, random: Random): Promise<string> {
  const bytes = await store.getMeta(META_CLUSTER_ID);
  const existing = bytes === undefined ? undefined : (decode(bytes) as unknown);
  if (typeof existing === 'string') return existing;
  const id = random.uuid();
  await store.putMeta(META_CLUSTER_ID, encode(id));
  return id;
}
