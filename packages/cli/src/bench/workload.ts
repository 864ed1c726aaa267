/**
 * What `kiln bench` writes: each transaction's streams, by shape, and the event that goes to each.
 * Every stream name starts with the run's own prefix, so runs never share a stream, and every
 * append uses expectedVersion 'any': the load runs against a cluster holding any data.
 */
import { SlotTable, type Topology } from '@kiln/core';
import type { TransactAppend } from '@kiln/core/client';
import type { BenchSettings } from './settings.js';

/** The event type every benchmark event carries. */
export const BENCH_EVENT_TYPE = 'BenchEvent';

/** Hands out transactions, round the run's streams. */
export interface Workload {
  next(): TransactAppend[];
}

/** A workload the cluster cannot run, such as cross-stripe on a cluster of one stripe. */
export class WorkloadError extends Error {}

/** The workload of `settings`; `topology` places streams for the cross-stripe shape. */
export function makeWorkload(settings: BenchSettings, prefix: string, topology: Topology): Workload {
  // One payload for every event: the client encodes it into each request anyway.
  const data = new Uint8Array(settings.eventSize).map((_, i) => (i * 31 + 7) & 0xff);
  const events = [{ type: BENCH_EVENT_TYPE, data }];
  const groups = streamGroups(settings, prefix, topology);
  let turn = 0;
  return {
    next: () => {
      const streams = groups[turn++ % groups.length]!;
      return streams.map((stream) => ({ stream, events, expectedVersion: 'any' as const }));
    },
  };
}

/** Each transaction's streams, in the order transactions take them. */
function streamGroups(settings: BenchSettings, prefix: string, topology: Topology): string[][] {
  const { streams, txStreams } = settings;
  const groupCount = Math.floor(streams / txStreams);
  switch (settings.shape) {
    case 'single':
      return Array.from({ length: streams }, (_, s) => [`${prefix}-${s}`]);
    case 'multi':
      // A shared hash tag puts a group's streams in one slot, so on one stripe.
      return Array.from({ length: groupCount }, (_, g) => Array.from({ length: txStreams }, (_, j) => `${prefix}-${g}.${j}{${prefix}-${g}}`));
    case 'cross-stripe':
      return crossStripeGroups(settings, prefix, topology);
  }
}

/** Groups of `txStreams` streams each on a different stripe, the stripes taken in turn. */
function crossStripeGroups({ streams, txStreams }: BenchSettings, prefix: string, topology: Topology): string[][] {
  const stripeCount = topology.stripes.length;
  if (stripeCount < txStreams) {
    throw new WorkloadError(`--shape cross-stripe with --tx-streams ${txStreams} needs a cluster of at least ${txStreams} stripes; this one has ${stripeCount}`);
  }
  const table = SlotTable.fromRanges(topology.slotTableVersion, stripeCount, topology.slots);
  const perStripe = Math.ceil(streams / stripeCount);
  const byStripe: string[][] = Array.from({ length: stripeCount }, () => []);
  // Names are tried in order until every stripe has its share; each stripe holds about 1/stripeCount of the slots.
  for (let n = 0; byStripe.some((list) => list.length < perStripe); n++) {
    const name = `${prefix}-${n}`;
    const list = byStripe[table.stripeOf(name)]!;
    if (list.length < perStripe) list.push(name);
  }
  const groups: string[][] = [];
  for (let g = 0; g < Math.floor(streams / txStreams); g++) {
    groups.push(Array.from({ length: txStreams }, (_, j) => byStripe[(g + j) % stripeCount]![Math.floor((g * txStreams + j) / stripeCount) % perStripe]!));
  }
  return groups;
}
