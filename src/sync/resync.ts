import type { SqliteOutbox } from '../dialect/sqlite/sqlite-outbox.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { outboxInsert, submitWrite } from './outbox-writes.js';

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
  readonly #outbox: SqliteOutbox;

  constructor(tables: readonly AnyTableDef[], outbox: SqliteOutbox) {
    this.#tables = tables;
    this.#outbox = outbox;
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
    const after = index < 0 ? null : cursor.after;
    if (index < 0) index = 0;
    const table = this.#tables[index] as AnyTableDef;
    const keys = await this.#outbox.keyPage(table, after, limit);
    const now = Date.now();
    await Promise.all(keys.map((keyJson) => submitWrite(gate, outboxInsert(outbox, table.name, keyJson, 'resync', now))));
    if (keys.length === limit) return { queued: keys.length, next: { table: table.name, after: keys[keys.length - 1] as string } };
    const following = this.#tables[index + 1];
    return { queued: keys.length, next: following && { table: following.name, after: null } };
  }
}
