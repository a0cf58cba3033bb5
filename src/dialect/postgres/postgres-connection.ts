import { SluiceError } from '../../core/sluice-error.js';

/** What the dialect needs from a query: rows (already parsed) and the affected-row count. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number;
}

/**
 * The few things the dialect asks of a connection: the port keeps the driver at the edge. `name`
 * asks for a server-side prepared statement, reused for every later call with the same text.
 */
export interface PgSession {
  query(text: string, params?: readonly unknown[], name?: string): Promise<PgResult>;
}

/** The writer's own connection: it knows when the server or the network dropped it. */
export interface PgConnection extends PgSession {
  readonly broken: boolean;
  /** The server process behind the connection, to end it when its state is in doubt. */
  readonly pid: number;
  close(): Promise<void>;
}

/** The readers: any idle connection serves a query. */
export interface PgPool extends PgSession {
  counts(): { total: number; idle: number; waiting: number };
  end(): Promise<void>;
}

export interface PgConnectionOptions {
  readonly url: string;
  /** Every connection's search_path, so unqualified table names resolve to this schema only. */
  readonly schema: string | undefined;
  /** Milliseconds a connection attempt may take. */
  readonly connectTimeoutMs: number;
  /**
   * Behind a pooler in transaction mode (PgBouncer's pool_mode = transaction): consecutive
   * transactions of one client connection may run on different server connections, shared with
   * other clients, so nothing may live on a server connection beyond one transaction. The
   * settings then travel as SET LOCAL inside each transaction instead of in the startup packet.
   */
  readonly pooler?: boolean;
}

/** The driver behind the port: how the writer's connection and the readers' pool are opened. */
export interface PostgresDriver {
  connect(options: PgConnectionOptions, role: 'writer'): Promise<PgConnection>;
  createPool(options: PgConnectionOptions, size: number): PgPool;
  /** A connection that LISTENs on `channel`: `onMessage` per notification, `onEnd` once it is gone. Absent: no notifications. */
  listen?(options: PgConnectionOptions, channel: string, onMessage: (payload: string) => void, onEnd: () => void): Promise<PgListening>;
}

/** A LISTEN connection: its server process (for tests that cut it), and how to end it. */
export interface PgListening {
  readonly pid: number;
  close(): Promise<void>;
}

/**
 * The settings our sessions run with. synchronous_commit is on even if the server's default is
 * off: a COMMIT that returned has been flushed to the WAL on disk (both `durability` settings get
 * this; see postgres-dialect.ts).
 */
function sessionSettings(options: PgConnectionOptions, role: 'writer' | 'reader'): Record<string, string> {
  // Values are written into SQL and startup options as they are: keywords, numbers, a quoted identifier.
  const settings: Record<string, string> = { synchronous_commit: 'on' };
  if (options.schema !== undefined) settings.search_path = `"${options.schema}"`;
  // A writer frozen mid-transaction (a stopped process) must not hold its locks for ever.
  if (role === 'writer') settings.idle_in_transaction_session_timeout = '60000';
  return settings;
}

/**
 * Settings every connection starts with, sent in the startup packet so they hold from its first
 * statement at no extra round trip. Behind a pooler there are none: PgBouncer refuses startup
 * parameters it does not know (or drops them when told to ignore them), and a server connection
 * serves many clients, so each transaction carries them instead (transactionPrologue). Not even
 * application_name: PgBouncer would SET it on the server connection each time a client with
 * another name takes it over, a statement more on most transactions.
 */
export function connectionSettings(options: PgConnectionOptions, role: 'writer' | 'reader'): Record<string, string> {
  if (options.pooler) return {};
  return {
    ...sessionSettings(options, role),
    // Names the schema too, so pg_stat_activity tells which database's writer a backend serves.
    application_name: `sluice ${role}${options.schema === undefined ? '' : ` ${options.schema}`}`.slice(0, 63),
  };
}

/**
 * The statements that follow BEGIN in each transaction behind a pooler (SET LOCAL: they end with
 * the transaction, so the next client of that server connection never inherits them); empty on a
 * direct connection, whose startup packet set them for the session. A read commits nothing, so
 * only its schema matters: without one, a reader's prologue is empty too, and reads run bare.
 * Ends with `; ` when not empty, to go in front of the next statement of a simple query.
 */
export function transactionPrologue(options: PgConnectionOptions, role: 'writer' | 'reader'): string {
  if (!options.pooler) return '';
  return Object.entries(sessionSettings(options, role))
    .filter(([name]) => role === 'writer' || name === 'search_path')
    .map(([name, value]) => `set local ${name} = ${value}; `)
    .join('');
}

/**
 * The writer connection with one owner: connected on first use, replaced on the next use after
 * it broke (a server restart, a network cut), closed once.
 */
export class WriterSlot {
  readonly #options: PgConnectionOptions;
  readonly #driver: PostgresDriver;
  #current: PgConnection | undefined;
  #connecting: Promise<PgConnection> | undefined;
  #closed = false;
  reconnects = 0;
  /** What each of the writer's transactions runs after BEGIN (transactionPrologue). */
  readonly prologue: string;

  constructor(options: PgConnectionOptions, driver: PostgresDriver) {
    this.#options = options;
    this.#driver = driver;
    this.prologue = transactionPrologue(options, 'writer');
  }

  get connected(): boolean {
    return this.#current !== undefined && !this.#current.broken;
  }

  /** The writer's server process now (its own commits notify with it); undefined while disconnected. */
  get pid(): number | undefined {
    return this.#current?.pid;
  }

  async get(): Promise<PgConnection> {
    if (this.#closed) throw new SluiceError('CLOSED', 'The PostgreSQL writer connection is closed. Open the database again.');
    if (this.#current && !this.#current.broken) return this.#current;
    this.#connecting ??= (async () => {
      try {
        if (this.#current) this.discard(this.#current);
        this.#current = await this.#driver.connect(this.#options, 'writer');
        return this.#current;
      } finally {
        this.#connecting = undefined;
      }
    })();
    return this.#connecting;
  }

  /** Forgets a connection whose state is unknown; the next get() opens a fresh one. */
  discard(connection: PgConnection): void {
    void connection.close();
    if (this.#current !== connection) return;
    this.#current = undefined;
    this.reconnects++;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    await current?.close();
  }
}
