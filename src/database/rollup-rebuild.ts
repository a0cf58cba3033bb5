import type { SluiceCache } from '../cache/sluice-cache.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect } from '../dialect/dialect.js';
import type { WriteGate } from '../gate/write-gate.js';
import { rollupOf } from '../schema/define-rollup.js';
import type { AnyTableDef } from '../schema/define-table.js';

export interface RollupRebuildParts {
  readonly tables: readonly AnyTableDef[];
  readonly gate: WriteGate;
  readonly dialect: Dialect;
  readonly cache: SluiceCache;
}

/** Recomputes a rollup's buckets in `range` from its source rows, with no write running beside it. */
export async function rebuildRollup(parts: RollupRebuildParts, rollup: AnyTableDef, range: { from?: Date; to?: Date } = {}): Promise<void> {
  const policy = rollupOf(rollup);
  if (!policy || !parts.tables.includes(rollup)) {
    throw new SluiceError('CONFIG', `${rollup?.name ?? 'That table'} is not a rollup passed to open({ rollups }).`, {
      table: rollup?.name,
    });
  }
  // Whole buckets: a range that cuts one would rebuild it from part of its rows. No bound: everything.
  const start = range.from && new Date(Math.floor(range.from.getTime() / policy.sizeMs) * policy.sizeMs);
  const end = range.to && new Date(Math.ceil(range.to.getTime() / policy.sizeMs) * policy.sizeMs);
  await parts.gate.exclusive(() => parts.dialect.rebuildRollup(rollup, policy, start, end));
  parts.cache.invalidate(rollup);
}
