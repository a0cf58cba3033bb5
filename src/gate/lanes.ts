import type { WriteOp } from '../dialect/write-op.js';

/**
 * The gate's priority lanes: a batch fills from 'high' first, then 'normal', then 'low'. Only the
 * gate orders writes, so the lanes live here; a dialect runs a batch in the order it is given.
 */
export const LANES = ['high', 'normal', 'low'] as const;
export type Lane = (typeof LANES)[number];

/** A write as the gate queues it: a dialect's write op and the lane it waits in. */
export interface QueuedWrite extends WriteOp {
  readonly lane: Lane;
}
