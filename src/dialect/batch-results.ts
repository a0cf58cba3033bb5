import { SluiceError } from '../core/sluice-error.js';
import { CommittedChange, type WriteOp } from './write-op.js';

/** Decodes the rows a multi-row update returned, in place, and adds their keys to the change feed. */
export function recordUpdatedRows(op: WriteOp, rows: Record<string, unknown>[], changes: CommittedChange[]): Record<string, unknown>[] {
  for (const row of rows) {
    op.codec.decodeRow(row);
    changes.push(new CommittedChange(op.codec, 'update', op.codec.keyOfRow(row)));
  }
  return rows;
}

/**
 * Why an update by key changed no row: NOT_FOUND when the row is absent, CONFLICT when it exists
 * but no longer matches the compare-and-set condition. `stored` (the row as the database holds it,
 * read in the same transaction) is looked up only for the few updates that missed, never for the
 * many that applied; a CONFLICT carries it decoded, so a caller that lost a race sees what won.
 */
export function missOrConflict(op: WriteOp, key: readonly unknown[], stored: Record<string, unknown> | undefined): SluiceError {
  const table = op.codec.table.name;
  const shown = key.length === 1 ? JSON.stringify(key[0]) : JSON.stringify(key);
  return stored !== undefined
    ? new SluiceError(
        'CONFLICT',
        `The update of ${table} ${shown} did not apply: the row no longer matches its condition (another writer changed it first). Its current values are on the error's \`current\`; decide from those.`,
        { table, value: key, current: op.codec.decodeRow(stored) },
      )
    : new SluiceError('NOT_FOUND', `${table} has no row with key ${shown}; nothing was updated.`, { table, value: key });
}
