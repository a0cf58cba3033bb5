// Work outside the write gate's batches that still runs on the writer connection, inside the
// gate's exclusive section (no batch in flight): migrations, rollup rebuilds, doctor's facts.

import { MIGRATIONS_TABLE, type MigrationSession } from '../migrator.js';
import type { PgConnection, PgResult, WriterSlot } from './postgres-connection.js';
import { classifyPostgresError, isConnectionLoss } from './postgres-errors.js';

/**
 * Runs `body` in one transaction on the writer, opened as a batch's is (the writer's prologue:
 * behind a pooler, the settings a direct connection's startup set). A failure rolls back, or
 * discards a connection whose state is unknown, and surfaces as a SluiceError naming `table`.
 */
export async function inWriterTransaction<R>(
  writer: WriterSlot,
  table: string | undefined,
  body: (conn: PgConnection) => Promise<R>,
): Promise<R> {
  let conn: PgConnection;
  try {
    conn = await writer.get();
  } catch (error) {
    throw classifyPostgresError(error, table);
  }
  try {
    await conn.query(`begin; ${writer.prologue}`);
    const result = await body(conn);
    await conn.query('commit');
    return result;
  } catch (error) {
    if (isConnectionLoss(error) || conn.broken) writer.discard(conn);
    else await conn.query('rollback').catch(() => writer.discard(conn));
    throw classifyPostgresError(error, table);
  }
}

/** What the migrator asks of the database, on one connection inside the migration's transaction. */
export function migrationSession(conn: PgConnection): MigrationSession {
  return {
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
}

/**
 * The server's facts, read on the writer in a transaction opened as a batch's is: the settings
 * reported are those writes run with (behind a pooler a reader's would show the server's
 * defaults). The three statements go out pipelined; a writer whose transaction did not end
 * cleanly is replaced before the next batch.
 */
export async function writerFacts(writer: WriterSlot): Promise<Record<string, unknown>> {
  let conn: PgConnection | undefined;
  try {
    conn = await writer.get();
    const settled = await Promise.allSettled([
      conn.query(`begin; ${writer.prologue}`),
      conn.query(
        `select current_setting('server_version') as server_version, current_database() as database, current_schema() as schema,
                pg_database_size(current_database())::bigint as database_bytes,
                current_setting('synchronous_commit') as synchronous_commit, current_setting('fsync') as fsync,
                (select count(*) from pg_stat_activity where datname = current_database())::bigint as connections,
                current_setting('max_connections')::bigint as max_connections`,
      ),
      conn.query('commit'),
    ]);
    if (settled[2].status === 'rejected') writer.discard(conn);
    for (const step of settled) if (step.status === 'rejected') throw step.reason;
    return (settled[1] as PromiseFulfilledResult<PgResult>).value.rows[0] ?? {};
  } catch (error) {
    if (conn && (conn.broken || isConnectionLoss(error))) writer.discard(conn);
    throw classifyPostgresError(error);
  }
}
