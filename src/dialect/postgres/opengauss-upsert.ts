import { quoteIdentifier } from './postgres-types.js';

/** Which upsert a PostgreSQL-protocol target accepts. */
export type UpsertFlavor = 'postgres' | 'opengauss';

export interface UpsertShape {
  /** The target table, unqualified (the session's search_path names its schema). */
  readonly table: string;
  /** Where the rows come from: a staging table holding the same columns. */
  readonly source: string;
  /** Every column, by database name, in one order for both tables. */
  readonly columns: readonly string[];
  /** The unique key the upsert resolves conflicts on. */
  readonly conflictKey: readonly string[];
  /**
   * Columns that must not appear in the update list: the conflict key, and for openGauss every
   * column of the table's primary key and unique constraints (it refuses to update them).
   */
  readonly keyColumns: readonly string[];
}

/**
 * The one statement where PostgreSQL and openGauss differ. PostgreSQL: `INSERT … SELECT … ON
 * CONFLICT (key) DO UPDATE SET c = EXCLUDED.c`. openGauss documents `INSERT … ON DUPLICATE KEY
 * UPDATE` instead, with no conflict target, no RETURNING, and no key column in the update list.
 */
export function upsertFromSql(flavor: UpsertFlavor, shape: UpsertShape): string {
  const q = quoteIdentifier;
  const list = shape.columns.map(q).join(', ');
  const head = `INSERT INTO ${q(shape.table)} (${list}) SELECT ${list} FROM ${q(shape.source)}`;
  const fixed = new Set(flavor === 'opengauss' ? [...shape.keyColumns, ...shape.conflictKey] : shape.conflictKey);
  const updated = shape.columns.filter((c) => !fixed.has(c));
  const set = updated.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ');
  if (flavor === 'opengauss') return `${head} ON DUPLICATE KEY UPDATE ${updated.length === 0 ? 'NOTHING' : set}`;
  const target = shape.conflictKey.map(q).join(', ');
  return `${head} ON CONFLICT (${target}) ${updated.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${set}`}`;
}

/**
 * The offsets table: each node's high-water mark, and the lineage token the last batch set (the
 * compare-and-set that tells a copied edge file from the one the target has followed).
 */
export function offsetTableSql(offsetsTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(offsetsTable)} (node_id text PRIMARY KEY, seq bigint NOT NULL, updated_at timestamptz NOT NULL, lineage text)`;
}

/** Adds the lineage column to an offsets table an older version created (run when it is missing). */
export function offsetLineageSql(offsetsTable: string): string {
  return `ALTER TABLE ${quoteIdentifier(offsetsTable)} ADD COLUMN lineage text`;
}

/**
 * Adds the per-node count of changes applied (upserts and deletes), which the centre's view of its
 * edge nodes reads; run when an older version made the table without it.
 */
export function offsetChangesSql(offsetsTable: string): string {
  return `ALTER TABLE ${quoteIdentifier(offsetsTable)} ADD COLUMN changes bigint NOT NULL DEFAULT 0`;
}

/** Creates a node's offset row at 0 unless it exists: `$1` is the node id. */
export function offsetInitSql(flavor: UpsertFlavor, offsetsTable: string): string {
  const head = `INSERT INTO ${quoteIdentifier(offsetsTable)} (node_id, seq, updated_at) VALUES ($1, 0, now())`;
  return flavor === 'opengauss' ? `${head} ON DUPLICATE KEY UPDATE NOTHING` : `${head} ON CONFLICT (node_id) DO NOTHING`;
}
