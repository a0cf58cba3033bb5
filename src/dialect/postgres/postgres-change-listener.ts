import { backoffMs } from '../../core/backoff.js';
import type { PgConnectionOptions, PgListening, PostgresDriver } from './postgres-connection.js';

/** The channel the change triggers notify on; the payload is `<backend pid> <schema>.<table>`. */
export const CHANGE_CHANNEL = 'sluice_changes';

/**
 * One LISTEN connection per database, opened when the first listener subscribes: tables whose
 * triggers notify (postgres-notify-ddl.ts) tell it which table a commit changed, foreign writers'
 * commits included (psql, a Python service). Commits of our own writer are left out: the commit
 * feed has told this process already. A lost connection is retried with backoff; until it is
 * back, `connected` is false and listeners fall back to polling.
 */
export class ChangeListener {
  readonly #options: PgConnectionOptions;
  readonly #driver: PostgresDriver;
  readonly #schema: () => string;
  readonly #ownPid: (pid: number) => boolean;
  readonly #listeners = new Set<(table: string) => void>();
  #connection: PgListening | undefined;
  #connecting = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Reconnections after a lost LISTEN connection. */
  reconnects = 0;
  notifications = 0;

  constructor(options: PgConnectionOptions, driver: PostgresDriver, schema: () => string, ownPid: (pid: number) => boolean) {
    this.#options = options;
    this.#driver = driver;
    this.#schema = schema;
    this.#ownPid = ownPid;
  }

  get connected(): boolean {
    return this.#connection !== undefined;
  }

  /** The listening server process, while connected. */
  get pid(): number | undefined {
    return this.#connection?.pid;
  }

  subscribe(listener: (table: string) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#connection && !this.#connecting) void this.#connect();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#connecting) return;
    this.#connecting = true;
    try {
      if (!this.#driver.listen) return;
      this.#connection = await this.#driver.listen(
        this.#options,
        CHANGE_CHANNEL,
        (payload) => this.#receive(payload),
        () => this.#lost(),
      );
      if (this.#attempt > 0) {
        this.reconnects++;
        // Changes made while we were away went unheard: every listener looks once.
        for (const listener of this.#listeners) listener('*');
      }
      this.#attempt = 0;
    } catch {
      this.#retry();
    } finally {
      this.#connecting = false;
    }
  }

  #lost(): void {
    this.#connection = undefined;
    this.#retry();
  }

  #retry(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#connect();
      },
      backoffMs(this.#attempt++, { initialMs: 100, maxMs: 5000 }),
    );
    this.#timer.unref();
  }

  #receive(payload: string): void {
    const space = payload.indexOf(' ');
    const pid = Number(payload.slice(0, space));
    const qualified = payload.slice(space + 1);
    const dot = qualified.indexOf('.');
    if (qualified.slice(0, dot) !== this.#schema() || this.#ownPid(pid)) return;
    this.notifications++;
    const table = qualified.slice(dot + 1);
    for (const listener of this.#listeners) listener(table);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#connection?.close();
    this.#connection = undefined;
  }
}
