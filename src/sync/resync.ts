import type { Dialect } from '../dialect/dialect.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { keyJsonOf } from './sync-capture.js';

/** Where a resync stands: the table it pages through, and the last key it queued there. */
export interface ResyncCursor {
  readonly table: string;
  /** The last key queued, as the outbox stores keys (JSON, blobs as hex); null before the first. */
  readonly after: string | null;
}

/**
 * After a fork every current row of the synced tables must reach the target again under the new
 * node id. Rather than a second shipping path, the resync queues each row's key in the outbox, a
 * page at a time through the gate, and the ordinary shipper sends the rows' current state (last
 * state wins on the target, so a key queued twice is harmless). The cursor is saved in the node
 * row after each page's keys have committed, so a crash mid-resync resumes at the page it was on.
 */
export class ResyncPager {
  readonly #tables: readonly AnyTableDef[];
  readonly #dialect: Pick<Dialect, 'selectAll'>;
  readonly #pageSql = new Map<string, { first: string; next: string }>();

  constructor(tables: readonly AnyTableDef[], dialect: Pick<Dialect, 'selectAll'>) {
    this.#tables = tables;
    this.#dialect = dialect;
    for (const table of tables) this.#pageSql.set(table.name, pageSql(table));
  }

  /** Where a resync starts; undefined when there is nothing to resync. */
  start(): ResyncCursor | undefined {
    const first = this.#tables[0];
    return first && { table: first.name, after: null };
  }

  static parse(text: string | null): ResyncCursor | undefined {
    if (text === null) return undefined;
    const parsed = JSON.parse(text) as ResyncCursor;
    return { table: String(parsed.table), after: parsed.after === null ? null : String(parsed.after) };
  }

  /**
   * Queues up to `limit` keys after the cursor (moving on to the next table when one is done) and
   * resolves once they are committed, with how many and the cursor to save (undefined: finished).
   */
  async page(
    cursor: ResyncCursor,
    limit: number,
    gate: WriteGate,
    outbox: RowCodec,
  ): Promise<{ queued: number; next: ResyncCursor | undefined }> {
    let index = this.#tables.findIndex((t) => t.name === cursor.table);
    // A table no longer synced: start over from the first (a repeat only costs duplicates).
    let after = index < 0 ? null : cursor.after;
    if (index < 0) index = 0;
    const table = this.#tables[index] as AnyTableDef;
    const sql = this.#pageSql.get(table.name) as { first: string; next: string };
    const rows = await this.#dialect.selectAll(after === null ? sql.first : sql.next, [
      ...(after === null ? [] : keyParams(table, after)),
      limit,
    ]);
    const now = Date.now();
    let last: string | null = after;
    const queued: Promise<unknown>[] = [];
    for (const row of rows) {
      const keyJson = keyJsonOf(table.primaryKey.map((_, i) => row[`k${i}`]));
      queued.push(gate.submit(outbox, { kind: 'insert', params: [null, table.name, keyJson, 'resync', now, null, null], row: {} }));
      last = keyJson;
    }
    await Promise.all(queued);
    after = last;
    if (rows.length === limit) return { queued: rows.length, next: { table: table.name, after } };
    const following = this.#tables[index + 1];
    return { queued: rows.length, next: following && { table: following.name, after: null } };
  }
}

/** The keyset pages of one table, in primary-key order. */
function pageSql(table: AnyTableDef): { first: string; next: string } {
  const columns = table.primaryKey.map((c) => `"${c.sqlName}"`);
  const select = columns.map((c, i) => `${c} as k${i}`).join(', ');
  const order = columns.join(', ');
  const after = columns.length === 1 ? `${columns[0]} > ?` : `(${order}) > (${columns.map(() => '?').join(', ')})`;
  return {
    first: `select ${select} from "${table.name}" order by ${order} limit ?`,
    next: `select ${select} from "${table.name}" where ${after} order by ${order} limit ?`,
  };
}

/** A queued key back as SQLite parameters (blobs were written as hex). */
function keyParams(table: AnyTableDef, keyJson: string): unknown[] {
  const values = JSON.parse(keyJson) as unknown[];
  return table.primaryKey.map((column, i) => (column.type === 'blob' ? Buffer.from(values[i] as string, 'hex') : values[i]));
}
