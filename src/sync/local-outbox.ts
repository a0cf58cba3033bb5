import type { Dialect } from '../dialect/dialect.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { syncOutboxTable } from './sync-tables.js';
import type { ShipItem } from './sync-target.js';

const OUTBOX = syncOutboxTable.name;

export interface LocalFigures {
  /** The largest seq in the file: every change ever captured here (gap-free from 1). */
  readonly maxSeq: number;
  /** The first pending seq above the mark, or undefined when nothing waits. */
  readonly oldestSeq: number | undefined;
  /** Commit time (epoch ms) of that change. */
  readonly oldestAt: number | undefined;
}

interface OutboxEntry {
  seq: number;
  table_name: string;
  key_json: string;
}

/**
 * Reads the outbox and the rows it names on the reader connection. The SQL is SQLite's: the
 * outbox is the local file's, by design (sync ships a SQLite file to the centre).
 */
export class LocalOutbox {
  readonly #dialect: Pick<Dialect, 'selectAll'>;
  readonly #rowsSql = new Map<string, { sql: string; table: AnyTableDef }>();

  constructor(dialect: Pick<Dialect, 'selectAll'>, tables: readonly AnyTableDef[]) {
    this.#dialect = dialect;
    for (const table of tables) this.#rowsSql.set(table.name, { sql: rowsByKeySql(table), table });
  }

  async figures(mark: number): Promise<LocalFigures> {
    const [top] = await this.#dialect.selectAll(`select coalesce(max(seq), 0) as m from ${OUTBOX}`, []);
    const [oldest] = await this.#dialect.selectAll(`select seq, at from ${OUTBOX} where seq > ? and error is null order by seq limit 1`, [
      mark,
    ]);
    return {
      maxSeq: Number(top?.m ?? 0),
      oldestSeq: oldest === undefined ? undefined : Number(oldest.seq),
      oldestAt: oldest === undefined ? undefined : Number(oldest.at),
    };
  }

  /** The largest seq this file ever gave a change (the row at the acknowledged mark is never deleted). */
  async maxSeq(): Promise<number> {
    const [top] = await this.#dialect.selectAll(`select coalesce(max(seq), 0) as m from ${OUTBOX}`, []);
    return Number(top?.m ?? 0);
  }

  /** The seqs of every dead letter: a full scan, run once when the shipper starts. */
  async deadSeqs(): Promise<number[]> {
    const rows = await this.#dialect.selectAll(`select seq from ${OUTBOX} where error is not null`, []);
    return rows.map((r) => Number(r.seq));
  }

  /**
   * The next batch above the mark: up to `limit` outbox rows, coalesced by key, each key with its
   * row as the file holds it now (last state wins), or no row (it ships as a delete).
   */
  async batch(mark: number, limit: number): Promise<{ last: number; rows: number; items: ShipItem[] } | undefined> {
    const entries = (await this.#dialect.selectAll(
      `select seq, table_name, key_json from ${OUTBOX} where seq > ? and error is null order by seq limit ?`,
      [mark, limit],
    )) as unknown as OutboxEntry[];
    if (entries.length === 0) return undefined;
    const byKey = new Map<string, ShipItem>();
    const perTable = new Map<string, ShipItem[]>();
    for (const entry of entries) {
      const id = `${entry.table_name}\u0000${entry.key_json}`;
      const found = byKey.get(id);
      if (found) {
        found.seqs.push(Number(entry.seq));
        continue;
      }
      const item: ShipItem = { table: entry.table_name, keyJson: entry.key_json, seqs: [Number(entry.seq)], row: undefined, key: [] };
      byKey.set(id, item);
      let list = perTable.get(entry.table_name);
      if (!list) {
        list = [];
        perTable.set(entry.table_name, list);
      }
      list.push(item);
    }
    const items: ShipItem[] = [];
    for (const [table, list] of perTable) {
      const plan = this.#rowsSql.get(table);
      if (!plan) {
        // A table no longer passed to open(): its keys are kept as rows of an unknown table, which the target refuses alone.
        for (const item of list) items.push({ ...item, key: JSON.parse(item.keyJson) });
        continue;
      }
      const found = await this.#dialect.selectAll(plan.sql, [`[${list.map((i) => i.keyJson).join(',')}]`]);
      const rows = new Array<unknown[] | undefined>(list.length);
      const columns = plan.table.columns;
      for (const r of found) {
        const values = new Array<unknown>(columns.length);
        for (let c = 0; c < columns.length; c++) values[c] = r[`c${c}`];
        rows[Number(r._i)] = values;
      }
      for (let i = 0; i < list.length; i++) {
        const item = list[i] as ShipItem;
        items.push({ ...item, row: rows[i], key: decodeKey(plan.table, item.keyJson) });
      }
    }
    return { last: Number((entries[entries.length - 1] as OutboxEntry).seq), rows: entries.length, items };
  }

  async deadLetters(limit: number): Promise<{ seq: number; table: string; key: unknown; error: string; failedAt: Date | undefined }[]> {
    const rows = await this.#dialect.selectAll(
      `select seq, table_name, key_json, error, failed_at from ${OUTBOX} where error is not null order by seq limit ?`,
      [limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      table: String(r.table_name),
      key: JSON.parse(String(r.key_json)),
      error: String(r.error),
      failedAt: r.failed_at === null ? undefined : new Date(Number(r.failed_at)),
    }));
  }
}

/** The stored key back from the outbox's JSON (blobs were written as hex). */
function decodeKey(table: AnyTableDef, keyJson: string): unknown[] {
  const values = JSON.parse(keyJson) as unknown[];
  return table.primaryKey.map((column, i) => (column.type === 'blob' ? Buffer.from(values[i] as string, 'hex') : values[i]));
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
