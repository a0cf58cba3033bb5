import type { LocalFigures } from './local-outbox.js';

/**
 * Why a batch shipped:
 * - `count`: `batchSize` changes were waiting;
 * - `interval`: the oldest change had waited `intervalMs`;
 * - `cap`: either of those, while the outbox stood at `maxPending` and writes to synced tables waited for it;
 * - `forced`: a `flush()` asked;
 * - `drain`: `close()` ships what it can within `drainMs`;
 * - `resync`: a fork's resync queued the file's current rows again.
 */
export type ShipTrigger = 'count' | 'interval' | 'cap' | 'forced' | 'drain' | 'resync';

/** What the trigger is decided on: the shipper's state and its last look at the outbox. */
export interface TriggerState {
  readonly resyncing: boolean;
  readonly draining: boolean;
  readonly flushing: boolean;
  readonly local: LocalFigures;
  /** Changes waiting, counting those captured since the last look. */
  readonly pending: number;
  readonly options: { readonly batchSize: number; readonly intervalMs: number; readonly maxPending: number };
}

/** Why a batch should ship now, or undefined: nothing should. */
export function shipTrigger(state: TriggerState, now = Date.now()): ShipTrigger | undefined {
  if (state.resyncing) return 'resync';
  const { oldestSeq, oldestAt } = state.local;
  if (oldestSeq === undefined) return undefined;
  if (state.draining) return 'drain';
  if (state.flushing) return 'forced';
  const counted = state.pending >= state.options.batchSize;
  if (!counted && !(oldestAt !== undefined && now - oldestAt >= state.options.intervalMs)) return undefined;
  if (state.pending >= state.options.maxPending) return 'cap';
  return counted ? 'count' : 'interval';
}
