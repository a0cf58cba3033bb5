import { SluiceError } from '../../core/sluice-error.js';
import type { FilterShape } from '../../query/filter-shape.js';
import { TableStatements } from '../../query/table-statements.js';
import type { RowCodec } from '../../schema/row-codec.js';
import { missOrConflict, type OpStatement, planOne, settleInsertRun, settleOne, storedRows } from '../batch-plan.js';
import { insertRunLength, type UpdateCommand, updateRunLength } from '../batch-runs.js';
import type { BatchResult, ExtraWrites } from '../dialect.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { CommittedChange, type Outcome, type WriteOp } from '../write-op.js';
import { lockWaitMs, noop, quiet, tooManyParameters } from './postgres-batch-support.js';
import {
  commitOrResolve,
  ensureCommitMarkers,
  insertMarkerSql,
  MARKER_SWEEP_BATCH,
  newCommitMarker,
  sweepMarkersSql,
} from './postgres-commit.js';
import type { PgConnection, PgResult, WriterSlot } from './postgres-connection.js';
import { classifyPostgresError, isConnectionLoss, postgresTransient } from './postgres-errors.js';
import { UnnestStatements, type UpsertClause } from './postgres-statements.js';
import { matchReturned, runRow, UnnestUpdates, type UpdateRunStatement } from './postgres-update-runs.js';

/** Rows per unnest statement: arrays this long stay well under a megabyte of parameters. */
const MAX_ROWS_PER_INSERT = 4096;
/** Rows per unnest update: a gate batch's settles of one claimed batch fit many times over. */
const MAX_ROWS_PER_UPDATE = 1024;
/** The savepoint around a multi-row insert, and the one around a single op that must fail alone. */
const RUN_SAVEPOINT = 'sluice_run';
const OP_SAVEPOINT = 'sluice_op';

export interface BatchRunnerStats {
  /** Batches rolled back and run again because an op failed outside a savepoint. */
  replays: number;
  /** Multi-row inserts that failed and were split into one savepoint per row. */
  runFallbacks: number;
  /** COMMITs whose reply was lost, then found committed / aborted / never settled. */
  commitsLost: number;
  commitsFoundCommitted: number;
  commitsUnknown: number;
}

/** A run of updates that goes as one statement. */
interface UpdateRun {
  readonly count: number;
  readonly statement: UpdateRunStatement;
}

/** The first op that failed outside a savepoint, which made PostgreSQL abort the transaction. */
interface Failure {
  readonly index: number;
}

/** Where the dialect has always found it. */
export { MAX_BOUND_VALUES } from './postgres-batch-support.js';

/**
 * Runs a batch in one transaction on the writer connection.
 *
 * PostgreSQL aborts the whole transaction on any error, where SQLite fails only the statement,
 * so one bad op needs a savepoint around it to fail alone. A savepoint costs two round trips and
 * halves per-statement throughput (bench/postgres-driver.ts), so a batch first runs optimistically
 * without them: an op that fails there rolls the transaction back, and the batch runs again with
 * a savepoint around that op and every one after it. The ops before it run bare again; should one
 * of them now fail (a foreign writer got in between), the isolation starts earlier still, so
 * attempts are bounded by the batch length and every outcome comes from a real execution.
 * Multi-row inserts always run inside a savepoint (cheap next to a thousand rows): when one fails,
 * its rows run again one per savepoint so only the bad row fails.
 */
export class PostgresBatchRunner {
  readonly #writer: WriterSlot;
  readonly #adapter: DialectAdapter;
  readonly #upsert: UpsertClause;
  readonly #names: (sql: string) => string | undefined;
  readonly #statements = new Map<RowCodec, TableStatements>();
  readonly #unnest = new Map<RowCodec, UnnestStatements>();
  readonly #unnestUpdates = new Map<RowCodec, UnnestUpdates>();
  /** Scratch for a run's condition shapes, by op index; entries are written before they are read. */
  readonly #shapes: (FilterShape | undefined)[] = [];
  /** Markers of batches whose outcome is known, waiting to be deleted in bulk by a later batch. */
  readonly #settled: string[] = [];
  /**
   * A savepoint whose statement succeeded and is not released yet. Its RELEASE rides in front of
   * the next simple statement (the next SAVEPOINT), is sent alone before any other statement, and
   * is never sent before COMMIT, which releases it: the round trip of its own is saved.
   */
  #unreleased: string | undefined;
  readonly stats: BatchRunnerStats = { replays: 0, runFallbacks: 0, commitsLost: 0, commitsFoundCommitted: 0, commitsUnknown: 0 };

  constructor(writer: WriterSlot, adapter: DialectAdapter, upsert: UpsertClause, names: (sql: string) => string | undefined) {
    this.#writer = writer;
    this.#adapter = adapter;
    this.#upsert = upsert;
    this.#names = names;
  }

  statements(codec: RowCodec): TableStatements {
    let statements = this.#statements.get(codec);
    if (!statements) {
      statements = new TableStatements(this.#adapter.builder, this.#adapter.lists, codec.table);
      this.#statements.set(codec, statements);
    }
    return statements;
  }

  #unnestOf(codec: RowCodec): UnnestStatements {
    let statements = this.#unnest.get(codec);
    if (!statements) {
      statements = new UnnestStatements(this.#adapter.builder, codec.table, this.#upsert, this.#names);
      this.#unnest.set(codec, statements);
    }
    return statements;
  }

  #unnestUpdatesOf(codec: RowCodec): UnnestUpdates {
    let updates = this.#unnestUpdates.get(codec);
    if (!updates) {
      updates = new UnnestUpdates(this.#adapter, codec.table, this.#names);
      this.#unnestUpdates.set(codec, updates);
    }
    return updates;
  }

  async run(ops: readonly WriteOp[], extra: ExtraWrites | undefined): Promise<BatchResult> {
    let isolateFrom = ops.length;
    for (;;) {
      const conn = await this.#connect();
      const result = await this.#attempt(conn, ops, extra, isolateFrom);
      if ('outcomes' in result) return result;
      this.stats.replays++;
      isolateFrom = result.index;
    }
  }

  async #connect(): Promise<PgConnection> {
    try {
      return await this.#writer.get();
    } catch (error) {
      throw postgresTransient(error) ?? classifyPostgresError(error);
    }
  }

  async #attempt(
    conn: PgConnection,
    ops: readonly WriteOp[],
    extra: ExtraWrites | undefined,
    isolateFrom: number,
  ): Promise<BatchResult | Failure> {
    const outcomes = new Array<Outcome>(ops.length);
    const changes: CommittedChange[] = [];
    try {
      // One statement opens the transaction, bounds its lock waits, writes the marker that tells,
      // after a COMMIT whose reply was lost, whether it happened, and now and then deletes the
      // markers of batches already settled (kept in the list until this transaction commits).
      // Behind a pooler it also sets what a direct connection's startup packet set (the writer's
      // prologue), and it reads the server process's pid and transaction id: the pair that names
      // the backend to end should the COMMIT's reply be lost.
      // When the batch opens with a multi-row insert (the common case), that insert's savepoint
      // rides in the same statement and the insert goes out right behind it on the pipelined
      // connection: opening the transaction costs no round trip of its own.
      const marker = newCommitMarker();
      const sweeping = this.#settled.length >= MARKER_SWEEP_BATCH ? this.#settled.length : 0;
      const sweep = sweeping > 0 ? `${sweepMarkersSql(this.#settled.slice(0, sweeping))}; ` : '';
      // A batch of settles opens with a run of updates, which leads the same way.
      const insertLead = insertRunLength(ops, 0, MAX_ROWS_PER_INSERT);
      const update = insertLead > 1 ? undefined : this.#updateRunOf(ops, 0);
      const lead = insertLead > 1 ? insertLead : (update?.count ?? 0);
      this.#unreleased = undefined;
      const opened = await this.#begin(
        conn,
        `begin; ${this.#writer.prologue}set local lock_timeout = ${lockWaitMs(ops)}; ${insertMarkerSql(marker)}; ${sweep}${lead > 0 ? `savepoint ${RUN_SAVEPOINT}; ` : ''}select txid_current()::text as xid, pg_backend_pid() as pid`,
        lead === 0 ? undefined : update ? () => this.#sendUpdateRun(conn, ops, 0, update) : () => this.#sendRun(conn, ops, 0, lead),
      );
      const xid = String(opened.begun.rows[0]?.xid);
      const pid = Number(opened.begun.rows[0]?.pid);
      const failure = await this.#runOps(
        conn,
        ops,
        outcomes,
        changes,
        isolateFrom,
        false,
        opened.lead && { count: lead, sent: opened.lead, update },
      );
      if (failure) {
        await conn.query('rollback');
        return failure;
      }
      const more = extra?.(changes);
      if (more && more.length > 0) {
        const extraOutcomes = new Array<Outcome>(more.length);
        await this.#runOps(conn, more, extraOutcomes, [], more.length, true);
        // Hook rows commit with the batch or not at all: any failure, even one a savepoint held, fails it.
        const failed = extraOutcomes.find((o) => o !== undefined && !o.ok);
        if (failed && !failed.ok) throw failed.error;
      }
      await this.#commit(conn, marker, { pid, xid }, ops);
      this.#settled.splice(0, sweeping);
      this.#settled.push(marker);
      return { outcomes, changes };
    } catch (error) {
      throw await this.#abandon(conn, error);
    }
  }

  /**
   * Opens the transaction and sends the batch's first statement (`sendLead`) right behind it,
   * not waiting for BEGIN's reply. The lead's outcome counts only once BEGIN succeeded: had it
   * failed, the lead ran in an aborted transaction. A marker table dropped since open (a schema
   * reset) is made again, and the transaction opened again before the lead is sent.
   */
  async #begin(
    conn: PgConnection,
    sql: string,
    sendLead: (() => Promise<PgResult>) | undefined,
  ): Promise<{ begun: PgResult; lead: Promise<PgResult> | undefined }> {
    const begin = conn.query(sql);
    const lead = sendLead?.();
    try {
      return { begun: await begin, lead };
    } catch (error) {
      await lead?.then(noop, noop);
      if ((error as { code?: string }).code !== '42P01' || conn.broken) throw error;
      await conn.query('rollback');
      await ensureCommitMarkers(conn, this.#writer.prologue);
      const begun = await conn.query(sql);
      return { begun, lead: sendLead?.() };
    }
  }

  /** Returns the first op that failed outside a savepoint; the transaction is then aborted. */
  async #runOps(
    conn: PgConnection,
    ops: readonly WriteOp[],
    outcomes: Outcome[],
    changes: CommittedChange[],
    isolateFrom: number,
    recordFailure = false,
    lead?: { readonly count: number; readonly sent: Promise<PgResult>; readonly update: UpdateRun | undefined },
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
    try {
      const first = ops[start] as WriteOp;
      const unnest = this.#unnestOf(first.codec);
      const rows: unknown[][] = [];
      for (let i = start; i < start + count; i++) rows.push(((ops[i] as WriteOp).command as { params: unknown[] }).params);
      const upsert = first.command.kind === 'upsert';
      return quiet(
        conn.query(upsert ? unnest.upsert : unnest.insert, unnest.columnArrays(rows), upsert ? unnest.upsertName : unnest.insertName),
      );
    } catch (error) {
      return quiet(Promise.reject(error));
    }
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
      first.command.kind === 'upsert' && this.#unnestOf(first.codec).upsertReturnsRows ? storedRows(first.codec, result.rows) : undefined;
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
      this.stats.runFallbacks++;
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
    const statement = this.#unnestUpdatesOf(first.codec).statement(first.command, this.#shapes[start]);
    return statement && { count, statement };
  }

  /** Sends a run's unnest update without waiting for it; never throws (see #sendRun). */
  #sendUpdateRun(conn: PgConnection, ops: readonly WriteOp[], start: number, run: UpdateRun): Promise<PgResult> {
    try {
      const rows: unknown[][] = [];
      for (let i = start; i < start + run.count; i++) rows.push(runRow((ops[i] as WriteOp).command as UpdateCommand, this.#shapes[i]));
      return quiet(conn.query(run.statement.sql, run.statement.literals.columns(rows), run.statement.name));
    } catch (error) {
      return quiet(Promise.reject(error));
    }
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
    const unnest = this.#unnestOf(op.codec);
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

  async #commit(conn: PgConnection, marker: string, backend: { pid: number; xid: string }, ops: readonly WriteOp[]): Promise<void> {
    await commitOrResolve(this.#writer, conn, marker, backend, ops, this.stats, (known) => this.#settled.push(known));
  }

  /** Leaves the connection clean (or discards it) and says what the gate should do next. */
  async #abandon(conn: PgConnection, error: unknown): Promise<Error> {
    if (conn.broken || isConnectionLoss(error)) {
      this.#writer.discard(conn);
    } else {
      try {
        await conn.query('rollback');
      } catch {
        this.#writer.discard(conn);
      }
    }
    if (error instanceof SluiceError) return error;
    return postgresTransient(error) ?? classifyPostgresError(error);
  }
}
