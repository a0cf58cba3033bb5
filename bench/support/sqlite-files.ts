import Database from 'better-sqlite3';
import { type OpenOptions, open, type Database as SluiceDatabase } from '../../dist/index.js';
import { mediaFiles, mediaRow, RAW_INSERT_SQL, rawParams } from './media-table.js';

export type Durability = 'process-crash' | 'power-loss';

/** Sluice's default writer page cache; raw connections get the same so the comparison is fair. */
export const SLUICE_CACHE_KIB = 65_536;

export async function openSluice(
  file: string,
  durability: Durability = 'process-crash',
  cacheKiB = SLUICE_CACHE_KIB,
  gate?: OpenOptions['gate'],
): Promise<SluiceDatabase> {
  const db = await open({ url: `sqlite:${file}`, tables: [mediaFiles], durability, sqlite: { cacheKiB }, ...(gate ? { gate } : {}) });
  await db.migrate();
  return db;
}

/** Creates the table through Sluice, so raw and Sluice write into identical DDL. */
export async function createSchema(file: string): Promise<void> {
  const db = await openSluice(file);
  await db.close();
}

export interface RawOptions {
  readonly durability?: Durability;
  readonly cacheKiB?: number;
  /** busy_timeout in ms, as a hand-written app sharing the file would set it. */
  readonly busyTimeoutMs?: number;
  /** WAL pages after which a commit checkpoints; SQLite's default (and Sluice's today) is 1000. */
  readonly walAutocheckpoint?: number;
}

/** A raw better-sqlite3 connection with the settings Sluice applies to its writer. */
export function openRaw(file: string, options: RawOptions = {}): Database.Database {
  const db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
  applyWriterPragmas(db, options);
  return db;
}

/** openRaw's settings on a connection someone else opened (an ORM's `prepareDatabase` hook). */
export function applyWriterPragmas(db: Database.Database, options: RawOptions = {}): void {
  db.pragma('journal_mode = wal');
  db.pragma(`synchronous = ${options.durability === 'power-loss' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${options.cacheKiB ?? SLUICE_CACHE_KIB}`);
  db.pragma('temp_store = MEMORY');
  if (options.walAutocheckpoint !== undefined) db.pragma(`wal_autocheckpoint = ${options.walAutocheckpoint}`);
}

/** Fills the table quickly (raw, large transactions) with rows keyed by `path(i)`. */
export function prefill(file: string, count: number, path: (i: number) => string): void {
  const db = openRaw(file, { cacheKiB: 262_144 });
  const insert = db.prepare(RAW_INSERT_SQL);
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(rawParams(mediaRow(path(i), i)));
  });
  for (let from = 0; from < count; from += 50_000) chunk(from, Math.min(count, from + 50_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

export function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}
