/**
 * Defaults and bounds of the cluster-wide settings, taken from `limits.ts`.
 *
 * @packageDocumentation
 */
import { defaultClientTiming, defaultGroupTiming, groupTimingBounds, reconnectWindowBounds } from '../limits.js';
import type { FailoverPriority, Persistence } from './types.js';

/** Defaults of the cluster-wide settings. */
export const clusterConfigDefaults = Object.freeze({
  persistence: 'restartable' as Persistence,
  failoverPriority: 'consistency' as FailoverPriority,
  ...defaultGroupTiming,
  reconnectWindowMs: defaultClientTiming.reconnectWindowMs,
  weight: 1,
});

/** Bounds of each time setting, in milliseconds, inclusive. */
export const clusterConfigBounds = Object.freeze({ ...groupTimingBounds, reconnectWindowMs: reconnectWindowBounds });
