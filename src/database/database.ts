import { alertHistoryTable } from '../alerts/alert-history-table.js';
import { checkAlertRules } from '../alerts/alert-rules.js';
import { Alerts, type AlertsApi } from '../alerts/alerts.js';
import type { Table } from '../api/table.js';
import type { FindOptions } from '../api/table-options.js';
import type { CacheStats } from '../cache/cache-stats.js';
import type { DerivedCacheApi } from '../cache/derived-cache.js';
import { SluiceCache } from '../cache/sluice-cache.js';
import type { DialectName } from '../core/kinds.js';
import { LogCoalescer, stderrLogger } from '../core/logger.js';
import { SluiceError } from '../core/sluice-error.js';
import { createDialect } from '../dialect/create-dialect.js';
import type { Dialect, MigrationReport } from '../dialect/dialect.js';
import { newerDatabaseError } from '../dialect/migrator.js';
import { type CommitListener, WriteGate } from '../gate/write-gate.js';
import { Maintenance, type RetentionReport } from '../maintenance/maintenance.js';
import { SluiceMetrics, type SluiceStats } from '../metrics/metrics.js';
import type { MetricsReader } from '../metrics/metrics-reader.js';
import { rollupOf } from '../schema/define-rollup.js';
import type { AnyTableDef, RowType } from '../schema/define-table.js';
import { type SyncApi, SyncShipper, type SyncStatus } from '../sync/sync-shipper.js';
import { syncNodeTable, syncOutboxTable } from '../sync/sync-tables.js';
import { TaskStore } from '../tasks/task-store.js';
import { tasksTable } from '../tasks/task-table.js';
import { type OpenOptions, type ResolvedOptions, resolveOptions } from './open-options.js';
import { rememberRegistry } from './prometheus-registry.js';
import { TableHandle } from './table-handle.js';
import { WorkerHub } from './worker-hub.js';

/** Repeated log events fold into one line per distinct event per this interval, then a count. */
const LOG_FOLD_MS = 10_000;

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
    this.#log = new LogCoalescer(options.logger ?? stderrLogger(), LOG_FOLD_MS, { stacks: options.logStacks, values: options.logParams });
    this.#onError = options.onError ?? ((error) => this.#log.error(error));
    this.#gate = new WriteGate(
      dialect,
      {
        maxQueue: options.gate.maxQueue,
        whenFull: options.gate.whenFull,
        deadlineMs: options.gate.deadlineMs,
        backoff: { initialMs: options.gate.backoffInitialMs, maxMs: options.gate.backoffMaxMs },
        batch: { targetCommitMs: options.gate.targetCommitMs ?? dialect.adapter.batchTargetMs, minSize: 1, maxSize: options.gate.maxBatch },
      },
      this.#onError,
    );
    this.#metrics = new SluiceMetrics(this.#gate, dialect, { log: this.#log, slowMs: options.slowMs });
    rememberRegistry(this, this.#metrics.registry);
    this.#cache = new SluiceCache({
      options: options.cache,
      tables: options.tables,
      dialect,
      registry: this.#metrics.registry,
      onTierState: (state, lastError) => {
        const fields = { event: 'cache_tier', state, ...(lastError === undefined ? {} : { lastError }) };
        if (state === 'down')
          this.#log.logger.warn(fields, `the Redis cache tier is down: reads go to the database${lastError ? ` (${lastError})` : ''}`);
        else this.#log.logger.info(fields, `the Redis cache tier is ${state}`);
      },
    });
    // First listener: a batch's keys leave the cache before any of its promises settle.
    this.#gate.onCommit(this.#cache.onCommit);
    this.#workers = new WorkerHub(this.#gate, dialect);
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
        log: { to: this.#log, foldMs: LOG_FOLD_MS, values: options.logParams },
        notify: options.onError,
      });
      this.#sync = shipper;
      this.#gate.addExtraWrites(shipper.capture);
      // Every write to a synced table, by any path (enqueue too), waits or is dropped past sync.maxPending.
      this.#gate.setAdmission(shipper.admission);
      shipper.start();
    }
    this.#maintenance = new Maintenance(
      () => this.#options.tables.map((table) => this.table(table)),
      options.maintenance,
      this.#metrics.registry,
      this.#onError,
      this.#log.logger,
    );
    this.#maintenance.start();
    if (options.alerts.length > 0) {
      this.#alerts = new Alerts({
        rules: checkAlertRules(options.alerts, options.tables),
        registry: this.#metrics.registry,
        table: (definition) => this.table(definition),
        history: this.table(alertHistoryTable),
        intervalMs: options.alertIntervalMs,
        webhook: options.alertWebhook,
        onError: this.#onError,
      });
      this.#alerts.start();
    }
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

  async #rebuildRollup(rollup: AnyTableDef, range: { from?: Date; to?: Date } = {}): Promise<void> {
    this.#requireOpen();
    const policy = rollupOf(rollup);
    if (!policy || !this.#options.tables.includes(rollup)) {
      throw new SluiceError('CONFIG', `${rollup?.name ?? 'That table'} is not a rollup passed to open({ rollups }).`, {
        table: rollup?.name,
      });
    }
    // Whole buckets: a range that cuts one would rebuild it from part of its rows. No bound: everything.
    const start = range.from && new Date(Math.floor(range.from.getTime() / policy.sizeMs) * policy.sizeMs);
    const end = range.to && new Date(Math.ceil(range.to.getTime() / policy.sizeMs) * policy.sizeMs);
    await this.#gate.exclusive(() => this.#dialect.rebuildRollup(rollup, policy, start, end));
    this.#cache.invalidate(rollup);
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
      await dialect.close().catch(() => {});
      // A damaged file fails here first: the driver's error, classified, never raw.
      throw SluiceError.is(error) ? error : dialect.classify(error);
    }
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
    this.#closing ??= (async () => {
      const started = performance.now();
      // Workers settle through the gate, so they stop (finish or hand back) while it still takes writes.
      this.#stoppingWorkers = true;
      try {
        await this.#workers.stopAll();
      } finally {
        this.#stoppingWorkers = false;
      }
      await this.#alerts?.stop();
      await this.#maintenance.stop();
      if (this.#sync) {
        // The shipper acknowledges through the gate, so it drains before the gate closes.
        await this.#gate.flush();
        await this.#sync.close(this.#options.sync?.drainMs ?? 0);
      }
      await this.#gate.close();
      await this.#cache.close();
      await this.#dialect.close();
      this.#log.flush();
      this.#log.logger.info(
        { event: 'close', ms: Math.round(performance.now() - started) },
        'closed: every write settled, connections released',
      );
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
