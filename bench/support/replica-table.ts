import { defineTable } from '../../src/index.js';

/** The replicas scenario's table: rows a few hundred bytes wide, read by key, never cached (every read reaches a server). */
export const replicaRows = defineTable('bench_replica_rows', {
  columns: { id: 'integer', name: 'text', body: 'text', n: 'integer' },
  primaryKey: 'id',
});
