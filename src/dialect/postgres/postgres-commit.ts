import { backoffMs, delay } from '../../core/backoff.js';
import type { PgConnection, WriterSlot } from './postgres-connection.js';
import { isConnectionLoss } from './postgres-errors.js';

/**
 * Whether a transaction whose COMMIT reply was lost committed, asked on a fresh connection until
 * `deadline` (a performance.now() time). The server answers committed or aborted (a restart
 * aborts whatever was in flight), or "in progress" while the old backend has not yet noticed the
 * lost connection: then that backend is ended, which settles the transaction either way (a
 * backend already writing the commit record finishes it before it exits). 'unknown' when the
 * server could not be reached in time.
 */
export async function lostCommitStatus(
  writer: WriterSlot,
  xid: string,
  pid: number,
  deadline: number,
): Promise<'committed' | 'aborted' | 'unknown'> {
  let ended = false;
  for (let attempt = 0; ; attempt++) {
    let conn: PgConnection | undefined;
    try {
      conn = await writer.get();
      const status = (await conn.query('select txid_status($1::bigint) as status', [xid])).rows[0]?.status;
      if (status === 'committed' || status === 'aborted') return status;
      if (status === 'in progress' && !ended) {
        // Matched on the transaction too, so a recycled pid is never ended by mistake.
        await conn.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where pid = $1 and backend_xid::text = ($2::bigint % 4294967296)::text',
          [pid, xid],
        );
        ended = true;
        continue;
      }
    } catch (error) {
      if (conn && (conn.broken || isConnectionLoss(error))) writer.discard(conn);
    }
    if (performance.now() >= deadline) return 'unknown';
    await delay(backoffMs(attempt, { initialMs: 20, maxMs: 500 }));
  }
}
