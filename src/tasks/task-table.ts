import { defineTable, type StateType } from '../schema/define-table.js';

/**
 * The task store's table: a lifecycle pending → processing → completed | error, with
 * leases so a crashed worker's task returns to pending, and an error that may be retried.
 */
export const tasksTable = defineTable('sluice_tasks', {
  columns: {
    id: 'text',
    type: 'text',
    fingerprint: 'text',
    input: 'json',
    status: 'text',
    result: 'json?',
    error: 'text?',
    createdAt: 'timestamp',
    updatedAt: 'timestamp',
    completedAt: 'timestamp?',
    /** How long a completed result may be handed out again for the same input, in ms. */
    resultTtlMs: 'integer',
  },
  primaryKey: 'id',
  indexes: [
    ['type', 'fingerprint'],
    ['status', 'updatedAt'],
  ],
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['processing'], processing: ['completed', 'error', 'pending'], error: ['pending'] },
    leases: { expireTo: 'pending', maxAttempts: 5, exhaustedTo: 'error' },
  },
});

/** A task's state, as its lifecycle declares them. */
export type TaskStatus = StateType<typeof tasksTable>;
