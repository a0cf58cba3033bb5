/** What open() checks on the writer connection before the dialect is handed out, and how its failures read. */
import { SluiceError } from '../../core/sluice-error.js';
import type { PgConnection } from './postgres-connection.js';
import { classifyPostgresError } from './postgres-errors.js';
import { SESSION_FACTS_SQL, type SessionFacts, sessionFacts, startupRefusal } from './postgres-pooler.js';
import { quoteIdentifier } from './postgres-types.js';

/** The oldest release this dialect is tested against (ON CONFLICT, to_regclass, unnest of several arrays). */
const MIN_SERVER_VERSION = 100_000;

/** Refuses a server too old; returns what open() checks next (postgres-pooler.ts), read in the same round trip. */
export async function checkServer(conn: PgConnection): Promise<SessionFacts> {
  const { rows } = await conn.query(
    `select current_setting('server_version_num')::int as num, current_setting('server_version') as version, ${SESSION_FACTS_SQL}`,
  );
  const num = Number(rows[0]?.num ?? 0);
  if (num < MIN_SERVER_VERSION) {
    throw new SluiceError('CONFIG', `Sluice requires PostgreSQL 10 or newer (detected ${String(rows[0]?.version)}). Upgrade the server.`, {
      value: rows[0]?.version,
    });
  }
  return sessionFacts(rows[0]);
}

/** Creates the schema unless it exists; two processes opening at once may both try. */
export async function ensureSchema(conn: PgConnection, schema: string): Promise<void> {
  const { rows } = await conn.query('select 1 from pg_namespace where nspname = $1', [schema]);
  if (rows.length > 0) return;
  try {
    await conn.query(`create schema if not exists ${quoteIdentifier(schema)}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // The other process won the race on the catalog's unique index: the schema exists now.
    if (code !== '23505' && code !== '42P06') throw error;
  }
}

export function openError(url: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const refused = startupRefusal(error);
  if (refused) return refused;
  const classified = classifyPostgresError(error);
  let where = 'PostgreSQL';
  try {
    const parsed = new URL(url);
    where = `PostgreSQL at ${parsed.host}${parsed.pathname}`;
  } catch {
    // An unparsable URL is reported by the driver's own message below.
  }
  return new SluiceError(
    classified.code,
    `Cannot open ${where}: ${(error as Error).message ?? String(error)}. ${advice(classified.code)}`,
    {
      cause: error,
    },
  );
}

function advice(code: string): string {
  return code === 'CONFIG'
    ? 'Check the URL, the database name, the role and its privileges.'
    : 'Check that the server is running and reachable at that address.';
}
