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
}

/** The driver behind the port: how the writer's connection and the readers' pool are opened. */
export interface PostgresDriver {
  connect(options: PgConnectionOptions, role: 'writer'): Promise<PgConnection>;
  createPool(options: PgConnectionOptions, size: number): PgPool;
}

/**
 * Settings every connection starts with, sent in the startup packet so they hold from its first
 * statement at no extra round trip. synchronous_commit is on even if the server's default is off:
 * a COMMIT that returned has been flushed to the WAL on disk (both `durability` settings get
 * this; see postgres-dialect.ts).
 */
export function connectionSettings(options: PgConnectionOptions, role: 'writer' | 'reader'): Record<string, string> {
  const settings: Record<string, string> = {
    synchronous_commit: 'on',
    // Names the schema too, so pg_stat_activity tells which database's writer a backend serves.
    application_name: `sluice ${role}${options.schema === undefined ? '' : ` ${options.schema}`}`.slice(0, 63),
  };
  if (options.schema !== undefined) settings.search_path = `"${options.schema}"`;
  // A writer frozen mid-transaction (a stopped process) must not hold its locks for ever.
  if (role === 'writer') settings.idle_in_transaction_session_timeout = '60000';
  return settings;
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

  constructor(options: PgConnectionOptions, driver: PostgresDriver) {
    this.#options = options;
    this.#driver = driver;
  }

  get connected(): boolean {
    return this.#current !== undefined && !this.#current.broken;
  }

  async get(): Promise<PgConnection> {
    if (this.#closed) throw new Error('the writer connection is closed');
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
