import { defineSluiceTable } from '../schema/define-table.js';

/**
 * One row per file: the node id this SQLite file ships under, the last sequence number the target
 * acknowledged (a local copy; the target's `_sluice_sync_offsets` is the authority), and the
 * lineage that tells this file from a copy of it. `lineage` is the token the target held for this
 * node when the file last recorded it; `intent` (with `intentSeq`, the mark it sets) is the token
 * of the batch in flight, written here before the batch is sent, so a crash after the target's
 * COMMIT still finds the target's token among this file's own. A target token that is neither was
 * written by another copy of the file: this one forks (a new `nodeId`, the old one kept in
 * `forkedFrom`) and ships its current rows again, paging through them with the `resync` cursor.
 */
export const syncNodeTable = defineSluiceTable('_sluice_sync_node', {
  columns: {
    id: 'integer',
    nodeId: 'text',
    ackedSeq: 'integer',
    createdAt: 'timestamp',
    lineage: 'text?',
    intent: 'text?',
    intentSeq: 'integer?',
    forkedFrom: 'text?',
    /** JSON `{ table, after }` while a resync is due: the next table, and the last key enqueued. */
    resync: 'text?',
  },
  primaryKey: 'id',
});

/**
 * The outbox: one row per committed change of a synced table, written in the change's own
 * transaction. `seq` is the table's rowid, so SQLite numbers the rows max + 1 inside the writing
 * transaction: gap-free across every process that writes the file, since a rolled-back batch
 * takes its numbers back. The row holding the acknowledged mark is kept (only rows below it are
 * deleted) so the next number never falls back below the mark. A row with an `error` is a dead
 * letter: the target refused the key's state. No index on `error`: every capture would pay for
 * it; the shipper counts dead letters once at start and keeps the count itself.
 */
export const syncOutboxTable = defineSluiceTable('_sluice_sync_outbox', {
  columns: {
    seq: 'integer',
    tableName: 'text',
    /** The primary key as a JSON array of the values SQLite stores (a blob as hex). */
    keyJson: 'text',
    kind: 'text',
    /** Epoch ms of the commit: the age of the oldest pending row is the lag. */
    at: 'integer',
    error: 'text?',
    failedAt: 'integer?',
  },
  primaryKey: 'seq',
});
