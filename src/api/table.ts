import type {
  ClaimOptions,
  HistoryEntry,
  ReapResult,
  TransitionApplied,
  TransitionOptions,
  TransitionResult,
} from '../lifecycle/lifecycle-ops.js';
import type { Filter } from '../query/filter.js';
import type { AnyTableDef, InsertType, KeyType, PatchType, RowType, StateType } from '../schema/define-table.js';
import type {
  CountOptions,
  DeleteWhereOptions,
  EnqueueCommand,
  FindOptions,
  Page,
  PageOptions,
  UpdateOptions,
  WriteOptions,
} from './table-options.js';
import type { Worker, WorkOptions } from './work-options.js';

/**
 * The typed face of one table, and the surface everything above the engine programs against
 * (the task store, maintenance, sync, rollups, the server): writes go through the write gate and
 * resolve after COMMIT; reads go to the reader, through the cache when the table has a policy.
 */
export interface Table<T extends AnyTableDef> {
  readonly table: T;

  /** Resolves with the row as stored (defaults applied) once it is committed. */
  insert(row: InsertType<T>, options?: WriteOptions): Promise<RowType<T>>;
  /** Inserts, or replaces every non-key column of the row with the same key but its lease (a leased lifecycle's), which stays with the claim. */
  upsert(row: InsertType<T>, options?: WriteOptions): Promise<RowType<T>>;
  /** Resolves once committed; NOT_FOUND when no row has the key, CONFLICT when `where` fails. */
  update(key: KeyType<T>, patch: PatchType<T>, options?: UpdateOptions<RowType<T>> & { returning?: 'none' }): Promise<void>;
  /** `returning: 'row'`: resolves with the updated row. */
  update(key: KeyType<T>, patch: PatchType<T>, options: UpdateOptions<RowType<T>> & { returning: 'row' }): Promise<RowType<T>>;
  /** Resolves with true when a row was deleted, false when there was none. */
  delete(key: KeyType<T>, options?: WriteOptions): Promise<boolean>;
  /** Deletes every row matching `where`, a bounded batch per transaction; resolves with how many went. */
  deleteWhere(where: Filter<RowType<T>>, options?: DeleteWhereOptions): Promise<number>;
  /** Queues a write without a promise, for code that cannot await; never throws (failures go to onError). */
  enqueue(command: EnqueueCommand<T>, options?: WriteOptions): void;

  /** The row with this key, or undefined. */
  get(key: KeyType<T>): Promise<RowType<T> | undefined>;
  find(options?: FindOptions<RowType<T>>): Promise<RowType<T>[]>;
  /** Keyset paging: pass a page's `next` as the following call's `after`. */
  page(options?: PageOptions<RowType<T>>): Promise<Page<RowType<T>>>;
  count(where?: Filter<RowType<T>>, options?: CountOptions): Promise<number>;
  /** Loads the rows one query finds into the table's cache; resolves with how many were stored. */
  warm(options?: FindOptions<RowType<T>>): Promise<number>;

  /**
   * Moves a row to state `to` if its current state allows it (and is `from`, and the claim's
   * `token` still matches, when given). `applied: false` when another writer moved it first;
   * `state` is where the row is now (the target, or the state that refused the move).
   */
  transition(
    key: KeyType<T>,
    to: StateType<T>,
    options?: TransitionOptions<StateType<T>, PatchType<T>> & { returning?: 'none' },
  ): Promise<TransitionApplied<StateType<T>>>;
  /** `returning: 'row'`: also resolves the row, after the move or, when it did not apply, as it is now. */
  transition(
    key: KeyType<T>,
    to: StateType<T>,
    options: TransitionOptions<StateType<T>, PatchType<T>> & { returning: 'row' },
  ): Promise<TransitionResult<RowType<T>, StateType<T>>>;
  /** Atomically takes up to `limit` rows in state `from`, moves them to `to` under a lease; `attempt` is each one's fencing token. */
  claim(options: ClaimOptions<StateType<T>, RowType<T>>): Promise<RowType<T>[]>;
  /** Extends the lease held under `token`; false when it already lapsed or was settled. */
  renew(key: KeyType<T>, token: number, leaseMs: number, options?: WriteOptions): Promise<boolean>;
  /** Returns expired leases to their configured state, in batches of at most `limit` rows. */
  reapExpired(limit?: number): Promise<ReapResult>;
  /** The state changes of one row, oldest first (foreign writers' too). */
  history(key: KeyType<T>): Promise<HistoryEntry[]>;
  /**
   * Starts a worker: claims rows `from` → `to` under leases, runs `handler` on each (up to
   * `concurrency` at once), settles to `done`, retries with backoff or settles to `failed`, and
   * wakes on commits. `await worker.stop()` to end it; db.close() stops it too.
   */
  work(options: WorkOptions<RowType<T>, StateType<T>, PatchType<T>>): Worker;
}
