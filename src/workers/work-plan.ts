import { hostname } from 'node:os';
import type { WorkOptions } from '../api/work-options.js';
import { checkOptionKeys } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';

/** A worker's options, checked once and with every default filled in. */
export interface WorkPlan {
  readonly table: string;
  readonly lifecycle: Lifecycle;
  readonly from: string;
  readonly to: string;
  readonly done: string;
  readonly failed: string;
  /** Where an unstarted row goes at stop(): `from` when `to` may move there, else the lease's `expireTo`. */
  readonly releaseTo: string;
  readonly concurrency: number;
  readonly batch: number;
  readonly leaseMs: number;
  readonly owner: string;
  readonly retry:
    | { readonly attempts: number; readonly backoffMs: number; readonly factor: number; readonly maxBackoffMs: number }
    | undefined;
  readonly autoRenew: boolean;
  readonly pollMs: number;
  readonly graceMs: number;
}

const WORK_OPTIONS = [
  'from',
  'to',
  'done',
  'failed',
  'concurrency',
  'batch',
  'leaseMs',
  'owner',
  'retry',
  'autoRenew',
  'where',
  'orderBy',
  'pollMs',
  'graceMs',
  'handler',
  'onFailure',
  'onError',
];
const RETRY_OPTIONS = ['attempts', 'backoffMs', 'factor', 'maxBackoffMs'];

/**
 * Checks a worker's options against the table's lifecycle before anything is claimed: every move
 * the loop will make (claim, settle, retry, release) must be one the lifecycle allows, declared or
 * implied by the leases, so a worker never discovers an illegal move with a row in hand.
 */
export function planWork(table: AnyTableDef, given: WorkOptions<unknown, string, unknown>): WorkPlan {
  const name = table.name;
  const fail = (message: string, value?: unknown): never => {
    throw new SluiceError('VALIDATION', `work() on ${name}: ${message}`, { table: name, value });
  };
  if (given === null || typeof given !== 'object') fail(`needs { from, to, done, failed, handler }, got ${describeValue(given)}.`, given);
  checkOptionKeys('work', name, given, WORK_OPTIONS);
  const lifecycle = table.lifecycle;
  if (!lifecycle?.leases) {
    throw new SluiceError(
      'CONFIG',
      `work() on ${name}: a worker claims rows under leases; add lifecycle: { …, leases: { expireTo } } to the table.`,
      { table: name },
    );
  }
  if (typeof given.handler !== 'function') fail(`handler must be an async function (row, context), got ${describeValue(given.handler)}.`);
  const state = (what: string, value: unknown): string => {
    if (typeof value !== 'string' || !lifecycle.next.has(value)) {
      fail(`${what} ${describeValue(value)} is not a state of the lifecycle; its states are ${lifecycle.states.join(', ')}.`, value);
    }
    return value as string;
  };
  const from = state('from', given.from);
  const to = state('to', given.to);
  const done = state('done', given.done);
  const failed = state('failed', given.failed);
  const may = (a: string, b: string) =>
    lifecycle.next.get(a)?.has(b) === true || (a !== b && lifecycle.returns.has(b) && lifecycle.returnFrom.includes(a));
  const requireMove = (a: string, b: string, why: string) => {
    if (!may(a, b)) fail(`the lifecycle does not allow ${a} -> ${b}, which ${why}; declare it in transitions.`, b);
  };
  if (lifecycle.next.get(from)?.has(to) !== true) fail(`the lifecycle does not allow ${from} -> ${to}, which every claim makes.`, to);
  requireMove(to, done, 'a handler that resolves makes');
  requireMove(to, failed, 'a handler that throws makes');
  const retry = given.retry === undefined ? undefined : planRetry(name, given.retry, fail);
  if (retry) requireMove(to, from, 'a retry makes');
  const concurrency = count('concurrency', given.concurrency ?? 1, 1, 10_000, fail);
  return {
    table: name,
    lifecycle,
    from,
    to,
    done,
    failed,
    releaseTo: may(to, from) ? from : lifecycle.leases.expireTo,
    concurrency,
    batch: count('batch', given.batch ?? concurrency, 1, 10_000, fail),
    leaseMs: count('leaseMs', given.leaseMs ?? 60_000, 1, Number.MAX_SAFE_INTEGER, fail),
    owner: planOwner(given.owner, fail),
    retry,
    autoRenew: flag('autoRenew', given.autoRenew, fail),
    pollMs: count('pollMs', given.pollMs ?? 1000, 1, 3_600_000, fail),
    graceMs: count('graceMs', given.graceMs ?? 30_000, 0, Number.MAX_SAFE_INTEGER, fail),
  };
}

function planRetry(table: string, retry: unknown, fail: (message: string, value?: unknown) => never): WorkPlan['retry'] {
  if (retry === null || typeof retry !== 'object')
    return fail(`retry must be { attempts, backoffMs?, factor?, maxBackoffMs? }, got ${describeValue(retry)}.`, retry);
  checkOptionKeys('work', table, retry, RETRY_OPTIONS);
  const r = retry as Record<string, unknown>;
  const backoffMs = count('retry.backoffMs', r.backoffMs ?? 1000, 0, Number.MAX_SAFE_INTEGER, fail);
  const factor = r.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1)
    fail(`retry.factor must be a number >= 1, got ${describeValue(factor)}.`, factor);
  return {
    attempts: count('retry.attempts', r.attempts, 1, 1_000_000, fail),
    backoffMs,
    factor: factor as number,
    maxBackoffMs: count('retry.maxBackoffMs', r.maxBackoffMs ?? 60_000, backoffMs, Number.MAX_SAFE_INTEGER, fail),
  };
}

function planOwner(owner: unknown, fail: (message: string, value?: unknown) => never): string {
  if (owner === undefined) return `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  if (typeof owner !== 'string' || owner.length === 0) fail(`owner must name the worker, got ${describeValue(owner)}.`, owner);
  return owner as string;
}

function count(what: string, value: unknown, min: number, max: number, fail: (message: string, value?: unknown) => never): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    fail(`${what} must be a whole number from ${min} to ${max}, got ${describeValue(value)}.`, value);
  }
  return value as number;
}

function flag(what: string, value: unknown, fail: (message: string, value?: unknown) => never): boolean {
  if (value !== undefined && typeof value !== 'boolean') fail(`${what} must be true or false, got ${describeValue(value)}.`, value);
  return value === true;
}

/** The wait before try `attempt + 1` (attempt counts from 1), with jitter in [0.5, 1.5) so retries spread. */
export function retryDelayMs(plan: NonNullable<WorkPlan['retry']>, attempt: number): number {
  const nominal = Math.min(plan.maxBackoffMs, plan.backoffMs * plan.factor ** Math.min(Math.max(0, attempt - 1), 60));
  return Math.round(nominal * (0.5 + Math.random()));
}
