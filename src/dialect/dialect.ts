import { SluiceError } from '../core/sluice-error.js';
import type { RollupPolicy } from '../schema/define-rollup.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { Migration } from '../schema/migration.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';
import type { DialectAdapter } from './dialect-adapter.js';
import type { CommittedChange, Outcome, WriteOp } from './write-op.js';

/**
 * A lock held by someone else, or a server that cannot be reached: the whole batch was rolled
 * back and may be tried again. Anything else a batch raises is the fault of one operation. A
 * SluiceError (BUSY or UNAVAILABLE) like every error Sluice raises; the subclass is how the gate
 * tells "retry the batch" from "fail these writes".
 */
export class TransientError extends SluiceError {
  readonly reason: 'busy' | 'unavailable';
  constructor(reason: 'busy' | 'unavailable', message: string, cause: unknown) {
    super(reason === 'busy' ? 'BUSY' : 'UNAVAILABLE', message, { cause });
    this.reason = reason;
  }
}

export interface BatchResult {
  readonly outcomes: Outcome[];
  readonly changes: CommittedChange[];
}

/** Rows a hook adds to a batch's transaction (an outbox, say); they commit or fail with it. */
export type ExtraWrites = (changes: readonly CommittedChange[]) => readonly WriteOp[];

export interface DialectStats {
  walBytes?: number;
  checkpoints?: number;
  [key: string]: number | string | undefined;
}

/**
 * What the core needs from a database. Core code talks only to this; a dialect difference lives
 * behind it, never as a branch on the dialect's name.
 */
export interface Dialect {
  /** The SQL this database speaks and what it can do: everything that differs, in one object. */
  readonly adapter: DialectAdapter;
  /** Runs one batch in one transaction. Throws TransientError when the batch may be retried. */
  executeBatch(ops: readonly WriteOp[], extra: ExtraWrites | undefined): Promise<BatchResult>;
  getByKey(codec: RowCodec, key: readonly unknown[]): Promise<JsRow | undefined>;
  /**
   * getByKey for a driver that reads synchronously: the row itself, or a promise only when the
   * read had to wait (a lock). Lets a point read skip promise layers; absent where every read is
   * asynchronous (PostgreSQL).
   */
  readByKey?(codec: RowCodec, key: readonly unknown[]): JsRow | undefined | Promise<JsRow | undefined>;
  selectAll(sql: string, params: readonly unknown[]): Promise<JsRow[]>;
  /**
   * Reads on a connection of their own, off the event loop (SQLite: a worker thread), for bulk
   * work such as sync batches. Absent, or undefined, where reads never block the loop anyway
   * (PostgreSQL) or no second connection can see the data (SQLite ':memory:').
   */
  offThreadReader?(): OffThreadReader | undefined;
  migrate(tables: readonly AnyTableDef[], codeVersion: number, migrations: readonly Migration[]): Promise<MigrationReport>;
  schemaVersion(): Promise<number>;
  /** Maps a driver error to a SluiceError (codes CONSTRAINT, BUSY, UNAVAILABLE, …). */
  classify(error: unknown, table?: string): SluiceError;
  stats(): DialectStats;
  /**
   * SQLite's `PRAGMA data_version` on the writer connection: it changes only when another
   * connection (another process) commits. Present when `adapter.capabilities.dataVersion` is true.
   */
  dataVersion?(): number;
  /**
   * Tells `listener` which table another client's commit changed (PostgreSQL LISTEN/NOTIFY from
   * the triggers migrate() installs on lifecycle and cached tables, with the changed keys of cached
   * ones; `'*'` when the connection was lost and when it came back: look at everything). Absent where the database cannot say (SQLite uses dataVersion; a
   * transaction pooler forbids LISTEN): callers poll.
   */
  onForeignChange?(listener: (table: string, keys?: readonly (readonly unknown[])[]) => void): () => void;
  /**
   * True while onForeignChange is heard (PostgreSQL's LISTEN connection is up): the keys it passes
   * are those other clients changed in cached tables (none: the whole table). False or absent: a
   * cache can only bound how long it trusts an entry.
   */
  foreignChangesLive?(): boolean;
  /** Health facts for `sluice doctor`. */
  diagnose(): Promise<Record<string, unknown>>;
  /**
   * Recomputes a rollup's buckets in [from, to) from its source rows (a missing bound: no bound),
   * in one write transaction. The caller holds the gate (no batch in flight); foreign writers wait
   * for the lock as usual.
   */
  rebuildRollup(table: AnyTableDef, policy: RollupPolicy, from: Date | undefined, to: Date | undefined): Promise<void>;
  close(): Promise<void>;
}

/** selectAll on a thread of its own; close() ends the thread (later reads fall back to the dialect's). */
export interface OffThreadReader {
  selectAll(sql: string, params: readonly unknown[]): Promise<JsRow[]>;
  close(): Promise<void>;
}

export interface MigrationReport {
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly applied: readonly string[];
}
