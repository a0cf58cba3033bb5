// How a batch's ops group into runs that one multi-row statement can carry: consecutive inserts
// (or upserts) of one table, and consecutive same-shape updates of one table. Both runners use
// these rules; what differs between them is only the statement a run becomes.

import type { FilterShape } from '../query/filter-shape.js';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import type { EncodedPatch } from '../schema/row-codec.js';
import type { WriteCommand, WriteOp } from './write-op.js';

/**
 * The length of the run of ops starting at `start` that can share one multi-row statement:
 * consecutive inserts (or upserts) into the same table, at most `max` of them. Upserts of one key
 * twice in a run would make a multi-row statement touch a row twice, so a repeated key ends it.
 */
export function insertRunLength(ops: readonly WriteOp[], start: number, max: number): number {
  const first = ops[start] as WriteOp;
  const kind = first.command.kind;
  if (kind !== 'insert' && kind !== 'upsert') return 1;
  const seen = kind === 'upsert' ? new Set<string>() : undefined;
  let end = start;
  while (end < ops.length && end - start < max) {
    const op = ops[end] as WriteOp;
    if (op.command.kind !== kind || op.codec !== first.codec) break;
    if (seen) {
      const key = JSON.stringify(op.codec.keyOfParams((op.command as { params: unknown[] }).params));
      if (seen.has(key)) break;
      seen.add(key);
    }
    end++;
  }
  return end - start;
}

export type UpdateCommand = Extract<WriteCommand, { kind: 'update' }>;

/** What a multi-row update statement returns: the rows, the keys that applied, or a count. */
export type RunReturning = 'row' | 'key' | 'none';

/**
 * A compare-and-set run must learn which keys applied, so it returns keys; an unconditional run
 * that need not return rows only counts its changes, and looks closer only when the count is short.
 */
export function runReturning(command: UpdateCommand): RunReturning {
  if (command.returning === 'row') return 'row';
  return command.where === undefined ? 'none' : 'key';
}

/**
 * A key that a Map or a Set can hold and that equals the key the database hands back, or
 * undefined when there is none: a bigint or a blob comes back in another form, so updates by such
 * keys run one statement each.
 */
export function keyIdentity(key: readonly unknown[]): string | number | undefined {
  if (key.length === 1) {
    const value = key[0];
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  }
  for (const value of key) if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return JSON.stringify(key);
}

function samePatch(a: EncodedPatch, b: EncodedPatch): boolean {
  if (a.mask !== -1) return a.mask === b.mask;
  if (a.columns === b.columns) return true;
  if (a.columns.length !== b.columns.length) return false;
  for (let i = 0; i < a.columns.length; i++) if (a.columns[i] !== b.columns[i]) return false;
  return true;
}

const uniqueColumns = new WeakMap<TableDef, ReadonlySet<ColumnDef>>();

/**
 * Whether a patch writes a column of a declared UNIQUE constraint. One statement checks each row
 * as it reaches it, so within a run an update taking a value that a later update frees would
 * succeed, where one after another it fails with CONSTRAINT (the model test found it): such
 * updates run one statement each.
 */
function writesUnique(table: TableDef, patch: EncodedPatch): boolean {
  if (table.unique.length === 0) return false;
  let columns = uniqueColumns.get(table);
  if (columns === undefined) {
    columns = new Set(table.unique.flat());
    uniqueColumns.set(table, columns);
  }
  for (const column of patch.columns) if (columns.has(column)) return true;
  return false;
}

/**
 * The length of the run of updates starting at `start` that can share one multi-row statement:
 * same table, same patched columns, same condition shape, same `returning`, and no key twice
 * (a key repeated ends the run, so its second update sees the first); at most `max` ops. A
 * UNIQUE index that a migration made without the table declaring it can let a run succeed
 * where one update at a time would fail one of them: the result is still the outcome of one
 * order of the run's writes, which were in flight together.
 * `shapes[i]` receives op i's condition shape (computed by `shapeOf`), so the statement's
 * parameters are gathered without walking a condition again.
 */
export function updateRunLength(
  ops: readonly WriteOp[],
  start: number,
  max: number,
  shapeOf: (condition: NonNullable<UpdateCommand['where']>) => FilterShape,
  shapes: (FilterShape | undefined)[],
): number {
  const first = ops[start] as WriteOp;
  const head = first.command as UpdateCommand;
  const firstKey = keyIdentity(head.key);
  if (firstKey === undefined || writesUnique(first.codec.table, head.patch)) return 1;
  const headShape = head.where === undefined ? undefined : shapeOf(head.where);
  shapes[start] = headShape;
  const shape = headShape?.key;
  const returning = runReturning(head);
  const seen = new Set<string | number>([firstKey]);
  let end = start + 1;
  while (end < ops.length && end - start < max) {
    const op = ops[end] as WriteOp;
    if (op.codec !== first.codec || op.command.kind !== 'update') break;
    const command = op.command;
    if (runReturning(command) !== returning || !samePatch(command.patch, head.patch)) break;
    const opShape = command.where === undefined ? undefined : shapeOf(command.where);
    if (opShape?.key !== shape) break;
    const key = keyIdentity(command.key);
    if (key === undefined || seen.has(key)) break;
    seen.add(key);
    shapes[end] = opShape;
    end++;
  }
  return end - start;
}
