import type { LogCoalescer } from '../core/logger.js';
import type { ShipTrigger } from './ship-trigger.js';
import type { TargetState } from './sync-api.js';

/** What the log may say about a refused row: the target's codes, never the row's values unless asked. */
export interface RefusalNote {
  readonly table: string;
  /** Outbox changes the refused key covers (what status().deadLetters counts). */
  readonly changes: number;
  readonly error: string;
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;
}

interface BatchFold {
  batches: number;
  rows: number;
  ms: number;
  readonly triggers: Partial<Record<ShipTrigger, number>>;
}

/**
 * The shipper's log events. A busy shipper ships many batches a second, so batches are folded:
 * the first batch of a quiet interval is logged at info at once (a node that ships now and then
 * logs every batch, with its trigger, as seed 001 did); the batches after it within the interval
 * are logged one by one at debug only, and summed in one info line when the interval ends.
 * Target state changes, forks and dead letters are rare and logged as they happen (repeats of one
 * kind folded by the coalescer).
 */
export class SyncLog {
  readonly #log: LogCoalescer;
  readonly #foldMs: number;
  readonly #values: boolean;
  #fold: BatchFold | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The state last told; undefined until the first, so a target down from the start is told too. */
  #target: TargetState | undefined;

  constructor(log: LogCoalescer, options: { foldMs: number; values: boolean }) {
    this.#log = log;
    this.#foldMs = options.foldMs;
    this.#values = options.values;
  }

  batch(trigger: ShipTrigger, rows: number, ms: number): void {
    const fields = { event: 'sync_batch', trigger, rows, ms: Math.round(ms * 10) / 10 };
    const message = `shipped ${rows} change(s) (${trigger}) in ${fields.ms} ms`;
    if (this.#timer === undefined) {
      this.#log.logger.info(fields, message);
      this.#timer = setTimeout(() => this.flush(), this.#foldMs);
      this.#timer.unref?.();
      return;
    }
    this.#log.logger.debug(fields, message);
    this.#fold ??= { batches: 0, rows: 0, ms: 0, triggers: {} };
    this.#fold.batches++;
    this.#fold.rows += rows;
    this.#fold.ms += ms;
    this.#fold.triggers[trigger] = (this.#fold.triggers[trigger] ?? 0) + 1;
  }

  /** Writes the interval's summary now (at its end, and at close). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const fold = this.#fold;
    this.#fold = undefined;
    if (!fold) return;
    this.#log.logger.info(
      {
        event: 'sync_batches',
        batches: fold.batches,
        rows: fold.rows,
        ms: Math.round(fold.ms),
        triggers: fold.triggers,
        intervalMs: this.#foldMs,
      },
      `shipped ${fold.rows} more change(s) in ${fold.batches} batch(es) within ${this.#foldMs / 1000} s`,
    );
  }

  /** Told on every look at the target; logs only a change (down, stalled, refusing at warn; up at info). */
  target(to: TargetState, lastError: string | undefined): void {
    const from = this.#target;
    if (from === to) return;
    this.#target = to;
    if (to === 'up') {
      this.#log.log('info', 'sync_target|up', { event: 'sync_target', state: to, from }, 'the sync target is up');
      return;
    }
    const fields = { event: 'sync_target', state: to, from, ...(lastError === undefined ? {} : { lastError }) };
    const what = to === 'refusing' ? 'refuses the statements themselves (a configuration error)' : to;
    this.#log.log(
      'warn',
      `sync_target|${to}`,
      fields,
      `the sync target is ${what}: changes wait in the outbox${lastError ? ` (${lastError})` : ''}`,
    );
  }

  fork(nodeId: string, forkedFrom: string, reason: string): void {
    this.#log.logger.warn(
      { event: 'sync_fork', nodeId, forkedFrom, reason },
      `this file now ships as node ${nodeId}, forked from ${forkedFrom}, and ships its current rows again: ${reason}`,
    );
  }

  /** Rows the target refused, set aside: counts per table and the target's codes; its words (which may quote values) only with logParams. */
  deadLetters(refused: readonly RefusalNote[]): void {
    const tables: Record<string, number> = {};
    let count = 0;
    for (const r of refused) {
      tables[r.table] = (tables[r.table] ?? 0) + r.changes;
      count += r.changes;
    }
    const sqlStates = [...new Set(refused.map((r) => r.sqlState).filter((s) => s !== undefined))];
    const constraints = [...new Set(refused.map((r) => r.constraint).filter((c) => c !== undefined))];
    const fields: Record<string, unknown> = { event: 'sync_dead_letters', count, keys: refused.length, tables, sqlStates, constraints };
    if (this.#values) fields.error = refused[0]?.error;
    this.#log.log(
      'warn',
      `sync_dead_letters|${Object.keys(tables).join(',')}|${sqlStates.join(',')}`,
      fields,
      `the sync target refused ${count} change(s) (${refused.length} key(s)) of ${Object.keys(tables).join(', ')} (${sqlStates.join(', ') || 'no SQLSTATE'}): set aside as dead letters, see db.sync.deadLetters() and db.sync.retry()`,
    );
  }
}
