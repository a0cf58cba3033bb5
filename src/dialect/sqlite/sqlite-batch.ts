import type Database from 'better-sqlite3';
import type { SluiceError } from '../../core/sluice-error.js';
import type { FilterShape } from '../../query/filter-shape.js';
import { TableStatements } from '../../query/table-statements.js';
import type { JsRow, RowCodec } from '../../schema/row-codec.js';
import {
  APPLIED,
  insertRunParams,
  missOrConflict,
  type OpStatement,
  planOne,
  settleInsertRun,
  settleOne,
  storedRows,
} from '../batch-plan.js';
import { insertRunLength, keyIdentity, type RunReturning, runReturning, type UpdateCommand, updateRunLength } from '../batch-runs.js';
import type { BatchResult, ExtraWrites } from '../dialect.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { CommittedChange, type Outcome, type WriteOp } from '../write-op.js';
import { classifySqliteError, sqliteTransient } from './sqlite-errors.js';

/** SQLite allows 32,766 bound values per statement; rows per multi-row insert stay under it. */
const MAX_VARIABLES = 32_766;
const MAX_ROWS_PER_INSERT = 64;
/** 64 rows per UPDATE … FROM (VALUES …) measured fastest (bench/sqlite-update-shapes.ts: 32: 298–479k, 64: 369–525k, 128: 334–454k rows/s). */
const MAX_ROWS_PER_UPDATE = 64;
const NO_ROWS: readonly Record<string, unknown>[] = Object.freeze([]);

/**
 * Runs a batch on the one writer connection, synchronously, inside BEGIN IMMEDIATE: no JavaScript
 * awaits while the lock is held. Each op is one write statement, which SQLite makes atomic on its
 * own, so a failing op leaves the rest of the transaction intact without a savepoint.
 */
export class SqliteBatchRunner {
  readonly #db: Database.Database;
  readonly #adapter: DialectAdapter;
  readonly #statements = new Map<RowCodec, TableStatements>();
  readonly #prepared = new Map<string, Database.Statement>();
  /** Scratch for a run's condition shapes, by op index; entries are written before they are read. */
  readonly #shapes: (FilterShape | undefined)[] = [];
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  readonly #savepoint: Database.Statement;
  readonly #rollbackToSavepoint: Database.Statement;
  readonly #releaseSavepoint: Database.Statement;

  readonly #beforeCommit: () => SluiceError | undefined;

  /** `beforeCommit` may veto the COMMIT (the file was deleted or replaced): the batch rolls back. */
  constructor(db: Database.Database, adapter: DialectAdapter, beforeCommit: () => SluiceError | undefined = () => undefined) {
    this.#db = db;
    this.#beforeCommit = beforeCommit;
    this.#adapter = adapter;
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT sluice_run');
    this.#rollbackToSavepoint = db.prepare('ROLLBACK TO sluice_run');
    this.#releaseSavepoint = db.prepare('RELEASE sluice_run');
  }

  statements(codec: RowCodec): TableStatements {
    let statements = this.#statements.get(codec);
    if (!statements) {
      statements = new TableStatements(this.#adapter.builder, this.#adapter.lists, codec.table);
      this.#statements.set(codec, statements);
    }
    return statements;
  }

  prepare(sql: string): Database.Statement {
    let statement = this.#prepared.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }

  run(ops: readonly WriteOp[], extra: ExtraWrites | undefined): BatchResult {
    try {
      this.#begin.run();
    } catch (error) {
      throw sqliteTransient(error) ?? classifySqliteError(error);
    }
    const outcomes = new Array<Outcome>(ops.length);
    const changes: CommittedChange[] = [];
    try {
      this.#runOps(ops, outcomes, changes);
      const more = extra?.(changes);
      if (more && more.length > 0) {
        const extraOutcomes = new Array<Outcome>(more.length);
        this.#runOps(more, extraOutcomes, []);
        const failed = extraOutcomes.find((o) => !o.ok);
        if (failed && !failed.ok) throw failed.error;
      }
      const veto = this.#beforeCommit();
      if (veto) throw veto;
      this.#commit.run();
    } catch (error) {
      if (this.#db.inTransaction) this.#rollback.run();
      throw sqliteTransient(error) ?? classifySqliteError(error);
    }
    return { outcomes, changes };
  }

  #runOps(ops: readonly WriteOp[], outcomes: Outcome[], changes: CommittedChange[]): void {
    let i = 0;
    while (i < ops.length) {
      const op = ops[i] as WriteOp;
      if (op.command.kind === 'update') {
        i += this.#runUpdates(ops, i, outcomes, changes);
        continue;
      }
      const columns = op.codec.table.columns.length;
      const run = insertRunLength(ops, i, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_VARIABLES / columns)));
      if (run > 1 && this.#tryInsertRun(ops, i, run, outcomes, changes)) {
        i += run;
        continue;
      }
      const end = i + run;
      for (; i < end; i++) this.#runOne(ops[i] as WriteOp, i, outcomes, changes);
    }
  }

  /** One multi-row statement for a run; false when it failed and the rows must go one by one. */
  #tryInsertRun(ops: readonly WriteOp[], start: number, count: number, outcomes: Outcome[], changes: CommittedChange[]): boolean {
    const first = ops[start] as WriteOp;
    const statements = this.statements(first.codec);
    const sql = first.command.kind === 'upsert' ? statements.upsert(count) : statements.insert(count);
    const params = insertRunParams(ops, start, count);
    let stored: ReadonlyMap<string, JsRow> | undefined;
    try {
      const statement = this.prepare(sql);
      if (first.command.kind === 'upsert' && statements.upsertReturnsRows)
        stored = storedRows(first.codec, statement.all(params) as JsRow[]);
      else statement.run(params);
    } catch (error) {
      this.#rethrowIfBatchLost(error);
      return false;
    }
    settleInsertRun(ops, start, count, stored, outcomes, changes);
    return true;
  }

  /** A run of same-shape updates as one statement, or one by one when it cannot be; returns its length. */
  #runUpdates(ops: readonly WriteOp[], start: number, outcomes: Outcome[], changes: CommittedChange[]): number {
    const first = ops[start] as WriteOp;
    const command = first.command as UpdateCommand;
    const statements = this.statements(first.codec);
    const width =
      first.codec.table.primaryKey.length +
      command.patch.columns.length +
      (command.where === undefined ? 0 : statements.shapeOf(command.where).params.length);
    const max = Math.min(MAX_ROWS_PER_UPDATE, Math.floor(MAX_VARIABLES / width));
    const shapes = this.#shapes;
    const run = updateRunLength(ops, start, max, (where) => statements.shapeOf(where), shapes);
    if (run > 1 && this.#tryUpdateRun(ops, start, run, shapes, outcomes, changes)) return run;
    for (let i = start; i < start + run; i++) this.#runOne(ops[i] as WriteOp, i, outcomes, changes);
    return run;
  }

  /**
   * One `UPDATE … FROM (VALUES …)` for a run with distinct keys: each row meets only its own
   * update, so the statement does what the updates one after another would. False when it
   * failed (a constraint, an illegal move): SQLite undid the whole statement, and the updates go
   * one by one so that only the bad one fails.
   */
  #tryUpdateRun(
    ops: readonly WriteOp[],
    start: number,
    count: number,
    shapes: readonly (FilterShape | undefined)[],
    outcomes: Outcome[],
    changes: CommittedChange[],
  ): boolean {
    const first = ops[start] as WriteOp;
    const head = first.command as UpdateCommand;
    const statements = this.statements(first.codec);
    const returning = runReturning(head);
    const params: unknown[] = [];
    for (let i = start; i < start + count; i++) {
      const command = (ops[i] as WriteOp).command as UpdateCommand;
      for (const value of command.key) params.push(value);
      for (const value of command.patch.params) params.push(value);
      const shape = shapes[i];
      if (shape !== undefined) for (const value of shape.params) params.push(value);
    }
    if (returning === 'key') {
      const counted = this.#countUnderSavepoint(statements.updateRun(head.patch.columns, head.where, count, 'none'), params, count);
      // A statement that failed here would fail again returning keys: go one by one at once.
      if (counted === undefined) return false;
      if (counted === count) {
        for (let i = start; i < start + count; i++) {
          const op = ops[i] as WriteOp;
          outcomes[i] = APPLIED;
          changes.push(new CommittedChange(op.codec, 'update', (op.command as UpdateCommand).key));
        }
        return true;
      }
    }
    let result: unknown[] | number;
    try {
      const statement = this.prepare(statements.updateRun(head.patch.columns, head.where, count, returning));
      if (returning === 'none') result = statement.run(params).changes;
      else if (returning === 'key') result = statement.raw(true).all(params) as unknown[][];
      else result = statement.all(params) as Record<string, unknown>[];
    } catch (error) {
      this.#rethrowIfBatchLost(error);
      return false;
    }
    if (typeof result === 'number') this.#settleCounted(ops, start, count, result, outcomes, changes);
    else this.#settleReturned(ops, start, count, returning, result, outcomes, changes);
    return true;
  }

  /**
   * A compare-and-set run usually applies whole, and then counting its changes is all it takes:
   * 1.2–1.66M rows/s, against 0.76–1.05M when RETURNING lists the keys (bench/sqlite-update-shapes.ts). Under a savepoint, so that
   * a short count can be undone and the run go again returning keys. Returns the count (kept
   * only when it is the whole run), or undefined when the statement failed (nothing kept).
   */
  #countUnderSavepoint(sql: string, params: readonly unknown[], count: number): number | undefined {
    this.#savepoint.run();
    let changed: number | undefined;
    try {
      changed = this.prepare(sql).run(params).changes;
    } catch (error) {
      this.#rethrowIfBatchLost(error);
    }
    if (changed !== count) this.#rollbackToSavepoint.run();
    this.#releaseSavepoint.run();
    return changed;
  }

  /** Every key of an unconditional run exists, or the count falls short and the few absent ones are found. */
  #settleCounted(
    ops: readonly WriteOp[],
    start: number,
    count: number,
    changed: number,
    outcomes: Outcome[],
    changes: CommittedChange[],
  ): void {
    const select = changed === count ? undefined : this.prepare(this.statements((ops[start] as WriteOp).codec).selectByKey());
    for (let i = start; i < start + count; i++) {
      const op = ops[i] as WriteOp;
      const key = (op.command as UpdateCommand).key;
      if (select !== undefined && select.get(key) === undefined) {
        outcomes[i] = { ok: false, error: missOrConflict(op, key, undefined) };
        continue;
      }
      outcomes[i] = APPLIED;
      changes.push(new CommittedChange(op.codec, 'update', key));
    }
  }

  /**
   * Matches returned keys (or rows) to the run's ops. SQLite returns them in VALUES order, so one
   * pass with a cursor usually does; if it did not, a map by key does it again.
   */
  #settleReturned(
    ops: readonly WriteOp[],
    start: number,
    count: number,
    returning: RunReturning,
    returned: unknown[],
    outcomes: Outcome[],
    changes: CommittedChange[],
  ): void {
    const codec = (ops[start] as WriteOp).codec;
    const names = codec.table.primaryKey.map((column) => column.name);
    const keyOf =
      returning === 'key'
        ? (item: unknown) => keyIdentity(item as unknown[])
        : (item: unknown) => keyIdentity(names.map((name) => (item as JsRow)[name]));
    const found = new Array<unknown>(count);
    let cursor = 0;
    for (let i = 0; i < count && cursor < returned.length; i++) {
      const key = keyIdentity(((ops[start + i] as WriteOp).command as UpdateCommand).key);
      if (keyOf(returned[cursor]) === key) found[i] = returned[cursor++];
    }
    if (cursor < returned.length) {
      const byKey = new Map<unknown, unknown>();
      for (const item of returned) byKey.set(keyOf(item), item);
      for (let i = 0; i < count; i++) found[i] = byKey.get(keyIdentity(((ops[start + i] as WriteOp).command as UpdateCommand).key));
    }
    for (let i = 0; i < count; i++) {
      const op = ops[start + i] as WriteOp;
      const command = op.command as UpdateCommand;
      const item = found[i];
      if (item === undefined) {
        outcomes[start + i] = { ok: false, error: this.#missOrConflict(op, command.key, command.where !== undefined) };
        continue;
      }
      outcomes[start + i] = returning === 'row' ? { ok: true, value: op.codec.decodeRow(item as JsRow) } : APPLIED;
      changes.push(new CommittedChange(op.codec, 'update', command.key));
    }
  }

  /** One write as one statement; SQLite makes a statement atomic, so a failure fails this write alone. */
  #runOne(op: WriteOp, index: number, outcomes: Outcome[], changes: CommittedChange[]): void {
    try {
      const statements = this.statements(op.codec);
      const plan = planOne(op, statements, this.#adapter.capabilities, this.#insertOne);
      const statement = this.prepare(plan.sql);
      const result =
        plan.reads === 'rows'
          ? { rows: statement.all(plan.params) as Record<string, unknown>[], count: 0 }
          : { rows: NO_ROWS, count: statement.run(plan.params).changes };
      if (settleOne(op, index, result, statements.upsertReturnsRows, outcomes, changes) === 'missed') {
        const command = op.command as UpdateCommand;
        outcomes[index] = { ok: false, error: this.#missOrConflict(op, command.key, command.where !== undefined) };
      }
    } catch (error) {
      this.#rethrowIfBatchLost(error);
      outcomes[index] = { ok: false, error: classifySqliteError(error, op.codec.table.name) };
    }
  }

  /** A single row as a one-row VALUES statement; an upsert that keeps columns reads back what it stored. */
  readonly #insertOne = (op: WriteOp, upsert: boolean): OpStatement => {
    const statements = this.statements(op.codec);
    return {
      sql: upsert ? statements.upsert(1) : statements.insert(1),
      params: (op.command as { params: unknown[] }).params,
      reads: upsert && statements.upsertReturnsRows ? 'rows' : 'count',
    };
  };

  #missOrConflict(op: WriteOp, key: readonly unknown[], conditional: boolean): SluiceError {
    const stored = conditional
      ? (this.prepare(this.statements(op.codec).selectByKey()).get(key) as Record<string, unknown> | undefined)
      : undefined;
    return missOrConflict(op, key, stored);
  }

  /** A lock lost mid-batch, or an error after which SQLite rolled the whole transaction back. */
  #rethrowIfBatchLost(error: unknown): void {
    const transient = sqliteTransient(error);
    if (transient) throw transient;
    if (!this.#db.inTransaction) throw classifySqliteError(error);
  }
}
