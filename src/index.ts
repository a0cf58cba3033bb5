export type { CacheOptions, TableCachePolicy, TableCachePolicyInput } from './cache/cache-options.js';
export type { CacheStats, TierStats } from './cache/cache-stats.js';
export { Database, open } from './database/database.js';
export type { OpenOptions } from './database/open-options.js';
export type {
  CountOptions,
  EnqueueCommand,
  FindOptions,
  Page,
  PageOptions,
  TableHandle,
  UpdateOptions,
  WriteOptions,
} from './database/table-handle.js';
export type { MigrationReport } from './dialect/dialect.js';
export type { ErrorCode } from './errors/sluice-error.js';
export { ERROR_CODES, SluiceError } from './errors/sluice-error.js';
export type { CommittedChange, Lane } from './gate/write-op.js';
export type { ClaimOptions, HistoryEntry, ReapResult, TransitionOptions, TransitionResult } from './lifecycle/lifecycle-ops.js';
export type { LifecycleOptions } from './lifecycle/lifecycle-options.js';
export type { RetentionReport } from './ops/maintenance.js';
export type { SluiceStats } from './ops/metrics.js';
export type { ColumnOperators, Filter } from './query/filter.js';
export type { OrderBy } from './query/order.js';
export type { ColumnOptions, ColumnSpec, ColumnType } from './schema/column-types.js';
export { COLUMN_TYPES } from './schema/column-types.js';
export type { ColumnDef, InsertType, KeyType, PatchType, RowType, TableDef } from './schema/define-table.js';
export { defineTable } from './schema/define-table.js';
export type { Migration } from './schema/migration.js';
export type { CreateTaskOptions, Task, TaskClaimOptions, TaskStore } from './tasks/task-store.js';
export type { TaskStatus } from './tasks/task-table.js';
export { tasksTable } from './tasks/task-table.js';
