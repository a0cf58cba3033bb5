import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import { backoffMs, delay } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect, ExtraWrites } from '../dialect/dialect.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { RowCodec } from '../schema/row-codec.js';
import { type LocalFigures, LocalOutbox } from './local-outbox.js';
import { outboxCapture } from './sync-capture.js';
import type { SyncOptions } from './sync-options.js';
import { type syncNodeTable, syncOutboxTable } from './sync-tables.js';
import { type ShipItem, ShipperLockedError, SyncTarget } from './sync-target.js';

/** `db.sync.status()`: the shipper's figures, as of its last look at the file and the target. */
export interface SyncStatus {
  /** This file's stable node id (undefined until migrate has created the sync tables). */
  nodeId: string | undefined;
  /** Changes captured in this file, ever. */
  total: number;
  /** Changes the target has acknowledged (its mark for this node). */
  synced: number;
  /** Changes waiting to ship. */
  pending: number;
  /** Ship attempts that failed since open (target down, a batch refused). */
  failed: number;
  /** Changes the target refused, set aside until retry(). */
  deadLetters: number;
  /** synced / total, 1 when nothing was ever captured. */
  progress: number;
  /** Age of the oldest pending change, ms; 0 when none waits. */
  lagMs: number;
  /** A batch is on its way now. */
  syncing: boolean;
  target: 'up' | 'down';
  lastError: string | undefined;
  lastBatch: { size: number; ms: number } | undefined;
  /** Rows shipped since open. */
  shippedRows: number;
}

export interface DeadLetter {
  seq: number;
  table: string;
  /** The primary key as stored locally, in primary-key order. */
  key: unknown;
  /** The target's error. */
  error: string;
  failedAt: Date | undefined;
}

/** `db.sync`: the shipper's public face. */
export interface SyncApi {
  status(): SyncStatus;
  /** Ships everything committed before the call; rejects with UNAVAILABLE when the target cannot be reached. */
  flush(options?: { onProgress?: (shipped: number, total: number) => void }): Promise<void>;
  /** Puts dead letters back in the queue (their keys' current state ships again); resolves with how many. */
  retry(): Promise<number>;
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
}

export interface ShipperParts {
  readonly options: SyncOptions & { target: string };
  /** Every table passed to open(); the synced ones ship. */
  readonly tables: readonly AnyTableDef[];
  readonly dialect: Pick<Dialect, 'selectAll' | 'codec'>;
  readonly gate: WriteGate;
  readonly outbox: Table<typeof syncOutboxTable>;
  readonly node: Table<typeof syncNodeTable>;
  readonly registry: Registry;
  readonly onError: (error: unknown) => void;
}

interface FlushWaiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (error: SluiceError) => void;
  readonly onProgress: ((shipped: number, total: number) => void) | undefined;
  readonly from: number;
}

const IDLE_POLL_MS = 200;

/**
 * The one owner of shipping for a Database: it watches the outbox, ships batches when a trigger
 * fires (count, age, flush, drain), acknowledges them locally, and keeps the figures.
 */
export class SyncShipper implements SyncApi {
  readonly #parts: ShipperParts;
  readonly #options: SyncOptions & { target: string };
  readonly #synced: readonly AnyTableDef[];
  readonly #local: LocalOutbox;
  readonly #outboxCodec: RowCodec;
  readonly capture: ExtraWrites;
  #target: SyncTarget | undefined;
  #nodeId: string | undefined;
  #mark = 0;
  #figures: LocalFigures = { maxSeq: 0, oldestSeq: undefined, oldestAt: undefined };
  /** Seqs of the dead letters; only the shipper (one per node) makes or retries them. */
  #dead = new Set<number>();
  #capturedSince = 0;
  #state: 'running' | 'draining' | 'stopped' = 'running';
  #targetUp = false;
  #lastError: string | undefined;
  #failed = 0;
  #shipped = 0;
  #lastBatch: { size: number; ms: number } | undefined;
  #syncing = false;
  #attempt = 0;
  #flushWaiters: FlushWaiter[] = [];
  #admissionWaiters: (() => void)[] = [];
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #drainUntil = 0;
  readonly #metrics: { shipped: Counter; batch: Histogram; failures: Counter<'reason'> };

  constructor(parts: ShipperParts) {
    this.#parts = parts;
    this.#options = parts.options;
    this.#synced = parts.tables.filter((t) => t.sync !== undefined);
    this.#local = new LocalOutbox(parts.dialect, this.#synced);
    this.#outboxCodec = new RowCodec(syncOutboxTable, parts.dialect.codec);
    this.capture = outboxCapture(this.#synced, parts.dialect.codec, (rows) => this.#onCaptured(rows));
    this.#metrics = this.#register(parts.registry);
  }

  #register(registry: Registry) {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    gauge('sluice_sync_pending', 'Changes waiting in the outbox to ship.', () => this.status().pending);
    gauge('sluice_sync_lag_seconds', 'Age of the oldest pending change.', () => this.status().lagMs / 1000);
    gauge('sluice_sync_dead_letters', 'Changes the target refused, set aside until retry.', () => this.#dead.size);
    gauge('sluice_sync_target_up', '1 while the sync target answers.', () => (this.#targetUp ? 1 : 0));
    gauge('sluice_sync_synced', "The target's acknowledged mark for this node.", () => this.#mark);
    return {
      shipped: new Counter({
        name: 'sluice_sync_shipped_rows_total',
        help: 'Outbox rows shipped and acknowledged.',
        registers: [registry],
      }),
      batch: new Histogram({
        name: 'sluice_sync_batch_seconds',
        help: 'Time one batch took: read, ship, commit on the target, acknowledge locally.',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
      failures: new Counter({
        name: 'sluice_sync_failures_total',
        help: 'Ship attempts that failed, by reason.',
        labelNames: ['reason'],
        registers: [registry],
      }),
    };
  }

  start(): void {
    this.#loop ??= this.#run().catch(this.#parts.onError);
  }

  status(): SyncStatus {
    const f = this.#figures;
    const total = Math.max(f.maxSeq, this.#mark) + this.#capturedSince;
    const pending = this.#pendingEstimate();
    return {
      nodeId: this.#nodeId,
      total,
      synced: this.#mark,
      pending,
      failed: this.#failed,
      deadLetters: this.#dead.size,
      progress: total === 0 ? 1 : Math.min(1, this.#mark / total),
      lagMs: pending === 0 || f.oldestAt === undefined ? 0 : Math.max(0, Date.now() - f.oldestAt),
      syncing: this.#syncing,
      target: this.#targetUp ? 'up' : 'down',
      lastError: this.#lastError,
      lastBatch: this.#lastBatch,
      shippedRows: this.#shipped,
    };
  }

  #pendingEstimate(): number {
    const f = this.#figures;
    let deadAbove = 0;
    for (const seq of this.#dead) if (seq > this.#mark) deadAbove++;
    return Math.max(0, f.maxSeq - this.#mark - deadAbove) + this.#capturedSince;
  }

  /** Undefined when writes may go on; otherwise resolves once pending falls below maxPending. */
  admission(): Promise<void> | undefined {
    if (this.#state === 'stopped' || this.#pendingEstimate() < this.#options.maxPending) return undefined;
    return new Promise((resolve) => this.#admissionWaiters.push(resolve));
  }

  #onCaptured(rows: number): void {
    this.#capturedSince += rows;
    // A failing target is left to its backoff; new rows alone do not hurry the next attempt.
    if (this.#attempt === 0 && this.#pendingEstimate() >= this.#options.batchSize) this.#wake?.();
  }

  async flush(options: { onProgress?: (shipped: number, total: number) => void } = {}): Promise<void> {
    this.#requireRunning();
    await this.#parts.gate.flush();
    await this.#refresh();
    const upTo = this.#figures.maxSeq;
    if (this.#figures.oldestSeq === undefined || this.#figures.oldestSeq > upTo) return;
    await new Promise<void>((resolve, reject) => {
      this.#flushWaiters.push({ upTo, resolve, reject, onProgress: options.onProgress, from: this.#mark });
      this.#wake?.();
    });
  }

  async retry(): Promise<number> {
    this.#requireRunning();
    let moved = 0;
    for (;;) {
      const dead = await this.#parts.outbox.find({ where: { error: { $null: false } }, orderBy: 'seq', limit: 1000 });
      if (dead.length === 0) break;
      const now = Date.now();
      // New rows first, so the largest seq never leaves the file; then the dead ones go.
      const inserts = dead.map((d) =>
        this.#parts.gate.submit(this.#outboxCodec, {
          kind: 'insert',
          params: [null, d.tableName, d.keyJson, 'retry', now, null, null],
          row: {},
        }),
      );
      const deletes = dead.map((d) => this.#parts.outbox.delete(d.seq));
      await Promise.all([...inserts, ...deletes]);
      for (const d of dead) this.#dead.delete(d.seq);
      moved += dead.length;
    }
    this.#capturedSince += moved;
    await this.#refresh();
    this.#wake?.();
    return moved;
  }

  deadLetters(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.#requireRunning();
    return this.#local.deadLetters(options.limit ?? 100);
  }

  /** Ships what is pending for up to drainMs, then stops; the rest stays in the file. */
  async close(drainMs: number): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'draining';
    this.#drainUntil = performance.now() + drainMs;
    this.#wake?.();
    const deadline = delay(drainMs + 1000);
    await Promise.race([this.#loop, deadline]);
    this.#state = 'stopped';
    this.#wake?.();
    // A batch still waiting on an unresponsive target is cut off: it stays in the outbox.
    await this.#target?.close();
    await this.#loop;
    for (const wake of this.#admissionWaiters.splice(0)) wake();
    for (const waiter of this.#flushWaiters.splice(0)) {
      waiter.reject(
        new SluiceError(
          'CLOSED',
          'The database closed before the sync flush finished; what was not shipped stays in the file for the next start.',
        ),
      );
    }
  }

  #requireRunning(): void {
    if (this.#state !== 'running') throw new SluiceError('CLOSED', 'The database is closed. Open it again to use sync.');
  }

  /**
   * Creates the node row and the target's tables now (db.migrate() calls it). A target that cannot
   * be reached is not an error: status says why, and the shipper keeps trying.
   */
  async prepare(): Promise<void> {
    await this.#serial(async () => {
      try {
        await this.#initNode();
        if (this.#nodeId !== undefined) await this.#connect();
        this.#attempt = 0;
      } catch (error) {
        this.#failedAttempt(error);
      }
    });
  }

  #chain: Promise<unknown> = Promise.resolve();

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  async #run(): Promise<void> {
    while (this.#state !== 'stopped') {
      const waitMs = await this.#serial(() => this.#iteration());
      if (this.#state === 'draining' && (this.#pendingEstimate() === 0 || performance.now() >= this.#drainUntil || !this.#targetUp)) break;
      await this.#sleep(this.#state === 'draining' ? Math.min(waitMs, 50) : waitMs);
    }
  }

  async #iteration(): Promise<number> {
    let waitMs = IDLE_POLL_MS;
    try {
      if (this.#nodeId === undefined) await this.#initNode();
      if (this.#nodeId !== undefined) {
        await this.#refresh();
        if (this.#shouldShip()) {
          await this.#shipWhileTriggered();
          this.#attempt = 0;
        } else if (!this.#targetUp && this.#target === undefined) {
          // Degraded since open: keep trying to reach the target so status tells the truth.
          await this.#connect();
          this.#attempt = 0;
        }
      } else {
        waitMs = 500;
      }
    } catch (error) {
      waitMs = this.#failedAttempt(error);
    }
    return waitMs;
  }

  #failedAttempt(error: unknown): number {
    this.#failed++;
    const message = error instanceof Error ? error.message : String(error);
    this.#lastError = message;
    const locked = error instanceof ShipperLockedError;
    const sluice = SluiceError.is(error) && error.code !== 'UNAVAILABLE';
    this.#metrics.failures.inc({ reason: locked ? 'locked' : sluice ? 'local' : 'target' });
    if (locked) this.#targetUp = true;
    else if (!sluice) {
      this.#targetUp = false;
      void this.#target?.close();
    }
    // A connection that was fine until now may simply have died while idle (the target restarted,
    // a proxy dropped it): one immediate attempt on a fresh connection decides before a flush() is
    // told the target is gone.
    if (!locked && !sluice && this.#attempt === 0) {
      this.#attempt++;
      return 0;
    }
    for (const waiter of this.#flushWaiters.splice(0)) {
      waiter.reject(
        new SluiceError('UNAVAILABLE', `Sync flush stopped: ${message}. The changes stay in the outbox and ship once the target answers.`, {
          cause: error,
        }),
      );
    }
    return backoffMs(this.#attempt++, { initialMs: this.#options.backoffInitialMs, maxMs: this.#options.backoffMaxMs });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  async #initNode(): Promise<void> {
    let row: { nodeId: string; ackedSeq: number } | undefined;
    try {
      row = await this.#parts.node.get(1);
    } catch (error) {
      // The sync tables appear with migrate(); until then there is nothing to ship.
      if (SluiceError.is(error) && /no such table/i.test(error.message)) return;
      throw error;
    }
    if (!row) {
      try {
        row = await this.#parts.node.insert({ id: 1, nodeId: crypto.randomUUID(), ackedSeq: 0, createdAt: new Date() });
      } catch (error) {
        // Another process sharing the file created it first.
        if (!(SluiceError.is(error) && error.code === 'CONSTRAINT')) throw error;
        row = await this.#parts.node.get(1);
        if (!row) throw error;
      }
    }
    this.#dead = new Set(await this.#local.deadSeqs());
    this.#nodeId = row.nodeId;
    this.#mark = Math.max(this.#mark, row.ackedSeq);
  }

  async #refresh(): Promise<void> {
    if (this.#nodeId === undefined) return;
    this.#capturedSince = 0;
    this.#figures = await this.#local.figures(this.#mark);
    this.#settleWaiters();
  }

  #shouldShip(): boolean {
    const f = this.#figures;
    if (f.oldestSeq === undefined) return false;
    if (this.#state === 'draining' || this.#flushWaiters.length > 0) return true;
    if (this.#pendingEstimate() >= this.#options.batchSize) return true;
    return f.oldestAt !== undefined && Date.now() - f.oldestAt >= this.#options.intervalMs;
  }

  async #connect(): Promise<SyncTarget> {
    const nodeId = this.#nodeId as string;
    if (this.#target?.connected) return this.#target;
    this.#target ??= new SyncTarget({
      url: this.#options.target,
      schema: this.#options.schema,
      flavor: this.#options.flavor,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      nodeId,
      tables: this.#synced,
    });
    const mark = await this.#target.connect();
    this.#targetUp = true;
    this.#lastError = undefined;
    await this.#acknowledge(mark);
    return this.#target;
  }

  /** Takes the target's mark as the truth and lets go of every outbox row below it. */
  async #acknowledge(mark: number): Promise<void> {
    if (mark < this.#mark) {
      this.#lastError = `The target's mark for node ${this.#nodeId} (${mark}) is behind this file's (${this.#mark}): the target lost acknowledged changes (restored from a backup?). Shipping continues from ${mark}.`;
      this.#parts.onError(new SluiceError('UNAVAILABLE', this.#lastError));
    }
    this.#mark = mark;
    await this.#cleanup;
    await this.#trim(mark);
  }

  async #shipWhileTriggered(): Promise<void> {
    const target = await this.#connect();
    await this.#refresh();
    try {
      let batch = await this.#local.batch(this.#mark, this.#options.batchSize);
      while (batch && this.#state !== 'stopped' && this.#shouldShip()) {
        if (this.#state === 'draining' && performance.now() >= this.#drainUntil) return;
        const started = performance.now();
        this.#syncing = true;
        let next: Promise<Awaited<ReturnType<LocalOutbox['batch']>>> | undefined;
        try {
          const applying = target.apply({ after: this.#mark, last: batch.last, items: batch.items });
          // Read the next batch while the target works. Reading later than this batch did, it
          // holds each key's state at least as new, so it may follow this one whatever it becomes.
          next = this.#local.batch(batch.last, this.#options.batchSize);
          next.catch(() => {});
          const result = await applying;
          if (result.kind === 'moved') {
            next = undefined;
            await this.#acknowledge(result.mark);
          } else if (result.kind === 'refused') {
            next = undefined;
            this.#failed++;
            this.#metrics.failures.inc({ reason: 'refused' });
            await this.#deadLetter(result.refused);
          } else {
            this.#acknowledgeLater(batch.last);
            const ms = performance.now() - started;
            this.#shipped += batch.rows;
            this.#metrics.shipped.inc(batch.rows);
            this.#metrics.batch.observe(ms / 1000);
            this.#lastBatch = { size: batch.rows, ms: Math.round(ms * 10) / 10 };
          }
        } finally {
          this.#syncing = false;
        }
        await this.#refresh();
        batch = await (next ?? this.#local.batch(this.#mark, this.#options.batchSize));
      }
    } finally {
      await this.#cleanup;
    }
  }

  #cleanup: Promise<void> = Promise.resolve();

  /**
   * The target has the batch: the mark moves now, and the local bookkeeping (the node row, the
   * outbox rows below the mark) follows in the background, in order. Losing it to a crash is
   * harmless: the next start reads the mark from the target and trims again.
   */
  #acknowledgeLater(mark: number): void {
    this.#mark = mark;
    this.#cleanup = this.#cleanup.then(() => this.#trim(mark)).catch(this.#parts.onError);
  }

  async #trim(mark: number): Promise<void> {
    await this.#parts.node.update(1, { ackedSeq: mark });
    // The row at the mark stays: SQLite numbers new rows after the largest one.
    await this.#parts.outbox.deleteWhere({ seq: { $lt: mark }, error: { $null: true } }, { batchSize: 20_000 });
  }

  async #deadLetter(refused: readonly { item: ShipItem; error: string }[]): Promise<void> {
    const failedAt = Date.now();
    const updates: Promise<unknown>[] = [];
    for (const { item, error } of refused) {
      for (const seq of item.seqs) updates.push(this.#parts.outbox.update(seq, { error: error.slice(0, 2000), failedAt }));
    }
    await Promise.all(updates);
    for (const { item } of refused) for (const seq of item.seqs) this.#dead.add(seq);
    this.#lastError = `The target refused ${refused.length} row(s); they are dead letters (db.sync.deadLetters()). First: ${refused[0]?.error}`;
  }

  #settleWaiters(): void {
    const pending = this.#pendingEstimate();
    if (pending < this.#options.maxPending && this.#admissionWaiters.length > 0) {
      for (const wake of this.#admissionWaiters.splice(0)) wake();
    }
    if (this.#flushWaiters.length === 0) return;
    const oldest = this.#figures.oldestSeq;
    const waiting = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiting) {
      if (oldest === undefined || oldest > waiter.upTo) {
        waiter.onProgress?.(waiter.upTo - waiter.from, waiter.upTo - waiter.from);
        waiter.resolve();
      } else {
        waiter.onProgress?.(Math.max(0, this.#mark - waiter.from), waiter.upTo - waiter.from);
        this.#flushWaiters.push(waiter);
      }
    }
  }
}
