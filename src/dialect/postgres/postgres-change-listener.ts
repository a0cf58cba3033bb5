import { backoffMs } from '../../core/backoff.js';
import type { PgConnectionOptions, PgListening, PostgresDriver } from './postgres-connection.js';

/** The channel the change triggers notify on; the payload is `<backend pid> <schema>.<table>[ <json array of keys>]`. */
export const CHANGE_CHANNEL = 'sluice_changes';

/** A table another client changed, with its changed keys when the trigger sent them; `'*'`: anything may have changed. */
export type ForeignChangeListener = (table: string, keys?: readonly (readonly unknown[])[]) => void;

/** Keys the trigger sent, or undefined (the whole table) when they do not parse. */
function parseKeys(json: string): unknown[][] | undefined {
  try {
    const keys = JSON.parse(json) as unknown;
    return Array.isArray(keys) && keys.every(Array.isArray) ? (keys as unknown[][]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One LISTEN connection per database, opened when the first listener subscribes: tables whose
 * triggers notify (postgres-notify-ddl.ts) tell it which table a commit changed, foreign writers'
 * commits included (psql, a Python service), and for cached tables which keys. Commits of our own
 * writer are left out: the commit feed has told this process already. A lost connection is
 * retried with backoff; until it is back, `connected` is false, listeners fall back to polling
 * and caches to their stale bound, and they are told `'*'` both when it is lost (what they hold
 * may change unheard from now on) and when it is back (changes went unheard meanwhile).
 */
export class ChangeListener {
  readonly #options: PgConnectionOptions;
  readonly #driver: PostgresDriver;
  readonly #schema: () => string;
  readonly #ownPid: (pid: number) => boolean;
  readonly #beforeDispatch: () => void;
  readonly #listeners = new Set<ForeignChangeListener>();
  #connection: PgListening | undefined;
  #connecting = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Reconnections after a lost LISTEN connection. */
  reconnects = 0;
  notifications = 0;

  /**
   * `beforeDispatch` runs once per foreign change before any listener hears of it: the read
   * replicas then wait for the primary's position, so a cache refilled on the news reads the change.
   */
  constructor(
    options: PgConnectionOptions,
    driver: PostgresDriver,
    schema: () => string,
    ownPid: (pid: number) => boolean,
    beforeDispatch: () => void = () => {},
  ) {
    this.#beforeDispatch = beforeDispatch;
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

  subscribe(listener: ForeignChangeListener): () => void {
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
        this.#beforeDispatch();
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
    for (const listener of this.#listeners) listener('*');
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
    const rest = payload.slice(space + 1);
    const space2 = rest.indexOf(' ');
    const qualified = space2 < 0 ? rest : rest.slice(0, space2);
    const dot = qualified.indexOf('.');
    if (qualified.slice(0, dot) !== this.#schema() || this.#ownPid(pid)) return;
    this.notifications++;
    const table = qualified.slice(dot + 1);
    const keys = space2 < 0 ? undefined : parseKeys(rest.slice(space2 + 1));
    this.#beforeDispatch();
    for (const listener of this.#listeners) listener(table, keys);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#connection?.close();
    this.#connection = undefined;
  }
}
