import type { CommittedChange, WriteOp } from './write-op.js';

/** Decodes the rows a multi-row update returned, in place, and adds their keys to the change feed. */
export function recordUpdatedRows(op: WriteOp, rows: Record<string, unknown>[], changes: CommittedChange[]): Record<string, unknown>[] {
  const table = op.codec.table.name;
  for (const row of rows) {
    op.codec.decodeRow(row);
    changes.push({ table, kind: 'update', key: op.codec.keyOfRow(row) });
  }
  return rows;
}
