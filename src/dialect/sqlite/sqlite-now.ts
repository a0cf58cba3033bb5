import { sql } from 'kysely';

/** Epoch milliseconds now, as SQLite stores a timestamp; julianday works on SQLite older than 3.42 too. */
export const SQLITE_NOW_MS = sql`cast(round((julianday('now') - 2440587.5) * 86400000) as integer)`;
