import { defineTable } from '../../src/index.js';

/** A versioned key-value table cached in L1 only. */
export const cachedKv = defineTable('cached_kv', {
  columns: { id: 'integer', version: 'integer', writer: 'text', note: 'text?' },
  primaryKey: 'id',
  cache: { ttlMs: 60_000, maxEntries: 10_000, negativeTtlMs: 60_000 },
});

/** The same shape, cached in L1 and the shared Redis tier. */
export const sharedKv = defineTable('shared_kv', {
  columns: { id: 'integer', version: 'integer', writer: 'text', note: 'text?' },
  primaryKey: 'id',
  cache: { ttlMs: 60_000, maxEntries: 10_000, l2: true },
});

/** A composite key, cached with query results by default. */
export const cachedReadings = defineTable('cached_readings', {
  columns: { sensor: 'text', at: 'integer', value: 'real', tags: 'json?' },
  primaryKey: ['sensor', 'at'],
  cache: { ttlMs: 60_000, maxEntries: 1000, queries: true },
});

/** Not cached: find/count asking for the cache must be refused. */
export const plainKv = defineTable('plain_kv', {
  columns: { id: 'integer', version: 'integer' },
  primaryKey: 'id',
});
