import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LatencyWindow } from '../core/latency-window.js';
import { scrapedCounter } from '../core/scraped-counter.js';
import type { CacheStats } from './cache-stats.js';

/**
 * The cache's series on the database's registry. Everything is read from the cache's plain
 * counters and latency window when scraped, so the read path only bumps numbers.
 */
export class CacheMetrics {
  readonly loadLatency = new LatencyWindow(4096);
  readonly #loadSeconds: Histogram;

  constructor(registry: Registry, read: () => CacheStats) {
    registerCacheCounters(registry, read);
    registerCacheGauges(registry, read);
    this.#loadSeconds = new Histogram({
      name: 'sluice_cache_load_seconds',
      help: 'Time to load a missed row or query result from the database.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    });
  }

  recordLoad(ms: number): void {
    this.loadLatency.record(ms);
    this.#loadSeconds.observe(ms / 1000);
  }
}

/** Hits and misses by tier, and the events the read path counts. */
function registerCacheCounters(registry: Registry, read: () => CacheStats): void {
  const byTier = (name: string, help: string, pick: (s: CacheStats) => Record<'l1' | 'l2' | 'query' | 'derived', number>) =>
    new Counter({
      name,
      help,
      labelNames: ['tier'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [tier, n] of Object.entries(pick(read()))) this.inc({ tier }, n);
      },
    });
  byTier('sluice_cache_hits_total', 'Cache hits by tier (l1, l2, query, derived).', (s) => ({
    l1: s.l1.hits,
    l2: s.l2.hits,
    query: s.queries.hits,
    derived: s.derived.hits,
  }));
  byTier('sluice_cache_misses_total', 'Cache misses by tier (l1, l2, query, derived).', (s) => ({
    l1: s.l1.misses,
    l2: s.l2.misses,
    query: s.queries.misses,
    derived: s.derived.misses,
  }));
  const counter = (name: string, help: string, pick: (s: CacheStats) => number) => scrapedCounter(registry, name, help, () => pick(read()));
  counter('sluice_cache_redis_fallbacks_total', 'Reads served from the database because Redis failed or timed out.', (s) => s.l2.fallbacks);
  counter('sluice_cache_redis_skipped_total', 'Reads that skipped Redis while it was down or untrusted.', (s) => s.l2.skipped);
  counter('sluice_cache_stale_drops_total', 'Loaded values not cached because a commit overtook the load.', (s) => s.staleDrops);
  counter('sluice_cache_foreign_flushes_total', 'Cache drops after another connection committed (data_version).', (s) => s.foreignFlushes);
  counter('sluice_cache_invalidations_total', 'Keys invalidated by commits.', (s) => s.invalidations);
  counter(
    'sluice_cache_foreign_invalidations_total',
    "Rows or tables dropped because PostgreSQL notified another client's commit.",
    (s) => s.foreignInvalidations,
  );
}

/** What the cache holds now, and whether other clients' commits reach it. */
function registerCacheGauges(registry: Registry, read: () => CacheStats): void {
  new Gauge({
    name: 'sluice_cache_foreign_writes_notified',
    help: "1 while other clients' commits reach the cache by PostgreSQL NOTIFY (or data_version); 0 when only staleBoundMs bounds them.",
    registers: [registry],
    collect() {
      this.set(read().foreignWrites === 'bound-only' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'sluice_cache_entries',
    help: 'Rows held in the in-process cache.',
    registers: [registry],
    collect() {
      this.set(read().l1.entries);
    },
  });
  new Gauge({
    name: 'sluice_cache_bytes',
    help: 'Estimated bytes held in the in-process cache.',
    registers: [registry],
    collect() {
      this.set(read().l1.bytes);
    },
  });
}
