import { SluiceError } from '../../core/sluice-error.js';
import { TransientError } from '../dialect.js';

const BUSY_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
  'SQLITE_LOCKED_SHAREDCACHE',
]);

function codeOf(error: unknown): string {
  return typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
}

/** Lock contention: the batch is rolled back and retried after a backoff. */
export function isSqliteBusy(error: unknown): boolean {
  return BUSY_CODES.has(codeOf(error));
}

export function sqliteTransient(error: unknown): TransientError | undefined {
  if (!isSqliteBusy(error)) return undefined;
  return new TransientError('busy', `the SQLite write lock is held by another connection (${codeOf(error)})`, error);
}

export function classifySqliteError(error: unknown, table?: string, file?: string): SluiceError {
  if (error instanceof SluiceError) return error;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const where = table ? ` on ${table}` : '';
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    const advice =
      code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
        ? ' A row with that key already exists: use upsert to replace it, or pick another key.'
        : code === 'SQLITE_CONSTRAINT_TRIGGER'
          ? ' A trigger in the database refused the change.'
          : '';
    return new SluiceError('CONSTRAINT', `Write${where} violates a constraint: ${message}.${advice}`, { table, cause: error });
  }
  if (BUSY_CODES.has(code)) {
    return new SluiceError('BUSY', `SQLite is locked by another connection${where} (${code}).`, { table, cause: error });
  }
  if (/no such table/.test(message)) {
    return new SluiceError('CONFIG', `The database has no table${where}: ${message}. Run db.migrate() (or \`sluice migrate\`) first.`, {
      table,
      cause: error,
    });
  }
  if (/no such column|has no column/.test(message)) {
    return new SluiceError('CONFIG', `The database schema is behind the code${where}: ${message}. Run db.migrate() to add it.`, {
      table,
      cause: error,
    });
  }
  if (code === 'SQLITE_TOOBIG' || /too many SQL variables|Expression tree is too large|too many terms in compound SELECT/.test(message)) {
    return new SluiceError(
      'VALIDATION',
      `The request${where} is too large for SQLite: ${message}. Nothing was done; split it (fewer values per call, a flatter filter, smaller values).`,
      { table, cause: error },
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new SluiceError(
      'UNAVAILABLE',
      `The SQLite file${file ? ` ${file}` : ''} is damaged${where}: ${message} (${code}). Nothing was changed; restore it from a backup, or copy out what is readable with \`sqlite3 ${file ?? '<file>'} .recover\`.`,
      { table, cause: error },
    );
  }
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL') {
    return new SluiceError(
      'UNAVAILABLE',
      `SQLite cannot write${where}: ${message} (${code}). Check the file's permissions and free disk space.`,
      {
        table,
        cause: error,
      },
    );
  }
  return new SluiceError('UNAVAILABLE', `SQLite failed${where}: ${message}${code ? ` (${code})` : ''}.`, { table, cause: error });
}
