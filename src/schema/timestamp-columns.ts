import type { ColumnDef, ColumnSpec } from './column-types.js';

/**
 * The columns `timestamps: true` adds, as their types read: a Date on every row. Sluice sets both
 * on insert and `updatedAt` on every change it makes; database triggers do the same for foreign
 * writers, so a row a Python script inserted or updated carries them too.
 */
export const TIMESTAMP_COLUMNS = {
  createdAt: { type: 'timestamp', default: () => new Date() },
  updatedAt: { type: 'timestamp', default: () => new Date() },
} as const satisfies Record<string, ColumnSpec>;
export type TimestampColumns = typeof TIMESTAMP_COLUMNS;

/** A table's timestamp columns, once defined. */
export interface TimestampPolicy {
  readonly createdAt: ColumnDef;
  readonly updatedAt: ColumnDef;
}

/**
 * The two columns as stored: nullable in the database although never null when read, because a
 * foreign INSERT that leaves them out must get past NOT NULL to reach the trigger that fills them,
 * and because SQLite cannot add a NOT NULL column without a constant default to an existing table.
 */
export function timestampColumnDefs(): [ColumnDef, ColumnDef] {
  const column = (name: string, sqlName: string): ColumnDef =>
    Object.freeze({
      name,
      sqlName,
      type: 'timestamp',
      nullable: true,
      hasDefault: true,
      makeDefault: () => new Date(),
      constantDefault: undefined,
    });
  return [column('createdAt', 'created_at'), column('updatedAt', 'updated_at')];
}
