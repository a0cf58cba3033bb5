import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import { LANES, type Lane } from './lanes.js';

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

const SUBMIT_OPTIONS = ['priority', 'nonBlocking', 'timeoutMs'];

/** The option names every write takes, for callers that check their own options strictly. */
export const WRITE_OPTION_NAMES: readonly string[] = SUBMIT_OPTIONS;

/** The gate's own options, checked before anything is queued; undefined when they are fine. */
export function checkSubmitOptions(table: string, options: SubmitOptions): SluiceError | undefined {
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

export function closedError(table: string): SluiceError {
  return new SluiceError('CLOSED', `The database is closed; the write to ${table} was not accepted. Open it again to write.`, { table });
}

export function overloadedError(table: string, maxQueue: number): SluiceError {
  return new SluiceError(
    'OVERLOADED',
    `The write queue is full (${maxQueue} writes waiting); the write to ${table} was refused and nothing was written. Slow the producer, raise maxQueue, or use whenFull: 'wait'.`,
    { table },
  );
}

/** A write that met a lock held elsewhere (or a lost server) and may wait no longer. */
export function gaveUpError(
  op: { readonly codec: { readonly table: { readonly name: string } }; readonly nonBlocking: boolean; readonly enqueuedAt: number },
  error: { readonly reason: 'busy' | 'unavailable'; readonly message: string; readonly cause?: unknown },
  now: number,
): SluiceError {
  const table = op.codec.table.name;
  const code = error.reason === 'busy' ? 'BUSY' : 'UNAVAILABLE';
  const waited = Math.round(now - op.enqueuedAt);
  const message = op.nonBlocking
    ? `Non-blocking write to ${table} refused: ${error.message}. Nothing was written; try again later.`
    : `Write to ${table} gave up after ${waited} ms: ${error.message}. Nothing was written; raise the deadline (deadlineMs / timeoutMs) or find the long writer with \`sluice doctor\`.`;
  return new SluiceError(code, message, { table, cause: error.cause });
}

/**
 * enqueue() cannot wait for room, so past a bound (the queue's, or the admission's) the write is
 * dropped. A producer flooding a full queue would otherwise get one error callback per dropped
 * write (900,000 of them held the loop for seconds): the first drop is reported at once, later
 * ones in one summary per second.
 */
export class DropReporter {
  #report: { count: number; table: string; why: string; onError: (error: SluiceError) => void } | undefined;

  drop(table: string, why: string, onError: (error: SluiceError) => void): void {
    if (this.#report) {
      this.#report.count++;
      return;
    }
    this.#report = { count: 0, table, why, onError };
    onError(dropError(table, why, 1));
    const timer = setTimeout(() => {
      const report = this.#report;
      this.#report = undefined;
      if (report && report.count > 0) report.onError(dropError(report.table, report.why, report.count));
    }, 1000);
    timer.unref();
  }
}

function dropError(table: string, why: string, count: number): SluiceError {
  const what = count === 1 ? 'A write' : `${count} more writes`;
  return new SluiceError(
    'OVERLOADED',
    `${what} queued with enqueue() to ${table} ${count === 1 ? 'was' : 'were'} dropped: ${why}, and enqueue() never waits, whatever whenFull says. Check db.writeRoom() before enqueueing (db.writeRoom(table) also counts sync.maxPending), slow the producer, or use the awaited insert()/update(), which wait for room.`,
    { table },
  );
}
