import { defineTable } from '../../src/index.js';

/** A leased lifecycle with history: every lifecycle route has something to do. */
export const jobs = defineTable('jobs', {
  columns: { id: 'text', status: 'text', size: { type: 'integer', default: 0 }, at: 'timestamp?' },
  primaryKey: 'id',
  indexes: [['status']],
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'failed', 'pending'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending' },
  },
});

export const TOKEN = 'test-write-token-123';
export const READ_TOKEN = 'test-read-token-456';
export const WRITE = { authorization: `Bearer ${TOKEN}` };

/** A path segment for a key: one value as text, a composite key as a JSON array. */
export function keyPath(key: unknown): string {
  return encodeURIComponent(Array.isArray(key) ? JSON.stringify(key) : String(key));
}
