import type { Database, SyncApi } from '../index.js';
import type { AnyTableDef } from '../internal.js';
import { cutStrings, frame, MAX_FRAME_BYTES, snapshotFrame } from './event-frames.js';
import { alertJson, alertsOf } from './ops-state.js';
import type { RecentErrors } from './recent-errors.js';

/** One point of the dashboard's charts. */
export interface SeriesPoint {
  /** Epoch seconds. */
  t: number;
  /** Rows changed per second since the previous point, by table. */
  writes: Record<string, number>;
  commitP50: number;
  commitP99: number;
  queue: Record<string, number>;
  busyRetries: number;
}

export interface TableCounts {
  total: number;
  /** Rows per lifecycle state; absent for a table without a lifecycle. */
  states?: Record<string, number>;
}

export interface Snapshot {
  at: string;
  point: SeriesPoint;
  stats: ReturnType<Database['stats']>;
  tables: Record<string, TableCounts>;
  sync?: unknown;
  /** Every alert rule's state (absent without rules): the dashboard's first screen shows the firing ones. */
  alerts?: readonly unknown[];
  errors: readonly unknown[];
}

const HISTORY_POINTS = 300;

/**
 * The dashboard's feed. Chart points are taken every interval whether anyone watches or not
 * (they cost a few reads of in-memory counters), so a page opened now draws the last minutes at
 * once. Row counts query the database, so they run only while a subscriber is connected, once
 * per interval however many there are; a table whose counts are slow is counted less often.
 */
export class EventFeed {
  readonly #db: Database;
  readonly #tables: readonly AnyTableDef[];
  readonly #errors: RecentErrors;
  readonly #sync: SyncApi | undefined;
  readonly #intervalMs: number;
  readonly #history: SeriesPoint[] = [];
  readonly #subscribers = new Set<(frame: string) => void>();
  readonly #changed = new Map<string, number>();
  readonly #counts = new Map<string, { value: TableCounts; ms: number; skip: number }>();
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | undefined;
  #lastTick = performance.now();
  #counting = false;
  #last: string | undefined;
  /** Each alert rule's state at the last tick, to tell when one fires or resolves. */
  readonly #alertStates = new Map<string, string>();

  constructor(db: Database, tables: readonly AnyTableDef[], errors: RecentErrors, sync: SyncApi | undefined, intervalMs: number) {
    this.#db = db;
    this.#tables = tables;
    this.#errors = errors;
    this.#sync = sync;
    this.#intervalMs = intervalMs;
    this.#unsubscribe = db.onCommit((changes) => {
      for (const change of changes) this.#changed.set(change.table, (this.#changed.get(change.table) ?? 0) + 1);
    });
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe();
    this.#subscribers.clear();
  }

  get history(): readonly SeriesPoint[] {
    return this.#history;
  }

  /**
   * Calls `send` with the snapshot's server-sent event every interval until the returned function
   * is called. The frame is encoded once for every viewer and is at most MAX_FRAME_BYTES.
   */
  subscribe(send: (frame: string) => void): () => void {
    this.#subscribers.add(send);
    if (this.#last) send(this.#last);
    return () => this.#subscribers.delete(send);
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Counts now, for a caller that wants them once (the first paint). */
  async counts(): Promise<Record<string, TableCounts>> {
    const out: Record<string, TableCounts> = {};
    for (const table of this.#tables) out[table.name] = await this.#count(table);
    return out;
  }

  #tick(): void {
    if (!this.#db.isOpen) return;
    const now = performance.now();
    const seconds = Math.max((now - this.#lastTick) / 1000, 0.001);
    this.#lastTick = now;
    const stats = this.#db.stats();
    const writes: Record<string, number> = {};
    for (const table of this.#tables) writes[table.name] = Math.round((this.#changed.get(table.name) ?? 0) / seconds);
    this.#changed.clear();
    const point: SeriesPoint = {
      t: Math.round(Date.now() / 100) / 10,
      writes,
      commitP50: stats.commitMs.p50,
      commitP99: stats.commitMs.p99,
      queue: { high: stats.queue.high, normal: stats.queue.normal, low: stats.queue.low },
      busyRetries: stats.busy.retries,
    };
    this.#history.push(point);
    if (this.#history.length > HISTORY_POINTS) this.#history.shift();
    const alerts = this.#alerts();
    if (this.#subscribers.size === 0 || this.#counting) return;
    this.#counting = true;
    void this.#publish(point, stats, alerts).finally(() => {
      this.#counting = false;
    });
  }

  /**
   * The alert rules' states now (undefined without rules). A rule that fired or resolved since
   * the last tick goes out at once as an `alert` event, so a viewer hears of it without
   * comparing snapshots.
   */
  #alerts(): unknown[] | undefined {
    const api = alertsOf(this.#db);
    if (!api) return undefined;
    const rules = api.status().map(alertJson);
    for (const rule of rules) {
      const name = String(rule.name);
      const before = this.#alertStates.get(name) ?? 'ok';
      this.#alertStates.set(name, String(rule.state));
      const event =
        rule.state === 'firing' && before !== 'firing' ? 'firing' : before === 'firing' && rule.state !== 'firing' ? 'resolved' : undefined;
      if (event === undefined) continue;
      const text = frame('alert', cutStrings({ event, ...rule }));
      if (text.length > MAX_FRAME_BYTES) continue;
      for (const send of this.#subscribers) send(text);
    }
    return cutStrings(rules) as unknown[];
  }

  async #publish(point: SeriesPoint, stats: ReturnType<Database['stats']>, alerts: unknown[] | undefined): Promise<void> {
    const tables: Record<string, TableCounts> = {};
    for (const table of this.#tables) {
      const cached = this.#counts.get(table.name);
      if (cached && cached.skip > 0) {
        cached.skip--;
        tables[table.name] = cached.value;
        continue;
      }
      try {
        tables[table.name] = await this.#count(table);
      } catch (error) {
        if (!this.#db.isOpen) return;
        this.#errors.record(`counts ${table.name}`, error);
        tables[table.name] = cached?.value ?? { total: 0 };
      }
    }
    let sync: unknown;
    if (this.#sync) {
      try {
        sync = cutStrings(this.#sync.status());
      } catch (error) {
        sync = cutStrings({ error: (error as Error).message });
      }
    }
    const snapshot: Snapshot = {
      at: new Date().toISOString(),
      point,
      stats,
      tables,
      ...(sync === undefined ? {} : { sync }),
      ...(alerts === undefined ? {} : { alerts }),
      errors: this.#errors.list(),
    };
    const frame = snapshotFrame(snapshot);
    if (frame === undefined) return;
    this.#last = frame;
    for (const send of this.#subscribers) send(frame);
  }

  async #count(table: AnyTableDef): Promise<TableCounts> {
    const started = performance.now();
    const handle = this.#db.table(table);
    let value: TableCounts;
    if (table.lifecycle) {
      const column = table.lifecycle.column.name;
      const states: Record<string, number> = {};
      let total = 0;
      for (const state of table.lifecycle.states) {
        const n = await handle.count({ [column]: state }, { cache: false });
        states[state] = n;
        total += n;
      }
      value = { total, states };
    } else {
      value = { total: await handle.count(undefined, { cache: false }) };
    }
    const ms = performance.now() - started;
    // Counting should take at most a tenth of the interval: a slow table is counted every few ticks.
    const skip = Math.min(30, Math.floor(ms / (this.#intervalMs / 10)));
    this.#counts.set(table.name, { value, ms, skip });
    return value;
  }
}
