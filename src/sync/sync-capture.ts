import type { ExtraWrites } from '../dialect/dialect.js';
import type { CommittedChange, Outcome, WriteOp } from '../dialect/write-op.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { RowCodec } from '../schema/row-codec.js';
import type { ValueCodec } from '../schema/value-codec.js';
import { syncOutboxTable } from './sync-tables.js';

/** A stored key as the outbox keeps it: JSON, blobs as hex so they survive the text column. */
export function keyJsonOf(key: readonly unknown[]): string {
  let plain = true;
  for (const value of key) if (typeof value !== 'string' && typeof value !== 'number') plain = false;
  if (plain) return JSON.stringify(key);
  return JSON.stringify(key.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

const EMPTY_ROW = Object.freeze({});
const noop = (_outcome: Outcome) => {};

/**
 * The gate's extra-writes hook: for every committed change of a synced table, one outbox row in
 * the same transaction. Several changes to one key in one batch leave one row (the shipper reads
 * the key's current state anyway). `onCaptured` counts rows for the pending gauge and the trigger.
 */
export function outboxCapture(tables: readonly AnyTableDef[], codec: ValueCodec, onCaptured: (rows: number) => void): ExtraWrites {
  const synced = new Set(tables.filter((t) => t.sync !== undefined).map((t) => t.name));
  const outbox = new RowCodec(syncOutboxTable, codec);
  return (changes: readonly CommittedChange[]): readonly WriteOp[] => {
    let ops: WriteOp[] | undefined;
    let seen: Set<string> | undefined;
    const at = Date.now();
    for (const change of changes) {
      const table = change.table;
      if (!synced.has(table)) continue;
      const keyJson = keyJsonOf(change.encodedKey);
      const id = `${table}\u0000${keyJson}`;
      seen ??= new Set();
      if (seen.has(id)) continue;
      seen.add(id);
      ops ??= [];
      ops.push({
        codec: outbox,
        // A null seq makes SQLite assign the rowid: the next number after the largest.
        command: { kind: 'insert', params: [null, table, keyJson, change.kind, at, null, null], row: EMPTY_ROW },
        lane: 'normal',
        nonBlocking: false,
        deadline: Number.POSITIVE_INFINITY,
        enqueuedAt: 0,
        epoch: 0,
        settle: noop,
      });
    }
    if (ops) onCaptured(ops.length);
    return ops ?? [];
  };
}
