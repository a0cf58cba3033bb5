import type { AnyTableDef, ColumnDef } from '../../schema/define-table.js';
import type { JsRow } from '../../schema/row-codec.js';
import type { Dialect } from '../dialect.js';
import { copyTextSql, EXACT_SQL } from './sqlite-copy-text.js';

/**
 * The sync outbox as SQL: the local file is SQLite by design (sync ships a SQLite file to the
 * centre), so its reads are written here, beside the one key format they parse. The tables
 * themselves are sync's (`_sluice_sync_outbox`: seq, table_name, key_json, kind, at, error,
 * failed_at; `_sluice_sync_node`); every read goes through the reader connection.
 */

/**
 * A stored key as the outbox keeps it: a JSON array of the values SQLite stores, a blob as hex so
 * it survives the text column. The one serialised form of a key from capture to shipping: the
 * lookup below parses it in SQL (json_extract, unhex), and only a delete or a resync page needs
 * the values back in JavaScript (storedKeyOf).
 */
export function outboxKeyJson(stored: readonly unknown[]): string {
  let plain = true;
  for (const value of stored) if (typeof value !== 'string' && typeof value !== 'number') plain = false;
  if (plain) return JSON.stringify(stored);
  return JSON.stringify(stored.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

/** The stored values back from an outbox key (blobs were written as hex): what SQLite and the target bind. */
export function storedKeyOf(primaryKey: readonly ColumnDef[], keyJson: string): unknown[] {
  return storedValues(primaryKey, JSON.parse(keyJson) as unknown[]);
}

function storedValues(primaryKey: readonly ColumnDef[], values: readonly unknown[]): unknown[] {
  return primaryKey.map((column, i) => (column.type === 'blob' ? Buffer.from(values[i] as string, 'hex') : values[i]));
}

export interface OutboxFigures {
  /** The largest seq in the file: every change ever captured here (gap-free from 1). */
  readonly maxSeq: number;
  /** The first pending seq above the mark, or undefined when nothing waits. */
  readonly oldestSeq: number | undefined;
  /** Commit time (epoch ms) of that change. */
  readonly oldestAt: number | undefined;
}

export interface OutboxEntry {
  readonly seq: number;
  readonly table: string;
  readonly keyJson: string;
}

export interface OutboxDeadLetter extends OutboxEntry {
  readonly error: string;
  readonly failedAt: number | null;
}

/** The outbox rows of one table in a batch's span. */
export interface SpanTable {
  readonly table: string;
  readonly rows: number;
}

/** A batch's outbox rows: up to a limit above the mark, by table in order of first appearance. */
export interface OutboxSpan {
  /** The seq of its last row: the mark once the batch is applied. */
  readonly last: number;
  readonly rows: number;
  readonly tables: readonly SpanTable[];
}

/** One table's part of a batch as SQLite wrote it (sqlite-copy-text.ts). */
export interface CopyText {
  /** COPY text lines of the rows that exist now; undefined when none does. */
  readonly copy: Buffer | undefined;
  readonly upserts: number;
  /** The stored keys with no row now: they ship as deletes. */
  readonly deletes: readonly (readonly unknown[])[];
  /** A row holds a value SQLite cannot write exactly: encode this batch in JavaScript. */
  readonly odd: boolean;
}

/** The node row's answer: the row, none yet, or no table (migrate() has not created it, or this version's columns). */
export type NodeRowRead = JsRow | 'no-row' | 'no-table';

const OUTBOX = '"_sluice_sync_outbox"';

export class SqliteOutbox {
  readonly #reader: Pick<Dialect, 'selectAll'>;
  readonly #rowsSql = new Map<string, string>();
  readonly #pageSql = new Map<string, { first: string; next: string }>();
  readonly #copySql = new Map<string, { sql: string; def: AnyTableDef }>();
  readonly #nodeSql: string;
  #exact: boolean | undefined;

  /** `synced`: the tables whose rows the outbox names; `node`: the table of the file's node row. */
  constructor(reader: Pick<Dialect, 'selectAll'>, synced: readonly AnyTableDef[], node: AnyTableDef) {
    this.#reader = reader;
    for (const table of synced) {
      this.#rowsSql.set(table.name, rowsByKeySql(table));
      this.#pageSql.set(table.name, keyPageSql(table));
      this.#copySql.set(table.name, { sql: copyTextSql(table, OUTBOX), def: table });
    }
    this.#nodeSql = `select ${node.columns.map((c) => `"${c.sqlName}" as "${c.name}"`).join(', ')} from "${node.name}" where id = 1`;
  }

  async figures(mark: number): Promise<OutboxFigures> {
    const maxSeq = await this.maxSeq();
    const [oldest] = await this.#reader.selectAll(`select seq, at from ${OUTBOX} where seq > ? and error is null order by seq limit 1`, [
      mark,
    ]);
    return {
      maxSeq,
      oldestSeq: oldest === undefined ? undefined : Number(oldest.seq),
      oldestAt: oldest === undefined ? undefined : Number(oldest.at),
    };
  }

  /** The largest seq this file ever gave a change (the row at the acknowledged mark is never deleted). */
  async maxSeq(): Promise<number> {
    const [top] = await this.#reader.selectAll(`select coalesce(max(seq), 0) as m from ${OUTBOX}`, []);
    return Number(top?.m ?? 0);
  }

  /** The seqs of every dead letter: a full scan, run once when the shipper starts. */
  async deadSeqs(): Promise<number[]> {
    const rows = await this.#reader.selectAll(`select seq from ${OUTBOX} where error is not null`, []);
    return rows.map((r) => Number(r.seq));
  }

  /** Up to `limit` pending entries above the mark and up to `last`, in seq order (dead letters left out). */
  async pending(mark: number, limit: number, last = Number.MAX_SAFE_INTEGER): Promise<OutboxEntry[]> {
    const rows = await this.#reader.selectAll(
      `select seq, table_name, key_json from ${OUTBOX} where seq > ? and seq <= ? and error is null order by seq limit ?`,
      [mark, last, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), table: r.table_name as string, keyJson: r.key_json as string }));
  }

  /** The next batch's span: up to `limit` pending rows above the mark, counted per table; undefined when none waits. */
  async span(mark: number, limit: number): Promise<OutboxSpan | undefined> {
    const rows = await this.#reader.selectAll(
      `select table_name, count(*) as n, max(seq) as last, min(seq) as first from (select seq, table_name from ${OUTBOX} where seq > ? and error is null order by seq limit ?) group by table_name order by first`,
      [mark, limit],
    );
    if (rows.length === 0) return undefined;
    let last = 0;
    let count = 0;
    const tables = rows.map((r) => {
      last = Math.max(last, Number(r.last));
      count += Number(r.n);
      return { table: String(r.table_name), rows: Number(r.n) };
    });
    return { last, rows: count, tables };
  }

  /**
   * One table's part of the span (`mark`, `last`] as COPY text written by SQLite; undefined for a
   * table the outbox was not built with, or when this SQLite writes reals or dates inexactly.
   */
  async copyText(table: string, mark: number, last: number): Promise<CopyText | undefined> {
    const planned = this.#copySql.get(table);
    if (planned === undefined) return undefined;
    if (this.#exact === undefined) {
      const [check] = await this.#reader.selectAll(EXACT_SQL, []);
      this.#exact = Number(check?.exact) === 1;
    }
    if (!this.#exact) return undefined;
    const [row] = await this.#reader.selectAll(planned.sql, [mark, last, table]);
    const deletes = row?.deletes;
    const pk = planned.def.primaryKey;
    return {
      copy: row?.copy == null ? undefined : (row.copy as Buffer),
      upserts: Number(row?.upserts ?? 0),
      deletes: typeof deletes === 'string' ? (JSON.parse(`[${deletes}]`) as unknown[][]).map((key) => storedValues(pk, key)) : [],
      odd: Number(row?.odd ?? 0) === 1,
    };
  }

  /**
   * The rows of `table` the keys name, as the file holds them now (stored values, column order),
   * each at its key's position; undefined where the key has no row. Undefined for a table the
   * outbox was not built with.
   */
  async rows(table: string, keyJsons: readonly string[]): Promise<(unknown[] | undefined)[] | undefined> {
    const sql = this.#rowsSql.get(table);
    if (sql === undefined) return undefined;
    const found = await this.#reader.selectAll(sql, [`[${keyJsons.join(',')}]`]);
    const rows = new Array<unknown[] | undefined>(keyJsons.length);
    for (const r of found) {
      const values = Object.values(r);
      // The first column is the key's position; the table's columns follow in order.
      rows[Number(values[0])] = values.slice(1);
    }
    return rows;
  }

  async deadLetters(limit: number): Promise<OutboxDeadLetter[]> {
    const rows = await this.#reader.selectAll(
      `select seq, table_name, key_json, error, failed_at from ${OUTBOX} where error is not null order by seq limit ?`,
      [limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      table: String(r.table_name),
      keyJson: String(r.key_json),
      error: String(r.error),
      failedAt: r.failed_at === null ? null : Number(r.failed_at),
    }));
  }

  /** Up to `limit` keys of `table` after `after` (an outbox key; null: from the start), in key order, as outbox keys. */
  async keyPage(table: AnyTableDef, after: string | null, limit: number): Promise<string[]> {
    const sql = this.#pageSql.get(table.name) as { first: string; next: string };
    const params = after === null ? [limit] : [...storedKeyOf(table.primaryKey, after), limit];
    const rows = await this.#reader.selectAll(after === null ? sql.first : sql.next, params);
    const width = table.primaryKey.length;
    return rows.map((row) => outboxKeyJson(Array.from({ length: width }, (_, i) => row[`k${i}`])));
  }

  /** The file's node row, by column name. */
  async nodeRow(): Promise<NodeRowRead> {
    try {
      const [row] = await this.#reader.selectAll(this.#nodeSql, []);
      return row ?? 'no-row';
    } catch (error) {
      // The sync tables (or this version's columns) appear with migrate(); until then nothing ships.
      if (/no such (table|column)/i.test((error as Error | undefined)?.message ?? '')) return 'no-table';
      throw error;
    }
  }
}

/** Joins the keys (one JSON array parameter) to the table by primary key; `_i` is each key's position. */
function rowsByKeySql(table: AnyTableDef): string {
  const select = table.columns.map((c, i) => `t."${c.sqlName}" as c${i}`).join(', ');
  const match = table.primaryKey
    .map((c, i) => {
      const value = `json_extract(j.value, '$[${i}]')`;
      return `t."${c.sqlName}" = ${c.type === 'blob' ? `unhex(${value})` : value}`;
    })
    .join(' and ');
  return `select j.key as _i, ${select} from json_each(?) as j cross join "${table.name}" as t on ${match}`;
}

/** The keyset pages of one table, in primary-key order. */
function keyPageSql(table: AnyTableDef): { first: string; next: string } {
  const columns = table.primaryKey.map((c) => `"${c.sqlName}"`);
  const select = columns.map((c, i) => `${c} as k${i}`).join(', ');
  const order = columns.join(', ');
  const after = columns.length === 1 ? `${columns[0]} > ?` : `(${order}) > (${columns.map(() => '?').join(', ')})`;
  return {
    first: `select ${select} from "${table.name}" order by ${order} limit ?`,
    next: `select ${select} from "${table.name}" where ${after} order by ${order} limit ?`,
  };
}
