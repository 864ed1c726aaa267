/**
 * `kiln stripe-of STREAM --config FILE [--json]`: the slot of a stream and the stripe that holds
 * it, as the cluster file's layout routes it. It asks no server: the slot table of a cluster is
 * fixed at creation, and the file describes the one it was created with.
 */
import { checkStreamName, clusterLayoutOf, InvalidArgumentError, slotOf, type ClusterConfig } from '@kiln/core';

/** Where a stream lives. */
export interface StreamPlacement {
  stream: string;
  /** Its slot, 0..16383. */
  slot: number;
  /** The name of the stripe holding the slot. */
  stripe: string;
}

/**
 * Why no server of the cluster would take `stream` as a stream name (empty, not well-formed
 * Unicode, reserved, over the file's `streamNameBytesMax`), or undefined when they would.
 */
export function streamNameProblem(config: ClusterConfig, stream: string): string | undefined {
  try {
    checkStreamName(stream, config.limits.streamNameBytesMax);
    return undefined;
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.rule;
    throw error;
  }
}

/** The slot of `stream` and the stripe that holds it in the cluster `config` describes. */
export function placeStream(config: ClusterConfig, stream: string): StreamPlacement {
  const layout = clusterLayoutOf(config);
  const slot = slotOf(stream);
  return { stream, slot, stripe: layout.stripes[layout.slotTable.stripeOfSlot(slot)]!.name };
}

/** The placement as `kiln stripe-of` prints it: `slot 1234 stripe bravo`, or one JSON object. */
export function formatPlacement(placement: StreamPlacement, json: boolean): string {
  if (json) return JSON.stringify({ stream: placement.stream, slot: placement.slot, stripe: placement.stripe });
  return `slot ${placement.slot} stripe ${placement.stripe}`;
}
