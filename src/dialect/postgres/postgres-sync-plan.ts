import type { ColumnType } from '../../schema/column-types.js';
import type { AnyTableDef, ColumnDef } from '../../schema/define-table.js';
import { type UpsertFlavor, upsertFromSql } from './opengauss-upsert.js';
import { POSTGRES_ARRAY_TYPES, quoteIdentifier } from './postgres-builder.js';

/**
 * Turns the values SQLite stores into PostgreSQL COPY text fields directly, with no decode to
 * JavaScript objects in between: booleans are 0/1, timestamps epoch ms, JSON already text.
 */
export type CopyEncoder = (value: unknown) => string;

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

const SPECIAL = /[\\\n\r\t]/;

function escapeText(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

const COPY_ENCODERS: Readonly<Record<ColumnType, CopyEncoder>> = {
  text: (v) => escapeText(v as string),
  integer: (v) => String(v),
  real: (v) => String(v),
  boolean: (v) => (v === 1 || v === true ? 't' : 'f'),
  json: (v) => escapeText(v as string),
  timestamp: (v) => new Date(v as number).toISOString(),
  // COPY text reads `\\x…` as the bytea hex form once its own backslash escape is undone.
  blob: (v) => `\\\\x${Buffer.from(v as Uint8Array).toString('hex')}`,
};

/** One row as a COPY text line: tab-separated fields, `\N` for NULL. */
export function copyLine(row: readonly unknown[], encoders: readonly CopyEncoder[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (i > 0) line += '\t';
    line += value === null || value === undefined ? '\\N' : (encoders[i] as CopyEncoder)(value);
  }
  return `${line}\n`;
}

/** A stored key value (SQLite's form: booleans 0/1, timestamps epoch ms, blobs as bytes) as node-postgres binds it. */
export function keyParam(type: ColumnType, value: unknown): unknown {
  switch (type) {
    case 'boolean':
      return value === 1 || value === true;
    case 'timestamp':
      return new Date(value as number);
    default:
      return value;
  }
}
