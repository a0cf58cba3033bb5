import type { AnyTableDef } from '../../schema/define-table.js';
import type { UpsertFlavor } from './opengauss-upsert.js';
import type { RowRefusal } from './postgres-sync-errors.js';
import type { TableCopy, TargetChange } from './postgres-sync-plan.js';

// What a shipper and the sync target say to each other: a batch, the target's mark, the outcome.

export type { TableCopy, TargetChange } from './postgres-sync-plan.js';

export interface ShipBatch<T extends TargetChange> {
  /** The mark the target must hold for this batch to apply: the seq before its first row. */
  readonly after: number;
  /** The lineage token the target must hold with that mark (null: none written yet). */
  readonly lineage: string | null;
  /** The batch's last seq: the mark once applied. */
  readonly last: number;
  /** The token the batch leaves on the target, recorded in the file before it was sent. */
  readonly next: string;
  /** The batch per table, ready to send; undefined: built here from the items. */
  readonly tables: readonly TableCopy[] | undefined;
  /** The changes one by one: what a refused row is isolated among (read when first asked for). */
  items(): Promise<readonly T[]>;
  /**
   * Called once the last statement of the fast path is on its way: the target works on it for a
   * while, and the caller may use the time (to read its next batch).
   */
  readonly meanwhile?: (() => void) | undefined;
}

/** This node's row on the target. */
export interface TargetMark {
  readonly seq: number;
  readonly lineage: string | null;
}

/** One change the target refused, with what it said. */
export interface Refused<T> extends RowRefusal {
  readonly item: T;
}

export type ApplyResult<T> =
  /** `isolated`: the items were read and applied one part at a time, after a refusal proved a false alarm. */
  | { readonly kind: 'applied'; readonly upserts: number; readonly deletes: number; readonly isolated: boolean }
  /** The target's mark or lineage is not what the batch expected: another shipper moved it. */
  | { readonly kind: 'moved'; readonly mark: TargetMark }
  /** Rows the target refused, each with its error; nothing was applied. */
  | { readonly kind: 'refused'; readonly refused: readonly Refused<T>[] };

export interface SyncTargetOptions {
  readonly url: string;
  readonly schema: string | undefined;
  readonly flavor: UpsertFlavor;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly nodeId: string;
  readonly tables: readonly AnyTableDef[];
}
