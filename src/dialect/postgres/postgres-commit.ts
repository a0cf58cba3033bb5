import { randomUUID } from 'node:crypto';
import { backoffMs, delay } from '../../core/backoff.js';
import { SluiceError } from '../../core/sluice-error.js';
import { TransientError } from '../dialect.js';
import type { PgConnection, PgSession, WriterSlot } from './postgres-connection.js';
import { isConnectionLoss } from './postgres-errors.js';

/*
 * Settling a COMMIT whose reply was lost.
 *
 * Every batch inserts a row with a fresh random token into a small table, in its own transaction
 * and in the round trip that opens it. The row exists, committed, if and only if the batch
 * committed: nothing else ever writes that token. The transaction id cannot serve: a server that
 * crashes before an id reaches durable WAL hands the same id out again after recovery, and
 * txid_status() then reports another client's commit as this batch's.
 *
 * To settle, a fresh connection inserts the same token itself. The primary key decides: a unique
 * violation means the batch's row is there, so it committed; success means it is not, and since
 * an insert waits for an in-progress transaction holding the same key, the batch had already
 * ended without committing. That insert commits, so the token is taken for good.
 */

export const COMMIT_MARKERS_TABLE = '_sluice_commit_markers';

/** Markers of batches whose outcome is known are deleted in bulk, this many at a time. */
export const MARKER_SWEEP_BATCH = 256;
/** Markers a process left behind (it died before its sweep) are removed at open after this long. */
const ABANDONED_MARKER_AGE = '1 day';
/** How long one settling insert waits for the lost transaction before ending its backend. */
const SETTLE_LOCK_WAIT_MS = 1000;

/** A token for one batch; uuid text, so it can be written into SQL as a literal. */
export function newCommitMarker(): string {
  return randomUUID();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Markers are spliced into SQL as literals: anything but a UUID of ours is a bug, refused before it reaches the server. */
function notAMarker(token: string): SluiceError {
  return new SluiceError('VALIDATION', `Not a commit marker: ${JSON.stringify(token)}. This is a bug in Sluice; please report it.`, {
    value: token,
  });
}

/** The statement that records a batch's marker (a literal: it joins the BEGIN round trip). */
export function insertMarkerSql(token: string): string {
  if (!UUID.test(token)) throw notAMarker(token);
  return `insert into ${COMMIT_MARKERS_TABLE} (token) values ('${token}')`;
}

/** Deletes the markers of batches already settled (a literal list, for the same reason). */
export function sweepMarkersSql(tokens: readonly string[]): string {
  for (const token of tokens) if (!UUID.test(token)) throw notAMarker(token);
  return `delete from ${COMMIT_MARKERS_TABLE} where token in (${tokens.map((t) => `'${t}'`).join(', ')})`;
}

/**
 * Creates the marker table unless it exists (two processes may race: the loser finds it made),
 * and removes markers abandoned by processes that died long ago. Behind a pooler (`prologue` not
 * empty) it runs in a transaction of its own, so the table is looked for in the right schema.
 */
export async function ensureCommitMarkers(conn: PgSession, prologue = ''): Promise<void> {
  if (prologue === '') return ensureMarkerTable(conn);
  await conn.query(`begin; ${prologue}`);
  try {
    await ensureMarkerTable(conn);
  } finally {
    // A lost race aborted the transaction; COMMIT then rolls it back, and the table is there.
    await conn.query('commit');
  }
}

async function ensureMarkerTable(conn: PgSession): Promise<void> {
  const { rows } = await conn.query('select to_regclass($1) is not null as present', [COMMIT_MARKERS_TABLE]);
  if (rows[0]?.present !== true) {
    try {
      await conn.query(
        `create table if not exists ${COMMIT_MARKERS_TABLE} (token text primary key, created_at timestamptz not null default now())`,
      );
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Several processes opening at once race on the table's catalog rows: its name (42P07), its
      // row type (42710) or the unique index behind them (23505). The loser finds the table made.
      if (code !== '23505' && code !== '42P07' && code !== '42710') throw error;
    }
    return;
  }
  await conn.query(`delete from ${COMMIT_MARKERS_TABLE} where created_at < now() - interval '${ABANDONED_MARKER_AGE}'`);
}

/**
 * Whether the batch that wrote `token` committed, asked on a fresh connection until `deadline`
 * (a performance.now() time); 'unknown' when the server could not be reached in time. While the
 * lost transaction still runs (its backend has not noticed the lost connection), the settling
 * insert waits; past a short wait that backend is ended, matched by pid and transaction id so a
 * recycled pid is never ended by mistake. The pid is the one the server reported inside the lost
 * transaction: the one the connection announced at startup is a pooler's own number behind one. Either way the token's row then exists, committed, and
 * is the caller's to sweep.
 */
export async function lostCommitStatus(
  writer: WriterSlot,
  token: string,
  pid: number,
  xid: string,
  deadline: number,
): Promise<'committed' | 'aborted' | 'unknown'> {
  const settle = `begin; ${writer.prologue}set local lock_timeout = ${SETTLE_LOCK_WAIT_MS}; ${insertMarkerSql(token)}; commit`;
  let ended = false;
  for (let attempt = 0; ; attempt++) {
    let conn: PgConnection | undefined;
    try {
      conn = await writer.get();
      await conn.query(settle);
      return 'aborted';
    } catch (error) {
      const state = (error as { code?: string }).code;
      if (conn && (conn.broken || isConnectionLoss(error))) {
        writer.discard(conn);
      } else if (conn) {
        await conn.query('rollback').catch(() => writer.discard(conn as PgConnection));
        if (state === '23505') return 'committed';
        if (state === '55P03' && !ended) {
          await conn
            .query(
              'select pg_terminate_backend(pid) from pg_stat_activity where pid = $1 and backend_xid::text = ($2::bigint % 4294967296)::text',
              [pid, xid],
            )
            .catch(() => {});
          ended = true;
          continue;
        }
      }
    }
    if (performance.now() >= deadline) return 'unknown';
    await delay(backoffMs(attempt, { initialMs: 20, maxMs: 500 }));
  }
}

/** How long a COMMIT whose reply was lost is looked into, at least, before it is called unknown. */
const MIN_COMMIT_RESOLVE_MS = 5000;

/** The lost-COMMIT counters a batch runner keeps. */
export interface LostCommitCounters {
  commitsLost: number;
  commitsFoundCommitted: number;
  commitsUnknown: number;
}

/**
 * Commits the batch. A COMMIT whose reply never came may have happened or not. The batch's marker
 * row answers it: the batch is acknowledged only when the marker is found committed; when it is
 * not, the gate runs the batch again. If no answer comes before the latest op's deadline, the ops
 * fail with UNAVAILABLE saying the outcome is unknown: no promise ever resolves for a write that
 * may not have committed. `known` hears of a marker whose outcome was learnt (it may be swept).
 */
export async function commitOrResolve(
  writer: WriterSlot,
  conn: PgConnection,
  marker: string,
  backend: { pid: number; xid: string },
  deadlines: readonly { readonly deadline: number }[],
  stats: LostCommitCounters,
  known: (marker: string) => void,
): Promise<void> {
  try {
    // lock_timeout bounds waits on rows, not the COMMIT: a transaction that NOTIFYs (the workers'
    // wake-up and cache triggers) takes PostgreSQL's one notify-queue lock at commit, and under many
    // instances committing at once that wait must not fail a batch that has already written.
    await conn.query('set local lock_timeout = 0; commit');
    return;
  } catch (error) {
    if (!conn.broken && !isConnectionLoss(error)) throw error;
    stats.commitsLost++;
    writer.discard(conn);
    let deadline = performance.now() + MIN_COMMIT_RESOLVE_MS;
    for (const op of deadlines) deadline = Math.max(deadline, op.deadline);
    const status = await lostCommitStatus(writer, marker, backend.pid, backend.xid, deadline);
    if (status !== 'unknown') known(marker);
    if (status === 'committed') {
      stats.commitsFoundCommitted++;
      return;
    }
    if (status === 'aborted') {
      throw new TransientError('unavailable', 'the connection was lost during COMMIT, which the server then reported aborted', error);
    }
    stats.commitsUnknown++;
    throw new SluiceError(
      'UNAVAILABLE',
      `The connection to PostgreSQL was lost during COMMIT and the server could not be asked in time whether the batch (commit marker ${marker} in ${COMMIT_MARKERS_TABLE}) committed: these writes may or may not have been applied. Read the rows back before writing them again.`,
      { cause: error },
    );
  }
}
