import { defineTable } from '../../src/index.js';

export const claimJobs = defineTable('claim_jobs', {
  columns: { id: 'integer', status: 'text', doneBy: 'text?' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'pending', 'failed'] },
    leases: { expireTo: 'pending' },
  },
});
