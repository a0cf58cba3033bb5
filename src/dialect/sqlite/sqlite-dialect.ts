import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { delay, retryWithBackoff } from '../../core/backoff.js';
import { SluiceError } from '../../core/sluice-error.js';
import type { RollupPolicy } from '../../schema/define-rollup.js';
import type { AnyTableDef } from '../../schema/define-table.js';
import type { Migration } from '../../schema/migration.js';
import type { JsRow, RowCodec } from '../../schema/row-codec.js';
import type { BatchResult, Dialect, DialectStats, ExtraWrites, MigrationReport, OffThreadReader } from '../dialect.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { MIGRATIONS_TABLE, type MigrationSession, runMigrations } from '../migrator.js';
import type { WriteOp } from '../write-op.js';
import { FileIdentity } from './file-identity.js';
import { sqliteAdapter } from './sqlite-adapter.js';
import { SqliteBatchRunner } from './sqlite-batch.js';
import { CheckpointWatchdog } from './sqlite-checkpoint.js';
import { type Durability, openSqliteConnection } from './sqlite-connection.js';
import { classifySqliteError, isSqliteBusy } from './sqlite-errors.js';
import { sqliteRollupRebuild } from './sqlite-rollup-ddl.js';
import { SqliteThreadReader } from './sqlite-thread-reader.js';

export interface SqliteDialectOptions {
  /** A file path, or ':memory:'. */
  readonly file: string;
  readonly durability: Durability;
  /** Writer page cache in KiB: scattered-key batches slow sharply once their index pages no longer fit. */
  readonly cacheKiB: number;
  /** The WAL size past which the watchdog forces a TRUNCATE checkpoint. */
  readonly walMaxBytes: number;
  readonly checkpointIntervalMs: number;
  /** How long an open or a read may keep retrying a lock before giving up with BUSY. */
  readonly lockTimeoutMs: number;
  /** Create a missing file and its folder; false refuses a missing file with NOT_FOUND. Default true. */
  readonly create?: boolean;
}

/**
 * One writer connection, owned by the write gate, and one reader beside it. A ':memory:'
 * database is private to its connection, so there the writer also serves reads.
 */
export class SqliteDialect implements Dialect {
  readonly adapter: DialectAdapter;
  readonly file: string;
  readonly #writer: Database.Database;
  readonly #reader: Database.Database;
  readonly #batches: SqliteBatchRunner;
  readonly #readStatements = new Map<string, Database.Statement>();
  /** Each table's point-read statement, by its codec (one lookup on the hot path, not three). */
  readonly #byKey = new Map<RowCodec, Database.Statement>();
  readonly #watchdog: CheckpointWatchdog;
  readonly #lockTimeoutMs: number;
  readonly #cacheKiB: number;

  private constructor(writer: Database.Database, reader: Database.Database, options: SqliteDialectOptions) {
    this.file = options.file;
    this.adapter = sqliteAdapter(options.file);
    this.#writer = writer;
    this.#reader = reader;
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#cacheKiB = options.cacheKiB;
    const identity = options.file === ':memory:' ? undefined : new FileIdentity(options.file);
    this.#batches = new SqliteBatchRunner(writer, this.adapter, () => identity?.check());
    this.#watchdog = new CheckpointWatchdog(writer, options.file, options.walMaxBytes, options.checkpointIntervalMs);
  }

  static async open(options: SqliteDialectOptions): Promise<SqliteDialect> {
    const memory = options.file === ':memory:';
    const file = memory ? options.file : resolve(options.file);
    if (!memory && options.create === false && !existsSync(file)) {
      throw new SluiceError('NOT_FOUND', `There is no SQLite database at ${file}; nothing was created. Check the path.`, { value: file });
    }
    if (!memory) mkdirSync(dirname(file), { recursive: true });
    const open = (readonly: boolean, cacheKiB: number) =>
      retryWithBackoff(
        () => openSqliteConnection({ file, durability: options.durability, cacheKiB, readonly }),
        isSqliteBusy,
        options.lockTimeoutMs,
        (e) => classifySqliteError(e),
      );
    const writer = await open(false, options.cacheKiB);
    try {
      // The reader gets the writer's cache: point reads measured 16% slower with a quarter of it.
      const reader = memory ? writer : await open(true, options.cacheKiB);
      return new SqliteDialect(writer, reader, { ...options, file });
    } catch (error) {
      writer.close();
      throw error;
    }
  }

  async executeBatch(ops: readonly WriteOp[], extra: ExtraWrites | undefined): Promise<BatchResult> {
    return this.#batches.run(ops, extra);
  }

  async getByKey(codec: RowCodec, key: readonly unknown[]): Promise<JsRow | undefined> {
    return this.readByKey(codec, key);
  }

  /** The point read itself, synchronous unless it meets a lock: no promise, closure or SQL lookup per call. */
  readByKey(codec: RowCodec, key: readonly unknown[]): JsRow | undefined | Promise<JsRow | undefined> {
    let statement = this.#byKey.get(codec);
    if (statement === undefined) {
      statement = this.#readStatement(this.#batches.statements(codec).selectByKey());
      this.#byKey.set(codec, statement);
    }
    // A one-column key binds as the value itself: measured ~0.09 µs cheaper than an array.
    const bound: unknown = key.length === 1 ? key[0] : key;
    let row: JsRow | undefined;
    try {
      row = statement.get(bound) as JsRow | undefined;
    } catch (error) {
      if (!isSqliteBusy(error)) throw classifySqliteError(error);
      const get = statement;
      return this.#waitRead(() => get.get(bound) as JsRow | undefined).then((r) => (r === undefined ? undefined : codec.decodeRow(r)));
    }
    return row === undefined ? undefined : codec.decodeRow(row);
  }

  /** A file's bulk reads in a worker thread of their own; none for ':memory:', which no other connection can open. */
  offThreadReader(): OffThreadReader | undefined {
    if (this.file === ':memory:') return undefined;
    const options = { file: this.file, cacheKiB: this.#cacheKiB, busyTimeoutMs: this.#lockTimeoutMs };
    return new SqliteThreadReader(options, (sql, params) => this.selectAll(sql, params));
  }

  async selectAll(sql: string, params: readonly unknown[]): Promise<JsRow[]> {
    const statement = this.#readStatement(sql);
    return (await this.#read(() => statement.all(params as unknown[]))) as JsRow[];
  }

  /** Reads rarely meet a lock (WAL recovery); when they do they wait asynchronously too. */
  #read<T>(fn: () => T): T | Promise<T> {
    try {
      return fn();
    } catch (error) {
      if (!isSqliteBusy(error)) throw classifySqliteError(error);
      return this.#waitRead(fn);
    }
  }

  #waitRead<T>(fn: () => T): Promise<T> {
    return retryWithBackoff(fn, isSqliteBusy, this.#lockTimeoutMs, (e) => classifySqliteError(e));
  }

  #readStatement(sql: string): Database.Statement {
    let statement = this.#readStatements.get(sql);
    if (!statement) {
      try {
        statement = this.#reader.prepare(sql);
      } catch (error) {
        throw classifySqliteError(error);
      }
      this.#readStatements.set(sql, statement);
    }
    return statement;
  }

  async schemaVersion(): Promise<number> {
    const exists = this.#reader.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(MIGRATIONS_TABLE);
    if (!exists) return 0;
    const row = this.#reader.prepare(`select coalesce(max(version), 0) as v from ${MIGRATIONS_TABLE}`).get() as { v: number };
    return row.v;
  }

  async migrate(tables: readonly AnyTableDef[], codeVersion: number, migrations: readonly Migration[]): Promise<MigrationReport> {
    const db = this.#writer;
    // BEGIN IMMEDIATE serialises migrating processes; the loser waits asynchronously, then finds
    // the work done. Every statement below is synchronous, so the lock is held for no await.
    await retryWithBackoff(
      () => db.prepare('BEGIN IMMEDIATE').run(),
      isSqliteBusy,
      Math.max(this.#lockTimeoutMs, 30_000),
      (e) => classifySqliteError(e),
    );
    const session: MigrationSession = {
      exec: async (sql) => void db.exec(sql),
      version: async () => {
        db.exec(
          `create table if not exists ${MIGRATIONS_TABLE} (version integer primary key, description text not null, applied_at integer not null) strict`,
        );
        return (db.prepare(`select coalesce(max(version), 0) as v from ${MIGRATIONS_TABLE}`).get() as { v: number }).v;
      },
      record: async (version, description) =>
        void db
          .prepare(`insert into ${MIGRATIONS_TABLE} (version, description, applied_at) values (?, ?, ?)`)
          .run(version, description, Date.now()),
      columns: async (table) => {
        const rows = db.prepare('select name from pragma_table_info(?)').all(table) as { name: string }[];
        return rows.length === 0 ? undefined : new Set(rows.map((r) => r.name));
      },
    };
    try {
      const report = await runMigrations(session, this.adapter.ddl, tables, codeVersion, migrations);
      db.prepare('COMMIT').run();
      this.#readStatements.clear();
      this.#byKey.clear();
      return report;
    } catch (error) {
      if (db.inTransaction) db.prepare('ROLLBACK').run();
      throw classifySqliteError(error);
    }
  }

  async rebuildRollup(table: AnyTableDef, policy: RollupPolicy, from: Date | undefined, to: Date | undefined): Promise<void> {
    const db = this.#writer;
    const statements = sqliteRollupRebuild(this.adapter.builder, table, policy, from?.getTime(), to?.getTime());
    await retryWithBackoff(
      () => db.prepare('BEGIN IMMEDIATE').run(),
      isSqliteBusy,
      Math.max(this.#lockTimeoutMs, 30_000),
      (e) => classifySqliteError(e, table.name, this.file),
    );
    try {
      for (const statement of statements) db.exec(statement);
      db.prepare('COMMIT').run();
    } catch (error) {
      if (db.inTransaction) db.prepare('ROLLBACK').run();
      throw classifySqliteError(error, table.name, this.file);
    }
  }

  dataVersion(): number {
    return this.#writer.pragma('data_version', { simple: true }) as number;
  }

  classify(error: unknown, table?: string): SluiceError {
    return classifySqliteError(error, table, this.file);
  }

  stats(): DialectStats {
    this.#watchdog.measure();
    return { ...this.#watchdog.stats };
  }

  /** Runs a TRUNCATE checkpoint now; true when the WAL was emptied. */
  checkpoint(): boolean {
    return this.#watchdog.checkpoint();
  }

  async diagnose(): Promise<Record<string, unknown>> {
    try {
      const pragma = (name: string) => this.#reader.pragma(name, { simple: true });
      const integrity = this.#reader.pragma('integrity_check') as { integrity_check: string }[];
      const walBefore = this.#watchdog.measure();
      const checkpointed = this.checkpoint();
      return {
        dialect: 'sqlite',
        file: this.file,
        sqliteVersion: (this.#reader.prepare('select sqlite_version() as v').get() as { v: string }).v,
        integrity: integrity.map((r) => r.integrity_check),
        journalMode: this.#writer.pragma('journal_mode', { simple: true }),
        synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(this.#writer.pragma('synchronous', { simple: true }))],
        pageSize: pragma('page_size'),
        pageCount: pragma('page_count'),
        freelistCount: pragma('freelist_count'),
        walBytesBefore: walBefore,
        walBytesAfter: this.#watchdog.stats.walBytes,
        checkpointComplete: checkpointed,
        schemaVersion: await this.schemaVersion(),
      };
    } catch (error) {
      // A page damaged badly enough makes integrity_check itself throw: say what it is and what to do.
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
        throw new SluiceError(
          'UNAVAILABLE',
          `The SQLite file ${this.file} is damaged: ${(error as Error).message} (${code}). Nothing was changed; restore it from a backup, or copy out what is readable with \`sqlite3 ${this.file} .recover\`.`,
          { cause: error },
        );
      }
      throw classifySqliteError(error);
    }
  }

  async close(): Promise<void> {
    this.#watchdog.stop();
    if (this.#reader !== this.#writer) this.#reader.close();
    // A last checkpoint leaves a small WAL for the next opener; a busy one is fine to skip.
    if (this.file !== ':memory:') this.#watchdog.checkpoint();
    this.#writer.close();
    await delay(0);
  }
}
