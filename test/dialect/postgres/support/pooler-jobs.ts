import { defineTable } from '../../../../src/index.js';

/**
 * Jobs for the pooler test. A lease that expires goes back to `pending`; only after 1,000 claims
 * would the reaper move a row to `failed`, so a `failed` row in a short run is a statement that
 * ran with another statement's parameters.
 */
export const poolerJobs = defineTable('pooler_jobs', {
  columns: { id: 'integer', status: 'text', doneBy: 'text?' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'pending', 'failed'] },
    leases: { expireTo: 'pending', maxAttempts: 1000, exhaustedTo: 'failed' },
  },
});

export interface PoolerWorkerConfig {
  readonly url: string;
  /** Open with `postgres: { pooler: 'transaction' }`. */
  readonly pooler: boolean;
  readonly owner: string;
  /** Every acknowledged settle is appended here (one id a line) before it is counted. */
  readonly log: string;
  /** The worker writes `${log}.ready` once open, then waits for this file to exist. */
  readonly go: string;
  readonly leaseMs: number;
  readonly reapIntervalMs: number;
  /** Stop after this long even if work is left (rows stuck in a state nobody claims). */
  readonly maxMs: number;
}
