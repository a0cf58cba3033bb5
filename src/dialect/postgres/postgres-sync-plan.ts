import type { ColumnType } from '../../schema/column-types.js';
import type { AnyTableDef, ColumnDef } from '../../schema/define-table.js';
import { type UpsertFlavor, upsertFromSql } from './opengauss-upsert.js';
import { POSTGRES_ARRAY_TYPES, quoteIdentifier } from './postgres-types.js';

/** What one key became by the time a batch ships: its current row, or none (a delete). */
export interface TargetChange {
  readonly table: string;
  /** The row in column order, in SQLite's stored form; undefined ships as a delete. */
  readonly row: readonly unknown[] | undefined;
  /** The stored primary key; read for deletes only. */
  readonly key: readonly unknown[];
}

/** One table's changes in a batch, already in the target's wire form: COPY text and the keys to delete. */
export interface TableCopy {
  readonly table: string;
  /** COPY text lines (tab-separated fields, `\N` for NULL) of the rows to upsert; undefined: none. */
  readonly copy: Buffer | string | undefined;
  readonly upserts: number;
  /** Stored primary keys (SQLite's form) of the rows to delete. */
  readonly deletes: readonly (readonly unknown[])[];
}

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

/** The items as one TableCopy per table, COPY text built here, value by value (the path SQLite could not take). */
export function copiesOf(items: readonly TargetChange[], plans: ReadonlyMap<string, TablePlan>): TableCopy[] {
  const copies: TableCopy[] = [];
  for (const [table, entry] of byTable(items)) {
    const planned = plans.get(table);
    copies.push({
      table,
      copy: entry.upserts.length === 0 || planned === undefined ? undefined : copyText(entry.upserts, planned),
      upserts: entry.upserts.length,
      deletes: keysOf(entry.deletes),
    });
  }
  return copies;
}

/** The rows of the items as COPY text lines. */
export function copyText(items: readonly TargetChange[], planned: TablePlan): string {
  let text = '';
  for (const item of items) text += copyLine(item.row as readonly unknown[], planned.encoders);
  return text;
}

/** The stored keys of the items (the deletes). */
export function keysOf(items: readonly TargetChange[]): (readonly unknown[])[] {
  return items.map((item) => item.key);
}

/** The items per table, split into upserts (a row) and deletes (none). */
export function byTable<T extends TargetChange>(items: readonly T[]): Map<string, { upserts: T[]; deletes: T[] }> {
  const tables = new Map<string, { upserts: T[]; deletes: T[] }>();
  for (const item of items) {
    let entry = tables.get(item.table);
    if (!entry) {
      entry = { upserts: [], deletes: [] };
      tables.set(item.table, entry);
    }
    (item.row === undefined ? entry.deletes : entry.upserts).push(item);
  }
  return tables;
}
