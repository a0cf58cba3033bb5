import { SluiceError } from '../../core/sluice-error.js';
import type { PgConnection } from './postgres-connection.js';

/*
 * Telling a pooler in transaction mode from a direct connection, at open.
 *
 * Behind PgBouncer in transaction mode the statements of one client connection run on whichever
 * server connection is free when each transaction starts, shared with every other client. A
 * dialect that relies on its session (startup settings, named prepared statements) then runs
 * with another client's settings, or runs another client's `sluice_N` with its own parameters.
 * `postgres: { pooler: 'transaction' }` avoids all of that; without it, open() must find out and
 * refuse, never mix statements up silently.
 *
 * A direct connection announces its server process's pid at startup (BackendKeyData), and
 * `pg_backend_pid()` returns the same number: the version query at open reads it, so a direct
 * connection pays no round trip for the check. A pooler announces a number of its own; that alone
 * does not say which mode it pools in (session pooling keeps one server connection per client and
 * is safe), so then a probe decides: a second client holds a transaction open while the first
 * asks for its pid again. A pooler in transaction mode hands its idle server connections out
 * most recently used first, so the held transaction sits on the server connection the first
 * client just left, and the first client's next transaction must run on another one (or wait for
 * one). A session pooler, like a direct connection, answers from the same server process at once.
 */

/** How long the first client's pid query may wait while the second holds a transaction. */
const PROBE_WAIT_MS = 2000;
/** Rounds of the probe: a round where the second client did not take the first one's server connection cannot tell. */
const PROBE_ROUNDS = 3;

const OPTION = "postgres: { pooler: 'transaction' }";

/** What the version query at open also read: the settings the startup packet asked for, and the server's pid. */
export interface SessionFacts {
  readonly pid: number;
  readonly searchPath: string;
  readonly synchronousCommit: string;
  /** The schema unqualified names resolve to (null when the search_path names none that exists yet). */
  readonly currentSchema: string | undefined;
}

/** The columns of the version query at open that SessionFacts reads. */
export const SESSION_FACTS_SQL =
  "pg_backend_pid() as pid, current_setting('search_path') as search_path, current_setting('synchronous_commit') as synchronous_commit, current_schema() as current_schema";

export function sessionFacts(row: Record<string, unknown> | undefined): SessionFacts {
  return {
    pid: Number(row?.pid),
    searchPath: String(row?.search_path ?? ''),
    currentSchema: row?.current_schema === null || row?.current_schema === undefined ? undefined : String(row.current_schema),
    synchronousCommit: String(row?.synchronous_commit ?? ''),
  };
}

/**
 * Refuses a connection that goes through a pooler in transaction mode, or whose startup settings
 * were dropped on the way (a pooler told to ignore them), when the pooler option was not given.
 * `other` opens a second connection for the probe, only when the pids disagree.
 */
export async function refuseUndeclaredPooler(
  conn: PgConnection,
  facts: SessionFacts,
  expected: { readonly schema: string | undefined },
  other: () => Promise<PgConnection>,
): Promise<void> {
  if (facts.pid !== conn.pid && (await transactionPooling(conn, other))) {
    throw new SluiceError(
      'CONFIG',
      `PostgreSQL is reached through a connection pooler in transaction mode (the server process changes between transactions of one connection): Sluice's prepared statements and session settings would mix with other clients'. Open with ${OPTION}, or connect to PostgreSQL directly.`,
    );
  }
  const dropped: string[] = [];
  if (facts.synchronousCommit !== 'on') dropped.push(`synchronous_commit (is ${facts.synchronousCommit})`);
  if (expected.schema !== undefined && facts.searchPath !== `"${expected.schema}"` && facts.searchPath !== expected.schema) {
    dropped.push(`search_path (is ${facts.searchPath})`);
  }
  if (dropped.length > 0) {
    throw new SluiceError(
      'CONFIG',
      `PostgreSQL did not apply the settings Sluice sends when it connects: ${dropped.join(', ')}. A pooler in front of it probably drops startup parameters (PgBouncer's ignore_startup_parameters); open with ${OPTION}, which sets them inside each transaction instead.`,
      { value: dropped.join(', ') },
    );
  }
}

/** The probe described above: true when consecutive transactions of `conn` run on different server processes. */
async function transactionPooling(conn: PgConnection, other: () => Promise<PgConnection>): Promise<boolean> {
  const holder = await other();
  try {
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      const before = await backendPid(conn);
      const held = await within(holder.query('begin; select pg_backend_pid() as pid'), PROBE_WAIT_MS);
      if (held === undefined) {
        // Every server connection is busy with other clients and the holder waits for one: a
        // pooler in transaction mode moves `conn` between those busy connections all the same.
        for (let check = 0; check < PROBE_ROUNDS; check++) if ((await backendPid(conn)) !== before) return true;
        return false;
      }
      const after = await within(backendPid(conn), PROBE_WAIT_MS);
      await holder.query('commit');
      // Waiting for a server connection while another client idles in a transaction is pooling.
      if (after === undefined || after !== before) return true;
      // Here the holder took another server connection, so the round could not tell: try again.
    }
    return false;
  } finally {
    await holder.close();
  }
}

async function backendPid(conn: PgConnection): Promise<number> {
  return Number((await conn.query('select pg_backend_pid() as pid')).rows[0]?.pid);
}

/** The value, or undefined if it takes longer than `ms` (the promise is left to settle on its own). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PgBouncer refuses a startup packet with parameters it does not track (`options`, which carries
 * the session settings) before any query runs: say what to do instead of relaying its words only.
 */
export function startupRefusal(error: unknown): SluiceError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/unsupported startup parameter/i.test(message)) return undefined;
  return new SluiceError(
    'CONFIG',
    `PostgreSQL is reached through a connection pooler that refuses Sluice's startup settings (${message}). Open with ${OPTION}: it sends no startup parameters and sets them inside each transaction.`,
    { cause: error },
  );
}
