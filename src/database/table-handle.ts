import type { Table } from '../api/table.js';
import type {
  CountOptions,
  DeleteWhereOptions,
  EnqueueCommand,
  FindOptions,
  Page,
  PageOptions,
  UpdateOptions,
  WriteOptions,
} from '../api/table-options.js';
import type { Worker, WorkOptions } from '../api/work-options.js';
import { cacheKey } from '../cache/cache-key.js';
import type { RowLoader, TableCache } from '../cache/table-cache.js';
import { checkOptionKeys, returningOption } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { Dialect } from '../dialect/dialect.js';
import type { WriteCommand } from '../dialect/write-op.js';
import { WRITE_OPTION_NAMES, type WriteGate } from '../gate/write-gate.js';
import { checkCallerWrite } from '../lifecycle/caller-writes.js';
import { type ClaimOptions, type HistoryEntry, LifecycleOps, type ReapResult, type TransitionOptions } from '../lifecycle/lifecycle-ops.js';
import type { Filter, FilterNode } from '../query/filter.js';
import { parseFilter } from '../query/filter-parser.js';
import { TableStatements } from '../query/table-statements.js';
import type { AnyTableDef, InsertType, KeyType, PatchType, RowType, StateType } from '../schema/define-table.js';
import { type JsRow, RowCodec } from '../schema/row-codec.js';
import { checkCount, type ReadObserver, TableQueries } from './table-queries.js';
import type { WorkerHub } from './worker-hub.js';

export type { ReadObserver } from './table-queries.js';

/** The typed face of one table: writes go through the gate, reads to the reader. */
export class TableHandle<T extends AnyTableDef> implements Table<T> {
  readonly table: T;
  readonly #codec: RowCodec;
  readonly #gate: WriteGate;
  readonly #dialect: Dialect;
  readonly #statements: TableStatements;
  readonly #isOpen: () => boolean;
  readonly #onError: (error: unknown) => void;
  readonly #cache: TableCache | undefined;
  /** A point read by encoded key: synchronous where the dialect reads synchronously (SQLite). */
  readonly #loadRow: RowLoader;
  readonly #lifecycle: LifecycleOps | undefined;

  readonly #workers: WorkerHub | undefined;
  readonly #reads: ReadObserver | undefined;
  /** find, page, count and warm: the reads that run a query rather than fetch one key. */
  readonly #queries: TableQueries;

  constructor(
    table: T,
    dialect: Dialect,
    gate: WriteGate,
    isOpen: () => boolean,
    onError: (error: unknown) => void,
    cache?: TableCache,
    workers?: WorkerHub,
    reads?: ReadObserver,
  ) {
    this.#workers = workers;
    this.#reads = reads;
    this.table = table;
    this.#codec = new RowCodec(table, dialect.adapter.codec);
    this.#gate = gate;
    this.#dialect = dialect;
    this.#statements = new TableStatements(dialect.adapter.builder, dialect.adapter.lists, table);
    this.#isOpen = isOpen;
    this.#onError = onError;
    this.#cache = cache;
    this.#queries = new TableQueries(table, this.#codec, dialect, this.#statements, () => this.#requireOpen(), cache, reads);
    const codec = this.#codec;
    const readByKey = dialect.readByKey?.bind(dialect);
    this.#loadRow = readByKey ? (encoded) => readByKey(codec, encoded) : (encoded) => dialect.getByKey(codec, encoded);
    this.#lifecycle =
      table.lifecycle &&
      new LifecycleOps(this.#codec, table.lifecycle, gate, (key) =>
        // The current row after a lost compare-and-set must be fresh, so this read skips the cache.
        dialect.getByKey(this.#codec, this.#codec.encodeKey(key)),
      );
  }

  /**
   * Moves a row to state `to` if its current state allows it (and is `from`, and the claim's
   * `token` still matches, when given). Resolves `{ applied }`, plus the row with `returning: 'row'`
   * (as it is now when the move did not apply). ILLEGAL_TRANSITION when the lifecycle has no such
   * move; NOT_FOUND when there is no row. Callers see Table<T>'s overloads, whose result follows
   * `returning`; `any` lets this one body serve both.
   */
  transition(key: KeyType<T>, to: StateType<T>, options?: TransitionOptions<StateType<T>, PatchType<T>>): Promise<any> {
    return this.#withLifecycle('transition', (ops) => ops.transition(key, to, options));
  }

  /** Atomically takes up to `limit` rows in state `from`, moves them to `to` under a lease, and returns them; `attempt` is each one's fencing token. */
  claim(options: ClaimOptions<StateType<T>, RowType<T>>): Promise<RowType<T>[]> {
    return this.#withLifecycle('claim', (ops) => ops.claim(options)) as Promise<RowType<T>[]>;
  }

  /** Extends the lease held under `token`; false when it already lapsed or was settled. */
  renew(key: KeyType<T>, token: number, leaseMs: number, options?: WriteOptions): Promise<boolean> {
    return this.#withLifecycle('renew', (ops) => ops.renew(key, token, leaseMs, options));
  }

  /** Returns expired leases to their configured state, in batches of at most `limit` rows. */
  reapExpired(limit?: number): Promise<ReapResult> {
    return this.#withLifecycle('reap', (ops) => ops.reapExpired(limit));
  }

  /** The state changes of one row, oldest first, as the history table recorded them (foreign writers' too). */
  async history(key: KeyType<T>): Promise<HistoryEntry[]> {
    const ops = this.#lifecycleOps('read the history of');
    const { sql, parameters } = ops.historyQuery(this.#dialect.adapter.builder, this.#codec.encodeKey(key));
    const rows = await this.#dialect.selectAll(sql, parameters);
    return rows.map((row) => ({
      from: row.from as string | null,
      to: row.to as string,
      at: new Date(Number(row.at)),
      actor: row.actor as string | null,
    }));
  }

  /** Starts a worker over this table (see Table.work); db.close() stops it. */
  work(options: WorkOptions<RowType<T>, StateType<T>, PatchType<T>>): Worker {
    this.#requireOpen();
    if (!this.#workers)
      throw new SluiceError('CONFIG', `work() on ${this.table.name}: this handle was made without a worker hub.`, {
        table: this.table.name,
      });
    return this.#workers.start(this as unknown as Table<AnyTableDef>, options as never, this.#onError);
  }

  #withLifecycle<R>(what: string, fn: (ops: LifecycleOps) => Promise<R>): Promise<R> {
    try {
      return fn(this.#lifecycleOps(what));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #lifecycleOps(what: string): LifecycleOps {
    this.#requireOpen();
    if (!this.#lifecycle) {
      throw new SluiceError(
        'CONFIG',
        `Cannot ${what} on ${this.table.name}: it declares no lifecycle. Add lifecycle: { column, initial, transitions } to its definition.`,
        {
          table: this.table.name,
        },
      );
    }
    return this.#lifecycle;
  }

  /** Resolves with the row as stored (defaults applied) once it is committed. */
  insert(row: InsertType<T>, options?: WriteOptions): Promise<RowType<T>> {
    return this.#submit('insert', WRITE_OPTION_NAMES, () => this.#codec.encodeInsert(row), options) as Promise<RowType<T>>;
  }

  /** Inserts, or replaces the non-key columns of the row with the same key; a leased row keeps its lease. Resolves with the row as stored. */
  upsert(row: InsertType<T>, options?: WriteOptions): Promise<RowType<T>> {
    return this.#submit('upsert', WRITE_OPTION_NAMES, () => this.#codec.encodeInsert(row, 'upsert'), options) as Promise<RowType<T>>;
  }

  /** Resolves once committed (with the row when `returning: 'row'`); NOT_FOUND when no row has the key, CONFLICT when `where` fails. */
  update(key: KeyType<T>, patch: PatchType<T>, options?: UpdateOptions<RowType<T>>): Promise<any> {
    return this.#submit(
      'update',
      UPDATE_OPTION_NAMES,
      () => ({
        kind: 'update',
        key: this.#codec.encodeKey(key),
        patch: this.#codec.encodePatch(patch),
        where: options?.where === undefined ? undefined : parseFilter(this.#codec, options.where),
        returning: returningOption('update', this.table.name, options?.returning),
      }),
      options,
    );
  }

  /** Resolves with true when a row was deleted, false when there was none. */
  delete(key: KeyType<T>, options?: WriteOptions): Promise<boolean> {
    return this.#submit(
      'delete',
      WRITE_OPTION_NAMES,
      () => ({ kind: 'delete', key: this.#codec.encodeKey(key) }),
      options,
    ) as Promise<boolean>;
  }

  /**
   * Deletes every row matching `where`, at most `batchSize` (default 1,000) per transaction, so
   * no write lock is held for long; resolves with how many rows went.
   */
  async deleteWhere(where: Filter<RowType<T>>, options: DeleteWhereOptions = {}): Promise<number> {
    this.#options('deleteWhere', options, DELETE_WHERE_OPTION_NAMES);
    const batchSize = options.batchSize ?? 1000;
    checkCount('batchSize', batchSize, this.table.name, 1);
    const { batchSize: _, all, ...submit } = options;
    const condition = parseFilter(this.#codec, where);
    if (isEmptyFilter(condition) && all !== true) {
      throw new SluiceError(
        'VALIDATION',
        `deleteWhere on ${this.table.name} got a filter that matches every row; to empty the table, say so: deleteWhere({}, { all: true }). Nothing was deleted.`,
        { table: this.table.name },
      );
    }
    let total = 0;
    for (;;) {
      const deleted = (await this.#gate.submit(this.#codec, { kind: 'deleteMany', where: condition, limit: batchSize }, submit)) as number;
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }

  /**
   * Queues a write without a promise, for code that cannot await (a frame loop). Never throws:
   * a bad row or a failed write goes to the database's onError and the metrics.
   */
  enqueue(command: EnqueueCommand<T>, options: WriteOptions = {}): void {
    let built: WriteCommand;
    try {
      this.#options('enqueue', options, WRITE_OPTION_NAMES);
      built = this.#command(command);
      checkCallerWrite(this.table, built);
    } catch (error) {
      this.#onError(error);
      return;
    }
    this.#gate.enqueue(this.#codec, built, options, this.#onError);
  }

  /**
   * The row with this key, or undefined. Read through the cache when the table has a policy (rows
   * come back frozen). Not an async function: a row read synchronously (an L1 hit, a SQLite read)
   * costs one resolved promise, and a pending load's promise is handed back as it is.
   */
  get(key: KeyType<T>): Promise<RowType<T> | undefined> {
    let row: JsRow | undefined | Promise<JsRow | undefined>;
    try {
      this.#requireOpen();
      const encoded = this.#codec.encodeKey(key);
      row = this.#cache ? this.#cache.get(cacheKey(encoded), encoded, this.#loadRow) : this.#loadRow(encoded);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!(row instanceof Promise)) return Promise.resolve(row) as Promise<RowType<T> | undefined>;
    // Only a read that had to wait (a server round trip, a lock) can be slow; a synchronous one is not timed.
    return (this.#reads ? this.#queries.timed('get', performance.now(), row) : row) as Promise<RowType<T> | undefined>;
  }

  find(options?: FindOptions<RowType<T>>): Promise<RowType<T>[]> {
    return this.#queries.find(options) as Promise<RowType<T>[]>;
  }

  /** Loads the rows one query finds into the table's cache; resolves with how many were stored. */
  warm(options?: FindOptions<RowType<T>>): Promise<number> {
    return this.#queries.warm(options);
  }

  page(options?: PageOptions<RowType<T>>): Promise<Page<RowType<T>>> {
    return this.#queries.page(options) as Promise<Page<RowType<T>>>;
  }

  count(where?: Filter<RowType<T>>, options?: CountOptions): Promise<number> {
    return this.#queries.count(where, options);
  }

  #command(command: EnqueueCommand<T>): WriteCommand {
    const c = command as Record<string, unknown>;
    if ('insert' in c) return this.#codec.encodeInsert(c.insert);
    if ('upsert' in c) return this.#codec.encodeInsert(c.upsert, 'upsert');
    if ('update' in c) return { kind: 'update', key: this.#codec.encodeKey(c.update), patch: this.#codec.encodePatch(c.patch) };
    if ('delete' in c) return { kind: 'delete', key: this.#codec.encodeKey(c.delete) };
    throw new SluiceError(
      'VALIDATION',
      `enqueue on ${this.table.name} takes { insert }, { upsert }, { update, patch } or { delete }, got ${describeValue(command)}.`,
      {
        table: this.table.name,
      },
    );
  }

  #submit(call: string, known: readonly string[], build: () => WriteCommand, options: WriteOptions | undefined): Promise<unknown> {
    let command: WriteCommand;
    try {
      this.#options(call, options, known);
      command = build();
      checkCallerWrite(this.table, command);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#gate.submit(this.#codec, command, options);
  }

  #options(call: string, options: unknown, known: readonly string[]): void {
    checkOptionKeys(call, this.table.name, options, known);
  }

  #requireOpen(): void {
    if (!this.#isOpen()) {
      throw new SluiceError('CLOSED', `The database is closed; cannot read ${this.table.name}. Open it again to read.`, {
        table: this.table.name,
      });
    }
  }
}

function isEmptyFilter(node: FilterNode): boolean {
  return node.op === 'and' && node.nodes.every(isEmptyFilter);
}

const UPDATE_OPTION_NAMES = [...WRITE_OPTION_NAMES, 'where', 'returning'];
const DELETE_WHERE_OPTION_NAMES = [...WRITE_OPTION_NAMES, 'batchSize', 'all'];
