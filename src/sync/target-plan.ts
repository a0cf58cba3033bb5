import { type UpsertFlavor, upsertFromSql } from '../dialect/postgres/opengauss-upsert.js';
import { POSTGRES_ARRAY_TYPES, quoteIdentifier } from '../dialect/postgres/postgres-builder.js';
import type { AnyTableDef, ColumnDef } from '../schema/define-table.js';
import { COPY_ENCODERS, type CopyEncoder } from './copy-text.js';

/** The statements one synced table ships with, built once per target connection's life. */
export interface TablePlan {
  readonly def: AnyTableDef;
  /** The session's temporary staging table the rows are COPYed into. */
  readonly stage: string;
  readonly columns: readonly ColumnDef[];
  readonly encoders: readonly CopyEncoder[];
  readonly upsert: string;
  readonly delete: string;
  readonly copy: string;
}

export function plan(def: AnyTableDef, flavor: UpsertFlavor): TablePlan {
  const q = quoteIdentifier;
  const stage = `_sluice_stage_${def.name}`.slice(0, 63);
  const columns = def.columns;
  const names = columns.map((c) => c.sqlName);
  const conflictKey = (def.sync?.key ?? def.primaryKey).map((c) => c.sqlName);
  const keyColumns = [...def.primaryKey, ...def.unique.flat()].map((c) => c.sqlName);
  const pk = def.primaryKey;
  const using = pk.map((c, i) => `$${i + 1}::${POSTGRES_ARRAY_TYPES[c.type]}`).join(', ');
  const alias = pk.map((_, i) => `k${i}`).join(', ');
  const match = pk.map((c, i) => `t.${q(c.sqlName)} = d.k${i}`).join(' AND ');
  return {
    def,
    stage,
    columns,
    encoders: columns.map((c) => COPY_ENCODERS[c.type]),
    upsert: upsertFromSql(flavor, { table: def.name, source: stage, columns: names, conflictKey, keyColumns }),
    delete: `DELETE FROM ${q(def.name)} AS t USING unnest(${using}) AS d(${alias}) WHERE ${match}`,
    copy: `COPY ${q(stage)} (${names.map(q).join(', ')}) FROM STDIN`,
  };
}
