import type { Table } from '../api/table.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { RowCodec } from '../schema/row-codec.js';
import { outboxInsert, submitWrite } from './outbox-writes.js';
import type { syncOutboxTable } from './sync-tables.js';

/**
 * db.sync.retry(): every dead letter back into the queue as a fresh outbox row (its key's current
 * state ships again), a thousand at a time; `dead` (the shipper's set of dead seqs) loses them.
 * Resolves with how many moved.
 */
export async function requeueDeadLetters(
  outbox: Table<typeof syncOutboxTable>,
  gate: WriteGate,
  codec: RowCodec,
  dead: Set<number>,
): Promise<number> {
  let moved = 0;
  for (;;) {
    const letters = await outbox.find({ where: { error: { $null: false } }, orderBy: 'seq', limit: 1000 });
    if (letters.length === 0) return moved;
    const now = Date.now();
    // New rows first, so the largest seq never leaves the file; then the dead ones go.
    const inserts = letters.map((d) => submitWrite(gate, outboxInsert(codec, d.tableName, d.keyJson, 'retry', now)));
    const deletes = letters.map((d) => outbox.delete(d.seq));
    await Promise.all([...inserts, ...deletes]);
    for (const d of letters) dead.delete(d.seq);
    moved += letters.length;
  }
}
