// The package entry: everything a user of Sluice programs against, and nothing else.

export type { AlertRule, AlertSeverity, MetricAlertRule, TableAlertRule } from './alerts/alert-rules.js';
export type { AlertHistoryEntry, AlertStatus, AlertsApi } from './alerts/alerts.js';
export type { Table } from './api/table.js';
export type {
  CountOptions,
  DeleteWhereOptions,
  EnqueueCommand,
  FindOptions,
  Page,
  PageOptions,
  UpdateOptions,
  WriteOptions,
} from './api/table-options.js';
export type { HandlerContext, RetryOptions, Worker, WorkerStats, WorkOptions } from './api/work-options.js';
export type { CacheOptions } from './cache/cache-options.js';
export type { CacheStats, TierStats } from './cache/cache-stats.js';
export type { DerivedCacheApi, GetOrSetOptions } from './cache/derived-cache.js';
export type { DialectName, Durability } from './core/kinds.js';
export type { LatencySummary } from './core/latency-window.js';
export type { LogFn, SluiceLogger } from './core/logger.js';
export type { ErrorCode } from './core/sluice-error.js';
export { ERROR_CODES, SluiceError } from './core/sluice-error.js';
export { Database, open } from './database/database.js';
export type { ConfigSource, EffectiveConfig, Profile } from './database/env-config.js';
export { fromEnv, PROFILES, resolveEnvConfig } from './database/env-config.js';
export type { OpenOptions } from './database/open-options.js';
export type { MigrationReport } from './dialect/dialect.js';
export type { CommittedChange } from './dialect/write-op.js';
export type { Lane } from './gate/lanes.js';
export type {
  ClaimOptions,
  HistoryEntry,
  ReapResult,
  TransitionApplied,
  TransitionOptions,
  TransitionResult,
} from './lifecycle/lifecycle-ops.js';
export type { RetentionReport } from './maintenance/maintenance.js';
export type { SluiceStats } from './metrics/metrics.js';
export type { MetricSample, MetricsReader } from './metrics/metrics-reader.js';
export type { ColumnOperators, Filter } from './query/filter.js';
export type { OrderBy } from './query/order.js';
export type { TableCachePolicy, TableCachePolicyInput } from './schema/cache-policy.js';
export type { ColumnOptions, ColumnSpec, ColumnType } from './schema/column-types.js';
export { COLUMN_TYPES } from './schema/column-types.js';
export type { MeasureSpec, RollupEvery, RollupOptions, RollupPolicy } from './schema/define-rollup.js';
export { defineRollup } from './schema/define-rollup.js';
export type { InsertType, KeyType, PatchType, RowType, StateType, TableDef } from './schema/define-table.js';
export { defineTable } from './schema/define-table.js';
export type { LifecycleOptions } from './schema/lifecycle-policy.js';
export type { Migration } from './schema/migration.js';
export type { SyncPolicy, SyncPolicyInput } from './schema/sync-policy.js';
export { type SyncNode, type SyncNodesTarget, syncNodes } from './sync/sync-nodes.js';
export type { SyncOptionsInput as SyncOptions } from './sync/sync-options.js';
export type { DeadLetter, FlushResult, SyncApi, SyncStatus, TargetState } from './sync/sync-shipper.js';
export type { CreateTaskOptions, Task, TaskClaimOptions, TaskStore, TaskWorkOptions } from './tasks/task-store.js';
export type { TaskStatus } from './tasks/task-table.js';
