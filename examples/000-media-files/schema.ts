import { defineTable } from 'sluice';

/**
 * The seed's media_status.db, one table: a dock ingester inserts each new media file, a sync
 * scheduler moves it pending → downloading → completed | failed, a smoke checker and a Python
 * script touch it too. The lifecycle is the seed's transfer_status, enforced by the database for
 * every writer; leases return a crashed scheduler's files to pending.
 */
export const mediaFiles = defineTable('media_files', {
  columns: { path: 'text', size: 'integer', source: 'text', status: 'text', nasPath: 'text?' },
  primaryKey: 'path',
  indexes: [['status']],
  timestamps: true,
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 5, exhaustedTo: 'failed' },
  },
});
