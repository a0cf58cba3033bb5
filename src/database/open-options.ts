import { z } from 'zod';
import { alertHistoryTable } from '../alerts/alert-history-table.js';
import { type AlertRule, checkAlertRules } from '../alerts/alert-rules.js';
import { cacheOptionsSchema } from '../cache/cache-options.js';
import { DURABILITIES } from '../core/kinds.js';
import type { SluiceLogger } from '../core/logger.js';
import { didYouMean, SluiceError } from '../core/sluice-error.js';
import { adapterForUrl } from '../dialect/create-dialect.js';
import { rollupOf } from '../schema/define-rollup.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { Migration } from '../schema/migration.js';
import { syncOptionsSchema } from '../sync/sync-options.js';
import { syncNodeTable, syncOutboxTable } from '../sync/sync-tables.js';
import { tasksTable } from '../tasks/task-table.js';

const gateSchema = z
  .object({
    /** Writes allowed to wait in the queue. Default 100,000. */
    maxQueue: z.number().int().min(1).default(100_000),
    /** Past maxQueue: 'wait' for room (default) or 'reject' with OVERLOADED. */
    whenFull: z.enum(['wait', 'reject']).default('wait'),
    /** How long a write may wait for a lock held elsewhere before failing with BUSY. Default 30 s. */
    deadlineMs: z.number().int().min(0).default(30_000),
    /** First lock-retry wait (jittered, doubling). Default 1 ms. */
    backoffInitialMs: z.number().min(0.1).default(1),
    /**
     * Longest lock-retry wait. Default 5 ms: a short cap keeps processes that lost the lock from
     * falling behind the ones that keep winning it. Against 20 ms, 4 processes on one file (A B B A,
     * `tsx bench/run.ts --only sqlite-multi-process --gate '{"backoffMaxMs":20}'` for the old cap):
     * ack p99 30-47 ms vs 60-88 ms, max 69-148 ms vs 313-502 ms, no loss of throughput.
     */
    backoffMaxMs: z.number().min(1).default(5),
    /** Commit duration the adaptive batch size aims for. Default: the dialect's (SQLite 8 ms, PostgreSQL 30 ms). */
    targetCommitMs: z.number().min(0.5).optional(),
    /** Largest batch. Default 4,096 writes. */
    maxBatch: z.number().int().min(1).default(4096),
  })
  .strict();

const sqliteSchema = z
  .object({
    /** Writer page cache in KiB. Default 65,536 (64 MiB): scattered keys stay fast on large indexes. */
    cacheKiB: z.number().int().min(512).default(65_536),
    /** WAL size past which the watchdog forces a TRUNCATE checkpoint. Default 64 MiB. */
    walMaxBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(64 * 1024 * 1024),
    /** How often the watchdog measures the WAL. Default 1 s. */
    checkpointIntervalMs: z.number().int().min(10).default(1000),
    /**
     * Create the file (and its folder) when it does not exist. Default true; false makes opening a
     * missing file an error (a checking tool must not leave a typo'd path behind as a new database).
     */
    create: z.boolean().default(true),
  })
  .strict();

const postgresSchema = z
  .object({
    /** The schema (namespace) to use; created by migrate. Default: public. */
    schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)
      .optional(),
    /** Pool size (one connection writes; the rest read). Default 8. */
    poolSize: z.number().int().min(2).default(8),
    /**
     * 'transaction' when the URL points at a pooler in transaction mode (PgBouncer's
     * pool_mode = transaction): no named prepared statements, no startup parameters (search_path,
     * synchronous_commit and timeouts are SET LOCAL in each transaction), transaction-scoped
     * advisory locks only. Without it, open() refuses such a pooler with CONFIG. Default: direct.
     */
    pooler: z.enum(['transaction']).optional(),
    /**
     * Read replicas (`postgres://…` each): reads go to one that has replayed this process's last
     * commit, else to the primary, so a process always reads its own writes. Default: none.
     */
    replicas: z.array(z.string().refine((url) => adapterForUrl(url)?.capabilities.readReplicas === true, 'a postgres:// URL')).default([]),
    /** A replica further behind than this is skipped until it catches up. Default 5,000 ms. */
    maxReplicaLagMs: z.number().int().min(1).default(5000),
  })
  .strict();

const optionsSchema = z
  .object({
    /** `sqlite:./data/app.db`, `sqlite::memory:` (or `:memory:`), or `postgres://…`. */
    url: z.string().min(1),
    tables: z
      .array(z.custom<AnyTableDef>((t) => typeof t === 'object' && t !== null && 'columnsByName' in t, 'a table from defineTable()'))
      .default([]),
    /**
     * Rollups from defineRollup(): summary tables kept exact by triggers on their source (which
     * must be among `tables`), read with db.table(rollup). Default: none.
     */
    rollups: z
      .array(z.custom<AnyTableDef>((t) => typeof t === 'object' && t !== null && 'rollup' in t, 'a rollup from defineRollup()'))
      .default([]),
    /** The schema version of this code; a database recorded at a higher one is refused. Default 1. */
    schemaVersion: z.number().int().min(1).default(1),
    migrations: z.array(z.custom<Migration>()).default([]),
    /**
     * What a resolved write promise guarantees. 'process-crash' (default, SQLite synchronous=NORMAL):
     * the row survives a crash of any process. 'power-loss' (synchronous=FULL): it also survives
     * an OS crash or power cut.
     */
    durability: z.enum(DURABILITIES).default('process-crash'),
    gate: gateSchema.default(gateSchema.parse({})),
    sqlite: sqliteSchema.default(sqliteSchema.parse({})),
    postgres: postgresSchema.default(postgresSchema.parse({})),
    /** Redis tier, key prefix and stale bound of the cache (tables opt in with defineTable({ cache })). */
    cache: cacheOptionsSchema.default(cacheOptionsSchema.parse({})),
    /** The task store (`db.tasks`): true, or `{ resultTtlMs }` (default 24 h). Default: off. */
    tasks: z.union([z.boolean(), z.object({ resultTtlMs: z.number().int().min(0) }).strict()]).default(false),
    maintenance: z
      .object({
        /** How often tables with `retention` are trimmed; 0 turns the timer off. Default 60 s. */
        retentionIntervalMs: z.number().int().min(0).default(60_000),
        /** How often expired leases are handed back; 0 turns the timer off. Default 1 s. */
        reapIntervalMs: z.number().int().min(0).default(1000),
        /** Rows deleted per retention transaction (at most 1,000 keeps the write lock short). Default 1,000. */
        retentionBatchSize: z.number().int().min(1).max(10_000).default(1000),
      })
      .strict()
      .default({ retentionIntervalMs: 60_000, reapIntervalMs: 1000, retentionBatchSize: 1000 }),
    /**
     * Ship tables declared with `sync` to a central PostgreSQL or openGauss: `{ target, flavor,
     * schema, batchSize, intervalMs, maxPending, drainMs, … }` (see each field). Without a target
     * nothing is captured; the outbox tables exist as soon as a table declares sync.
     */
    sync: syncOptionsSchema.optional(),
    /**
     * Alert rules evaluated every `alertIntervalMs`: over a metric (`{ name, metric, value | rate,
     * forMs?, severity? }`) or over table data (`{ name, table, where?, time?, windowMs,
     * countAbove }`). Firing and resolved events go to the alert history table, the
     * `sluice_alerts_firing` gauge and `alertWebhook`. Default: none.
     */
    alerts: z.array(z.custom<AlertRule>((r) => typeof r === 'object' && r !== null, 'an alert rule object')).default([]),
    /** POSTed one JSON object per firing or resolved alert, retried with backoff; never awaited by a write. */
    alertWebhook: z.string().url().optional(),
    /** How often alert rules are evaluated; 0 turns the timer off (db.alerts.evaluate() still works). Default 10 s. */
    alertIntervalMs: z.number().int().min(0).default(10_000),
    /**
     * A pino-compatible logger (`error`, `warn`, `info`, `debug` taking `(fields, message)`).
     * Default: errors only, one line each on stderr. Events: open, close, migrations, slow writes,
     * reads, commits and lock waits, busy-retry summaries, cache tier changes, reaper and retention
     * runs, sync batches and target changes. Repeated ones are folded: one line per distinct event
     * per 10 s, then a count.
     */
    logger: z
      .custom<SluiceLogger>(
        (l) =>
          typeof l === 'object' &&
          l !== null &&
          ['error', 'warn', 'info', 'debug'].every((m) => typeof (l as Record<string, unknown>)[m] === 'function'),
        'a pino-compatible logger with error, warn, info and debug methods',
      )
      .optional(),
    /** Writes acknowledged later than this, reads slower, commits and lock waits longer are logged and counted. Default 1,000 ms. */
    slowMs: z.number().min(1).default(1000),
    /** Put refused values and query parameters into log lines. Default false: row data never reaches a log. */
    logParams: z.boolean().default(false),
    /** Put stack traces into logged errors. Default false: one line per error. */
    logStacks: z.boolean().default(false),
    /** Receives failures nobody awaits: enqueue() writes and commit listeners. Default: the logger, folded. */
    onError: z.custom<(error: unknown) => void>((f) => typeof f === 'function').optional(),
  })
  .strict();

export type OpenOptions = z.input<typeof optionsSchema>;
export type ResolvedOptions = z.output<typeof optionsSchema>;

/** Checks options in phases: shape and types (zod), then meaning (the URL), naming what is wrong. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || 'options';
    if (issue?.code === 'unrecognized_keys') {
      const shape = issue.path.length === 0 ? optionsSchema.shape : nestedShape(String(issue.path[0]));
      const hints = issue.keys.map((k) => {
        return `"${k}"${shape ? didYouMean(k, Object.keys(shape), 'aside') : ''}`;
      });
      throw new SluiceError('CONFIG', `Unknown option ${hints.join(', ')} in ${path === '' ? 'open()' : path}.`);
    }
    throw new SluiceError('CONFIG', `Invalid option ${path}: ${issue?.message}.`);
  }
  const options = parsed.data;
  for (const rollup of options.rollups) {
    const policy = rollupOf(rollup);
    if (!policy || !options.tables.includes(policy.source)) {
      throw new SluiceError(
        'CONFIG',
        `Rollup ${rollup.name} summarises ${policy?.source.name ?? 'a table'}, which is not among the tables passed to open(); add it to tables.`,
        { table: rollup.name },
      );
    }
    if (!options.tables.includes(rollup)) options.tables = [...options.tables, rollup];
  }
  if (options.tasks !== false && !options.tables.includes(tasksTable)) options.tables = [...options.tables, tasksTable];
  if (options.alerts.length > 0) {
    checkAlertRules(options.alerts, options.tables);
    if (!options.tables.includes(alertHistoryTable as AnyTableDef)) options.tables = [...options.tables, alertHistoryTable as AnyTableDef];
  }
  if (options.tables.some((t) => t.sync !== undefined)) {
    for (const own of [syncNodeTable, syncOutboxTable] as AnyTableDef[])
      if (!options.tables.includes(own)) options.tables = [...options.tables, own];
  }
  if (options.sync?.target !== undefined && adapterForUrl(options.url)?.capabilities.syncSource !== true) {
    throw new SluiceError(
      'CONFIG',
      `sync.target is set but url ${options.url} is not a SQLite file: sync ships a local SQLite file (the durable outbox) to the target. Open a sqlite: URL, or drop sync.`,
    );
  }
  if (options.sync !== undefined && options.sync.backoffMaxMs < options.sync.backoffInitialMs) {
    throw new SluiceError(
      'CONFIG',
      `sync.backoffMaxMs (${options.sync.backoffMaxMs}) is below sync.backoffInitialMs (${options.sync.backoffInitialMs}).`,
    );
  }
  const names = new Set<string>();
  for (const table of options.tables) {
    if (names.has(table.name))
      throw new SluiceError('CONFIG', `Two tables are named ${table.name}; table names must be unique.`, { table: table.name });
    names.add(table.name);
  }
  if (options.gate.backoffMaxMs < options.gate.backoffInitialMs) {
    throw new SluiceError(
      'CONFIG',
      `gate.backoffMaxMs (${options.gate.backoffMaxMs}) is below gate.backoffInitialMs (${options.gate.backoffInitialMs}).`,
    );
  }
  return options;
}

/** The keys of a nested option group (its schema sits inside a `.default()`). */
function nestedShape(name: string): object | undefined {
  const field = (optionsSchema.shape as Record<string, { unwrap?: () => { shape?: object } }>)[name];
  return field?.unwrap?.().shape;
}
