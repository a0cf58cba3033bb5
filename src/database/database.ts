import type { Alerts, AlertsApi } from '../alerts/alerts.js';
import type { Table } from '../api/table.js';
import type { FindOptions } from '../api/table-options.js';
import type { CacheStats } from '../cache/cache-stats.js';
import type { DerivedCacheApi } from '../cache/derived-cache.js';
import type { SluiceCache } from '../cache/sluice-cache.js';
import type { DialectName } from '../core/kinds.js';
import type { LogCoalescer } from '../core/logger.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect, MigrationReport } from '../dialect/dialect.js';
import type { CommitListener, WriteGate } from '../gate/write-gate.js';
import type { Maintenance, RetentionReport } from '../maintenance/maintenance.js';
import type { SluiceMetrics, SluiceStats } from '../metrics/metrics.js';
import type { MetricsReader } from '../metrics/metrics-reader.js';
import type { AnyTableDef, RowType } from '../schema/define-table.js';
import type { SyncApi, SyncShipper, SyncStatus } from '../sync/sync-shipper.js';
import { TaskStore } from '../tasks/task-store.js';
import { tasksTable } from '../tasks/task-table.js';
import { startAlerts, startMaintenance, startSync, type TableLookup } from './background-services.js';
import { closeInOrder } from './close-sequence.js';
import { openDialect } from './open-dialect.js';
import { type OpenOptions, type ResolvedOptions, resolveOptions } from './open-options.js';
import { rememberRegistry } from './prometheus-registry.js';
import { rebuildRollup } from './rollup-rebuild.js';
import { TableHandle } from './table-handle.js';
import type { WorkerHub } from './worker-hub.js';
import { buildWriteCore } from './write-core.js';

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
  readonly #log: LogCoalescer;
  readonly #maintenance: Maintenance;
  readonly #workers: WorkerHub;
  readonly #alerts: Alerts | undefined;
  #tasks: TaskStore | undefined;
  readonly #sync: SyncShipper | undefined;
  #closing: Promise<void> | undefined;
  /** True while close() waits for workers: their settles and hand-backs must still reach the gate. */
  #stoppingWorkers = false;

  private constructor(options: ResolvedOptions, dialect: Dialect) {
    this.#options = options;
    this.#dialect = dialect;
    const core = buildWriteCore(options, dialect);
    this.#log = core.log;
    this.#onError = core.onError;
    this.#gate = core.gate;
    this.#metrics = core.metrics;
    this.#cache = core.cache;
    this.#workers = core.workers;
    rememberRegistry(this, this.#metrics.registry);
    // Started in this order, after the core: sync and alerts take handles of their own tables.
    const table: TableLookup = (definition) => this.table(definition);
    this.#sync = startSync(options, dialect, core, table);
    this.#maintenance = startMaintenance(options, core, table);
    this.#alerts = startAlerts(options, core, table);
  }

  /** The alert rules passed to open(): their state now, evaluation on demand, and their history. */
  get alerts(): AlertsApi {
    this.#requireOpen();
    if (!this.#alerts) {
      throw new SluiceError(
        'CONFIG',
        'No alert rules: open with alerts: [{ name, metric, value | rate } | { name, table, windowMs, countAbove }] to use db.alerts.',
      );
    }
    return this.#alerts;
  }

  /** True when this database ships tables (opened with `sync: { target }` and a table declared with `sync`): `db.sync` is there. */
  get syncEnabled(): boolean {
    return this.#sync !== undefined;
  }

  /** The shipper of tables declared with `sync` (open with `sync: { target }`); see `syncEnabled`. */
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

  /**
   * Derived values beside the rows they come from: `getOrSet(key, loader, { ttlMs, graceMs?,
   * dependsOn? })` with one loader per key at a time, dropped when a `dependsOn` table changes
   * (here, in other processes on the SQLite file, in other instances over Redis); and
   * `invalidate(table, key?)`.
   */
  get cache(): DerivedCacheApi {
    this.#requireOpen();
    return this.#cache;
  }

  /** The rollups passed to open(): `rebuild(rollup, { from, to })` recomputes buckets from the source rows. */
  get rollups(): { rebuild(rollup: AnyTableDef, range?: { from?: Date; to?: Date }): Promise<void> } {
    this.#requireOpen();
    return { rebuild: (rollup, range) => this.#rebuildRollup(rollup, range) };
  }

  async #rebuildRollup(rollup: AnyTableDef, range?: { from?: Date; to?: Date }): Promise<void> {
    this.#requireOpen();
    return rebuildRollup({ tables: this.#options.tables, gate: this.#gate, dialect: this.#dialect, cache: this.#cache }, rollup, range);
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
    const dialect = await openDialect(options);
    try {
      const db = new Database(options, dialect);
      // A write made before the invalidation channel is up could not reach other instances.
      await db.#cache.ready();
      db.#log.logger.info(
        { event: 'open', dialect: dialect.adapter.name, tables: options.tables.map((t) => t.name), durability: options.durability },
        `opened a ${dialect.adapter.name} database with ${options.tables.length} tables`,
      );
      return db;
    } catch (error) {
      await dialect.close();
      throw error;
    }
  }

  get dialect(): DialectName {
    return this.#dialect.adapter.name;
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
        () => this.#closing === undefined || this.#stoppingWorkers,
        this.#onError,
        this.#cache.table(definition.name),
        this.#workers,
        { slowMs: this.#options.slowMs, slow: (table, kind, ms) => this.#metrics.slowOperation(table, kind, undefined, ms) },
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
    if (report.applied.length > 0 || report.toVersion !== report.fromVersion) {
      this.#log.logger.info(
        { event: 'migrate', fromVersion: report.fromVersion, toVersion: report.toVersion, applied: report.applied },
        `migrated from version ${report.fromVersion} to ${report.toVersion}: ${report.applied.length} change(s)`,
      );
    }
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

  /** The database's Prometheus series (writes, batches, cache, sync, alerts, HTTP when served). */
  get metrics(): MetricsReader {
    return this.#metrics.registry;
  }

  /** Integrity, WAL, checkpoint and version facts for `sluice doctor`. */
  async diagnose(): Promise<Record<string, unknown>> {
    this.#requireOpen();
    return this.#gate.exclusive(() => this.#dialect.diagnose());
  }

  /** Flushes queued writes, then closes every connection. Later calls reject with CLOSED. */
  close(): Promise<void> {
    this.#closing ??= closeInOrder(
      {
        workers: this.#workers,
        alerts: this.#alerts,
        maintenance: this.#maintenance,
        sync: this.#sync,
        drainMs: this.#options.sync?.drainMs ?? 0,
        gate: this.#gate,
        cache: this.#cache,
        dialect: this.#dialect,
        log: this.#log,
      },
      (stopping) => {
        this.#stoppingWorkers = stopping;
      },
    );
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
