// What Sluice's own tools (the CLI and the HTTP server) need beyond the public entry, and users
// should not build on: it may change in any release.
export { stderrLogger } from './core/logger.js';
export { closestName, describeValue } from './core/sluice-error.js';
export { prometheusRegistry } from './database/prometheus-registry.js';
export { parseUrl } from './dialect/create-dialect.js';
export { offsetInitSql, type UpsertFlavor, upsertFromSql } from './dialect/postgres/opengauss-upsert.js';
export { compareVersions, MIN_SQLITE_VERSION } from './dialect/sqlite/sqlite-connection.js';
export { type RollupPolicy, rollupOf } from './schema/define-rollup.js';
export type { AnyTableDef } from './schema/define-table.js';
export type { Lifecycle } from './schema/lifecycle-policy.js';
export { syncNodeTable, syncOutboxTable } from './sync/sync-tables.js';
export { tasksTable } from './tasks/task-table.js';
