import type { ColumnDef, TableDef } from './define-table.js';

/**
 * The lease a claim holds: the fencing token and who holds it until when. Only the lifecycle's
 * own moves (claim, renew, a settle, the reaper) may write them, and `attempt` never goes down:
 * a caller's insert, upsert or update that could set them would let a stale worker's token
 * become current again. `lastError` is not among them: a worker records its own failure there.
 */
export const LEASE_STATE_COLUMNS = ['attempt', 'leaseOwner', 'leaseExpiresAt'] as const;

/** The lease-state columns of a table, in table order; none when its lifecycle has no leases. */
export function leaseStateColumns(table: TableDef): readonly ColumnDef[] {
  if (!table.lifecycle?.leases) return [];
  return table.columns.filter((c) => (LEASE_STATE_COLUMNS as readonly string[]).includes(c.name));
}
