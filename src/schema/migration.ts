import type { DialectName } from '../core/kinds.js';

/**
 * A numbered, reviewed change that the additive schema diff cannot express (a backfill, a rename).
 * Written as SQL per dialect so that it runs inside the migration transaction without JavaScript
 * awaiting anything while the write lock is held.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: readonly string[] | { readonly sqlite?: readonly string[]; readonly postgres?: readonly string[] };
}

export function migrationSql(migration: Migration, dialect: DialectName): readonly string[] {
  const sql = migration.sql;
  if (Array.isArray(sql)) return sql as readonly string[];
  return (sql as { sqlite?: readonly string[]; postgres?: readonly string[] })[dialect] ?? [];
}
