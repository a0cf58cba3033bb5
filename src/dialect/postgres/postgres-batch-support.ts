import { SluiceError } from '../../core/sluice-error.js';
import type { Outcome, WriteOp } from '../write-op.js';

/** The longest a batch waits for a row lock before it rolls back and lets the gate back off. */
const MAX_LOCK_WAIT_MS = 2000;
/** A nonBlocking write tries once: a lock held elsewhere fails it almost at once. */
const NON_BLOCKING_LOCK_WAIT_MS = 50;

/** The calls each statement kind serves, as a caller knows them. */
const WRITE_NAMES: Readonly<Record<string, string>> = {
  update: 'An update',
  updateMany: 'A claim (or bulk update)',
  deleteMany: 'A deleteWhere',
};

/** What the runner counts, for stats() and metrics. */
export interface BatchRunnerStats {
  /** Batches rolled back and run again because an op failed outside a savepoint. */
  replays: number;
  /** Multi-row inserts that failed and were split into one savepoint per row. */
  runFallbacks: number;
  /** COMMITs whose reply was lost, then found committed / aborted / never settled. */
  commitsLost: number;
  commitsFoundCommitted: number;
  commitsUnknown: number;
}

/** The protocol counts a statement's bound values in 16 bits. */
export const MAX_BOUND_VALUES = 65_535;

/**
 * A statement with more bound values than the protocol carries fails that write alone, before it
 * reaches the server (which would answer with a protocol error and abort the transaction).
 */
export function tooManyParameters(op: WriteOp, count: number, outcomes: Outcome[], index: number): boolean {
  if (count <= MAX_BOUND_VALUES) return false;
  const table = op.codec.table.name;
  outcomes[index] = {
    ok: false,
    error: new SluiceError(
      'VALIDATION',
      `${WRITE_NAMES[op.command.kind] ?? op.command.kind} on ${table} needs ${count.toLocaleString('en-US')} bound values; PostgreSQL takes at most ${MAX_BOUND_VALUES.toLocaleString('en-US')} in one statement. Pass a long list as one $in / $nin array instead of many $or conditions, or split the write.`,
      { table, value: count },
    ),
  };
  return true;
}

export function noop(): void {}

/** A promise whose rejection is read later (by awaiting it), marked handled so it is never reported unhandled. */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

export function lockWaitMs(ops: readonly WriteOp[]): number {
  const now = performance.now();
  let wait = MAX_LOCK_WAIT_MS;
  for (const op of ops) {
    wait = Math.min(wait, op.nonBlocking ? NON_BLOCKING_LOCK_WAIT_MS : op.deadline - now);
  }
  return Math.max(1, Math.floor(wait));
}

/**
 * Sends a statement without waiting for it and never throws: a value that cannot be written
 * fails the returned promise, as the statement's own failure would, and the promise is marked
 * handled until its reader awaits it.
 */
export function sendQuietly<T>(send: () => Promise<T>): Promise<T> {
  try {
    return quiet(send());
  } catch (error) {
    return quiet(Promise.reject(error));
  }
}
