/**
 * The PostgreSQL dialect.
 *
 * Driver: pg (node-postgres), chosen by bench/postgres-driver.ts, which runs both drivers in one
 * run, shape by shape, alternating, and reports medians with the client CPU each spends per row.
 * Its second half runs this very dialect with each driver behind the connection port
 * (postgres-connection.ts). 2026-11-22, 2 cores shared with the server and with other jobs
 * (load ~5, so rows/s are noisy; CPU µs/row is the steadier figure), PostgreSQL 15, 5 rounds:
 *
 *   shape (rows/s, client CPU µs per row)          pg               postgres.js
 *   1,000-row unnest insert per transaction        38,415   5.0     27,531   5.9
 *   1,000 awaited inserts in one transaction        1,765  90       2,404  143
 *   the same, each in SAVEPOINT / RELEASE           1,784  183      1,177  374
 *   1,000 inserts issued at once (pjs pipelines)    2,238   72      2,215  122
 *   autocommit inserts from 8 connections           1,317  109      1,491  112
 *   dialect: 1,000-op insert batch                 26,691   5.2     31,399   5.2
 *   dialect: 1,000-op update batch                  2,633  117      2,925  131
 *   dialect: 1,000-op compare-and-set batch         2,466  122      3,067  119
 *   dialect: point read by key, 16 in flight        4,755   99      9,828   51
 *
 * (An earlier run on a quieter machine, best of 2: unnest 101,724 vs 87,481 rows/s; awaited
 * 8,439 vs 6,870; savepoints 4,644 vs 2,817.) The group-commit insert path, which carries the
 * gate's throughput, costs the same with both; per-statement work inside the writer's
 * transaction (updates, compare-and-set, savepoints) costs pg up to half the client CPU, and
 * postgres.js's pipelining buys little because the server's CPU bounds per-statement work here.
 * postgres.js is cheaper on pooled point reads. pg wins on the write path and on what the
 * reliability of the writer rests on: its client reports the connection's end and error as
 * events and knows its backend's pid from the start, which settling a COMMIT whose reply was lost
 * needs (postgres-commit.ts); its type parsers are given per client and pool, never global.
 * Either stays behind the small port, so the choice can be revisited by rerunning the bench.
 * Rerun 2026-12-01 (2 rounds, load ~2) after the writer began pipelining (pg's `pipeline`
 * option) and writing its array literals itself: dialect 1,000-op insert batch pg 77,493 rows/s
 * at 6.3 µs/row (59,854 and 8.8 before), postgres.js 66,494 at 6.0; pg stays.
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
import { MIGRATIONS_TABLE, type MigrationSession, runMigrations } from '../migrator.js';
import type { WriteOp } from '../write-op.js';
import { postgresAdapter } from './postgres-adapter.js';
import { MAX_BOUND_VALUES, PostgresBatchRunner } from './postgres-batch.js';
import { ChangeListener, type ForeignChangeListener } from './postgres-change-listener.js';
import { ensureCommitMarkers } from './postgres-commit.js';
import {
  type PgConnection,
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
    let conn: PgConnection;
    try {
      conn = await this.#writer.get();
    } catch (error) {
      throw classifyPostgresError(error);
    }
    const session: MigrationSession = {
      exec: async (sql) => void (await conn.query(sql)),
      version: async () => {
        await conn.query(
          `create table if not exists ${MIGRATIONS_TABLE} (version bigint primary key, description text not null, applied_at timestamptz not null default now())`,
        );
        return Number((await conn.query(`select coalesce(max(version), 0) as v from ${MIGRATIONS_TABLE}`)).rows[0]?.v ?? 0);
      },
      record: async (version, description) =>
        void (await conn.query(`insert into ${MIGRATIONS_TABLE} (version, description) values ($1, $2)`, [version, description])),
      columns: async (table) => {
        const { rows } = await conn.query(
          'select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1',
          [table],
        );
        return rows.length === 0 ? undefined : new Set(rows.map((r) => String(r.column_name)));
      },
    };
    try {
      await conn.query(`begin; ${this.#writer.prologue}`);
      await conn.query("select pg_advisory_xact_lock(hashtext('sluice.migrate'), hashtext(coalesce(current_schema(), '')))");
      const report = await runMigrations(session, this.adapter.ddl, tables, codeVersion, migrations);
      await conn.query('commit');
      this.#replicas?.noteCommit();
      return report;
    } catch (error) {
      if (isConnectionLoss(error) || conn.broken) this.#writer.discard(conn);
      else await conn.query('rollback').catch(() => this.#writer.discard(conn));
      throw classifyPostgresError(error);
    }
  }

  async rebuildRollup(table: AnyTableDef, policy: RollupPolicy, from: Date | undefined, to: Date | undefined): Promise<void> {
    let conn: PgConnection;
    try {
      conn = await this.#writer.get();
    } catch (error) {
      throw classifyPostgresError(error, table.name);
    }
    try {
      await conn.query(`begin; ${this.#writer.prologue}`);
      // The source's writers wait while the range is recomputed, so no row lands between the delete and the insert.
      await conn.query(`lock table ${quoteIdentifier(policy.source.name)} in share row exclusive mode`);
      for (const statement of postgresRollupRebuild(this.adapter.builder, table, policy, from, to)) await conn.query(statement);
      await conn.query('commit');
      this.#replicas?.noteCommit();
    } catch (error) {
      if (isConnectionLoss(error) || conn.broken) this.#writer.discard(conn);
      else await conn.query('rollback').catch(() => this.#writer.discard(conn));
      throw classifyPostgresError(error, table.name);
    }
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

  /**
   * Read on the writer, in a transaction opened as a batch's is: the settings reported are those
   * writes run with (behind a pooler a reader's would show the server's defaults). The writer is
   * free: like migrate(), diagnose() runs in the gate's exclusive section.
   */
  async diagnose(): Promise<Record<string, unknown>> {
    let conn: PgConnection | undefined;
    let rows: Record<string, unknown>[];
    try {
      conn = await this.#writer.get();
      const settled = await Promise.allSettled([
        conn.query(`begin; ${this.#writer.prologue}`),
        conn.query(
          `select current_setting('server_version') as server_version, current_database() as database, current_schema() as schema,
                  pg_database_size(current_database())::bigint as database_bytes,
                  current_setting('synchronous_commit') as synchronous_commit, current_setting('fsync') as fsync,
                  (select count(*) from pg_stat_activity where datname = current_database())::bigint as connections,
                  current_setting('max_connections')::bigint as max_connections`,
        ),
        conn.query('commit'),
      ]);
      // A writer whose transaction did not end cleanly is replaced before the next batch.
      if (settled[2].status === 'rejected') this.#writer.discard(conn);
      for (const step of settled) if (step.status === 'rejected') throw step.reason;
      rows = (settled[1] as PromiseFulfilledResult<PgResult>).value.rows;
    } catch (error) {
      if (conn && (conn.broken || isConnectionLoss(error))) this.#writer.discard(conn);
      throw classifyPostgresError(error);
    }
    const facts = rows[0] ?? {};
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
