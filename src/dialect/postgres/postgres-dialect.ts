/**
 * The PostgreSQL dialect.
 *
 * Driver: pg (node-postgres); why, measured against postgres.js, is in postgres-pg-driver.ts.
 *
 * Durability: every transaction runs with synchronous_commit = on, whatever the server default
 * (a startup setting of each connection, or SET LOCAL in each transaction behind a pooler), so a
 * resolved write has been flushed to the WAL on disk: it survives a crash of the server
 * process and a power loss (given fsync = on on the server, which diagnose() reports). Both
 * `durability` settings get this guarantee; PostgreSQL offers nothing weaker that keeps
 * 'process-crash' (synchronous_commit = off can lose the last commits of a server crash).
 */
import { backoffMs, delay } from '../../core/backoff.js';
import type { Durability } from '../../core/kinds.js';
import { SluiceError } from '../../core/sluice-error.js';
import type { RollupPolicy } from '../../schema/define-rollup.js';
import type { AnyTableDef } from '../../schema/define-table.js';
import type { Migration } from '../../schema/migration.js';
import type { JsRow, RowCodec } from '../../schema/row-codec.js';
import type { BatchResult, Dialect, DialectStats, ExtraWrites, MigrationReport } from '../dialect.js';
import { MIGRATIONS_TABLE, runMigrations } from '../migrator.js';
import type { WriteOp } from '../write-op.js';
import { postgresAdapter } from './postgres-adapter.js';
import { MAX_BOUND_VALUES, PostgresBatchRunner } from './postgres-batch.js';
import { ChangeListener, type ForeignChangeListener } from './postgres-change-listener.js';
import { ensureCommitMarkers } from './postgres-commit.js';
import {
  type PgConnectionOptions,
  type PgPool,
  type PgResult,
  type PgSession,
  type PostgresDriver,
  WriterSlot,
} from './postgres-connection.js';
import { classifyPostgresError, isConnectionLoss } from './postgres-errors.js';
import { checkServer, ensureSchema, openError } from './postgres-open.js';
import { pgDriver } from './postgres-pg-driver.js';
import { refuseUndeclaredPooler } from './postgres-pooler.js';
import { postgresRollupRebuild } from './postgres-rollup-ddl.js';
import { onConflictDoUpdate, type UpsertClause } from './postgres-statements.js';
import { quoteIdentifier } from './postgres-types.js';
import { inWriterTransaction, migrationSession, writerFacts } from './postgres-writer-work.js';
import { type ReplicaOptions, ReplicaRouter } from './replica-router.js';

export interface PostgresDialectOptions {
  readonly url: string;
  /** The schema every connection's search_path names; created at open when missing. */
  readonly schema: string | undefined;
  /** Connections in all: one writer, the rest readers. */
  readonly poolSize: number;
  /** Accepted for symmetry with SQLite: PostgreSQL commits are always synchronous here. */
  readonly durability: Durability;
  /** The upsert SQL; a PostgreSQL-compatible engine with another syntax passes its own. */
  readonly upsert?: UpsertClause;
  /** The driver behind the connection port. Default: pg (see the measurements above). */
  readonly driver?: PostgresDriver;
  /**
   * 'transaction': the server is reached through a pooler in transaction mode (PgBouncer's
   * pool_mode = transaction). No named prepared statements, no startup parameters (the settings
   * are SET LOCAL in each transaction, and reads run in one of their own when a schema is named),
   * only transaction-scoped advisory locks, no LISTEN. Without it, open() refuses such a pooler.
   */
  readonly pooler?: 'transaction' | undefined;
  /** Read replicas: reads go to one that has replayed this process's last commit (replica-router.ts). */
  readonly replicas?: ReplicaOptions | undefined;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** Attempts a read makes when its pooled connection turns out to be dead (a server restart). */
const READ_ATTEMPTS = 3;
const MAX_PREPARED = 1000;

/**
 * A pool of readers and one writer connection owned by the write gate, which runs one batch at a
 * time. Writes never take a pooled connection, so a burst of reads cannot starve commits.
 */
export class PostgresDialect implements Dialect {
  readonly adapter = postgresAdapter();
  readonly #schema: string | undefined;
  readonly #pooler: boolean;
  readonly #pool: PgPool;
  readonly #writer: WriterSlot;
  readonly #batches: PostgresBatchRunner;
  readonly #names = new Map<string, string>();
  #closing: Promise<void> | undefined;
  /**
   * A server-side prepared statement per distinct text saves the parse and plan on every later
   * call. Compare-and-set conditions and filters make texts vary, so the names are capped: past
   * the cap a new text runs unnamed rather than filling every connection's memory. Behind a
   * pooler every statement runs unnamed: a server connection is shared, and another process's
   * `sluice_3` may be a different statement that would run with our parameters.
   */
  readonly #name = (sql: string): string | undefined => {
    if (this.#pooler) return undefined;
    let name = this.#names.get(sql);
    if (name === undefined) {
      if (this.#names.size >= MAX_PREPARED) return undefined;
      name = `sluice_${this.#names.size + 1}`;
      this.#names.set(sql, name);
    }
    return name;
  };

  private constructor(pool: PgPool, writer: WriterSlot, options: PostgresDialectOptions) {
    this.#schema = options.schema;
    this.#pooler = options.pooler === 'transaction';
    this.#pool = pool;
    this.#writer = writer;
    this.#batches = new PostgresBatchRunner(writer, this.adapter, options.upsert ?? onConflictDoUpdate, this.#name);
  }

  static async open(options: PostgresDialectOptions): Promise<PostgresDialect> {
    const connection: PgConnectionOptions = {
      url: options.url,
      schema: options.schema,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      pooler: options.pooler === 'transaction',
    };
    const driver = options.driver ?? pgDriver;
    const writer = new WriterSlot(connection, driver);
    let facts: Awaited<ReturnType<typeof checkServer>>;
    try {
      const conn = await writer.get();
      facts = await checkServer(conn);
      if (!connection.pooler) {
        await refuseUndeclaredPooler(conn, facts, options, () => driver.connect(connection, 'writer'));
      }
      if (options.schema !== undefined) await ensureSchema(conn, options.schema);
      await ensureCommitMarkers(conn, writer.prologue);
    } catch (error) {
      await writer.close();
      throw openError(options.url, error);
    }
    const pool = driver.createPool(connection, Math.max(1, options.poolSize - 1));
    const dialect = new PostgresDialect(pool, writer, options);
    if (options.replicas && options.replicas.urls.length > 0) {
      dialect.#replicas = new ReplicaRouter(options.replicas, connection, driver, Math.max(1, options.poolSize - 1), pool);
    }
    // Behind a transaction pooler LISTEN would hold a server connection nobody else may use.
    if (!connection.pooler && driver.listen) {
      const schema = options.schema ?? facts.currentSchema ?? 'public';
      dialect.#changes = new ChangeListener(
        connection,
        driver,
        () => schema,
        (pid) => pid === writer.pid,
        // A foreign commit is read from a replica only once the replica holds it, as our own are.
        () => dialect.#replicas?.noteCommit(),
      );
    }
    return dialect;
  }

  #changes: ChangeListener | undefined;
  #replicas: ReplicaRouter | undefined;

  /** Foreign commits by table (and key, for cached tables), from the NOTIFY triggers; absent behind a pooler. */
  get onForeignChange(): ((listener: ForeignChangeListener) => () => void) | undefined {
    const changes = this.#changes;
    return changes && ((listener) => changes.subscribe(listener));
  }

  foreignChangesLive(): boolean {
    return this.#changes?.connected === true;
  }

  /** The LISTEN connection, for status and for tests that cut it. */
  get changeListener(): ChangeListener | undefined {
    return this.#changes;
  }

  executeBatch(ops: readonly WriteOp[], extra: ExtraWrites | undefined): Promise<BatchResult> {
    const replicas = this.#replicas;
    // Even a failed batch may have committed (a lost COMMIT reply): its position is recorded too.
    return replicas ? this.#batches.run(ops, extra).finally(() => replicas.noteCommit()) : this.#batches.run(ops, extra);
  }

  async getByKey(codec: RowCodec, key: readonly unknown[]): Promise<JsRow | undefined> {
    const sql = this.#batches.statements(codec).selectByKey();
    const name = this.#name(sql);
    const { rows } = await this.#routed((session) => this.#read(sql, key, name, codec.table.name, session));
    const row = rows[0];
    return row === undefined ? undefined : codec.decodeRow(row);
  }

  async selectAll(sql: string, params: readonly unknown[]): Promise<JsRow[]> {
    return (await this.#routed((session) => this.#read(sql, params, undefined, undefined, session))).rows;
  }

  /** Through the replica router when replicas are configured; a replica gets one attempt, then the primary answers. */
  #routed(read: (session: PgSession | undefined) => Promise<PgResult>): Promise<PgResult> {
    return this.#replicas ? this.#replicas.read(read, () => read(undefined)) : read(undefined);
  }

  /** A pooled connection the server dropped fails once; the pool then replaces it, so try again. */
  async #read(
    sql: string,
    params: readonly unknown[],
    name: string | undefined,
    table?: string,
    /** A replica's pool: one attempt, its error left raw for the router to fall back on. */
    session: PgSession | undefined = undefined,
  ) {
    if (params.length > MAX_BOUND_VALUES) {
      throw new SluiceError(
        'VALIDATION',
        `A read${table ? ` of ${table}` : ''} needs ${params.length.toLocaleString('en-US')} bound values; PostgreSQL takes at most ${MAX_BOUND_VALUES.toLocaleString('en-US')} in one statement. Pass a long list as one $in / $nin array instead of many $or conditions.`,
        { table, value: params.length },
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await (session ?? this.#pool).query(sql, params, name);
      } catch (error) {
        if (session) throw error;
        if (!isConnectionLoss(error) || attempt >= READ_ATTEMPTS) throw classifyPostgresError(error, table);
        await delay(backoffMs(attempt, { initialMs: 25, maxMs: 200 }));
      }
    }
  }

  async schemaVersion(): Promise<number> {
    const { rows } = await this.#read('select to_regclass($1) is not null as present', [MIGRATIONS_TABLE], undefined);
    if (rows[0]?.present !== true) return 0;
    const version = await this.#read(`select coalesce(max(version), 0) as v from ${MIGRATIONS_TABLE}`, [], undefined);
    return Number(version.rows[0]?.v ?? 0);
  }

  /**
   * One transaction on the writer holding a transaction-scoped advisory lock per schema: a second
   * process migrating at once waits for the first to commit, then finds its work done, so each
   * change is applied once. DDL is transactional in PostgreSQL, so a failed migration leaves
   * nothing behind.
   */
  async migrate(tables: readonly AnyTableDef[], codeVersion: number, migrations: readonly Migration[]): Promise<MigrationReport> {
    const report = await inWriterTransaction(this.#writer, undefined, async (conn) => {
      await conn.query("select pg_advisory_xact_lock(hashtext('sluice.migrate'), hashtext(coalesce(current_schema(), '')))");
      return runMigrations(migrationSession(conn), this.adapter.ddl, tables, codeVersion, migrations);
    });
    this.#replicas?.noteCommit();
    return report;
  }

  async rebuildRollup(table: AnyTableDef, policy: RollupPolicy, from: Date | undefined, to: Date | undefined): Promise<void> {
    await inWriterTransaction(this.#writer, table.name, async (conn) => {
      // The source's writers wait while the range is recomputed, so no row lands between the delete and the insert.
      await conn.query(`lock table ${quoteIdentifier(policy.source.name)} in share row exclusive mode`);
      for (const statement of postgresRollupRebuild(this.adapter.builder, table, policy, from, to)) await conn.query(statement);
    });
    this.#replicas?.noteCommit();
  }

  classify(error: unknown, table?: string): SluiceError {
    return classifyPostgresError(error, table);
  }

  stats(): DialectStats {
    const pool = this.#pool.counts();
    return {
      poolTotal: pool.total,
      poolIdle: pool.idle,
      poolWaiting: pool.waiting,
      writerConnected: this.#writer.connected ? 1 : 0,
      writerReconnects: this.#writer.reconnects,
      ...this.#batches.stats,
      ...this.#replicas?.stats(),
    };
  }

  /** Health facts for `sluice doctor`, read on the writer (see writerFacts). */
  async diagnose(): Promise<Record<string, unknown>> {
    const facts = await writerFacts(this.#writer);
    return {
      dialect: 'postgres',
      serverVersion: facts.server_version,
      database: facts.database,
      schema: facts.schema ?? this.#schema ?? null,
      pooler: this.#pooler ? 'transaction' : null,
      databaseBytes: facts.database_bytes,
      synchronousCommit: facts.synchronous_commit,
      fsync: facts.fsync,
      connections: facts.connections,
      maxConnections: facts.max_connections,
      schemaVersion: await this.schemaVersion(),
      ...(this.#replicas ? { replicas: this.#replicas.describe() } : {}),
      ...this.stats(),
    };
  }

  /** Ends the writer, then the readers once their queries finish; later calls wait for the first. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#changes?.close();
      await this.#writer.close();
      await this.#pool.end();
      await this.#replicas?.close();
    })();
    return this.#closing;
  }
}
