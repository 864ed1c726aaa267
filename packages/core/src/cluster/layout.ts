/**
 * The layout of a cluster: its stripes, their servers, and the slot table that routes streams to
 * them. Fixed at creation and recorded by every server; the config file describes it, and
 * {@link clusterLayoutOf} (in config/) builds it.
 *
 * @packageDocumentation
 */
import { crc32c } from '../crc32c.js';
import { ConfigError } from '../errors.js';
import type { SlotTable } from './slots.js';

/** A server of a stripe, as clients and other servers reach it. */
export interface LayoutServer {
  name: string;
  /** Client URLs. */
  urls: readonly string[];
  /** Peer URL; absent only for a lone server. */
  peer?: string;
}

/** One stripe: a mirror group with a name. Its index is its position in the layout. */
export interface LayoutStripe {
  name: string;
  servers: readonly LayoutServer[];
}

/** The whole cluster. */
export interface ClusterLayout {
  /** The cluster's name in its file. */
  name: string;
  stripes: readonly LayoutStripe[];
  slotTable: SlotTable;
}

const utf8 = new TextEncoder();

/**
 * The cluster id every member reports: a fingerprint of what is fixed at creation (the cluster's
 * name, its stripe names in order, its slot table), so every member computes the same id with no
 * exchange. Two clusters made from the same file share it: give each cluster its own name.
 */
export function clusterIdOf(layout: ClusterLayout): string {
  const basis = JSON.stringify([layout.name, layout.stripes.map((s) => s.name), layout.slotTable.version, layout.slotTable.ranges()]);
  // Four CRCs over the basis with different salts: 128 bits, formatted like a UUID.
  const hex = [0, 1, 2, 3].map((salt) => crc32c(utf8.encode(`${salt}\u0000${basis}`)).toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** @throws ConfigError when `stripe` indexes no stripe of the layout, or its slot table routes to another number of stripes */
export function checkPlacement(cluster: { layout: ClusterLayout; stripe: number }): void {
  const { layout, stripe } = cluster;
  if (!Number.isSafeInteger(stripe) || stripe < 0 || stripe >= layout.stripes.length) {
    throw new ConfigError('cluster.stripe', `must index one of the layout's ${layout.stripes.length} stripes, got ${stripe}`);
  }
  if (layout.slotTable.stripeCount !== layout.stripes.length) {
    throw new ConfigError('cluster.layout.slotTable', `routes to ${layout.slotTable.stripeCount} stripes but the layout lists ${layout.stripes.length}`);
  }
}
