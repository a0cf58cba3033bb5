import type { SubmitOptions } from '../gate/write-gate.js';
import type { Filter } from '../query/filter.js';
import type { OrderBy } from '../query/order.js';
import type { AnyTableDef, InsertType, KeyType, PatchType } from '../schema/define-table.js';

/** Options every write takes: `priority` ('high' | 'normal' | 'low'), `nonBlocking`, `timeoutMs`. */
export interface WriteOptions extends SubmitOptions {}

export interface UpdateOptions<Row> extends WriteOptions {
  /** Compare-and-set: apply only if the row also matches this filter; otherwise reject with CONFLICT. */
  where?: Filter<Row>;
  /** `none` (default): resolve with undefined once committed, reading nothing back; `row`: resolve with the updated row. */
  returning?: 'row' | 'none';
}

export interface FindOptions<Row> {
  /** Which rows: `{ column: value }`, operators `$eq $ne $in $nin $gt $gte $lt $lte $like $null`, `$and`, `$or`. Default: all. */
  where?: Filter<Row>;
  /** A column name, `-name` for descending, or a list of them; the primary key breaks ties. Default: primary-key order. */
  orderBy?: OrderBy<Row>;
  /** At most this many rows. Default: no limit. */
  limit?: number;
  /** Skip this many rows first (costs the skipped rows; `page()` does not). Default 0. */
  offset?: number;
  /** Serve from / store in the table's query cache (needs a table cache policy). Default: the policy's `queries`. */
  cache?: boolean;
}

export interface CountOptions {
  /** Serve from / store in the table's query cache (needs a table cache policy). Default: the policy's `queries`. */
  cache?: boolean;
}

export interface PageOptions<Row> {
  /** Which rows, as in `find`. Default: all. */
  where?: Filter<Row>;
  /** Non-null columns to sort by (the primary key breaks ties). Default: the primary key. */
  orderBy?: OrderBy<Row>;
  /** Rows per page, at least 1. Default 100. */
  limit?: number;
  /** The `next` of the previous page, from the same `orderBy`. */
  after?: string | null;
}

export interface Page<Row> {
  /** This page's rows, in `orderBy` order. */
  rows: Row[];
  /** Pass as `after` for the next page; null after the last one. */
  next: string | null;
}

/** The fire-and-forget forms `enqueue` accepts. */
export type EnqueueCommand<T extends AnyTableDef> =
  | { insert: InsertType<T> }
  | { upsert: InsertType<T> }
  | { update: KeyType<T>; patch: PatchType<T> }
  | { delete: KeyType<T> };

export interface DeleteWhereOptions extends WriteOptions {
  /** Rows deleted per transaction, so no write lock is held for long. Default 1,000. */
  batchSize?: number;
  /** Required to pass a filter that matches every row (`{}`): emptying a table is said out loud. */
  all?: boolean;
}
