import { SluiceCache } from '../cache/sluice-cache.js';
import { LogCoalescer, stderrLogger } from '../core/logger.js';
import type { Dialect } from '../dialect/dialect.js';
import { WriteGate } from '../gate/write-gate.js';
import { SluiceMetrics } from '../metrics/metrics.js';
import type { ResolvedOptions } from './open-options.js';
import { WorkerHub } from './worker-hub.js';

/** Repeated log events fold into one line per distinct event per this interval, then a count. */
export const LOG_FOLD_MS = 10_000;

/**
 * What every table handle of a database writes and reads through: built before any handle, since
 * the services started after it (sync, alerts) already need handles of their own tables.
 */
export interface WriteCore {
  readonly log: LogCoalescer;
  readonly onError: (error: unknown) => void;
  readonly gate: WriteGate;
  readonly metrics: SluiceMetrics;
  readonly cache: SluiceCache;
  readonly workers: WorkerHub;
}

export function buildWriteCore(options: ResolvedOptions, dialect: Dialect): WriteCore {
  const log = new LogCoalescer(options.logger ?? stderrLogger(), LOG_FOLD_MS, { stacks: options.logStacks, values: options.logParams });
  const onError = options.onError ?? ((error: unknown) => log.error(error));
  const gate = new WriteGate(
    dialect,
    {
      maxQueue: options.gate.maxQueue,
      whenFull: options.gate.whenFull,
      deadlineMs: options.gate.deadlineMs,
      backoff: { initialMs: options.gate.backoffInitialMs, maxMs: options.gate.backoffMaxMs },
      batch: { targetCommitMs: options.gate.targetCommitMs ?? dialect.adapter.batchTargetMs, minSize: 1, maxSize: options.gate.maxBatch },
    },
    onError,
  );
  const metrics = new SluiceMetrics(gate, dialect, { log, slowMs: options.slowMs });
  const cache = new SluiceCache({
    options: options.cache,
    tables: options.tables,
    dialect,
    registry: metrics.registry,
    onTierState: (state, lastError) => {
      const fields = { event: 'cache_tier', state, ...(lastError === undefined ? {} : { lastError }) };
      if (state === 'down')
        log.logger.warn(fields, `the Redis cache tier is down: reads go to the database${lastError ? ` (${lastError})` : ''}`);
      else log.logger.info(fields, `the Redis cache tier is ${state}`);
    },
  });
  // First listener: a batch's keys leave the cache before any of its promises settle.
  gate.onCommit(cache.onCommit);
  const workers = new WorkerHub(gate, dialect);
  return { log, onError, gate, metrics, cache, workers };
}
