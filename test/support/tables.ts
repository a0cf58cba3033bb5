import { defineTable } from '../../src/index.js';

/** A table with one column of every type, nullable and not, and a defaulted status. */
export const items = defineTable('items', {
  columns: {
    id: 'integer',
    name: 'text',
    score: 'real?',
    active: { type: 'boolean', default: true },
    meta: 'json?',
    createdAt: { type: 'timestamp', default: () => new Date() },
    payload: 'blob?',
    status: { type: 'text', default: 'pending' },
    note: 'text?',
  },
  primaryKey: 'id',
  unique: ['name'],
  indexes: [['status', 'createdAt']],
});

/** A composite primary key. */
export const readings = defineTable('readings', {
  columns: { sensor: 'text', at: 'integer', value: 'real' },
  primaryKey: ['sensor', 'at'],
});
