import { type BackoffOptions, backoffMs } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';
import { type Dialect, TransientError } from '../dialect/dialect.js';
import type { CommittedChange, Outcome, WriteCommand } from '../dialect/write-op.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { BatchSizer, type BatchSizerOptions } from './batch-sizer.js';
import { type CaptureWrites, ExtraWritesPort } from './extra-writes.js';
import { FlushEpochs } from './flush-epochs.js';
import { GateCounters } from './gate-counters.js';
import { checkSubmitOptions, closedError, DropReporter, gaveUpError, overloadedError, type SubmitOptions } from './gate-refusals.js';
import type { Lane, QueuedWrite } from './lanes.js';
import { OpQueue } from './op-queue.js';
import { PendingWrite } from './pending-write.js';
import type { WriteAdmission } from './write-admission.js';

export type { CaptureWrites, ExtraWrite } from './extra-writes.js';
export { type SubmitOptions, WRITE_OPTION_NAMES } from './gate-refusals.js';
export type { WriteAdmission } from './write-admission.js';

export interface WriteGateOptions {
  /** Writes allowed to wait in the queue; past it a write waits for room or is refused. */
  readonly maxQueue: number;
  readonly whenFull: 'wait' | 'reject';
  /** How long a write may wait for a lock held elsewhere before it fails with BUSY. */
  readonly deadlineMs: number;
  readonly backoff: BackoffOptions;
  readonly batch: BatchSizerOptions;
}

export type CommitListener = (changes: readonly CommittedChange[]) => void;

/**
 * Every write passes here. Writes queue by lane; the gate drains them into one short transaction
 * per batch and settles each caller's promise only after COMMIT. A lock held by another process
 * rolls the batch back and retries it after a jittered backoff, on a timer, so the event loop
 * never blocks on a lock.
 */
export class WriteGate {
  readonly #dialect: Dialect;
  /** Plain counters the metrics layer reads; bumped here with no indirection. */
  readonly counters = new GateCounters();
  readonly #options: WriteGateOptions;
  readonly #queue = new OpQueue();
  readonly #sizer: BatchSizer;
  readonly #listeners: CommitListener[] = [];
  readonly #onListenerError: (error: unknown) => void;
  readonly #extraWrites = new ExtraWritesPort();
  #admission: WriteAdmission | undefined;
  /** Writes the admission let through that have not settled. */
  #admitted = 0;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #scheduled = false;
  #running = false;
  #paused = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #busySince: number | undefined;
  #spaceWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  readonly #epochs = new FlushEpochs();
  readonly #drops = new DropReporter();
  readonly #drainNow = () => void this.#drain();
  readonly #settled = (op: PendingWrite, outcome: Outcome, now: number) => this.#onSettled(op, outcome, now);

  constructor(dialect: Dialect, options: WriteGateOptions, onListenerError: (error: unknown) => void) {
    this.#dialect = dialect;
    this.#options = options;
    this.#sizer = new BatchSizer(options.batch);
    this.#onListenerError = onListenerError;
  }

  /** Called after each COMMIT with the keys it changed, before any caller's promise settles. */
  onCommit(listener: CommitListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /**
   * Adds a contributor of writes that commit in each batch's own transaction (an outbox); any
   * number may contribute, each sees the batch's changes. Returns the removal.
   */
  addExtraWrites(capture: CaptureWrites): () => void {
    return this.#extraWrites.add(capture);
  }

  /** The one admission every write passes before it queues (undefined: none). */
  setAdmission(admission: WriteAdmission | undefined): void {
    this.#admission = admission;
  }

  /** Writes waiting, in one lane or in all. */
  depth(lane?: Lane): number {
    return this.#queue.depth(lane);
  }

  /** The adaptive batch size now in force. */
  get batchLimit(): number {
    return this.#sizer.limit;
  }

  get state(): 'open' | 'closing' | 'closed' {
    return this.#state;
  }

  /** How many more writes the queue takes before it is full (enqueue drops past it; submit waits or rejects). */
  get room(): number {
    return Math.max(0, this.#options.maxQueue - this.#queue.size);
  }

  /** How many more writes to `table` go through now: the queue's room, and the admission's for that table. */
  roomFor(table: AnyTableDef): number {
    const admitted = this.#admission?.room(table, this.#admitted);
    return admitted === undefined ? this.room : Math.max(0, Math.min(this.room, admitted));
  }

  submit(codec: RowCodec, command: WriteCommand, options: SubmitOptions = {}): Promise<unknown> {
    if (this.#state !== 'open') return Promise.reject(closedError(codec.table.name));
    const invalid = checkSubmitOptions(codec.table.name, options);
    if (invalid) return Promise.reject(invalid);
    const admission = this.#admission;
    const room = admission?.room(codec.table, this.#admitted);
    if (admission && room !== undefined && room <= 0) {
      return admission.whenRoom().then(() => this.submit(codec, command, options));
    }
    if (this.#queue.size >= this.#options.maxQueue) {
      if (this.#options.whenFull === 'reject') {
        this.counters.overloaded++;
        return Promise.reject(overloadedError(codec.table.name, this.#options.maxQueue));
      }
      return new Promise<void>((resolve) => this.#spaceWaiters.push(resolve)).then(() => this.submit(codec, command, options));
    }
    return new Promise((resolve, reject) => this.#push(codec, command, options, resolve, reject, room !== undefined));
  }

  /** The synchronous entry: never throws; a failure goes to `onError`. */
  enqueue(codec: RowCodec, command: WriteCommand, options: SubmitOptions, onError: (error: SluiceError) => void): void {
    const fail = (error: SluiceError) => {
      this.counters.enqueueFailures++;
      onError(error);
    };
    const invalid = checkSubmitOptions(codec.table.name, options);
    const room = this.#admission?.room(codec.table, this.#admitted);
    if (invalid) fail(invalid);
    else if (this.#state !== 'open') fail(closedError(codec.table.name));
    else if (room !== undefined && room <= 0) {
      this.#enqueueDropped(codec.table.name, this.#admission?.describe(codec.table) as string, onError);
    } else if (this.#queue.size >= this.#options.maxQueue) {
      this.#enqueueDropped(codec.table.name, `the write queue is full (${this.#options.maxQueue} waiting; raise gate.maxQueue)`, onError);
    } else {
      this.#push(codec, command, options, ignore, fail, room !== undefined);
    }
  }

  #enqueueDropped(table: string, why: string, onError: (error: SluiceError) => void): void {
    this.counters.enqueueFailures++;
    this.counters.overloaded++;
    this.#drops.drop(table, why, onError);
  }

  #push(
    codec: RowCodec,
    command: WriteCommand,
    options: SubmitOptions,
    resolve: (value: unknown) => void,
    reject: (error: SluiceError) => void,
    admitted: boolean,
  ): void {
    const now = performance.now();
    const op = new PendingWrite(
      codec,
      command,
      options.priority ?? 'normal',
      options.nonBlocking === true,
      now + (options.timeoutMs ?? this.#options.deadlineMs),
      now,
      resolve,
      reject,
      this.#settled,
    );
    if (admitted) {
      op.admitted = true;
      this.#admitted++;
    }
    // Queued first, counted second: a write that never entered the queue must not hold up flush().
    this.#queue.push(op);
    op.epoch = this.#epochs.joined();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#retryTimer || this.#paused > 0) return;
    this.#scheduled = true;
    setImmediate(this.#drainNow);
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    if (this.#running || this.#paused > 0 || this.#queue.size === 0) return;
    this.#running = true;
    const batch = this.#queue.take(this.#sizer.limit);
    const started = performance.now();
    try {
      const result = await this.#dialect.executeBatch(batch, this.#extraWrites.hook);
      const finished = performance.now();
      if (this.#busySince !== undefined) {
        this.counters.lockWaited(finished - this.#busySince);
        this.#busySince = undefined;
      }
      this.#attempt = 0;
      this.#sizer.observe(batch.length, finished - started);
      this.counters.batchCommitted(batch.length, finished - started);
      for (const listener of this.#listeners) {
        try {
          listener(result.changes);
        } catch (error) {
          this.#onListenerError(error);
        }
      }
      for (let i = 0; i < batch.length; i++) (batch[i] as QueuedWrite).settle(result.outcomes[i] as Outcome, finished);
    } catch (error) {
      this.#afterFailedBatch(batch, error, started);
    } finally {
      this.#running = false;
      this.#wakeSpaceWaiters();
      if (this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
      if (this.#queue.size > 0) this.#schedule();
    }
  }

  #afterFailedBatch(batch: QueuedWrite[], error: unknown, started: number): void {
    if (!(error instanceof TransientError)) {
      const failure = error instanceof SluiceError ? error : this.#dialect.classify(error);
      for (const op of batch) op.settle({ ok: false, error: failure });
      return;
    }
    this.counters.busyRetries++;
    this.#busySince ??= started;
    if (this.counters.observer) {
      const byTable = new Map<string, number>();
      for (const op of batch) byTable.set(op.codec.table.name, (byTable.get(op.codec.table.name) ?? 0) + 1);
      this.counters.observer.batchRetried(byTable, error.reason);
    }
    const now = performance.now();
    const retry: QueuedWrite[] = [];
    for (const op of batch) {
      if (op.nonBlocking || now >= op.deadline) {
        this.counters.busySurfaced++;
        op.settle({ ok: false, error: gaveUpError(op, error, now) });
      } else {
        retry.push(op);
      }
    }
    this.#queue.putBack(retry);
    const wait = backoffMs(this.#attempt++, this.#options.backoff);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#schedule();
    }, wait);
  }

  #onSettled(op: PendingWrite, outcome: Outcome, now: number): void {
    if (outcome.ok) this.counters.opsOk++;
    else this.counters.failed(outcome.error.code);
    const ms = now - op.enqueuedAt;
    this.counters.ackLatency.record(ms);
    if (op.admitted) this.#admitted--;
    this.counters.observer?.opSettled(op.codec.table.name, op.command.kind, op.lane, outcome.ok ? undefined : outcome.error.code, ms);
    this.#epochs.settled(op.epoch);
  }

  /** Wakes as many waiting writers as there is room for; each re-enters submit() in a microtask. */
  #wakeSpaceWaiters(): void {
    const room = this.#options.maxQueue - this.#queue.size;
    if (room <= 0 || this.#spaceWaiters.length === 0) return;
    for (const wake of this.#spaceWaiters.splice(0, room)) wake();
  }

  /** Resolves once every write submitted before the call has settled. */
  flush(): Promise<void> {
    return this.#epochs.flush();
  }

  /** Runs `fn` with no batch in flight and none starting until it ends (migrations, checkpoints). */
  async exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#paused++;
    try {
      while (this.#running) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      return await fn();
    } finally {
      this.#paused--;
      if (this.#queue.size > 0) this.#schedule();
    }
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    for (const wake of this.#spaceWaiters.splice(0)) wake();
    await this.flush();
    this.#state = 'closed';
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
  }
}

function ignore(): void {}
