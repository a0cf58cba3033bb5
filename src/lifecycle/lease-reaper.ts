import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { WriteGate } from '../gate/write-gate.js';
import { parseFilter } from '../query/filter-parser.js';
import type { OrderTerm } from '../query/order.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';
import { requireLeases } from './lifecycle-checks.js';
import type { ReapResult } from './lifecycle-types.js';

/** Hands expired leases back, in batches of at most `limit` rows per transaction, at low priority behind callers' writes. */
export async function reapExpired(codec: RowCodec, lifecycle: Lifecycle, gate: WriteGate, limit: number, now: number): Promise<ReapResult> {
  const table = codec.table.name;
  const leases = requireLeases(table, lifecycle, 'reap');
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new SluiceError(
      'VALIDATION',
      `reapExpired on ${table}: limit (rows per transaction) must be a whole number >= 1, got ${describeValue(limit)}.`,
      { table, value: limit },
    );
  }
  const column = lifecycle.column.name;
  // Whatever working state the claim moved a row to, a lapsed lease hands it back (Lifecycle.returns);
  // a row a foreign writer finished without clearing the lease stays finished.
  const expired: JsRow = {
    leaseOwner: { $null: false },
    leaseExpiresAt: { $lt: now },
    [column]: { $in: lifecycle.returnFrom },
  };
  const result: ReapResult = { returned: 0, exhausted: 0 };
  const run = async (filter: JsRow, patch: JsRow): Promise<number> => {
    let total = 0;
    for (;;) {
      const rows = (await gate.submit(
        codec,
        {
          kind: 'updateMany',
          patch: codec.encodePatch(patch),
          increment: [],
          where: parseFilter(codec, filter),
          orderBy: [] as OrderTerm[],
          limit,
        },
        { priority: 'low' },
      )) as JsRow[];
      total += rows.length;
      if (rows.length < limit) return total;
    }
  };
  const release = { leaseOwner: null, leaseExpiresAt: null };
  if (leases.exhaustedTo !== undefined) {
    result.exhausted = await run(
      { ...expired, attempt: { $gte: leases.maxAttempts } },
      { ...release, [column]: leases.exhaustedTo, lastError: `lease expired after ${leases.maxAttempts} attempts` },
    );
  }
  result.returned = await run(expired, { ...release, [column]: leases.expireTo, lastError: 'lease expired' });
  return result;
}
