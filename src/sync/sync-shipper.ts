import type { Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import { delay } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect, ExtraWrites } from '../dialect/dialect.js';
import type { WriteAdmission, WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { RowCodec } from '../schema/row-codec.js';
import { answerFailure } from './failed-attempt.js';
import { LocalOutbox } from './local-outbox.js';
import { NodeIdentity } from './node-identity.js';
import type { NodeRecord } from './node-lineage.js';
import { ResyncPager } from './resync.js';
import { ShipRound } from './ship-round.js';
import { outboxCapture } from './sync-capture.js';
import type { SyncOptions } from './sync-options.js';
import { type DeadLetter, type FlushResult, registerSyncMetrics, type SyncApi, SyncFigures, type SyncStatus } from './sync-status.js';
import { type syncNodeTable, syncOutboxTable } from './sync-tables.js';
import { SyncTarget } from './sync-target.js';

export type { DeadLetter, FlushResult, SyncApi, SyncStatus, TargetState } from './sync-status.js';

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
  /** Raised when a resync finishes, to cover the rows it queued. */
  upTo: number;
  readonly resolve: () => void;
  readonly reject: (error: SluiceError) => void;
  readonly onProgress: ((shipped: number, total: number) => void) | undefined;
  readonly from: number;
}

const IDLE_POLL_MS = 200;

/**
 * The one owner of shipping for a Database: it watches the outbox, runs a shipping round when a
 * trigger fires (count, age, flush, drain, a resync), and keeps the figures. It is also the
 * gate's admission for writes to synced tables (sync.maxPending).
 */
export class SyncShipper implements SyncApi, WriteAdmission {
  readonly #parts: ShipperParts;
  readonly #options: SyncOptions & { target: string };
  readonly #synced: readonly AnyTableDef[];
  readonly #local: LocalOutbox;
  readonly #outboxCodec: RowCodec;
  readonly #identity: NodeIdentity;
  readonly #figures = new SyncFigures();
  readonly #metrics;
  readonly #round: ShipRound;
  readonly capture: ExtraWrites;
  #target: SyncTarget | undefined;
  #state: 'running' | 'draining' | 'stopped' = 'running';
  #attempt = 0;
  #flushWaiters: FlushWaiter[] = [];
  #admissionWaiters: (() => void)[] = [];
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #drainUntil = 0;
  /**
   * A new connection has not yet checked that the target's record of this node is this file's:
   * the next iteration runs a round even with nothing to ship, so a copy finds out (and forks,
   * and resyncs) at start, not at its first write.
   */
  #unchecked = false;

  constructor(parts: ShipperParts) {
    this.#parts = parts;
    this.#options = parts.options;
    this.#synced = parts.tables.filter((t) => t.sync !== undefined);
    this.#local = new LocalOutbox(parts.dialect, this.#synced);
    this.#outboxCodec = new RowCodec(syncOutboxTable, parts.dialect.codec);
    this.#identity = new NodeIdentity(parts.node, parts.dialect);
    this.capture = outboxCapture(this.#synced, parts.dialect.codec, (rows) => this.#onCaptured(rows));
    this.#metrics = registerSyncMetrics(parts.registry, () => this.status());
    this.#round = new ShipRound({
      options: this.#options,
      figures: this.#figures,
      identity: this.#identity,
      local: this.#local,
      resync: new ResyncPager(this.#synced, parts.dialect),
      gate: parts.gate,
      outbox: parts.outbox,
      outboxCodec: this.#outboxCodec,
      metrics: this.#metrics,
      report: (error) => parts.onError(error),
      refresh: () => this.#refresh(),
      see: (row) => this.#see(row),
      dropTarget: () => this.#dropTarget(),
      shouldShip: () => this.#shouldShip(),
      mustStop: () => this.#state === 'stopped' || (this.#state === 'draining' && performance.now() >= this.#drainUntil),
      resyncDone: () => {
        const upTo = this.#figures.local.maxSeq + this.#figures.capturedSince;
        for (const waiter of this.#flushWaiters) waiter.upTo = Math.max(waiter.upTo, upTo);
      },
    });
  }

  start(): void {
    this.#loop ??= this.#run().catch(this.#parts.onError);
  }

  status(): SyncStatus {
    return this.#figures.status(this.#identity);
  }

  /** WriteAdmission: how many more writes to `table` may queue before its outbox passes maxPending. */
  room(table: AnyTableDef, inFlight: number): number | undefined {
    if (table.sync === undefined || this.#state === 'stopped') return undefined;
    return this.#options.maxPending - this.#figures.pending() - inFlight;
  }

  whenRoom(): Promise<void> {
    return new Promise((resolve) => this.#admissionWaiters.push(resolve));
  }

  describe(table: AnyTableDef): string {
    return `sync.maxPending (${this.#options.maxPending}) is reached: ${this.#figures.pending()} changes of the synced tables (${table.name} is one) wait to ship, target ${this.#figures.target}`;
  }

  #onCaptured(rows: number): void {
    this.#figures.capturedSince += rows;
    // A failing target is left to its backoff; new rows alone do not hurry the next attempt.
    if (this.#attempt === 0 && this.#figures.pending() >= this.#options.batchSize) this.#wake?.();
  }

  async flush(options: { onProgress?: (shipped: number, total: number) => void } = {}): Promise<FlushResult> {
    this.#requireRunning();
    await this.#parts.gate.flush();
    await this.#refresh();
    const shippedBefore = this.#figures.shipped;
    const waiter = { upTo: this.#figures.local.maxSeq, onProgress: options.onProgress, from: this.#figures.mark };
    if (!this.#covers(waiter.upTo)) {
      await new Promise<void>((resolve, reject) => {
        this.#flushWaiters.push(Object.assign(waiter, { resolve, reject }));
        this.#wake?.();
      });
    }
    return { shipped: this.#figures.shipped - shippedBefore, deadLettered: this.#figures.deadUpTo(waiter.upTo) };
  }

  /** Everything up to `upTo` shipped (or set aside as a dead letter), and no resync still due. */
  #covers(upTo: number): boolean {
    const oldest = this.#figures.local.oldestSeq;
    return (oldest === undefined || oldest > upTo) && this.#identity.resync === undefined;
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
      for (const d of dead) this.#figures.dead.delete(d.seq);
      moved += dead.length;
    }
    this.#figures.capturedSince += moved;
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
    await Promise.race([this.#loop, delay(drainMs + 1000)]);
    this.#state = 'stopped';
    this.#wake?.();
    // A batch still waiting on an unresponsive target is cut off: it stays in the outbox.
    await this.#target?.close();
    await this.#loop;
    for (const wake of this.#admissionWaiters.splice(0)) wake();
    this.#rejectFlushes(
      new SluiceError(
        'CLOSED',
        'The database closed before the sync flush finished; what was not shipped stays in the file for the next start.',
      ),
    );
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
        if (await this.#initNode()) await this.#connect();
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
      const over = this.#figures.pending() === 0 || performance.now() >= this.#drainUntil || this.#figures.target !== 'up';
      if (this.#state === 'draining' && over) break;
      await this.#sleep(this.#state === 'draining' ? Math.min(waitMs, 50) : waitMs);
    }
  }

  async #iteration(): Promise<number> {
    try {
      if (this.#identity.nodeId === undefined && !(await this.#initNode())) return 500;
      await this.#refresh();
      if (this.#shouldShip() || this.#unchecked) {
        const again = await this.#round.run(await this.#connect());
        this.#unchecked = false;
        this.#attempt = 0;
        return again ? 0 : IDLE_POLL_MS;
      }
      if (this.#figures.target !== 'up' && this.#target === undefined) {
        // Degraded since open: keep trying to reach the target so status tells the truth.
        await this.#connect();
        this.#attempt = 0;
      }
      return IDLE_POLL_MS;
    } catch (error) {
      return this.#failedAttempt(error);
    }
  }

  #failedAttempt(error: unknown): number {
    const answer = answerFailure(error, this.#attempt++, this.#options);
    const figures = this.#figures;
    figures.failed++;
    this.#metrics.failures.inc({ reason: answer.reason });
    if (answer.message !== undefined) figures.lastError = answer.message;
    if (answer.target !== undefined) figures.target = answer.target;
    // The connection goes with a target failure: the next attempt starts on a fresh one.
    if (answer.target !== undefined && answer.target !== 'up') void this.#dropTarget();
    if (answer.flushError) this.#rejectFlushes(answer.flushError);
    return answer.waitMs;
  }

  #rejectFlushes(error: SluiceError): void {
    for (const waiter of this.#flushWaiters.splice(0)) waiter.reject(error);
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

  /** Reads (or creates) the node row; false until migrate() has created the sync tables. */
  async #initNode(): Promise<boolean> {
    const row = await this.#identity.load();
    if (!row) return false;
    this.#identity.adopt(row);
    this.#figures.mark = row.ackedSeq;
    this.#figures.dead.clear();
    for (const seq of await this.#local.deadSeqs()) this.#figures.dead.add(seq);
    return true;
  }

  /** Rereads the node row and the outbox figures, and settles what they decide. */
  async #refresh(): Promise<void> {
    if (this.#identity.nodeId === undefined) return;
    const row = await this.#identity.read();
    if (row) await this.#see(row);
    this.#figures.capturedSince = 0;
    this.#figures.local = await this.#local.figures(this.#figures.mark);
    this.#settleWaiters();
  }

  /** Takes the file's node row as the truth; true when another process forked the file meanwhile. */
  async #see(row: NodeRecord): Promise<boolean> {
    if (!this.#identity.adopt(row)) {
      this.#figures.mark = Math.max(this.#figures.mark, row.ackedSeq);
      return false;
    }
    this.#figures.mark = row.ackedSeq;
    await this.#dropTarget();
    return true;
  }

  /** Lets the connection (and with it the node's lock) go; the next round connects afresh. */
  async #dropTarget(): Promise<void> {
    const target = this.#target;
    this.#target = undefined;
    await target?.close();
  }

  #shouldShip(): boolean {
    if (this.#identity.resync !== undefined) return true;
    const f = this.#figures.local;
    if (f.oldestSeq === undefined) return false;
    if (this.#state === 'draining' || this.#flushWaiters.length > 0) return true;
    if (this.#figures.pending() >= this.#options.batchSize) return true;
    return f.oldestAt !== undefined && Date.now() - f.oldestAt >= this.#options.intervalMs;
  }

  async #connect(): Promise<SyncTarget> {
    const nodeId = this.#identity.nodeId as string;
    if (this.#target && this.#target.nodeId !== nodeId) await this.#dropTarget();
    if (this.#target?.connected) return this.#target;
    this.#target ??= new SyncTarget({
      url: this.#options.target,
      schema: this.#options.schema,
      flavor: this.#options.flavor,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      statementTimeoutMs: this.#options.statementTimeoutMs,
      nodeId,
      tables: this.#synced,
    });
    await this.#target.connect();
    this.#unchecked = true;
    this.#figures.target = 'up';
    this.#figures.lastError = undefined;
    return this.#target;
  }

  #settleWaiters(): void {
    if (this.#figures.pending() < this.#options.maxPending && this.#admissionWaiters.length > 0) {
      for (const wake of this.#admissionWaiters.splice(0)) wake();
    }
    if (this.#flushWaiters.length === 0) return;
    const waiting = this.#flushWaiters;
    this.#flushWaiters = [];
    const mark = this.#figures.mark;
    for (const waiter of waiting) {
      if (this.#covers(waiter.upTo)) {
        waiter.onProgress?.(waiter.upTo - waiter.from, waiter.upTo - waiter.from);
        waiter.resolve();
      } else {
        waiter.onProgress?.(Math.max(0, mark - waiter.from), waiter.upTo - waiter.from);
        this.#flushWaiters.push(waiter);
      }
    }
  }
}
