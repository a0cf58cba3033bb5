import { type BackoffOptions, backoffMs } from '../core/backoff.js';
import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import { type Dialect, type ExtraWrites, TransientError } from '../dialect/dialect.js';
import { type CommittedChange, LANES, type Lane, type Outcome, type WriteCommand, type WriteOp } from '../dialect/write-op.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { BatchSizer, type BatchSizerOptions } from './batch-sizer.js';
import { GateCounters } from './gate-counters.js';
import { OpQueue } from './op-queue.js';

export interface WriteGateOptions {
  /** Writes allowed to wait in the queue; past it a write waits for room or is refused. */
  readonly maxQueue: number;
  readonly whenFull: 'wait' | 'reject';
  /** How long a write may wait for a lock held elsewhere before it fails with BUSY. */
  readonly deadlineMs: number;
  readonly backoff: BackoffOptions;
  readonly batch: BatchSizerOptions;
}

export interface SubmitOptions {
  /**
   * The lane: a batch fills from 'high' first, then 'normal' (default), then 'low', so
   * diagnostics and maintenance at 'low' never delay application writes.
   */
  readonly priority?: Lane;
  /** Try once; if another connection holds the lock, reject with BUSY instead of waiting. Default false. */
  readonly nonBlocking?: boolean;
  /**
   * How long this write may wait for a lock held elsewhere before it rejects with BUSY (nothing
   * written), in milliseconds. Default: the database's `gate.deadlineMs` (30 s).
   */
  readonly timeoutMs?: number;
}

export type CommitListener = (changes: readonly CommittedChange[]) => void;

/**
 * A bound in front of the queue that some layer above sets (sync's `maxPending`: writes to synced
 * tables wait while the outbox is full). The gate consults it for every write, whichever path
 * brought it (submit, every table handle, enqueue), before the write is queued.
 */
export interface WriteAdmission {
  /**
   * How many more writes to `table` may be queued now, given `inFlight`: the writes this admission
   * let through that have not settled yet. Undefined when it does not limit this table.
   */
  room(table: AnyTableDef, inFlight: number): number | undefined;
  /** Resolves when room may have grown; a waiting write then asks again. */
  whenRoom(): Promise<void>;
  /** Why writes to `table` are held back, for enqueue()'s drop report. */
  describe(table: AnyTableDef): string;
}

class PendingWrite implements WriteOp {
  epoch = 0;
  /** Counted against the admission until it settles. */
  admitted = false;
  constructor(
    readonly codec: RowCodec,
    readonly command: WriteCommand,
    readonly lane: Lane,
    readonly nonBlocking: boolean,
    readonly deadline: number,
    readonly enqueuedAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: SluiceError) => void,
    readonly done: (op: PendingWrite, outcome: Outcome, now: number) => void,
  ) {}

  settle(outcome: Outcome, now?: number): void {
    this.done(this, outcome, now ?? performance.now());
    if (outcome.ok) this.resolve(outcome.value);
    else this.reject(outcome.error);
  }
}

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
  #extraWrites: ExtraWrites | undefined;
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
  #epoch = 0;
  #dropReport: { count: number; table: string; why: string } | undefined;
  /**
   * Unsettled writes of epochs that a flush() closed; those of the open epoch are only counted
   * (`#pendingNow`), so the hot path bumps a number instead of a Map entry.
   */
  readonly #pendingByEpoch = new Map<number, number>();
  #pendingNow = 0;
  #flushWaiters: { epoch: number; resolve: () => void }[] = [];
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

  /** Rows that must commit in the same transaction as each batch (an outbox). One hook at most. */
  setExtraWrites(hook: ExtraWrites | undefined): void {
    this.#extraWrites = hook;
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
      if (this.#options.whenFull === 'reject') return Promise.reject(this.#overloaded(codec.table.name));
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
      this.#push(codec, command, options, noop, fail, room !== undefined);
    }
  }

  /**
   * enqueue() cannot wait for room, so past a bound (the queue's, or the admission's) the write is
   * dropped. A producer flooding a full queue would otherwise get one error callback per dropped
   * write (900,000 of them held the loop for seconds): the first drop is reported at once, later
   * ones in one summary per second.
   */
  #enqueueDropped(table: string, why: string, onError: (error: SluiceError) => void): void {
    this.counters.enqueueFailures++;
    this.counters.overloaded++;
    if (this.#dropReport) {
      this.#dropReport.count++;
      return;
    }
    this.#dropReport = { count: 0, table, why };
    onError(dropError(table, why, 1));
    const timer = setTimeout(() => {
      const report = this.#dropReport;
      this.#dropReport = undefined;
      if (report && report.count > 0) onError(dropError(report.table, report.why, report.count));
    }, 1000);
    timer.unref();
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
    op.epoch = this.#epoch;
    if (admitted) {
      op.admitted = true;
      this.#admitted++;
    }
    // Queued first, counted second: a write that never entered the queue must not hold up flush().
    this.#queue.push(op);
    this.#pendingNow++;
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
      const result = await this.#dialect.executeBatch(batch, this.#extraWrites);
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
      for (let i = 0; i < batch.length; i++) (batch[i] as WriteOp).settle(result.outcomes[i] as Outcome, finished);
    } catch (error) {
      this.#afterFailedBatch(batch, error, started);
    } finally {
      this.#running = false;
      this.#wakeSpaceWaiters();
      if (this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
      if (this.#queue.size > 0) this.#schedule();
    }
  }

  #afterFailedBatch(batch: WriteOp[], error: unknown, started: number): void {
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
    const retry: WriteOp[] = [];
    for (const op of batch) {
      if (op.nonBlocking || now >= op.deadline) {
        this.counters.busySurfaced++;
        op.settle({ ok: false, error: this.#gaveUp(op, error, now) });
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

  #gaveUp(op: WriteOp, error: TransientError, now: number): SluiceError {
    const table = op.codec.table.name;
    const code = error.reason === 'busy' ? 'BUSY' : 'UNAVAILABLE';
    const waited = Math.round(now - op.enqueuedAt);
    const message = op.nonBlocking
      ? `Non-blocking write to ${table} refused: ${error.message}. Nothing was written; try again later.`
      : `Write to ${table} gave up after ${waited} ms: ${error.message}. Nothing was written; raise the deadline (deadlineMs / timeoutMs) or find the long writer with \`sluice doctor\`.`;
    return new SluiceError(code, message, { table, cause: error.cause });
  }

  #onSettled(op: PendingWrite, outcome: Outcome, now: number): void {
    if (outcome.ok) this.counters.opsOk++;
    else this.counters.failed(outcome.error.code);
    const ms = now - op.enqueuedAt;
    this.counters.ackLatency.record(ms);
    if (op.admitted) this.#admitted--;
    this.counters.observer?.opSettled(op.codec.table.name, op.command.kind, op.lane, outcome.ok ? undefined : outcome.error.code, ms);
    if (op.epoch === this.#epoch) {
      this.#pendingNow--;
      return;
    }
    const left = (this.#pendingByEpoch.get(op.epoch) ?? 1) - 1;
    if (left > 0) {
      this.#pendingByEpoch.set(op.epoch, left);
      return;
    }
    this.#pendingByEpoch.delete(op.epoch);
    if (this.#flushWaiters.length > 0) this.#wakeFlushWaiters();
  }

  #wakeFlushWaiters(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const epoch of this.#pendingByEpoch.keys()) oldest = Math.min(oldest, epoch);
    const waiting = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiting) {
      if (waiter.epoch < oldest) waiter.resolve();
      else this.#flushWaiters.push(waiter);
    }
  }

  /** Wakes as many waiting writers as there is room for; each re-enters submit() in a microtask. */
  #wakeSpaceWaiters(): void {
    const room = this.#options.maxQueue - this.#queue.size;
    if (room <= 0 || this.#spaceWaiters.length === 0) return;
    for (const wake of this.#spaceWaiters.splice(0, room)) wake();
  }

  #overloaded(table: string): SluiceError {
    this.counters.overloaded++;
    return new SluiceError(
      'OVERLOADED',
      `The write queue is full (${this.#options.maxQueue} writes waiting); the write to ${table} was refused and nothing was written. Slow the producer, raise maxQueue, or use whenFull: 'wait'.`,
      { table },
    );
  }

  /** Resolves once every write submitted before the call has settled. */
  flush(): Promise<void> {
    const epoch = this.#epoch++;
    if (this.#pendingNow > 0) {
      this.#pendingByEpoch.set(epoch, this.#pendingNow);
      this.#pendingNow = 0;
    }
    for (const pending of this.#pendingByEpoch.keys()) {
      if (pending <= epoch) return new Promise((resolve) => this.#flushWaiters.push({ epoch, resolve }));
    }
    return Promise.resolve();
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

function closedError(table: string): SluiceError {
  return new SluiceError('CLOSED', `The database is closed; the write to ${table} was not accepted. Open it again to write.`, { table });
}

function noop(): void {}

function dropError(table: string, why: string, count: number): SluiceError {
  const what = count === 1 ? 'A write' : `${count} more writes`;
  return new SluiceError(
    'OVERLOADED',
    `${what} queued with enqueue() to ${table} ${count === 1 ? 'was' : 'were'} dropped: ${why}, and enqueue() never waits, whatever whenFull says. Check db.writeRoom() before enqueueing (db.writeRoom(table) also counts sync.maxPending), slow the producer, or use the awaited insert()/update(), which wait for room.`,
    { table },
  );
}

const SUBMIT_OPTIONS = ['priority', 'nonBlocking', 'timeoutMs'];

/** The gate's own options, checked before anything is queued; undefined when they are fine. */
function checkSubmitOptions(table: string, options: SubmitOptions): SluiceError | undefined {
  const { priority, nonBlocking, timeoutMs } = options;
  if (priority !== undefined && !(LANES as readonly unknown[]).includes(priority)) {
    const hint = typeof priority === 'string' ? didYouMean(priority, LANES) : '';
    return new SluiceError(
      'VALIDATION',
      `A write to ${table} has priority ${describeValue(priority)}${hint} Use one of ${LANES.join(', ')}. Nothing was written.`,
      { table, value: priority },
    );
  }
  if (nonBlocking !== undefined && typeof nonBlocking !== 'boolean') {
    return new SluiceError('VALIDATION', `A write to ${table} has nonBlocking ${describeValue(nonBlocking)}; use true or false.`, {
      table,
      value: nonBlocking,
    });
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    return new SluiceError(
      'VALIDATION',
      `A write to ${table} has timeoutMs ${describeValue(timeoutMs)}; use a number of milliseconds >= 0. Nothing was written.`,
      { table, value: timeoutMs },
    );
  }
  return undefined;
}

/** The option names every write takes, for callers that check their own options strictly. */
export const WRITE_OPTION_NAMES: readonly string[] = SUBMIT_OPTIONS;
