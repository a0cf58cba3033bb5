import { defineTable } from '../../src/index.js';

/** A row per instance, cached in L1 and Redis: each instance bumps its own, every instance reads all. */
export const instanceClocks = defineTable('instance_clocks', {
  columns: { id: 'integer', version: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 60_000, maxEntries: 100, l2: true },
});

/** Rows born past their retention age: every instance's retention runs delete them at once. */
export const instanceEvents = defineTable('instance_events', {
  columns: { id: 'text', at: 'timestamp' },
  primaryKey: 'id',
  retention: { column: 'at', maxAgeMs: 60_000 },
});
