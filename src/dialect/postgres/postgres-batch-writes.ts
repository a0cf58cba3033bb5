import type { SluiceError } from '../../core/sluice-error.js';
import type { FilterShape } from '../../query/filter-shape.js';
import type { TableStatements } from '../../query/table-statements.js';
import type { RowCodec } from '../../schema/row-codec.js';
import { missOrConflict, type OpStatement, planOne, settleInsertRun, settleOne, storedRows } from '../batch-plan.js';
import { insertRunLength, type UpdateCommand, updateRunLength } from '../batch-runs.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { CommittedChange, type Outcome, type WriteOp } from '../write-op.js';
import { type BatchRunnerStats, quiet, sendQuietly, tooManyParameters } from './postgres-batch-support.js';
import type { PgConnection, PgResult } from './postgres-connection.js';
import { classifyPostgresError, postgresTransient } from './postgres-errors.js';
import { PostgresStatementCache, type UpsertClause } from './postgres-statements.js';
import { matchReturned, runRow, type UpdateRunStatement } from './postgres-update-runs.js';

/** Rows per unnest statement: arrays this long stay well under a megabyte of parameters. */
const MAX_ROWS_PER_INSERT = 4096;
/** Rows per unnest update: a gate batch's settles of one claimed batch fit many times over. */
const MAX_ROWS_PER_UPDATE = 1024;
/** The savepoint around a multi-row insert, and the one around a single op that must fail alone. */
export const RUN_SAVEPOINT = 'sluice_run';
const OP_SAVEPOINT = 'sluice_op';

/** A run of updates that goes as one statement. */
interface UpdateRun {
  readonly count: number;
  readonly statement: UpdateRunStatement;
}

/** The run a batch opens with, sent right behind BEGIN: a multi-row insert, or a run of updates. */
export interface LeadRun {
  readonly count: number;
  readonly update: UpdateRun | undefined;
}

/** The first op that failed outside a savepoint, which made PostgreSQL abort the transaction. */
export interface Failure {
  readonly index: number;
}

/**
 * The statements of one batch inside its open transaction (the runner opens and commits it):
 * multi-row runs, each in a savepoint, and single writes, bare or isolated in a savepoint of their
 * own. What each write's statement is and how it settles comes from the shared batch plan.
 */
export class PostgresBatchWrites {
  readonly #adapter: DialectAdapter;
  readonly #names: (sql: string) => string | undefined;
  readonly #stats: BatchRunnerStats;
  readonly #cache: PostgresStatementCache;
  /** Scratch for a run's condition shapes, by op index; entries are written before they are read. */
  readonly #shapes: (FilterShape | undefined)[] = [];
  /**
   * A savepoint whose statement succeeded and is not released yet. Its RELEASE rides in front of
   * the next simple statement (the next SAVEPOINT), is sent alone before any other statement, and
   * is never sent before COMMIT, which releases it: the round trip of its own is saved.
   */
  #unreleased: string | undefined;

  constructor(adapter: DialectAdapter, upsert: UpsertClause, names: (sql: string) => string | undefined, stats: BatchRunnerStats) {
    this.#adapter = adapter;
    this.#names = names;
    this.#stats = stats;
    this.#cache = new PostgresStatementCache(adapter, upsert, names);
  }

  /**
   * The run a batch opens with, if it opens with one; its savepoint rides in the BEGIN statement.
   * Called once per transaction attempt, before anything is sent: no savepoint is open yet.
   */
  leadOf(ops: readonly WriteOp[]): LeadRun | undefined {
    this.#unreleased = undefined;
    const insertLead = insertRunLength(ops, 0, MAX_ROWS_PER_INSERT);
    if (insertLead > 1) return { count: insertLead, update: undefined };
    const update = this.#updateRunOf(ops, 0);
    return update && { count: update.count, update };
  }

  /** Sends the lead run's statement without waiting (its savepoint already taken). */
  sendLead(conn: PgConnection, ops: readonly WriteOp[], lead: LeadRun): Promise<PgResult> {
    return lead.update ? this.#sendUpdateRun(conn, ops, 0, lead.update) : this.#sendRun(conn, ops, 0, lead.count);
  }

  statements(codec: RowCodec): TableStatements {
    return this.#cache.table(codec);
  }

  /** Returns the first op that failed outside a savepoint; the transaction is then aborted. */
  async runOps(
    conn: PgConnection,
    ops: readonly WriteOp[],
    outcomes: Outcome[],
    changes: CommittedChange[],
    isolateFrom: number,
    recordFailure = false,
    lead?: LeadRun & { readonly sent: Promise<PgResult> },
  ): Promise<Failure | undefined> {
    let i = 0;
    if (lead?.update) await this.#updateRun(conn, ops, 0, lead.update, outcomes, changes, lead.sent);
    else if (lead) await this.#insertRun(conn, ops, 0, lead.count, outcomes, changes, lead.sent);
    if (lead) i = lead.count;
    while (i < ops.length) {
      const run = insertRunLength(ops, i, MAX_ROWS_PER_INSERT);
      if (run > 1) {
        await this.#insertRun(conn, ops, i, run, outcomes, changes);
        i += run;
        continue;
      }
      const update = this.#updateRunOf(ops, i);
      if (update) {
        await this.#updateRun(conn, ops, i, update, outcomes, changes);
        i += update.count;
        continue;
      }
      const op = ops[i] as WriteOp;
      if (i >= isolateFrom) {
        await this.#isolated(conn, op, i, outcomes, changes);
      } else {
        const released = this.#sendRelease(conn);
        try {
          await this.#runOne(conn, op, i, outcomes, changes);
        } catch (error) {
          const transient = postgresTransient(error);
          if (transient) throw transient;
          // A RELEASE that failed aborted the transaction: the batch's failure, not this op's.
          await released;
          if (recordFailure) outcomes[i] = { ok: false, error: classifyPostgresError(error, op.codec.table.name) };
          return { index: i };
        }
        await released;
      }
      i++;
    }
    return undefined;
  }

  /**
   * Sends a run's multi-row statement without waiting for it (a pipelined connection sends it at
   * once). Never throws: a value that cannot be written fails the returned promise, as the
   * statement's own failure would.
   */
  #sendRun(conn: PgConnection, ops: readonly WriteOp[], start: number, count: number): Promise<PgResult> {
    return sendQuietly(() => {
      const first = ops[start] as WriteOp;
      const unnest = this.#cache.unnest(first.codec);
      const rows: unknown[][] = [];
      for (let i = start; i < start + count; i++) rows.push(((ops[i] as WriteOp).command as { params: unknown[] }).params);
      const upsert = first.command.kind === 'upsert';
      return conn.query(upsert ? unnest.upsert : unnest.insert, unnest.columnArrays(rows), upsert ? unnest.upsertName : unnest.insertName);
    });
  }

  /** Runs a multi-row insert in a savepoint; `sent`: the statement already on its way, its savepoint taken. */
  async #insertRun(
    conn: PgConnection,
    ops: readonly WriteOp[],
    start: number,
    count: number,
    outcomes: Outcome[],
    changes: CommittedChange[],
    sent?: Promise<PgResult>,
  ): Promise<void> {
    const first = ops[start] as WriteOp;
    const result = await this.#runInSavepoint(
      conn,
      ops,
      start,
      count,
      outcomes,
      changes,
      sent ?? (() => this.#sendRun(conn, ops, start, count)),
    );
    if (result === undefined) return;
    const stored =
      first.command.kind === 'upsert' && this.#cache.unnest(first.codec).upsertReturnsRows
        ? storedRows(first.codec, result.rows)
        : undefined;
    settleInsertRun(ops, start, count, stored, outcomes, changes);
  }

  /**
   * A run's one statement inside the run savepoint: its result, or undefined when it failed and
   * the savepoint undid it, after which each op ran alone in a savepoint of its own so that only
   * the bad one fails. `send` is the statement already on its way (its savepoint taken) or how to
   * send it behind a new savepoint.
   */
  async #runInSavepoint(
    conn: PgConnection,
    ops: readonly WriteOp[],
    start: number,
    count: number,
    outcomes: Outcome[],
    changes: CommittedChange[],
    send: Promise<PgResult> | (() => Promise<PgResult>),
  ): Promise<PgResult | undefined> {
    const saved = typeof send === 'function' ? this.#sendSavepoint(conn, RUN_SAVEPOINT) : undefined;
    let result: PgResult;
    try {
      result = await (typeof send === 'function' ? send() : send);
    } catch (error) {
      const transient = postgresTransient(error);
      if (transient) throw transient;
      // A SAVEPOINT that failed aborted the transaction: the batch's failure, not the run's.
      await saved;
      await conn.query(`rollback to savepoint ${RUN_SAVEPOINT}; release savepoint ${RUN_SAVEPOINT}`);
      this.#stats.runFallbacks++;
      for (let i = start; i < start + count; i++) await this.#isolated(conn, ops[i] as WriteOp, i, outcomes, changes);
      return undefined;
    }
    await saved;
    this.#unreleased = RUN_SAVEPOINT;
    return result;
  }

  /** The run of updates starting at `start` that goes as one statement, if there is one. */
  #updateRunOf(ops: readonly WriteOp[], start: number): UpdateRun | undefined {
    const first = ops[start] as WriteOp;
    if (first.command.kind !== 'update') return undefined;
    const statements = this.statements(first.codec);
    const count = updateRunLength(ops, start, MAX_ROWS_PER_UPDATE, (where) => statements.shapeOf(where), this.#shapes);
    if (count < 2) return undefined;
    const statement = this.#cache.unnestUpdates(first.codec).statement(first.command, this.#shapes[start]);
    return statement && { count, statement };
  }

  /** Sends a run's unnest update without waiting for it; never throws (see #sendRun). */
  #sendUpdateRun(conn: PgConnection, ops: readonly WriteOp[], start: number, run: UpdateRun): Promise<PgResult> {
    return sendQuietly(() => {
      const rows: unknown[][] = [];
      for (let i = start; i < start + run.count; i++) rows.push(runRow((ops[i] as WriteOp).command as UpdateCommand, this.#shapes[i]));
      return conn.query(run.statement.sql, run.statement.literals.columns(rows), run.statement.name);
    });
  }

  /**
   * A run of same-shape updates (a claimed batch's settles, mostly) as one unnest statement in a
   * savepoint: each op learns from the returned keys whether it applied, and one that did not
   * reads the row (in the same transaction) for its CONFLICT or NOT_FOUND. When the statement
   * fails (a constraint), the savepoint undoes it and the updates run one per savepoint so that
   * only the bad one fails; `sent`: the statement already on its way, its savepoint taken.
   */
  async #updateRun(
    conn: PgConnection,
    ops: readonly WriteOp[],
    start: number,
    run: UpdateRun,
    outcomes: Outcome[],
    changes: CommittedChange[],
    sent?: Promise<PgResult>,
  ): Promise<void> {
    const first = ops[start] as WriteOp;
    const { count, statement } = run;
    const result = await this.#runInSavepoint(
      conn,
      ops,
      start,
      count,
      outcomes,
      changes,
      sent ?? (() => this.#sendUpdateRun(conn, ops, start, run)),
    );
    if (result === undefined) return;
    const found = matchReturned(ops, start, count, first.codec.table, statement.returning, result.rows);
    for (let i = 0; i < count; i++) {
      const op = ops[start + i] as WriteOp;
      const command = op.command as UpdateCommand;
      const item = found[i];
      if (item === undefined) {
        outcomes[start + i] = { ok: false, error: await this.#missOrConflict(conn, op, command.key, command.where !== undefined) };
        continue;
      }
      outcomes[start + i] = { ok: true, value: command.returning === 'row' ? op.codec.decodeRow(item) : undefined };
      changes.push(new CommittedChange(op.codec, 'update', command.key));
    }
  }

  /** Runs one op inside its own savepoint, so its failure leaves the transaction usable. */
  async #isolated(conn: PgConnection, op: WriteOp, index: number, outcomes: Outcome[], changes: CommittedChange[]): Promise<void> {
    const saved = this.#sendSavepoint(conn, OP_SAVEPOINT);
    try {
      await this.#runOne(conn, op, index, outcomes, changes);
    } catch (error) {
      const transient = postgresTransient(error);
      if (transient) throw transient;
      // A SAVEPOINT that failed aborted the transaction: the batch's failure, not the op's.
      await saved;
      await conn.query(`rollback to savepoint ${OP_SAVEPOINT}; release savepoint ${OP_SAVEPOINT}`);
      outcomes[index] = { ok: false, error: classifyPostgresError(error, op.codec.table.name) };
      return;
    }
    await saved;
    this.#unreleased = OP_SAVEPOINT;
  }

  /**
   * Sends SAVEPOINT, with the RELEASE of the savepoint still open in the same statement, and does
   * not wait: the statement it guards goes out right behind it. The caller awaits the returned
   * promise before it reads anything into the guarded statement's outcome.
   */
  #sendSavepoint(conn: PgConnection, name: string): Promise<unknown> {
    const release = this.#unreleased;
    this.#unreleased = undefined;
    return quiet(conn.query(release === undefined ? `savepoint ${name}` : `release savepoint ${release}; savepoint ${name}`));
  }

  /** Sends the RELEASE of the savepoint still open, if any, in front of a statement that cannot carry it. */
  #sendRelease(conn: PgConnection): Promise<unknown> | undefined {
    const release = this.#unreleased;
    if (release === undefined) return undefined;
    this.#unreleased = undefined;
    return quiet(conn.query(`release savepoint ${release}`));
  }

  /** Runs one op; a database error propagates (the caller decides what it costs). */
  async #runOne(conn: PgConnection, op: WriteOp, index: number, outcomes: Outcome[], changes: CommittedChange[]): Promise<void> {
    const statements = this.statements(op.codec);
    const plan = planOne(op, statements, this.#adapter.capabilities, this.#insertOne);
    if (tooManyParameters(op, plan.params.length, outcomes, index)) return;
    const result = await conn.query(plan.sql, plan.params, this.#names(plan.sql));
    if (settleOne(op, index, { rows: result.rows, count: result.rowCount }, statements.upsertReturnsRows, outcomes, changes) === 'missed') {
      const command = op.command as UpdateCommand;
      outcomes[index] = { ok: false, error: await this.#missOrConflict(conn, op, command.key, command.where !== undefined) };
    }
  }

  /** A single row as the same unnest statement a run uses: one text, parsed and planned once per connection. */
  readonly #insertOne = (op: WriteOp, upsert: boolean): OpStatement => {
    const unnest = this.#cache.unnest(op.codec);
    return {
      sql: upsert ? unnest.upsert : unnest.insert,
      params: unnest.columnArrays([(op.command as { params: unknown[] }).params]),
      reads: 'rows',
    };
  };

  async #missOrConflict(conn: PgConnection, op: WriteOp, key: readonly unknown[], conditional: boolean): Promise<SluiceError> {
    if (!conditional) return missOrConflict(op, key, undefined);
    const sql = this.statements(op.codec).selectByKey();
    return missOrConflict(op, key, (await conn.query(sql, key, this.#names(sql))).rows[0]);
  }
}
