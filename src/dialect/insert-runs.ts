import type { WriteOp } from './write-op.js';

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
