import { randomUUID } from 'node:crypto';
import type { Table } from '../api/table.js';
import type { HandlerContext, Worker, WorkOptions } from '../api/work-options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { RowType } from '../schema/define-table.js';
import { fingerprint } from './fingerprint.js';
import { type TaskStatus, tasksTable } from './task-table.js';

export type Task = RowType<typeof tasksTable>;

export interface CreateTaskOptions {
  /** How long a completed result is reused for the same type and input. Default: the store's. */
  resultTtlMs?: number;
  /** Always create new work, even when an equal task is pending or its result is fresh. */
  force?: boolean;
}

export interface TaskClaimOptions {
  owner: string;
  /** Only these task types. Default: any. */
  types?: readonly string[];
  limit?: number;
  leaseMs?: number;
}

/** Options of `tasks.work()`: a table worker's, with the task lifecycle's states filled in. */
export interface TaskWorkOptions
  extends Omit<WorkOptions<Task, TaskStatus, Partial<Task>>, 'from' | 'to' | 'done' | 'failed' | 'handler' | 'where' | 'onFailure'> {
  /** Only tasks of these types. Default: every type. */
  readonly types?: readonly string[];
  /** Does the task; what it resolves with becomes the task's result. */
  readonly handler: (task: Task, context: HandlerContext) => Promise<unknown>;
}

export const DEFAULT_RESULT_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_CLEANUP_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A task store on top of a lifecycle: create work, hand it to workers under
 * leases, keep its result, and reuse a result for the same input while it is fresh.
 */
export class TaskStore {
  readonly #tasks: Table<typeof tasksTable>;
  readonly #resultTtlMs: number;
  /** Creations in flight in this process, by fingerprint: equal concurrent creates make one task. */
  readonly #creating = new Map<string, Promise<Task>>();

  constructor(tasks: Table<typeof tasksTable>, resultTtlMs = DEFAULT_RESULT_TTL_MS) {
    this.#tasks = tasks;
    this.#resultTtlMs = resultTtlMs;
  }

  /**
   * Creates a task, unless one of the same type and input is pending, processing, or completed
   * within its result TTL: then that task is returned (with its result) and no work is added.
   * Equal creates racing in one process make one task; across processes two may be made.
   */
  create(type: string, input: unknown, options: CreateTaskOptions = {}): Promise<Task> {
    if (typeof type !== 'string' || type.length === 0) {
      return Promise.reject(
        new SluiceError('VALIDATION', `A task type must be a non-empty string, got ${describeValue(type)}.`, {
          table: tasksTable.name,
          column: 'type',
          value: type,
        }),
      );
    }
    const print = fingerprint(type, input);
    const inFlight = this.#creating.get(print);
    if (inFlight && !options.force) return inFlight;
    const creating = this.#create(type, input, print, options).finally(() => this.#creating.delete(print));
    this.#creating.set(print, creating);
    return creating;
  }

  async #create(type: string, input: unknown, print: string, options: CreateTaskOptions): Promise<Task> {
    const now = Date.now();
    if (!options.force) {
      const [existing] = await this.#tasks
        .find({
          where: {
            type,
            fingerprint: print,
            $or: [
              { status: { $in: ['pending', 'processing'] } },
              { status: 'completed', completedAt: { $gte: new Date(now - this.#maxTtl(options)) } },
            ],
          },
          orderBy: '-createdAt',
          limit: 5,
        })
        .then((rows) => rows.filter((row) => row.status !== 'completed' || (row.completedAt?.getTime() ?? 0) + row.resultTtlMs >= now));
      if (existing) return existing;
      // A task that failed on this same input is tried again, not made twice: its id, history and
      // attempts stay. (force: true makes a new one.)
      const [failed] = await this.#tasks.find({ where: { type, fingerprint: print, status: 'error' }, orderBy: '-updatedAt', limit: 1 });
      if (failed) {
        const retried = await this.#retry(failed.id);
        if (retried) return retried;
      }
    }
    return this.#tasks.insert({
      id: randomUUID(),
      type,
      fingerprint: print,
      input: input === undefined ? null : input,
      createdAt: now,
      updatedAt: now,
      resultTtlMs: options.resultTtlMs ?? this.#resultTtlMs,
    });
  }

  #maxTtl(options: CreateTaskOptions): number {
    return Math.max(options.resultTtlMs ?? 0, this.#resultTtlMs, 0);
  }

  /** Leases up to `limit` pending tasks to `owner`; each carries its fencing token in `attempt`. */
  claim(options: TaskClaimOptions): Promise<Task[]> {
    return this.#tasks.claim({
      from: 'pending',
      to: 'processing',
      limit: options.limit ?? 1,
      leaseMs: options.leaseMs ?? 5 * 60_000,
      owner: options.owner,
      ...(options.types ? { where: { type: { $in: [...options.types] } } } : {}),
      orderBy: 'createdAt',
    });
  }

  /** Starts one pending task without a lease (a single worker that needs no reaper). */
  async start(id: string): Promise<Task> {
    const moved = await this.#tasks.transition(id, 'processing', { from: 'pending', set: { updatedAt: new Date() }, returning: 'row' });
    if (!moved.applied) throw this.#wrongState(id, 'start', moved.row.status);
    return moved.row;
  }

  /** Stores the result; with `token`, only the current lease holder may. */
  async complete(id: string, result: unknown, options: { token?: number } = {}): Promise<Task> {
    const now = new Date();
    const moved = await this.#tasks.transition(id, 'completed', {
      from: 'processing',
      set: { result: result === undefined ? null : result, error: null, updatedAt: now, completedAt: now },
      returning: 'row',
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    if (!moved.applied) throw this.#wrongState(id, 'complete', moved.row.status);
    return moved.row;
  }

  async fail(id: string, error: unknown, options: { token?: number } = {}): Promise<Task> {
    const message = error instanceof Error ? error.message : String(error);
    const moved = await this.#tasks.transition(id, 'error', {
      from: 'processing',
      set: { error: message, updatedAt: new Date() },
      returning: 'row',
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    if (!moved.applied) throw this.#wrongState(id, 'fail', moved.row.status);
    return moved.row;
  }

  /**
   * Sends a failed task back to pending: its error cleared, its attempts kept (they are the fencing
   * token of its claims and never go down). CONFLICT when it is not failed; NOT_FOUND when absent.
   */
  async retry(id: string): Promise<Task> {
    const retried = await this.#retry(id);
    if (retried) return retried;
    const task = await this.#tasks.get(id);
    if (!task) throw new SluiceError('NOT_FOUND', `There is no task ${id}; nothing was retried.`, { table: tasksTable.name, value: id });
    throw this.#wrongState(id, 'retry', task.status);
  }

  async #retry(id: string): Promise<Task | undefined> {
    const moved = await this.#tasks.transition(id, 'pending', {
      from: 'error',
      set: { error: null, lastError: null, result: null, completedAt: null, updatedAt: new Date(), runAt: null },
      returning: 'row',
    });
    return moved.applied ? moved.row : undefined;
  }

  /**
   * A worker over the task store: claims pending tasks (of `types`, when given), runs `handler`,
   * and stores what it resolves as the result, or the error it throws (retried with backoff while
   * `retry.attempts` remain). `stop()` it, or close the database.
   */
  work(options: TaskWorkOptions): Worker {
    const { types, handler, ...rest } = options;
    return this.#tasks.work({
      ...rest,
      from: 'pending',
      to: 'processing',
      done: 'completed',
      failed: 'error',
      ...(types === undefined ? {} : { where: { type: { $in: [...types] } } }),
      handler: async (task, context) => {
        const result = await handler(task, context);
        const now = new Date();
        return { result: result === undefined ? null : (result as Task['result']), error: null, completedAt: now, updatedAt: now };
      },
      onFailure: (error) => ({ error: error instanceof Error ? error.message : String(error), updatedAt: new Date() }),
    });
  }

  async status(id: string): Promise<TaskStatus | undefined> {
    return (await this.#tasks.get(id))?.status as TaskStatus | undefined;
  }

  /** The result of a completed task; undefined while it is not completed. */
  async result(id: string): Promise<unknown> {
    const task = await this.#tasks.get(id);
    return task?.status === 'completed' ? task.result : undefined;
  }

  /** Deletes finished tasks (completed or error) last changed before `olderThan` ago, 1,000 per transaction. */
  async cleanup(options: { olderThan?: number } = {}): Promise<number> {
    const cutoff = new Date(Date.now() - (options.olderThan ?? DEFAULT_CLEANUP_AGE_MS));
    return this.#tasks.deleteWhere({ status: { $in: ['completed', 'error'] }, updatedAt: { $lt: cutoff } });
  }

  #wrongState(id: string, what: string, status: string): SluiceError {
    return new SluiceError(
      'CONFLICT',
      `Cannot ${what} task ${id}: it is ${status}, or its lease passed to another worker. Check status(${JSON.stringify(id)}).`,
      {
        table: tasksTable.name,
        value: id,
      },
    );
  }
}
