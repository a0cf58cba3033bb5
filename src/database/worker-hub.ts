import type { Worker, WorkOptions } from '../api/work-options.js';
import type { Dialect } from '../dialect/dialect.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { JsRow } from '../schema/row-codec.js';
import { TableWorker, type WakeListener, type WakeSource } from '../workers/table-worker.js';

/**
 * How often an idle worker's database checks SQLite's data_version for another process's commit.
 * A read of it costs a few microseconds on the writer connection; 10 ms keeps a foreign insert's
 * wake-up well under the 20 ms p99 the workers aim for, at about a thousandth of a core.
 */
const FOREIGN_CHECK_MS = 10;

/**
 * The workers of one Database and what wakes them: this process's commits, by table, at once;
 * other processes' commits through the dialect's change signal (PostgreSQL's NOTIFY, SQLite's
 * data_version) while any worker listens; the workers' own poll when there is none. Closing the database stops every worker first, while the gate still takes their
 * settles.
 */
export class WorkerHub implements WakeSource {
  readonly #listeners = new Map<string, Set<WakeListener>>();
  /** Where the next offer starts, so wake-ups rotate among a table's workers. */
  #cursor = 0;
  readonly #workers = new Set<Worker>();
  readonly #dialect: Pick<Dialect, 'adapter' | 'dataVersion' | 'onForeignChange'>;
  #unlisten: (() => void) | undefined;
  #foreignTimer: NodeJS.Timeout | undefined;
  #version: number | undefined;

  constructor(gate: WriteGate, dialect: Pick<Dialect, 'adapter' | 'dataVersion' | 'onForeignChange'>) {
    this.#dialect = dialect;
    gate.onCommit((changes) => {
      if (this.#listeners.size === 0) return;
      let last: string | undefined;
      for (const change of changes) {
        if (change.table === last) continue;
        last = change.table;
        this.nudge(last);
      }
    });
  }

  /** Offers the wake-up to one idle worker of `table`, rotating; marks them all when none is idle. */
  nudge(table: string): void {
    const listeners = this.#listeners.get(table);
    if (!listeners || listeners.size === 0) return;
    const list = [...listeners];
    const start = this.#cursor++ % list.length;
    for (let i = 0; i < list.length; i++) if ((list[(start + i) % list.length] as WakeListener).offer()) return;
    for (const listener of list) listener.mark();
  }

  subscribe(table: string, listener: WakeListener): () => void {
    let set = this.#listeners.get(table);
    if (!set) {
      set = new Set();
      this.#listeners.set(table, set);
    }
    set.add(listener);
    this.#watchForeign();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(table);
      if (this.#listeners.size === 0) this.#unwatchForeign();
    };
  }

  start(
    table: ConstructorParameters<typeof TableWorker>[0],
    options: WorkOptions<JsRow, string, JsRow>,
    onError: (error: unknown) => void,
  ): Worker {
    const worker: Worker = new TableWorker(table, options, this, onError, () => this.#workers.delete(worker));
    this.#workers.add(worker);
    return worker;
  }

  /** Stops every worker (each finishes or hands back what it holds). */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#workers].map((worker) => worker.stop()));
    this.#unwatchForeign();
  }

  #watchForeign(): void {
    const listen = this.#dialect.onForeignChange;
    if (listen) {
      // PostgreSQL says which table another client changed (LISTEN/NOTIFY); '*' after a reconnect.
      this.#unlisten ??= listen((table) => {
        if (table === '*') for (const name of this.#listeners.keys()) this.nudge(name);
        else this.nudge(table);
      });
      return;
    }
    const read = this.#dialect.dataVersion?.bind(this.#dialect);
    if (this.#foreignTimer || !this.#dialect.adapter.capabilities.dataVersion || !read || this.#dialect.adapter.capabilities.processPrivate)
      return;
    this.#version = safeRead(read);
    this.#foreignTimer = setInterval(() => {
      const version = safeRead(read);
      if (version === this.#version && version !== undefined) return;
      this.#version = version;
      for (const table of this.#listeners.keys()) this.nudge(table);
    }, FOREIGN_CHECK_MS);
    this.#foreignTimer.unref();
  }

  #unwatchForeign(): void {
    if (this.#foreignTimer) clearInterval(this.#foreignTimer);
    this.#foreignTimer = undefined;
    this.#unlisten?.();
    this.#unlisten = undefined;
  }
}

/** An unreadable counter (a lock during WAL recovery) may hide a change: undefined wakes everyone. */
function safeRead(read: () => number): number | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
