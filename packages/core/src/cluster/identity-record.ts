/**
 * What a server records of its cluster at its first start, and checks at every later one: the
 * cluster's name and id, its stripes in order, the slot table, and which stripe the server is in.
 * A file whose stripes differ from what a server recorded would route streams to the wrong
 * stripes: the server refuses to start, naming both.
 */
import { decode, encode } from '@msgpack/msgpack';
import { ConfigError, CorruptRecordError } from '../errors.js';
import { clusterIdOf, type ClusterLayout } from './layout.js';
import { SlotTable, type SlotRange } from './slots.js';

/** The metadata key of the record. */
export const CLUSTER_META_KEY = 'cluster';
const RECORD_FORMAT = 1;

/** A cluster as one server recorded it. */
export interface RecordedIdentity {
  clusterId: string;
  cluster: string;
  stripes: string[];
  /** This server's stripe, by name. */
  stripe: string;
  slotTable: SlotTable;
}

/** The identity a server of `layout`, in stripe `stripe`, records. */
export function identityOf(layout: ClusterLayout, stripe: number): RecordedIdentity {
  return { clusterId: clusterIdOf(layout), cluster: layout.name, stripes: layout.stripes.map((s) => s.name), stripe: layout.stripes[stripe]!.name, slotTable: layout.slotTable };
}

export function encodeIdentity(identity: RecordedIdentity): Uint8Array {
  return encode([RECORD_FORMAT, identity.clusterId, identity.cluster, identity.stripes, identity.stripe, identity.slotTable.version, identity.slotTable.ranges()]);
}

/** @throws CorruptRecordError when the record is not one {@link encodeIdentity} wrote */
export function decodeIdentity(bytes: Uint8Array): RecordedIdentity {
  const corrupt = (detail: string): CorruptRecordError => new CorruptRecordError(0, `cluster identity record: ${detail}`);
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (cause) {
    throw corrupt(`does not decode (${(cause as Error).message})`);
  }
  if (!Array.isArray(value) || value.length !== 7 || value[0] !== RECORD_FORMAT) throw corrupt('unknown format');
  const [, clusterId, cluster, stripes, stripe, version, ranges] = value as [number, unknown, unknown, unknown, unknown, unknown, unknown];
  if (typeof clusterId !== 'string' || typeof cluster !== 'string' || typeof stripe !== 'string' || !Array.isArray(stripes) || !stripes.every((s) => typeof s === 'string')) {
    throw corrupt('malformed fields');
  }
  if (typeof version !== 'number' || !Array.isArray(ranges)) throw corrupt('malformed slot table');
  try {
    return { clusterId, cluster, stripes: stripes as string[], stripe, slotTable: SlotTable.fromRanges(version, stripes.length, ranges as SlotRange[]) };
  } catch (cause) {
    throw corrupt((cause as Error).message);
  }
}

const describe = (i: RecordedIdentity): string =>
  `cluster '${i.cluster}' with stripes [${i.stripes.join(', ')}] (slot table v${i.slotTable.version}, ${i.slotTable.fingerprint()}), this server in stripe '${i.stripe}'`;

/** Why a server that recorded `recorded` must not start as `current`, or undefined when they agree. */
export function identityMismatch(recorded: RecordedIdentity, current: RecordedIdentity): string | undefined {
  const same =
    recorded.cluster === current.cluster &&
    recorded.stripe === current.stripe &&
    recorded.stripes.join('\u0000') === current.stripes.join('\u0000') &&
    recorded.slotTable.version === current.slotTable.version &&
    recorded.slotTable.sameAssignment(current.slotTable);
  if (same) return undefined;
  return `this server's data was created in ${describe(recorded)}; the configuration describes ${describe(current)}. A cluster's stripes and slot table are fixed at creation: start it with the file it was created with`;
}

/**
 * Records the identity of a server of `layout` in stripe `stripe` at its first start, and checks it
 * at every later one.
 * @throws ConfigError naming both the recorded and the configured cluster when they differ
 */
export async function recordIdentity(
  store: { getMeta(key: string): Promise<Uint8Array | undefined>; putMeta(key: string, value: Uint8Array): Promise<void> },
  layout: ClusterLayout,
  stripe: number,
): Promise<RecordedIdentity> {
  const current = identityOf(layout, stripe);
  const bytes = await store.getMeta(CLUSTER_META_KEY);
  if (bytes === undefined) {
    await store.putMeta(CLUSTER_META_KEY, encodeIdentity(current));
    return current;
  }
  const mismatch = identityMismatch(decodeIdentity(bytes), current);
  if (mismatch !== undefined) throw new ConfigError('stripes', mismatch);
  return current;
}
