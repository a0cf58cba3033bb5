import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SluiceError } from '../index.js';
import { parseUrl } from '../internal.js';

/** The tables and views a database holds, each with its column names as the database spells them. */
export type TableListing = ReadonlyMap<string, readonly string[]>;

/**
 * Lists what a database already holds, before any command opens it through Sluice: the check
 * that keeps the demo table out of an application's database must not itself change the file.
 * A SQLite file that does not exist holds nothing (and is not created here).
 */
export async function listTables(url: string): Promise<TableListing> {
  const location = parseUrl(url);
  if (location.kind === 'postgres') return listPostgres(location.url, location.schema);
  if (location.file === ':memory:' || !existsSync(location.file)) return new Map();
  return listSqlite(location.file);
}

function listSqlite(file: string): TableListing {
  let db: BetterSqlite3.Database | undefined;
  try {
    // Read-only, and a reader never waits on the WAL writer; a rollback-journal writer may hold it briefly.
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    const names = db
      .prepare("select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite\\_%' escape '\\' order by name")
      .pluck()
      .all() as string[];
    const columns = db.prepare('select name from pragma_table_info(?) order by cid').pluck();
    return new Map(names.map((name) => [name, columns.all(name) as string[]]));
  } catch (error) {
    throw unreadable(file, error);
  } finally {
    db?.close();
  }
}

/** A file SQLite cannot read: damaged, or not a database at all. Nothing was written to it. */
export function unreadable(file: string, error: unknown): SluiceError {
  const code = String((error as { code?: unknown }).code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new SluiceError(
      'UNAVAILABLE',
      `The SQLite file ${file} is damaged: ${message} (${code}). Nothing was changed; restore it from a backup, or copy out what is readable with \`sqlite3 ${file} .recover\`.`,
      { value: file, cause: error },
    );
  }
  return new SluiceError('UNAVAILABLE', `Cannot read the SQLite file ${file}: ${message}${code ? ` (${code})` : ''}.`, {
    value: file,
    cause: error,
  });
}

async function listPostgres(url: string, schema: string | undefined): Promise<TableListing> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    // One statement, unnamed: it works behind a transaction-mode pooler too.
    const { rows } = await client.query<{ table_name: string; column_name: string | null }>(
      `select t.table_name, c.column_name
         from information_schema.tables t
         left join information_schema.columns c on c.table_schema = t.table_schema and c.table_name = t.table_name
        where t.table_schema = coalesce($1::text, current_schema())
        order by t.table_name, c.ordinal_position`,
      [schema ?? null],
    );
    const tables = new Map<string, string[]>();
    for (const row of rows) {
      const columns = tables.get(row.table_name) ?? [];
      if (row.column_name !== null) columns.push(row.column_name);
      tables.set(row.table_name, columns);
    }
    return tables;
  } catch (error) {
    throw new SluiceError(
      'UNAVAILABLE',
      `Cannot list the tables of ${redact(url)}${schema ? ` (schema ${schema})` : ''}: ${(error as Error).message}.`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** A URL fit for a message: the password is not printed. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the PostgreSQL URL';
  }
}
