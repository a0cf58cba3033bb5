import { outboxKeyJson } from '../dialect/sqlite/sqlite-outbox.js';
import type { CommittedChange } from '../dialect/write-op.js';
import type { ExtraWrite, WriteGate } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';

/** Why a key entered the outbox: a committed write's kind, or the shipper's own re-queueing. */
export type OutboxKind = CommittedChange['kind'] | 'retry' | 'resync';

const EMPTY_ROW = Object.freeze({});

/**
 * One outbox row to insert, as a write command: the outbox's columns in order (seq, table_name,
 * key_json, kind, at, error, failed_at). A null seq makes SQLite assign the rowid: the next number
 * after the largest.
 */
export function outboxInsert(outbox: RowCodec, table: string, keyJson: string, kind: OutboxKind, at: number): ExtraWrite {
  return { codec: outbox, command: { kind: 'insert', params: [null, table, keyJson, kind, at, null, null], row: EMPTY_ROW } };
}

/** An outbox row written on its own (a retry, a resync page), through the gate like any write. */
export function submitWrite(gate: WriteGate, write: ExtraWrite): Promise<unknown> {
  return gate.submit(write.codec, write.command);
}

/**
 * Sync's contribution to the gate's extra writes: for every committed change of a synced table,
 * one outbox row in the same transaction. Several changes to one key in one batch leave one row
 * (the shipper reads the key's current state anyway). `onCaptured` counts rows for the pending
 * figure and the count trigger.
 */
export function outboxCapture(synced: readonly AnyTableDef[], outbox: RowCodec, onCaptured: (rows: number) => void) {
  const names = new Set(synced.map((t) => t.name));
  // With one synced table (the usual case) the key alone tells changes apart: no string per change.
  const single = names.size === 1;
  return (changes: readonly CommittedChange[]): ExtraWrite[] | undefined => {
    let writes: ExtraWrite[] | undefined;
    const seen = changes.length > 1 ? new Set<string>() : undefined;
    const at = Date.now();
    for (const change of changes) {
      const table = change.table;
      if (!names.has(table)) continue;
      const keyJson = outboxKeyJson(change.encodedKey);
      if (seen !== undefined) {
        const id = single ? keyJson : `${table}\u0000${keyJson}`;
        if (seen.has(id)) continue;
        seen.add(id);
      }
      writes ??= [];
      writes.push(outboxInsert(outbox, table, keyJson, change.kind, at));
    }
    if (writes) onCaptured(writes.length);
    return writes;
  };
}
