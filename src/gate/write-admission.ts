import type { AnyTableDef } from '../schema/define-table.js';

/**
 * A bound in front of the queue that some layer above sets (sync's `maxPending`: writes to synced
 * tables wait while the outbox is full). The gate consults it for every write, whichever path
 * brought it (submit, every table handle, enqueue), before the write is queued.
 */
export interface WriteAdmission {
  /**
   * How many more writes to `table` may be queued now, given `inFlight`: the writes this admission
   * let through that have not settled yet. Undefined when it does not limit this table.
   */
  room(table: AnyTableDef, inFlight: number): number | undefined;
  /** Resolves when room may have grown; a waiting write then asks again. */
  whenRoom(): Promise<void>;
  /** Why writes to `table` are held back, for enqueue()'s drop report. */
  describe(table: AnyTableDef): string;
}
