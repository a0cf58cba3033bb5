import type { Filter } from '../query/filter.js';

/** How a worker retries a row whose handler threw: back to `from`, not claimable for a while. */
export interface RetryOptions {
  /** Tries in all, the first included: after this many the row settles to `failed`. */
  readonly attempts: number;
  /** The wait after the first failure, before jitter. Default 1,000 ms. */
  readonly backoffMs?: number;
  /** Each later wait is this many times the one before. Default 2. */
  readonly factor?: number;
  /** No wait grows past this. Default 60,000 ms. */
  readonly maxBackoffMs?: number;
}

/** What a handler is given beside its row. */
export interface HandlerContext {
  /**
   * Aborted when the worker stops past its grace period, or when the row's lease was lost (it
   * lapsed and the reaper handed the row back): the settle would be refused anyway, so stop work.
   */
  readonly signal: AbortSignal;
  /** The claim's fencing token: 1 on the first try, one more on every later claim of the row. */
  readonly attempt: number;
  /** Extends the lease by `leaseMs` (default: the worker's); false when it was already lost. */
  renew(leaseMs?: number): Promise<boolean>;
}

export interface WorkOptions<Row, State extends string, Patch> {
  /** The state rows are claimed from. */
  readonly from: State;
  /** The working state a claim moves them to. */
  readonly to: State;
  /** Where a row goes when its handler resolves. */
  readonly done: State;
  /** Where a row goes when its handler throws and no retry is left. */
  readonly failed: State;
  /** Handlers running at once. Default 1. */
  readonly concurrency?: number;
  /** Rows per claim. Default: `concurrency`. A claim is made when fewer than `concurrency` rows wait in hand. */
  readonly batch?: number;
  /** How long a claim holds before the reaper may hand the row to another worker. Default 60,000 ms. */
  readonly leaseMs?: number;
  /** Who holds the leases (shown on the row and in its history). Default: host, pid and a random suffix. */
  readonly owner?: string;
  /** Retry a thrown handler with exponential backoff and jitter; without it the row fails at once. */
  readonly retry?: RetryOptions;
  /** Renew each running handler's lease every `leaseMs / 3` while it runs. Default false. */
  readonly autoRenew?: boolean;
  /** Only rows that also match this filter. */
  readonly where?: Filter<Row>;
  /** Which rows first. Default: primary-key order. */
  readonly orderBy?: string | readonly string[];
  /**
   * The longest the worker sleeps when it finds nothing to do. Commits wake it sooner: at once in
   * this process, and from other processes where the database can say so. Default 1,000 ms.
   */
  readonly pollMs?: number;
  /**
   * How long stop() lets running handlers finish before their signal aborts; they still get
   * `graceMs` more to settle before their rows are handed back. Default 30,000 ms.
   */
  readonly graceMs?: number;
  /**
   * Does the work. Resolve to settle the row to `done`; resolve with a patch to set columns in the
   * same statement (a result, say); throw to retry or fail it, the error recorded in `lastError`.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler written `async (row) => { … }` returns Promise<void>, which must type-check.
  readonly handler: (row: Row, context: HandlerContext) => Promise<Patch | undefined | void>;
  /**
   * Columns to set, beside `lastError` and `runAt`, when a thrown handler settles the row (to
   * `failed`, or back to `from` for a retry): a task store's own error column, say.
   */
  readonly onFailure?: (error: unknown, row: Row) => Patch | undefined;
  /** The worker's own failures (a claim the database refused); default: the database's onError. */
  readonly onError?: (error: unknown) => void;
}

/** Counts since the worker started. */
export interface WorkerStats {
  /** Rows taken by claims. */
  claimed: number;
  /** Handlers running now. */
  running: number;
  /** Claimed rows waiting for a free handler. */
  waiting: number;
  /** Rows settled to `done`. */
  done: number;
  /** Rows settled to `failed`. */
  failed: number;
  /** Rows sent back to `from` to be tried again later. */
  retried: number;
  /** Rows handed back unstarted at stop(). */
  released: number;
  /** Settles the database refused because the lease had been lost (lapsed, reaped, claimed again). */
  lost: number;
}

/** A running claim loop: `stop()` to end it. */
export interface Worker {
  /** Stops claiming, lets running handlers finish (see `graceMs`), hands back what was not started, and resolves. */
  stop(): Promise<void>;
  readonly running: boolean;
  stats(): WorkerStats;
}
