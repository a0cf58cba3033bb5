import Database from 'better-sqlite3';
import type { Durability } from '../../core/kinds.js';
import { SluiceError } from '../../core/sluice-error.js';

export type { Durability };

/** 3.51.3 fixed a WAL-reset race that can corrupt a file two processes write or checkpoint at once. */
export const MIN_SQLITE_VERSION = '3.51.3';

export interface SqliteConnectionOptions {
  readonly file: string;
  readonly durability: Durability;
  /** Page cache per connection, in KiB. */
  readonly cacheKiB: number;
  readonly readonly: boolean;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Opens one connection with every setting applied explicitly: SQLite reports a different
 * `synchronous` depending on who switched the file to WAL, so nothing is left to the file's past.
 * busy_timeout is 0: a lock wait would block the event loop, so the write gate waits instead,
 * asynchronously, between attempts.
 */
export function openSqliteConnection(options: SqliteConnectionOptions): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(options.file, { timeout: 0 });
  } catch (error) {
    throw new SluiceError(
      'UNAVAILABLE',
      `Cannot open SQLite file ${options.file}: ${(error as Error).message}. Check that its folder exists and is writable.`,
      {
        cause: error,
        value: options.file,
      },
    );
  }
  try {
    const version = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
    if (compareVersions(version, MIN_SQLITE_VERSION) < 0) {
      throw new SluiceError(
        'CONFIG',
        `SQLite ${version} is older than ${MIN_SQLITE_VERSION}, which fixed a WAL-reset bug that can corrupt a database shared by processes. Install better-sqlite3 >= 12.11 (it bundles SQLite 3.53).`,
        { value: version },
      );
    }
    if (!options.readonly) {
      const mode = db.pragma('journal_mode = wal', { simple: true });
      if (mode !== 'wal' && options.file !== ':memory:') {
        throw new SluiceError(
          'CONFIG',
          `SQLite file ${options.file} refused WAL mode (it stayed ${String(mode)}); WAL is needed for readers beside the writer.`,
        );
      }
    }
    db.pragma(`synchronous = ${options.durability === 'power-loss' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${options.cacheKiB}`);
    db.pragma('temp_store = MEMORY');
    // LIKE is case-sensitive on PostgreSQL; making SQLite agree keeps one filter meaning one thing.
    db.pragma('case_sensitive_like = ON');
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    // Batches of scattered keys dirty over 1,000 pages each, so the default autocheckpoint ran an
    // fsync'd checkpoint after nearly every commit (raw measured 1.5x faster with a larger one).
    // The watchdog still bounds the WAL at walMaxBytes.
    if (!options.readonly) db.pragma('wal_autocheckpoint = 8192');
    if (options.readonly) db.pragma('query_only = ON');
  } catch (error) {
    db.close();
    if (error instanceof SluiceError) throw error;
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw error;
    throw new SluiceError('UNAVAILABLE', `Cannot set up SQLite file ${options.file}: ${(error as Error).message}.`, { cause: error });
  }
  return db;
}
