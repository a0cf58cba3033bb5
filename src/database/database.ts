import type { Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import type { FindOptions } from '../api/table-options.js';
import type { CacheStats } from '../cache/cache-stats.js';
import { SluiceCache } from '../cache/sluice-cache.js';
import type { DialectName } from '../core/kinds.js';
import { SluiceError } from '../core/sluice-error.js';
import { createDialect } from '../dialect/create-dialect.js';
import type { Dialect, MigrationReport } from '../dialect/dialect.js';
import { newerDatabaseError } from '../dialect/migrator.js';
import { type CommitListener, WriteGate } from '../gate/write-gate.js';
import { Maintenance, type RetentionReport } from '../maintenance/maintenance.js';
import { SluiceMetrics, type SluiceStats } from '../metrics/metrics.js';
import type { AnyTableDef, RowType } from '../schema/define-table.js';
import { type SyncApi, SyncShipper, type SyncStatus } from '../sync/sync-shipper.js';
import { syncNodeTable, syncOutboxTable } from '../sync/sync-tables.js';
import { TaskStore } from '../tasks/task-store.js';
import { tasksTable } from '../tasks/task-table.js';
import { type OpenOptions, type ResolvedOptions, resolveOptions } from './open-options.js';
import { TableHandle } from './table-handle.js';

/**
 * The one owner of a connection set: a dialect, its write gate, metrics and table handles.
 * Everything else (lifecycles, cache, sync, server, CLI) is built on this public surface.
 */
export class Database {
  readonly #options: ResolvedOptions;
  readonly #dialect: Dialect;
  readonly #gate: WriteGate;
  readonly #metrics: SluiceMetrics;
  readonly #cache: SluiceCache;
  readonly #handles = new Map<AnyTableDef, TableHandle<AnyTableDef>>();
  readonly #onError: (error: unknown) => void;
  readonly #maintenance: Maintenance;
  #tasks: TaskStore | undefined;
  readonly #sync: SyncShipper | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: ResolvedOptions, dialect: Dialect) {
    this.#options = options;
    this.#dialect = dialect;
    this.#onError = options.onError ?? ((error) => console.error('[sluice]', error));
    this.#gate = new WriteGate(
      dialect,
      {
        maxQueue: options.gate.maxQueue,
        whenFull: options.gate.whenFull,
        deadlineMs: options.gate.deadlineMs,
        backoff: { initialMs: options.gate.backoffInitialMs, maxMs: options.gate.backoffMaxMs },
        batch: { targetCommitMs: options.gate.targetCommitMs ?? dialect.batchTargetMs, minSize: 1, maxSize: options.gate.maxBatch },
      },
      this.#onError,
    );
    this.#metrics = new SluiceMetrics(this.#gate, dialect);
    this.#cache = new SluiceCache({ options: options.cache, tables: options.tables, dialect, registry: this.#metrics.registry });
    // First listener: a batch's keys leave the cache before any of its promises settle.
    this.#gate.onCommit(this.#cache.onCommit);
    const sync = options.sync;
    if (sync?.target !== undefined && options.tables.some((t) => t.sync !== undefined)) {
      const shipper = new SyncShipper({
        options: { ...sync, target: sync.target },
        tables: options.tables,
        dialect,
        gate: this.#gate,
        outbox: this.table(syncOutboxTable),
        node: this.table(syncNodeTable),
        registry: this.#metrics.registry,
        onError: this.#onError,
      });
      this.#sync = shipper;
      this.#gate.setExtraWrites(shipper.capture);
      // Every write to a synced table, by any path (enqueue too), waits or is dropped past sync.maxPending.
      this.#gate.setAdmission(shipper);
      shipper.start();
    }
    this.#maintenance = new Maintenance(
      () => this.#options.tables.map((table) => this.table(table)),
      options.maintenance,
      this.#metrics.registry,
      this.#onError,
    );
    this.#maintenance.start();
  }

  /** The shipper of tables declared with `sync` (open with `sync: { target }`). */
  get sync(): SyncApi {
    this.#requireOpen();
    if (!this.#sync) {
      throw new SluiceError(
        'CONFIG',
        'Sync is off: declare tables with defineTable(name, { sync: true }) and open with sync: { target: "postgres://…" } to use db.sync.',
      );
    }
    return this.#sync;
  }

  /** The task store (work items with leases, cached results and cleanup); open with `tasks: true` to have it. */
  get tasks(): TaskStore {
    this.#requireOpen();
    if (this.#options.tasks === false) {
      throw new SluiceError('CONFIG', 'The task store is off: open the database with tasks: true (and run migrate) to use db.tasks.');
    }
    this.#tasks ??= new TaskStore(this.table(tasksTable), this.#options.tasks === true ? undefined : this.#options.tasks.resultTtlMs);
    return this.#tasks;
  }

  /** Deletes rows past each table's `retention.maxAgeMs`, a small batch per transaction. */
  runRetention(): Promise<RetentionReport[]> {
    this.#requireOpen();
    return this.#maintenance.runRetention();
  }

  /** Hands expired leases back now (the reaper also runs every `maintenance.reapIntervalMs`). */
  reapExpiredLeases(): Promise<{ table: string; returned: number; exhausted: number }[]> {
    this.#requireOpen();
    return this.#maintenance.reapLeases();
  }

  static async open(input: OpenOptions): Promise<Database> {
    const options = resolveOptions(input);
    const dialect = await createDialect({
      url: options.url,
      durability: options.durability,
      lockTimeoutMs: options.gate.deadlineMs,
      sqlite: options.sqlite,
      postgres: options.postgres,
    });
    try {
      const found = await dialect.schemaVersion();
      if (found > options.schemaVersion) throw newerDatabaseError(found, options.schemaVersion);
    } catch (error) {
      await dialect.close();
      throw error;
    }
    try {
      const db = new Database(options, dialect);
      // A write made before the invalidation channel is up could not reach other instances.
      await db.#cache.ready();
      return db;
    } catch (error) {
      await dialect.close();
      throw error;
    }
  }

  get dialect(): DialectName {
    return this.#dialect.name;
  }

  /** The tables passed to open(), in that order, plus the task store's table when tasks are on. */
  get tables(): readonly AnyTableDef[] {
    return this.#options.tables;
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  /** The typed handle of a table passed to open(). */
  table<T extends AnyTableDef>(definition: T): Table<T> {
    this.#requireOpen();
    let handle = this.#handles.get(definition);
    if (!handle) {
      if (!this.#options.tables.includes(definition)) {
        throw new SluiceError(
          'CONFIG',
          `Table ${definition.name} was not passed to open({ tables }); add it there so migrate() creates it.`,
          {
            table: definition.name,
          },
        );
      }
      handle = new TableHandle(
        definition,
        this.#dialect,
        this.#gate,
        () => this.isOpen,
        this.#onError,
        this.#cache.table(definition.name),
      ) as TableHandle<AnyTableDef>;
      this.#handles.set(definition, handle);
    }
    return handle as unknown as Table<T>;
  }

  /** Creates missing tables, columns and indexes and runs pending migrations; safe to race. */
  async migrate(): Promise<MigrationReport> {
    this.#requireOpen();
    const report = await this.#gate.exclusive(() =>
      this.#dialect.migrate(this.#options.tables, this.#options.schemaVersion, this.#options.migrations),
    );
    await this.#sync?.prepare();
    return report;
  }

  async schemaVersion(): Promise<number> {
    this.#requireOpen();
    return this.#dialect.schemaVersion();
  }

  /** Called after every commit with the keys it changed, before the batch's promises settle. */
  onCommit(listener: CommitListener): () => void {
    return this.#gate.onCommit(listener);
  }

  /**
   * How many more writes the gate's queue takes now (`gate.maxQueue` minus those waiting); with a
   * table, also how many more its `sync.maxPending` admits (a synced table's outbox bound). An
   * `enqueue()` producer checks it first: past either bound enqueue() drops the write (it cannot
   * wait), while the awaited calls wait for room (or reject with OVERLOADED as `whenFull` says).
   */
  writeRoom(table?: AnyTableDef): number {
    return table === undefined ? this.#gate.room : this.#gate.roomFor(table);
  }

  /** Resolves once every write submitted before the call has settled. */
  flush(): Promise<void> {
    return this.#gate.flush();
  }

  stats(): SluiceStats & { cache: CacheStats; sync?: SyncStatus } {
    const stats = { ...this.#metrics.stats(), cache: this.#cache.stats() };
    return this.#sync ? { ...stats, sync: this.#sync.status() } : stats;
  }

  /** Preloads the rows one query finds into the cache of a table with a cache policy; resolves with how many. */
  warm<T extends AnyTableDef>(definition: T, query: FindOptions<RowType<T>> = {}): Promise<number> {
    return this.table(definition).warm(query);
  }

  get metrics(): Registry {
    return this.#metrics.registry;
  }

  /** Integrity, WAL, checkpoint and version facts for `sluice doctor`. */
  async diagnose(): Promise<Record<string, unknown>> {
    this.#requireOpen();
    return this.#gate.exclusive(() => this.#dialect.diagnose());
  }

  /** Flushes queued writes, then closes every connection. Later calls reject with CLOSED. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#maintenance.stop();
      if (this.#sync) {
        // The shipper acknowledges through the gate, so it drains before the gate closes.
        await this.#gate.flush();
        await this.#sync.close(this.#options.sync?.drainMs ?? 0);
      }
      await this.#gate.close();
      await this.#cache.close();
      await this.#dialect.close();
    })();
    return this.#closing;
  }

  #requireOpen(): void {
    if (this.#closing) throw new SluiceError('CLOSED', 'The database is closed. Open it again to use it.');
  }
}

/** Opens a database: `open({ url: 'sqlite:./data/app.db', tables: [...] })`. */
export function open(options: OpenOptions): Promise<Database> {
  return Database.open(options);
}
