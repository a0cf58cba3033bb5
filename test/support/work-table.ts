import { defineTable } from '../../src/index.js';

/** The multi-process workers' table: the README's lifecycle shape, with history to count settles. */
export const workJobs = defineTable('work_jobs', {
  columns: { id: 'integer', status: 'text', doneBy: 'text?' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'failed'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 1000, exhaustedTo: 'failed' },
  },
});
