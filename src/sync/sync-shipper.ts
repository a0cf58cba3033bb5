import type { Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import { delay } from '../core/backoff.js';
import type { LogCoalescer } from '../core/logger.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect, OffThreadReader } from '../dialect/dialect.js';
import type { PostgresSyncTarget } from '../dialect/postgres/postgres-sync-target.js';
import type { CaptureWrites, WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { RowCodec } from '../schema/row-codec.js';
import { requeueDeadLetters } from './dead-letters.js';
import { answerFailure } from './failed-attempt.js';
import { FlushWaiters } from './flush-waiters.js';
import { LocalOutbox } from './local-outbox.js';
import { NodeIdentity } from './node-identity.js';
import type { NodeRecord } from './node-lineage.js';
import { outboxCapture } from './outbox-writes.js';
import { ResyncPager } from './resync.js';
import { ShipRound } from './ship-round.js';
import { type ShipTrigger, shipTrigger } from './ship-trigger.js';
import { SyncAdmission } from './sync-admission.js';
import type { DeadLetter, FlushResult, SyncApi, SyncStatus } from './sync-api.js';
import { SyncFigures } from './sync-figures.js';
import { SyncLog } from './sync-log.js';
import { registerSyncMetrics, type ShipperMetrics } from './sync-metrics.js';
import { type SyncNode, syncNodes } from './sync-nodes.js';
import type { SyncOptions } from './sync-options.js';
import { syncNodeTable, syncOutboxTable } from './sync-tables.js';
import { TargetLink } from './target-link.js';

export type { DeadLetter, FlushResult, SyncApi, SyncStatus, TargetState } from './sync-api.js';

export interface ShipperParts {
  readonly options: SyncOptions & { target: string };
  /** Every table passed to open(); the synced ones ship. */
  readonly tables: readonly AnyTableDef[];
  readonly dialect: Pick<Dialect, 'selectAll' | 'adapter' | 'offThreadReader'>;
  readonly gate: WriteGate;
  readonly outbox: Table<typeof syncOutboxTable>;
  readonly node: Table<typeof syncNodeTable>;
  readonly registry: Registry;
  readonly onError: (error: unknown) => void;
  /** The database's log; batches fold per `foldMs`, row values appear only with `logValues`. */
  readonly log: { readonly to: LogCoalescer; readonly foldMs: number; readonly values: boolean };
  /** The application's own onError, also told of a fork (a notice, logged at warn, not a failure). */
  readonly notify: ((error: unknown) => void) | undefined;
}

const IDLE_POLL_MS = 200;

/**
 * The one owner of shipping for a Database: it watches the outbox, runs a shipping round when a
 * trigger fires (count, age, flush, drain, a resync), and keeps the figures. Its `capture` is
 * the gate's extra writes (the outbox rows), its `admission` the gate's bound on synced tables.
 */
export class SyncShipper implements SyncApi {
  readonly #parts: ShipperParts;
  readonly #options: SyncOptions & { target: string };
  readonly #synced: readonly AnyTableDef[];
  readonly #local: LocalOutbox;
  readonly #reader: OffThreadReader | undefined;
  readonly #outboxCodec: RowCodec;
  readonly #identity: NodeIdentity;
  readonly #figures = new SyncFigures();
  readonly #metrics: ShipperMetrics;
  readonly #log: SyncLog;
  readonly #round: ShipRound;
  readonly #flushes = new FlushWaiters();
  readonly capture: CaptureWrites;
  readonly admission: SyncAdmission;
  readonly #link: TargetLink;
  #state: 'running' | 'draining' | 'stopped' = 'running';
  #attempt = 0;
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
    // The outbox's reads build whole batches (COPY text of thousands of rows): off the writers' event loop where the dialect can.
    this.#reader = parts.dialect.offThreadReader?.();
    this.#local = new LocalOutbox(this.#reader ?? parts.dialect, this.#synced, syncNodeTable);
    this.#outboxCodec = new RowCodec(syncOutboxTable, parts.dialect.adapter.codec);
    this.#identity = new NodeIdentity(parts.node, this.#local.sql);
    this.#link = new TargetLink(this.#options, this.#synced);
    this.capture = outboxCapture(this.#synced, this.#outboxCodec, (rows) => this.#onCaptured(rows));
    this.admission = new SyncAdmission(this.#options.maxPending, this.#figures, () => this.#state === 'stopped');
    this.#metrics = registerSyncMetrics(parts.registry, () => this.status());
    this.#log = new SyncLog(parts.log.to, { foldMs: parts.log.foldMs, values: parts.log.values });
    this.#figures.onTarget = (to, lastError) => this.#log.target(to, lastError);
    this.#round = new ShipRound({
      options: this.#options,
      figures: this.#figures,
      identity: this.#identity,
      local: this.#local,
      resync: new ResyncPager(this.#synced, this.#local.sql),
      gate: parts.gate,
      outbox: parts.outbox,
      outboxCodec: this.#outboxCodec,
      metrics: this.#metrics,
      log: this.#log,
      report: (error) => parts.onError(error),
      notify: (error) => parts.notify?.(error),
      refresh: () => this.#refresh(),
      see: (row) => this.#see(row),
      dropTarget: () => this.#link.drop(),
      trigger: () => this.#trigger(),
      mustStop: () => this.#state === 'stopped' || (this.#state === 'draining' && performance.now() >= this.#drainUntil),
      resyncDone: () => this.#flushes.raise(this.#figures.local.maxSeq + this.#figures.capturedSince),
    });
  }

  start(): void {
    this.#loop ??= this.#run().catch(this.#parts.onError);
  }

  status(): SyncStatus {
    return this.#figures.status(this.#identity);
  }

  #onCaptured(rows: number): void {
    this.#figures.capturedSince += rows;
    // A failing target is left to its backoff; new rows alone do not hurry the next attempt.
    if (this.#attempt === 0 && this.#figures.pending() >= this.#options.batchSize) this.#wake?.();
  }

  async flush(options: { onProgress?: (shipped: number, total: number) => void } = {}): Promise<FlushResult> {
    this.#requireRunning();
    await this.#parts.gate.flush();
    // Right after open the loop may not have read the node row yet; without it the figures are
    // empty and the flush would find nothing to wait for.
    if (this.#identity.nodeId === undefined) {
      await this.#serial(async () => {
        if (this.#identity.nodeId === undefined) await this.#initNode();
      });
    }
    await this.#refresh();
    const shippedBefore = this.#figures.shipped;
    let upTo = this.#figures.local.maxSeq;
    if (!this.#covers(upTo)) {
      const waiting = this.#flushes.wait(upTo, this.#figures.mark, options.onProgress);
      this.#wake?.();
      upTo = await waiting;
    }
    return { shipped: this.#figures.shipped - shippedBefore, deadLettered: this.#figures.deadUpTo(upTo) };
  }

  /** Everything up to `upTo` shipped (or set aside as a dead letter), and no resync still due. */
  #covers(upTo: number): boolean {
    const oldest = this.#figures.local.oldestSeq;
    return (oldest === undefined || oldest > upTo) && this.#identity.resync === undefined;
  }

  async retry(): Promise<number> {
    this.#requireRunning();
    const moved = await requeueDeadLetters(this.#parts.outbox, this.#parts.gate, this.#outboxCodec, this.#figures.dead);
    this.#figures.capturedSince += moved;
    await this.#refresh();
    this.#wake?.();
    return moved;
  }

  nodes(): Promise<SyncNode[]> {
    const { target, schema, connectTimeoutMs } = this.#options;
    return syncNodes({ url: target, schema, connectTimeoutMs });
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
    await this.#link.drop();
    await this.#loop;
    this.admission.wake(true);
    this.#flushes.rejectAll(
      new SluiceError(
        'CLOSED',
        'The database closed before the sync flush finished; what was not shipped stays in the file for the next start.',
      ),
    );
    this.#log.flush();
    await this.#reader?.close();
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
      if (this.#trigger() !== undefined || this.#unchecked) {
        const again = await this.#round.run(await this.#connect());
        this.#unchecked = false;
        this.#attempt = 0;
        return again ? 0 : IDLE_POLL_MS;
      }
      if (this.#figures.target !== 'up' && !this.#link.held) {
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
    if (answer.target !== undefined && answer.target !== 'up') void this.#link.drop();
    if (answer.flushError) this.#flushes.rejectAll(answer.flushError);
    return answer.waitMs;
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
    this.admission.wake();
    this.#flushes.settle((upTo) => this.#covers(upTo), this.#figures.mark);
  }

  /** Takes the file's node row as the truth; true when another process forked the file meanwhile. */
  async #see(row: NodeRecord): Promise<boolean> {
    if (!this.#identity.adopt(row)) {
      this.#figures.mark = Math.max(this.#figures.mark, row.ackedSeq);
      return false;
    }
    this.#figures.mark = row.ackedSeq;
    await this.#link.drop();
    return true;
  }

  #trigger(): ShipTrigger | undefined {
    return shipTrigger({
      resyncing: this.#identity.resync !== undefined,
      draining: this.#state === 'draining',
      flushing: this.#flushes.size > 0,
      local: this.#figures.local,
      pending: this.#figures.pending(),
      options: this.#options,
    });
  }

  async #connect(): Promise<PostgresSyncTarget> {
    const { target, fresh } = await this.#link.connect(this.#identity.nodeId as string);
    if (fresh) {
      this.#unchecked = true;
      this.#figures.target = 'up';
      this.#figures.lastError = undefined;
    }
    return target;
  }
}
