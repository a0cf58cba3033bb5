import type { Table } from '../api/table.js';
import type { HandlerContext, Worker, WorkerStats, WorkOptions } from '../api/work-options.js';
import { backoffMs } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { JsRow } from '../schema/row-codec.js';
import { describeError, type InHand, inHand, leaseLost, stopping } from './in-hand.js';
import { WakeLatch, type WakeSource } from './wake-latch.js';
import { planWork, retryDelayMs, type WorkPlan } from './work-plan.js';

// The wake-up contract is named where the worker is: the hub that drives workers imports both from here.
export type { WakeListener, WakeSource } from './wake-latch.js';

/** A table that a worker can drive: the public Table surface, untyped. */
type AnyTable = Table<AnyTableDef>;

/**
 * The claim loop pg-boss and graphile-worker users expect, over the public Table API: claim a
 * batch under leases, run up to `concurrency` handlers, settle each with its fencing token (done,
 * retry with backoff, or failed), sleep until a commit or a due `runAt` wakes it. Settles of one
 * batch are submitted together, so the gate commits them in one transaction.
 */
export class TableWorker implements Worker {
  readonly #table: AnyTable;
  readonly #plan: WorkPlan;
  readonly #options: WorkOptions<JsRow, string, JsRow>;
  readonly #onError: (error: unknown) => void;
  readonly #unsubscribe: () => void;
  readonly #source: WakeSource;
  readonly #waiting: InHand[] = [];
  readonly #active = new Map<InHand, AbortController>();
  readonly #settles = new Set<Promise<void>>();
  readonly #stats: Omit<WorkerStats, 'running' | 'waiting'> = { claimed: 0, done: 0, failed: 0, retried: 0, released: 0, lost: 0 };
  #running = true;
  readonly #latch = new WakeLatch();
  readonly #loop: Promise<void>;
  #stopped: Promise<void> | undefined;

  readonly #onStopped: (() => void) | undefined;

  constructor(
    table: AnyTable,
    options: WorkOptions<JsRow, string, JsRow>,
    wake: WakeSource,
    onError: (error: unknown) => void,
    onStopped?: () => void,
  ) {
    this.#plan = planWork(table.table, options as WorkOptions<unknown, string, unknown>);
    this.#onStopped = onStopped;
    this.#table = table;
    this.#options = options;
    this.#onError = options.onError ?? onError;
    this.#source = wake;
    this.#unsubscribe = wake.subscribe(table.table.name, this.#latch);
    this.#loop = this.#run();
  }

  get running(): boolean {
    return this.#running;
  }

  stats(): WorkerStats {
    return { ...this.#stats, running: this.#active.size, waiting: this.#waiting.length };
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #run(): Promise<void> {
    const plan = this.#plan;
    let failures = 0;
    let starved = false;
    /** When the last claim began: rows delayed until after it were not due for it. */
    let claimedAt = Date.now();
    while (this.#running) {
      if (!starved && this.#waiting.length < plan.concurrency) {
        try {
          claimedAt = Date.now();
          const rows = (await this.#table.claim({
            from: plan.from,
            to: plan.to,
            limit: plan.batch,
            leaseMs: plan.leaseMs,
            owner: plan.owner,
            ...(this.#options.where === undefined ? {} : { where: this.#options.where }),
            ...(this.#options.orderBy === undefined ? {} : { orderBy: this.#options.orderBy }),
          })) as JsRow[];
          failures = 0;
          this.#stats.claimed += rows.length;
          for (const row of rows) this.#waiting.push(inHand(this.#table.table.primaryKey, row));
          starved = rows.length < plan.batch;
          // A full batch may have left more behind: let another idle worker of the table look too.
          if (!starved) this.#source.nudge(plan.table);
        } catch (error) {
          if (!this.#running) break;
          this.#onError(error);
          await this.#latch.nap(backoffMs(failures++, { initialMs: 50, maxMs: plan.pollMs }), false);
          continue;
        }
      }
      this.#startHandlers();
      if (!this.#running) break;
      if (!starved) {
        // Enough in hand: wait for a free handler before claiming more.
        if (this.#waiting.length >= plan.concurrency) await this.#latch.nap(undefined, false);
        continue;
      }
      // Nothing more is due: sleep until a commit, the next delayed row or the poll; a finished
      // handler only starts the next row in hand.
      const why = await this.#latch.nap(await this.#untilDue(claimedAt), true);
      if (why === 'commit' || why === 'timer') starved = false;
    }
  }

  /**
   * How long until the earliest row in `from` delayed past the last claim is due, capped by the
   * poll interval; 1 ms when one already is (it fell due while the claim and this read ran).
   */
  async #untilDue(claimedAt: number): Promise<number> {
    const plan = this.#plan;
    try {
      const where: JsRow = { $and: [{ [plan.lifecycle.column.name]: plan.from }, { runAt: { $gt: new Date(claimedAt) } }] };
      if (this.#options.where !== undefined) (where.$and as unknown[]).push(this.#options.where);
      const [next] = (await this.#table.find({ where, orderBy: 'runAt', limit: 1 } as never)) as JsRow[];
      const at = (next?.runAt as Date | null | undefined)?.getTime();
      return at === undefined ? plan.pollMs : Math.max(1, Math.min(plan.pollMs, at - Date.now()));
    } catch (error) {
      this.#onError(error);
      return plan.pollMs;
    }
  }

  #startHandlers(): void {
    while (this.#running && this.#active.size < this.#plan.concurrency && this.#waiting.length > 0) {
      const item = this.#waiting.shift() as InHand;
      const controller = new AbortController();
      this.#active.set(item, controller);
      this.#track(this.#handle(item, controller));
    }
  }

  #track(settling: Promise<void>): void {
    this.#settles.add(settling);
    void settling.finally(() => this.#settles.delete(settling));
  }

  async #handle(item: InHand, controller: AbortController): Promise<void> {
    const plan = this.#plan;
    const renew = async (leaseMs = plan.leaseMs): Promise<boolean> => {
      const held = await this.#table.renew(item.key as never, item.token, leaseMs);
      if (!held && !controller.signal.aborted) controller.abort(leaseLost(plan, item));
      return held;
    };
    const renewer = plan.autoRenew ? setInterval(() => void renew().catch(this.#onError), Math.max(1, plan.leaseMs / 3)) : undefined;
    renewer?.unref();
    const context: HandlerContext = { signal: controller.signal, attempt: item.token, renew };
    try {
      // biome-ignore lint/suspicious/noConfusingVoidType: what a handler resolves with (see WorkOptions.handler).
      let patch: JsRow | undefined | void;
      try {
        patch = await this.#options.handler(item.row, context);
      } catch (error) {
        await this.#settleThrown(item, error);
        return;
      }
      await this.#settle(item, plan.done, patch ?? undefined, 'done');
    } catch (error) {
      // The settle itself was refused (a bad patch, a closed database): the lease lapses and the reaper hands the row back.
      this.#onError(error);
    } finally {
      if (renewer) clearInterval(renewer);
      this.#active.delete(item);
      this.#latch.signal('slot');
    }
  }

  async #settleThrown(item: InHand, error: unknown): Promise<void> {
    const plan = this.#plan;
    let extra: JsRow | undefined;
    try {
      extra = this.#options.onFailure?.(error, item.row) ?? undefined;
    } catch (failure) {
      this.#onError(failure);
    }
    const lastError = describeError(error);
    if (plan.retry && item.token < plan.retry.attempts) {
      const runAt = new Date(Date.now() + retryDelayMs(plan.retry, item.token));
      await this.#settle(item, plan.from, { ...extra, lastError, runAt }, 'retried');
    } else {
      await this.#settle(item, plan.failed, { ...extra, lastError }, 'failed');
    }
  }

  /** One compare-and-set under the claim's token: a lapsed, re-claimed lease is refused, never settled twice. */
  async #settle(item: InHand, to: string, set: JsRow | undefined, counted: 'done' | 'failed' | 'retried' | 'released'): Promise<void> {
    const options: JsRow = { from: this.#plan.to, token: item.token };
    if (set !== undefined) options.set = set;
    try {
      const result = await this.#table.transition(item.key as never, to as never, options as never);
      if (result.applied) this.#stats[counted]++;
      else this.#stats.lost++;
    } catch (error) {
      // The row was deleted while it was worked on: nothing is left to settle, as with a lost lease.
      if (SluiceError.is(error, 'NOT_FOUND')) {
        this.#stats.lost++;
        return;
      }
      if (counted === 'done' && SluiceError.is(error, 'VALIDATION')) {
        // The handler's patch was refused: the row fails with the reason rather than waiting for its lease.
        await this.#settle(item, this.#plan.failed, { lastError: describeError(error) }, 'failed');
        return;
      }
      throw error;
    }
  }

  async #stop(): Promise<void> {
    this.#running = false;
    this.#latch.stop();
    await this.#loop;
    this.#unsubscribe();
    const plan = this.#plan;
    for (const item of this.#waiting.splice(0)) this.#track(this.#release(item));
    if (this.#active.size > 0 && !(await this.#drained(plan.graceMs))) {
      for (const [item, controller] of this.#active) controller.abort(stopping(plan, item));
      if (!(await this.#drained(plan.graceMs))) {
        // Handlers that ignore their signal: hand their rows back now; a late settle is refused by state.
        for (const item of this.#active.keys()) this.#track(this.#release(item));
      }
    }
    await Promise.allSettled([...this.#settles]);
    this.#onStopped?.();
  }

  async #release(item: InHand): Promise<void> {
    try {
      await this.#settle(item, this.#plan.releaseTo, undefined, 'released');
    } catch (error) {
      this.#onError(error);
    }
  }

  /** Resolves true once no handler runs, false after `ms`; leaves no timer behind to hold the process open. */
  async #drained(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      while (this.#active.size > 0) {
        const settled = Promise.allSettled([...this.#settles]).then(() => 'settled' as const);
        if ((await Promise.race([settled, timeout])) === 'timeout') break;
      }
    } finally {
      clearTimeout(timer);
    }
    return this.#active.size === 0;
  }
}
