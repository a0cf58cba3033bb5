import type { Dialect } from '../dialect/dialect.js';
import type { TableCopy, TargetChange } from '../dialect/postgres/postgres-sync-types.js';
import { type OutboxFigures, type OutboxSpan, SqliteOutbox, storedKeyOf } from '../dialect/sqlite/sqlite-outbox.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { DeadLetter } from './sync-api.js';
import type { syncNodeTable } from './sync-tables.js';

export type LocalFigures = OutboxFigures;

/**
 * One key of a batch: the outbox rows that name it, and its row as the file holds it now (last
 * state wins), or none (it ships as a delete). The key stays in the outbox's one form (keyJson)
 * until a delete needs its values.
 */
export class ShipItem implements TargetChange {
  /** The outbox rows this key covers. */
  readonly seqs: number[];
  row: readonly unknown[] | undefined = undefined;
  readonly #def: AnyTableDef | undefined;
  #key: readonly unknown[] | undefined;

  constructor(
    readonly table: string,
    readonly keyJson: string,
    seq: number,
    def: AnyTableDef | undefined,
  ) {
    this.seqs = [seq];
    this.#def = def;
  }

  get key(): readonly unknown[] {
    // A table no longer passed to open() has no columns to decode by; the target refuses it alone.
    this.#key ??= this.#def ? storedKeyOf(this.#def.primaryKey, this.keyJson) : (JSON.parse(this.keyJson) as unknown[]);
    return this.#key;
  }
}

export interface OutboxBatch {
  /** The seq of its last outbox row: the mark once it is applied. */
  readonly last: number;
  /** Outbox rows it covers (several may name one key). */
  readonly rows: number;
  /** Each table's part as SQLite wrote it (COPY text, keys to delete); undefined: the items carry it. */
  readonly tables: readonly TableCopy[] | undefined;
  /** The keys one by one with their rows: read when first asked for, unless `tables` is undefined. */
  readonly items: () => Promise<ShipItem[]>;
}

/** The shipper's view of the local outbox: batches of keys with their current rows, and the dead letters. */
export class LocalOutbox {
  readonly sql: SqliteOutbox;
  readonly #synced: ReadonlyMap<string, AnyTableDef>;

  constructor(dialect: Pick<Dialect, 'selectAll'>, synced: readonly AnyTableDef[], node: typeof syncNodeTable) {
    this.sql = new SqliteOutbox(dialect, synced, node);
    this.#synced = new Map(synced.map((t) => [t.name, t]));
  }

  figures(mark: number): Promise<LocalFigures> {
    return this.sql.figures(mark);
  }

  maxSeq(): Promise<number> {
    return this.sql.maxSeq();
  }

  deadSeqs(): Promise<number[]> {
    return this.sql.deadSeqs();
  }

  /**
   * The next batch above the mark: up to `limit` outbox rows, coalesced by key. SQLite writes it
   * as COPY text, so no row passes through JavaScript; a batch it cannot write exactly (a table
   * not passed to open(), a value out of SQLite's range) is read key by key instead, now.
   */
  async batch(mark: number, limit: number): Promise<OutboxBatch | undefined> {
    const span = await this.sql.span(mark, limit);
    if (span === undefined) return undefined;
    const tables = await this.#copies(span, mark);
    if (tables === undefined) {
      const items = await this.#items(mark, span.last, limit);
      return { last: span.last, rows: span.rows, tables: undefined, items: () => Promise.resolve(items) };
    }
    let items: Promise<ShipItem[]> | undefined;
    return { last: span.last, rows: span.rows, tables, items: () => (items ??= this.#items(mark, span.last, limit)) };
  }

  async #copies(span: OutboxSpan, mark: number): Promise<TableCopy[] | undefined> {
    const copies: TableCopy[] = [];
    for (const { table } of span.tables) {
      const written = await this.sql.copyText(table, mark, span.last);
      if (written === undefined || written.odd) return undefined;
      copies.push({ table, copy: written.copy, upserts: written.upserts, deletes: written.deletes });
    }
    return copies;
  }

  /** The batch's keys, coalesced, each with its row as the file holds it now. */
  async #items(mark: number, last: number, limit: number): Promise<ShipItem[]> {
    const entries = await this.sql.pending(mark, limit, last);
    const byKey = new Map<string, ShipItem>();
    const perTable = new Map<string, ShipItem[]>();
    for (const entry of entries) {
      const id = `${entry.table}\u0000${entry.keyJson}`;
      const found = byKey.get(id);
      if (found) {
        found.seqs.push(entry.seq);
        continue;
      }
      const item = new ShipItem(entry.table, entry.keyJson, entry.seq, this.#synced.get(entry.table));
      byKey.set(id, item);
      let list = perTable.get(entry.table);
      if (!list) {
        list = [];
        perTable.set(entry.table, list);
      }
      list.push(item);
    }
    const items: ShipItem[] = [];
    for (const [table, list] of perTable) {
      const rows = await this.sql.rows(
        table,
        list.map((i) => i.keyJson),
      );
      for (let i = 0; i < list.length; i++) {
        const item = list[i] as ShipItem;
        item.row = rows?.[i];
        items.push(item);
      }
    }
    return items;
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    const letters = await this.sql.deadLetters(limit);
    return letters.map((d) => ({
      seq: d.seq,
      table: d.table,
      key: JSON.parse(d.keyJson),
      error: d.error,
      failedAt: d.failedAt === null ? undefined : new Date(d.failedAt),
    }));
  }
}
