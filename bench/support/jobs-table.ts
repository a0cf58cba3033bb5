import { type Database, defineTable } from '../../dist/index.js';
import { Window } from './measure.js';
import type { Budget } from './scenario-result.js';

/** A three-state cycle, so transitions can run for as long as a measurement lasts. */
export const cycleJobs = defineTable('cycle_jobs', {
  columns: { id: 'integer', status: 'text' },
  primaryKey: 'id',
  lifecycle: { column: 'status', initial: 'a', transitions: { a: ['b'], b: ['c'], c: ['a'] } },
});

/** Work items with leases, as claimers take them. */
export const leasedJobs = defineTable('leased_jobs', {
  columns: { id: 'integer', status: 'text', payload: 'text' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'pending'] },
    leases: { expireTo: 'pending' },
  },
});

export const CYCLE = ['a', 'b', 'c'] as const;
export type CycleState = (typeof CYCLE)[number];

/** The n-th transition of a run over `rows` rows: which row, from which state, to which. */
export function cycleStep(n: number, rows: number): { id: number; from: CycleState; to: CycleState } {
  const round = Math.floor(n / rows);
  return { id: n % rows, from: CYCLE[round % 3] as CycleState, to: CYCLE[(round + 1) % 3] as CycleState };
}

export const RAW_CLAIM_SQLITE =
  "update leased_jobs set status = 'running', lease_owner = ?, lease_expires_at = ?, attempt = attempt + 1 where id in (select id from leased_jobs where status = 'pending' order by id limit ?) returning *";
export const RAW_CLAIM_POSTGRES =
  "update leased_jobs set status = 'running', lease_owner = $1, lease_expires_at = $2, attempt = attempt + 1 where id in (select id from leased_jobs where status = 'pending' order by id limit $3 for update skip locked) returning *";

/** `claimers` workers claiming batches of `batch` through Sluice until the window ends or nothing is pending; rows/s. */
export async function sluiceClaimRate(db: Database, budget: Budget, claimers: number, batch: number): Promise<number> {
  const jobs = db.table(leasedJobs);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  const worker = async (w: number) => {
    while (window.running()) {
      const rows = await jobs.claim({ from: 'pending', to: 'running', limit: batch, leaseMs: 60_000, owner: `w${w}` });
      if (rows.length === 0) break;
      window.add(rows.length);
    }
  };
  await Promise.all(Array.from({ length: claimers }, (_, w) => worker(w)));
  await db.close();
  return window.perSecond;
}
