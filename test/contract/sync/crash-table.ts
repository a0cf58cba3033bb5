import { defineTable } from '../../../src/index.js';

/** A versioned key-value table shipped by sync: the crash tests compare versions. */
export const crashKv = defineTable('sync_crash_kv', {
  columns: { id: 'integer', version: 'integer', payload: 'text' },
  primaryKey: 'id',
  sync: true,
});
