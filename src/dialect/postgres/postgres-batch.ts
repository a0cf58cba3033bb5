import { SluiceError } from '../../core/sluice-error.js';
import type { TableStatements } from '../../query/table-statements.js';
import type { RowCodec } from '../../schema/row-codec.js';
import type { BatchResult, ExtraWrites } from '../dialect.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import type { CommittedChange, Outcome, WriteOp } from '../write-op.js';
import { type BatchRunnerStats, lockWaitMs, noop } from './postgres-batch-support.js';
import { type Failure, PostgresBatchWrites, RUN_SAVEPOINT } from './postgres-batch-writes.js';
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
import type { UpsertClause } from './postgres-statements.js';

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
  /** The statements inside the open transaction: runs, savepoints, single writes. */
  readonly #writes: PostgresBatchWrites;
  /** Markers of batches whose outcome is known, waiting to be deleted in bulk by a later batch. */
  readonly #settled: string[] = [];
  readonly stats: BatchRunnerStats = { replays: 0, runFallbacks: 0, commitsLost: 0, commitsFoundCommitted: 0, commitsUnknown: 0 };

  constructor(writer: WriterSlot, adapter: DialectAdapter, upsert: UpsertClause, names: (sql: string) => string | undefined) {
    this.#writer = writer;
    this.#writes = new PostgresBatchWrites(adapter, upsert, names, this.stats);
  }

  /** The table's compiled statements (the dialect's point reads use them too). */
  statements(codec: RowCodec): TableStatements {
    return this.#writes.statements(codec);
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
      const lead = this.#writes.leadOf(ops);
      const opened = await this.#begin(
        conn,
        `begin; ${this.#writer.prologue}set local lock_timeout = ${lockWaitMs(ops)}; ${insertMarkerSql(marker)}; ${sweep}${lead ? `savepoint ${RUN_SAVEPOINT}; ` : ''}select txid_current()::text as xid, pg_backend_pid() as pid`,
        lead && (() => this.#writes.sendLead(conn, ops, lead)),
      );
      const xid = String(opened.begun.rows[0]?.xid);
      const pid = Number(opened.begun.rows[0]?.pid);
      const failure = await this.#writes.runOps(
        conn,
        ops,
        outcomes,
        changes,
        isolateFrom,
        false,
        lead && opened.lead && { ...lead, sent: opened.lead },
      );
      if (failure) {
        await conn.query('rollback');
        return failure;
      }
      const more = extra?.(changes);
      if (more && more.length > 0) {
        const extraOutcomes = new Array<Outcome>(more.length);
        await this.#writes.runOps(conn, more, extraOutcomes, [], more.length, true);
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
