/**
 * A voter process: it holds no log, and votes in the elections of every stripe of its cluster,
 * keeping a durable state (term, vote, recorded view) per stripe. It runs one voting member per
 * stripe, each over its own store, behind one peer listener whose inbox hands every message to
 * the member of its stripe.
 */
import { ConfigError } from '../errors.js';
import type { ClusterLayout } from '../cluster/layout.js';
import type { ConnectionLimits, LogLimits } from '../limits.js';
import { PeerInbox } from '../replication/peer-inbox.js';
import type { GroupOptions } from '../replication/member.js';
import type { ServerObservation } from '../observe/observation.js';
import type { Store } from '../store/store.js';
import type { Clock, Random, Timers } from '../time.js';
import type { Transport } from '../transport/transport.js';
import { startServer, type KilnServer, type ServerStatus } from './server.js';

/** Options of {@link createVoter}. */
export interface VoterOptions {
  /** The voter's name: a voter member of every stripe's group. */
  name: string;
  layout: ClusterLayout;
  /** One per stripe of the layout, in its order: the stripe's group as this voter sees it, and where its state rests. */
  stripes: ReadonlyArray<{ group: GroupOptions; store: Store }>;
  transports: readonly Transport[];
  limits?: Partial<ConnectionLimits & LogLimits>;
  clock?: Clock;
  timers?: Timers;
  random?: Random;
  log?: (line: string) => void;
}

/** A running voter: the servers-shaped handle of its first stripe's member, closing them all. */
export interface KilnVoter extends Pick<KilnServer, 'name' | 'urls' | 'failed' | 'close'> {
  /** The status of the voter's member of each stripe, in stripe order. */
  status(): ServerStatus[];
  /** What the voter's member of each stripe tells whoever watches it, in stripe order. */
  observe(): ServerObservation[];
}

/** Starts a voter for every stripe of a cluster. */
export async function createVoter(options: VoterOptions): Promise<KilnVoter> {
  const { name, layout, stripes } = options;
  if (stripes.length !== layout.stripes.length) throw new ConfigError('stripes', `a voter votes in all ${layout.stripes.length} stripes; got ${stripes.length}`);
  const log = options.log ?? (() => {});
  const mutualTls = stripes[0]?.group.mutualTls ?? false;
  const inbox = new PeerInbox({ self: name, log, mutualTls, onError: (error) => log(`${name}: dropped a peer connection: ${error instanceof Error ? error.message : String(error)}`) });
  const members: KilnServer[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.close()));
    inbox.close();
  };
  try {
    for (const [stripe, { group, store }] of stripes.entries()) {
      if (group.self !== name) throw new ConfigError(`stripes[${stripe}].group.self`, `must be the voter's name '${name}', got '${group.self}'`);
      const common = { clock: options.clock, timers: options.timers, random: options.random, limits: options.limits };
      const defined = Object.fromEntries(Object.entries(common).filter(([, v]) => v !== undefined));
      // The first stripe's member answers at the voter's one address, for every stripe.
      const placement = stripe === 0 ? { inbox, bindPeer: true, otherStripeTerms: () => members.slice(1).map((m) => m.status().term) } : { inbox, bindPeer: false };
      members.push(await startServer({ ...defined, name, store, transports: options.transports, listen: [], log, group, cluster: { layout, stripe } }, placement));
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const first = members[0]!;
  let closing: Promise<void> | undefined;
  return {
    name,
    urls: first.urls,
    failed: Promise.race(members.map((m) => m.failed)),
    status: () => members.map((m) => m.status()),
    observe: () => members.map((m) => m.observe()),
    close: () => (closing ??= closeAll()),
  };
}
